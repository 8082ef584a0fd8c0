// At-fork hooks, like Python's os.register_at_fork: callbacks that run
// around every fork of this process (posix.fork() and the fork start
// method). `before` hooks run in reverse registration order, the `after`
// hooks in registration order, as in CPython. The library's own fixes run
// first, in the one order written below (not in module import order).
import { invalidArgType } from '../errors.js';
import { forgetUnreapedChildren } from '../popen.js';
import { dropInheritedWatchers } from '../watch.js';
import { drainUuidCache, stateAfterForkInChild } from './state.js';

export interface AtForkHooks {
  before?: () => void;
  afterInParent?: () => void;
  afterInChild?: () => void;
}

const before: Array<() => void> = [];
// The library's fixes, then the user's hooks.
const afterInParent: Array<() => void> = [drainUuidCache];
const afterInChild: Array<() => void> = [
  stateAfterForkInChild, // pid, ppid, Math.random, fork generation, held sentinel: before anything else
  dropInheritedWatchers, // the parent's fd watchers and their subscribers
  forgetUnreapedChildren, // the parent's children are not this process's
];

/**
 * Registers callbacks around every fork of this process (the fork start
 * method and posix.fork()), like CPython's os.register_at_fork:
 * `before` runs in the parent just before fork(2), newest registration
 * first; `afterInParent` and `afterInChild` run right after it, oldest
 * first. In the child, `afterInChild` hooks run before any target code,
 * after the library's own fixes (pid, ppid, Math.random). A hook that
 * throws is reported with process.emitWarning and does not stop the fork
 * or the other hooks. Hooks cannot be removed.
 */
export function registerAtFork(hooks: AtForkHooks): void {
  if (typeof hooks !== 'object' || hooks === null) throw invalidArgType('hooks', 'of type object', hooks);
  const entries = [
    ['before', before],
    ['afterInParent', afterInParent],
    ['afterInChild', afterInChild],
  ] as const;
  let any = false;
  for (const [key] of entries) {
    const fn = hooks[key];
    if (fn !== undefined && typeof fn !== 'function') throw invalidArgType(`hooks.${key}`, 'of type function', fn);
    any ||= fn !== undefined;
  }
  if (!any) throw invalidArgType('hooks', 'an object with at least one of before, afterInParent, afterInChild', hooks);
  for (const [key, list] of entries) {
    const fn = hooks[key];
    if (fn) list.push(fn);
  }
}

// Hooks are best-effort like CPython's: an exception is reported and does
// not stop the fork or the other hooks.
function runAll(list: ReadonlyArray<() => void>): void {
  for (const fn of list) {
    try {
      fn();
    } catch (error) {
      process.emitWarning(`at-fork hook failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
  }
}

export function runBeforeFork(): void {
  runAll([...before].reverse());
}

export function runAfterForkInParent(): void {
  runAll(afterInParent);
}

// In parentheses: compiled with the module, not in every child (child.ts).
export const runAfterForkInChild = (function runAfterForkInChild(): void {
  runAll(afterInChild);
});
