// The 'fork' start method: the child is a copy of this process (src/forkstart.ts,
// by the fork engineer, does the fork, the child-side cleanup and the exit
// path). forkChild(childMain) runs childMain in the child and exits with the
// code it resolves to; in the parent it returns the child's pid and sentinel.
//
// forkstart.js is loaded without a static import so that this build works
// (with 'fork' unavailable) while that module is absent.
import type { Launched } from './popen.js';

interface ForkStartModule {
  forkChild(childMain: () => Promise<number>): Launched;
}

let forkStart: ForkStartModule | null = null;
const SPECIFIER = './forkstart.js';

function isForkStart(value: unknown): value is ForkStartModule {
  return typeof value === 'object' && value !== null && typeof (value as { forkChild?: unknown }).forkChild === 'function';
}

const loading: Promise<void> = import(SPECIFIER).then(
  (mod: unknown) => {
    if (isForkStart(mod)) forkStart = mod;
  },
  () => undefined,
);

/** Settles once we know whether the fork start method exists in this build. */
export function forkReady(): Promise<void> {
  return loading;
}

export function forkAvailable(): boolean {
  return forkStart !== null;
}

export function launchFork(childMain: () => Promise<number>): Launched {
  if (forkStart === null) throw new Error('the fork start method is not available');
  return forkStart.forkChild(childMain);
}
