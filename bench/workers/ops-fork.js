// Process start+join by the 'fork' start method, for the "fork" suite.
// The worker runs under `node --single-threaded` (fork refuses otherwise).
import { packageModule, Process } from './package.js';

function checked(p) {
  if (p.exitCode !== 0) throw new Error(`${p}: exitCode ${p.exitCode}`);
  p.close();
}

/** The fork start method's module loads asynchronously: wait until it has. */
export async function setup() {
  const popenFork = await import(packageModule('popen-fork.js')).catch(() => null);
  await popenFork?.forkReady?.();
}

export const ops = {
  async processFork() {
    const p = new Process({ target: () => {}, startMethod: 'fork' });
    p.start();
    await p.join();
    checked(p);
  },
  processForkSync() {
    const p = new Process({ target: () => {}, startMethod: 'fork' });
    p.start();
    p.joinSync();
    checked(p);
  },
};
