// Async readiness of an fd (a sentinel, a pipe) on this thread's event loop:
// one libuv poll handle per fd, no thread, no threadpool work.
import { binding, type NativeWatcher } from './binding.js';

/**
 * Calls `onReady` once, the first time `fd` is readable or hung up, then
 * closes the watcher. The returned watcher can be closed earlier (always
 * before closing `fd`) and unref'd so it does not keep the loop alive.
 */
export function onceReadable(fd: number, onReady: () => void): NativeWatcher {
  const watcher: NativeWatcher = new binding.Watcher(fd, () => {
    watcher.close();
    onReady();
  });
  return watcher;
}

/** Calls `onReadable` every time `fd` is readable, until closed. */
export function whileReadable(fd: number, onReadable: () => void): NativeWatcher {
  return new binding.Watcher(fd, () => onReadable());
}
