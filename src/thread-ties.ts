// Fds and children a worker thread's module state holds for the thread's
// life (its liveness pipe, its forkserver, the children it started): tied to
// its Node-API environment, they are closed, ended or released at its
// teardown, however the thread ends (native/tie.cc; docs/design.md,
// "forkserver"). The main thread ties nothing: its process exit ends them,
// and a wait at exit would only slow it.
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

/**
 * What this thread's end does to a child of ours still tied to it: 'end' (a
 * forkserver server: a grace period, then SIGKILL), 'release' (left running),
 * 'terminate' (a daemon child: SIGTERM). Then reaped, once it exits, and its
 * pidfd and sentinel closed.
 */
export type ChildTie = 'end' | 'release' | 'terminate';

/** Ties this child of ours to this thread's end, unless untieChild() first; false on the main thread (nothing tied). */
export function tieChild(launched: Launched, policy: ChildTie): boolean {
  if (isMainThread) return false;
  binding.tieChild(launched.pid, launched.pidfd ?? -1, launched.sentinel, policy);
  return true;
}

export function untieChild(launched: Launched): void {
  if (!isMainThread) binding.untieChild(launched.pid, launched.sentinel);
}
