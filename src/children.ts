// The children this process started and does not know to have finished,
// and what happens to them when this process exits (multiprocessing's
// _children and _exit_function). A child leaves the set as soon as it is
// reaped (by its reaper, join, isAlive, exitCode, close).
import { binding } from './binding.js';
import type { Popen } from './popen.js';
import { deliveryCount, readableNow } from './watch.js';

/** What the registry needs of a child's owner (a Process). */
export interface ChildOwner {
  readonly daemon: boolean;
}

const children = new Map<ChildOwner, Popen>();
let exitHooksInstalled = false;

export function addChild(owner: ChildOwner, popen: Popen): void {
  children.set(owner, popen);
  popen.onExit = () => {
    children.delete(owner);
  };
  installExitHooks();
}

export function removeChild(owner: ChildOwner): void {
  children.delete(owner);
}

/** In a new child: the parent's children are not its own. */
export function forgetChildren(): void {
  children.clear();
}

// What a fork child runs on its way out and its parent may never have run
// (cleanup, terminateDaemons, the exit hooks) is written as parenthesized
// function expressions: V8 compiles those with the module, in the parent,
// instead of in every child (docs/design.md, "Forking a Node process").

/**
 * Reaps finished children and drops them from the set. One epoll_wait says
 * which sentinels are readable; only those children are waited for
 * (Popen.pollIfEnded), so a start() with many children running costs one
 * system call, not one per child.
 */
export const cleanup = (function cleanup(): void {
  if (children.size === 0) return;
  const readable = readableNow();
  for (const [owner, popen] of children) {
    if (popen.pollIfEnded(readable) !== null || popen.closed || popen.lost) children.delete(owner);
  }
});

let deliveriesSeen = -1;

/**
 * cleanup() for start(), as CPython's Process.start() runs _cleanup(): so
 * that a program starting children in a loop that never yields does not
 * pile up zombies. Skipped when the reactor has called back since the last
 * start(): the event loop has turned, and every sentinel readable then went
 * to its child's reaper (docs/design.md, "Throughput: the per-child path").
 */
export function reapAtStart(): void {
  const seen = deliveryCount();
  if (seen === deliveriesSeen) cleanup();
  else deliveriesSeen = seen;
}

/** Started children that have not finished; reaps the finished ones. */
export function liveChildren(): ChildOwner[] {
  cleanup();
  return [...children.keys()];
}

const SIGTERM = binding.signals.SIGTERM!;

const terminateDaemons = (function terminateDaemons(): void {
  for (const [owner, popen] of children) {
    if (owner.daemon) popen.sendSignal(SIGTERM);
  }
});

// multiprocessing's _exit_function: daemon children get SIGTERM, then every
// child is joined. 'beforeExit' does it asynchronously (the event loop keeps
// running while waiting); 'exit' (also after process.exit()) can only block.
const joinChildrenAsync = (function joinChildrenAsync(): void {
  cleanup();
  if (children.size === 0) return;
  terminateDaemons();
  // Refed waits keep the loop alive; once they end 'beforeExit' comes again.
  for (const popen of children.values()) void popen.wait(null);
});

const joinChildrenSync = (function joinChildrenSync(): void {
  cleanup();
  terminateDaemons();
  for (const popen of [...children.values()]) popen.waitSync(null);
  children.clear();
});

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('beforeExit', joinChildrenAsync);
  process.on('exit', joinChildrenSync);
}
