// Async readiness of fds (sentinels, pipes, sockets) on this thread's event
// loop. libuv allows one poll handle per fd and loop, so this registry keeps
// one native Watcher per fd and fans readiness out to one-shot subscribers:
// a Process reaping its child and a wait() over the same sentinel can both
// listen. No thread, no threadpool work, no polling loop.
import { binding, type NativeWatcher } from './binding.js';

interface Subscriber {
  callback: () => void;
  ref: boolean;
}

interface Entry {
  watcher: NativeWatcher;
  subscribers: Set<Subscriber>;
  refed: boolean;
}

const entries = new Map<number, Entry>();

function updateRef(fd: number, entry: Entry): void {
  const wanted = [...entry.subscribers].some((s) => s.ref);
  if (wanted !== entry.refed) {
    if (wanted) entry.watcher.ref();
    else entry.watcher.unref();
    entry.refed = wanted;
  }
  if (entry.subscribers.size === 0) {
    entry.watcher.close();
    entries.delete(fd);
  }
}

function fire(fd: number): void {
  const entry = entries.get(fd);
  if (!entry) return;
  // Level-triggered: every current subscriber is called once and dropped,
  // so a readiness nobody consumes (an exited child) cannot spin.
  const due = [...entry.subscribers];
  entry.subscribers.clear();
  updateRef(fd, entry);
  for (const s of due) s.callback();
}

export interface Subscription {
  /** Stops listening; no-op after the callback ran. */
  cancel(): void;
  /** Whether this subscription keeps the event loop alive. */
  setRef(ref: boolean): void;
}

/**
 * Calls `callback` once, the first time `fd` is readable or hung up.
 * `ref: false` lets the process exit while waiting. Cancel every
 * subscription on an fd before closing the fd.
 */
export function whenReadable(fd: number, callback: () => void, options: { ref?: boolean } = {}): Subscription {
  let entry = entries.get(fd);
  if (!entry) {
    const watcher = new binding.Watcher(fd, () => fire(fd));
    entry = { watcher, subscribers: new Set(), refed: true };
    entries.set(fd, entry);
  }
  const subscriber: Subscriber = { callback, ref: options.ref ?? true };
  entry.subscribers.add(subscriber);
  updateRef(fd, entry);
  return {
    cancel() {
      const current = entries.get(fd);
      if (current?.subscribers.delete(subscriber)) updateRef(fd, current);
    },
    setRef(ref: boolean) {
      subscriber.ref = ref;
      const current = entries.get(fd);
      if (current?.subscribers.has(subscriber)) updateRef(fd, current);
    },
  };
}

/**
 * Closes `fd` that may be watched: its watcher goes first (libuv must never
 * poll a closed fd), then its subscribers are called once, as on readiness,
 * so that they look again at what they wait for (a Process whose sentinel
 * this was reports another fd now).
 */
export function closeWatched(fd: number): void {
  const entry = entries.get(fd);
  const due = entry ? [...entry.subscribers] : [];
  if (entry) {
    entry.subscribers.clear();
    updateRef(fd, entry);
  }
  binding.close(fd);
  for (const s of due) s.callback();
}

/** Number of fds with an active watcher (for leak tests). */
export function watchedFdCount(): number {
  return entries.size;
}

// A fork child inherits the parent's watchers (its children's sentinels, its
// pending recv()s); their subscribers are the parent's business and must not
// fire here. Drop them all (fork/atfork.ts runs this in the child); the
// child's own whenReadable() calls start afresh.
export const dropInheritedWatchers = (function dropInheritedWatchers(): void {
  for (const entry of entries.values()) entry.watcher.close();
  entries.clear();
});
