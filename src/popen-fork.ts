// The 'fork' start method: the child is a copy of this process. forkstart.ts
// (the fork engineer's) does the fork, the child-side cleanup and the exit
// path: forkChild(childMain) runs childMain in the child and exits with the
// code it resolves to; in the parent it returns the child's pid and sentinel.
import { forkChild } from './forkstart.js';
import { assertForkSafe } from './forksafety.js';
import type { Launched } from './binding.js';

/** Settles once the fork start method is known to be loaded (it is, statically). */
export function forkReady(): Promise<void> {
  return Promise.resolve();
}

/** Whether this build and platform have the fork start method (safety is checked separately). */
export function forkAvailable(): boolean {
  return process.platform === 'linux';
}

export function launchFork(childMain: () => Promise<number>): Launched {
  assertForkSafe();
  return forkChild(childMain);
}
