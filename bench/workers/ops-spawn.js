// Spawn+reap of /bin/true, three ways, for the "spawn" suite.
import { spawn, spawnSync } from 'node:child_process';
import { posix } from '../../dist/index.js';

const TRUE = '/bin/true';

export const ops = {
  posix() {
    const child = posix.spawn(TRUE, [TRUE]);
    const status = posix.waitpid(child.pid);
    posix.close(child.sentinel); // the pidfd (or fallback pipe) is part of the cost
    if (status.exitCode !== 0) throw new Error(`/bin/true: exitCode ${status.exitCode}`);
  },
  spawnSync() {
    const r = spawnSync(TRUE, [], { stdio: 'inherit' });
    if (r.status !== 0) throw r.error ?? new Error(`/bin/true: status ${r.status}`);
  },
  cpSpawn() {
    return new Promise((resolve, reject) => {
      const child = spawn(TRUE, [], { stdio: 'inherit' });
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`/bin/true: code ${code}`))));
    });
  },
};
