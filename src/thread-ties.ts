// Fds and children a worker thread's module state holds for the thread's
// life (its liveness pipe, its forkserver): tied to its Node-API
// environment, they are closed and ended at its teardown, however the thread
// ends (native/tie.cc; docs/design.md, "forkserver"). The main thread ties
// nothing: its process exit ends them, and a wait at exit would only slow it.
// Untie before closing or reaping yourself: the two must never both do it.
import { isMainThread } from 'node:worker_threads';
import { binding, type Launched } from './binding.js';

/** Closes `fd` when this thread ends, unless untieFd() first. */
export function tieFd(fd: number): void {
  if (!isMainThread) binding.tieFd(fd);
}

export function untieFd(fd: number): void {
  if (!isMainThread) binding.untieFd(fd);
}

/** Ends, reaps and releases this child of ours when this thread ends, unless untieChild() first. */
export function tieChild(launched: Launched): void {
  if (!isMainThread) binding.tieChild(launched.pid, launched.pidfd ?? -1, launched.sentinel);
}

export function untieChild(pid: number): void {
  if (!isMainThread) binding.untieChild(pid);
}
