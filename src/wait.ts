// wait()/waitSync(): multiprocessing.connection.wait over fds, objects with
// fileno() (Connections), and Processes (their sentinel). An object is ready
// when a read would not block: data, EOF (a closed peer), an ended child, or
// an fd in error (POLLHUP/POLLERR/POLLNVAL count, as with CPython's selectors).
// Blocking: one poll(2) with the remaining time. Async: one-shot readiness
// subscriptions plus a timer (timing.ts), all cancelled when it settles.
// A Process's sentinel is read afresh at every poll: once its child is
// reaped it is another, shared fd (docs/design.md, "Sentinels, waiting and
// pid reuse"), and the old one is closed.
import { binding } from './binding.js';
import { invalidArgType } from './errors.js';
import { kBufferedReady } from './framing.js';
import { kSentinel } from './popen.js';
import { deadlineIn, passed, pollUntil, readableOrDeadline } from './timing.js';
import { validateFd, validateTimeout } from './validate.js';

const { POLLIN, POLLHUP, POLLERR, POLLNVAL } = binding.pollConstants;
const READY = POLLIN | POLLHUP | POLLERR | POLLNVAL;

/** What wait() accepts: an fd, an object with fileno() (a Connection), or a Process (its sentinel). */
export type Waitable = number | { fileno(): number } | { readonly sentinel: number };

interface Item<T> {
  object: T;
  fd: number;
  /** A Process: its sentinel, read again before each poll. */
  reread: (() => number) | null;
}

function fdOf(object: unknown, i: number): Omit<Item<unknown>, 'object'> {
  const name = `objects[${i}]`;
  if (typeof object === 'number') return { fd: validateFd(object, name), reread: null };
  if ((typeof object === 'object' || typeof object === 'function') && object !== null) {
    const o = object as { fileno?: unknown; sentinel?: unknown; [kSentinel]?: unknown };
    if (typeof o.fileno === 'function') {
      return { fd: validateFd((o.fileno as () => unknown).call(object), `${name}.fileno()`), reread: null };
    }
    // A Process: read without taking its number (which would keep the
    // child's own fd open until close()). Its getter throws ProcessError
    // before start / after close: let that surface.
    if (typeof o[kSentinel] === 'function') {
      const reread = (): number => validateFd((o[kSentinel] as () => unknown).call(object), `${name}.sentinel`);
      return { fd: reread(), reread };
    }
    if ('sentinel' in o) return { fd: validateFd(o.sentinel, `${name}.sentinel`), reread: null };
  }
  throw invalidArgType(name, 'a file descriptor (number) or an object with fileno() or sentinel', object);
}

function collect<T>(objects: readonly T[]): Item<T>[] {
  if (!Array.isArray(objects)) throw invalidArgType('objects', 'an instance of Array', objects);
  return objects.map((object, i) => ({ object, ...fdOf(object, i) }));
}

/** Reads again the fds that may have changed (Process sentinels). */
function refresh<T>(items: Item<T>[]): void {
  for (const item of items) if (item.reread !== null) item.fd = item.reread();
}

function buffered(object: unknown): boolean {
  if (typeof object !== 'object' || object === null) return false;
  const check = (object as { [kBufferedReady]?: unknown })[kBufferedReady];
  return typeof check === 'function' && (check as () => boolean).call(object) === true;
}

/** One poll(2) of every item (`ms`: -1 forever, 0 no wait); the ready objects in input order. */
function pollItems<T>(items: Item<T>[], ms: number): T[] {
  refresh(items);
  const anyBuffered = items.some((item) => buffered(item.object));
  const revents = binding.poll(items.map((item) => ({ fd: item.fd, events: POLLIN })), anyBuffered ? 0 : ms);
  return items.filter((item, k) => (revents[k]! & READY) !== 0 || buffered(item.object)).map((item) => item.object);
}

/**
 * Blocks until at least one of `objects` is ready or `timeout` seconds pass
 * (undefined/null: forever; <= 0: just poll). Returns the ready objects
 * themselves, in input order, or [] on timeout.
 */
export function waitSync<T extends Waitable>(objects: readonly T[], timeout?: number | null): T[] {
  const items = collect(objects);
  const seconds = validateTimeout(timeout);
  return pollUntil(deadlineIn(seconds), (ms) => {
    const ready = pollItems(items, ms);
    return ready.length > 0 ? ready : null;
  }) ?? [];
}

/**
 * Resolves with the ready objects (input order) once at least one of
 * `objects` is ready, or with [] after `timeout` seconds. Every error,
 * bad arguments included, rejects.
 */
export async function wait<T extends Waitable>(objects: readonly T[], timeout?: number | null): Promise<T[]> {
  const items = collect(objects);
  const seconds = validateTimeout(timeout);
  const first = pollItems(items, 0);
  if (first.length > 0 || seconds === 0) return first;
  const deadline = deadlineIn(seconds);
  return new Promise<T[]>((resolve, reject) => {
    let cancel = (): void => {};
    const check = (): void => {
      try {
        const ready = pollItems(items, 0);
        // A readiness someone else consumed first (a recv()) is not ours: keep waiting.
        if (ready.length > 0 || passed(deadline)) resolve(ready);
        else arm();
      } catch (error) {
        reject(error);
      }
    };
    // The fds of the poll just made (pollItems refreshed them).
    const arm = (): void => {
      cancel = readableOrDeadline(items.map((item) => item.fd), deadline, check);
    };
    try {
      arm();
    } catch (error) {
      cancel();
      reject(error);
    }
  });
}
