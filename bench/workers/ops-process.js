// Process start+join by the 'spawn' start method and by program targets,
// beside what Node offers for the same, for the "process-spawn" suite
// (and child_process.fork for the "fork" suite).
import { fork, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Process } from './package.js';
import { ops as spawnOps } from './ops-spawn.js';

const TRUE = '/bin/true';
const EXIT_MODULE = fileURLToPath(new URL('./exit-module.js', import.meta.url));

function checked(p) {
  if (p.exitCode !== 0) throw new Error(`${p}: exitCode ${p.exitCode}`);
  p.close();
}

function exited(child, what) {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${what}: code ${code}`))));
  });
}

export const ops = {
  async processForkserver() {
    const p = new Process({ target: () => {}, startMethod: 'forkserver' });
    p.start();
    await p.join();
    checked(p);
  },
  processForkserverSync() {
    const p = new Process({ target: () => {}, startMethod: 'forkserver' });
    p.start();
    p.joinSync();
    checked(p);
  },
  async processSpawnJs() {
    const p = new Process({ target: () => {}, startMethod: 'spawn' });
    p.start();
    await p.join();
    checked(p);
  },
  nodeE0() {
    const r = spawnSync(process.execPath, ['-e', '0'], { stdio: 'inherit' });
    if (r.status !== 0) throw r.error ?? new Error(`node -e 0: status ${r.status}`);
  },
  cpForkTiny() {
    return exited(fork(EXIT_MODULE, [], { stdio: 'inherit' }), 'child_process.fork');
  },
  async processProgram(file = TRUE) {
    const p = new Process({ executable: file });
    p.start();
    await p.join();
    checked(p);
  },
  processProgramSync(file = TRUE) {
    const p = new Process({ executable: file });
    p.start();
    p.joinSync();
    checked(p);
  },
  cpSpawn: spawnOps.cpSpawn,
};
