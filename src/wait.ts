// wait()/waitSync(): multiprocessing.connection.wait over fds, objects with
// fileno() (Connections), and Processes (their sentinel). An object is ready
// when a read would not block: data, EOF (a closed peer), an ended child, or
// an fd in error (POLLHUP/POLLERR/POLLNVAL count, as with CPython's selectors).
// Blocking: one poll(2) with the remaining time. Async: one-shot readiness
// subscriptions (watch.ts) plus a timer, all cancelled when it settles.
// A Process's sentinel is read afresh at every poll: once its child is
// reaped it is another, shared fd (docs/design.md, "Sentinels, waiting and
// pid reuse"), and the old one is closed.
import { binding } from './binding.js';
import { invalidArgType } from './errors.js';
import { kBufferedReady } from './framing.js';
import { kSentinel } from './popen.js';
import { validateInteger, validateTimeout } from './validate.js';
import { whenReadable, type Subscription } from './watch.js';

const { POLLIN, POLLHUP, POLLERR, POLLNVAL } = binding.pollConstants;
const READY = POLLIN | POLLHUP | POLLERR | POLLNVAL;
// poll(2) and setTimeout take int32 milliseconds; longer waits go in slices.
const MAX_MS = 2 ** 31 - 1;

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
  if (typeof object === 'number') return { fd: validateInteger(object, name, 0, MAX_MS), reread: null };
  if ((typeof object === 'object' || typeof object === 'function') && object !== null) {
    const o = object as { fileno?: unknown; sentinel?: unknown; [kSentinel]?: unknown };
    if (typeof o.fileno === 'function') {
      return { fd: validateInteger((o.fileno as () => unknown).call(object), `${name}.fileno()`, 0, MAX_MS), reread: null };
    }
    // A Process: read without taking its number (which would keep the
    // child's own fd open until close()). Its getter throws ProcessError
    // before start / after close: let that surface.
    if (typeof o[kSentinel] === 'function') {
      const reread = (): number => validateInteger((o[kSentinel] as () => unknown).call(object), `${name}.sentinel`, 0, MAX_MS);
      return { fd: reread(), reread };
    }
    if ('sentinel' in o) return { fd: validateInteger(o.sentinel, `${name}.sentinel`, 0, MAX_MS), reread: null };
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

function remainingMs(deadline: number | null): number {
  if (deadline === null) return -1;
  return Math.min(MAX_MS, Math.max(0, Math.ceil(deadline - performance.now())));
}

/**
 * Blocks until at least one of `objects` is ready or `timeout` seconds pass
 * (undefined/null: forever; <= 0: just poll). Returns the ready objects
 * themselves, in input order, or [] on timeout.
 */
export function waitSync<T extends Waitable>(objects: readonly T[], timeout?: number | null): T[] {
  const items = collect(objects);
  const seconds = validateTimeout(timeout);
  const deadline = seconds === null ? null : performance.now() + seconds * 1000;
  for (;;) {
    const ready = pollItems(items, remainingMs(deadline));
    if (ready.length > 0) return ready;
    if (deadline !== null && performance.now() >= deadline) return [];
  }
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
  const deadline = seconds === null ? null : performance.now() + seconds * 1000;
  return new Promise<T[]>((resolve, reject) => {
    let subscriptions: Subscription[] = [];
    let timer: NodeJS.Timeout | undefined;
    const disarm = (): void => {
      for (const s of subscriptions) s.cancel();
      subscriptions = [];
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    };
    const check = (): void => {
      disarm();
      try {
        const ready = pollItems(items, 0);
        // A readiness someone else consumed first (a recv()) is not ours: keep waiting.
        if (ready.length > 0 || (deadline !== null && performance.now() >= deadline)) resolve(ready);
        else arm();
      } catch (error) {
        disarm();
        reject(error);
      }
    };
    const arm = (): void => {
      // The fds of the poll just made (pollItems refreshed them).
      for (const fd of new Set(items.map((item) => item.fd))) subscriptions.push(whenReadable(fd, check));
      if (deadline !== null) timer = setTimeout(check, Math.max(1, remainingMs(deadline)));
    };
    try {
      arm();
    } catch (error) {
      disarm();
      reject(error);
    }
  });
}
