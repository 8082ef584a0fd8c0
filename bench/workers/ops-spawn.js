// Spawn+reap of a program that exits 0 (default /bin/true), three ways, for
// the "spawn" suite.
import { spawn, spawnSync } from 'node:child_process';
import { posix } from './package.js';

const TRUE = '/bin/true';

export const ops = {
  posix(file = TRUE) {
    const child = posix.spawn(file, [file]);
    const status = posix.waitpid(child.pid);
    posix.close(child.sentinel); // the pidfd (or fallback pipe) is part of the cost
    if (status.exitCode !== 0) throw new Error(`${file}: exitCode ${status.exitCode}`);
  },
  spawnSync(file = TRUE) {
    const r = spawnSync(file, [], { stdio: 'inherit' });
    if (r.status !== 0) throw r.error ?? new Error(`${file}: status ${r.status}`);
  },
  cpSpawn(file = TRUE) {
    return new Promise((resolve, reject) => {
      const child = spawn(file, [], { stdio: 'inherit' });
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${file}: code ${code}`))));
    });
  },
};
