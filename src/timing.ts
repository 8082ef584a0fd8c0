// Timeouts, in one place: a deadline on the monotonic clock, the
// milliseconds left until it, the int32 limit of setTimeout and poll(2)
// (longer waits are re-armed or sliced), the blocking poll-until-deadline
// loop and the async "readable or timed out" wait. Used by Popen, wait(),
// the parent view and the command line.
import { whenReadable, type Subscription } from './watch.js';

/** The longest setTimeout / poll(2) timeout: int32 milliseconds. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A point on performance.now()'s clock in ms; null: never. */
export type Deadline = number | null;

/** The deadline `seconds` from now (null: never). */
export function deadlineIn(seconds: number | null): Deadline {
  return seconds === null ? null : performance.now() + seconds * 1000;
}

/** Whether `deadline` has passed (never for null). */
export function passed(deadline: Deadline): boolean {
  return deadline !== null && performance.now() >= deadline;
}

/** Milliseconds left for one poll(2) or timer: -1 for never, else 0..MAX_TIMER_MS, rounded up. */
export function remainingMs(deadline: Deadline): number {
  if (deadline === null) return -1;
  return Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(deadline - performance.now())));
}

/**
 * Blocks in `attempt(ms)` (one poll with that timeout: -1 forever) until it
 * gives a result or the deadline passes; null then. A slice cut short by the
 * int32 limit is simply attempted again.
 */
export function pollUntil<T>(deadline: Deadline, attempt: (ms: number) => T | null): T | null {
  for (;;) {
    const result = attempt(remainingMs(deadline));
    if (result !== null) return result;
    if (passed(deadline)) return null;
  }
}

export interface Timer {
  cancel(): void;
  ref(): void;
  unref(): void;
}

/** Calls `fn` once `deadline` has passed, however far away (re-armed past the int32 limit). */
export function timerUntil(deadline: number, fn: () => void): Timer {
  let refed = true;
  let handle: NodeJS.Timeout | null = null;
  const arm = (): void => {
    const left = deadline - performance.now();
    handle = setTimeout(fire, Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(left))));
    if (!refed) handle.unref();
  };
  const fire = (): void => {
    handle = null;
    if (performance.now() < deadline) arm();
    else fn();
  };
  arm();
  return {
    cancel() {
      if (handle !== null) clearTimeout(handle);
      handle = null;
    },
    ref() {
      refed = true;
      handle?.ref();
    },
    unref() {
      refed = false;
      handle?.unref();
    },
  };
}

/**
 * Calls `settle` once: when one of `fds` is readable (or hung up), or when
 * `deadline` passes. Returns the cancel of both; settling cancels the rest.
 */
export function readableOrDeadline(fds: Iterable<number>, deadline: Deadline, settle: () => void): () => void {
  const subscriptions: Subscription[] = [];
  let timer: Timer | null = null;
  let done = false;
  const cancel = (): void => {
    done = true;
    for (const s of subscriptions) s.cancel();
    subscriptions.length = 0;
    timer?.cancel();
    timer = null;
  };
  const once = (): void => {
    if (done) return;
    cancel();
    settle();
  };
  try {
    for (const fd of new Set(fds)) subscriptions.push(whenReadable(fd, once));
  } catch (error) {
    cancel();
    throw error;
  }
  if (deadline !== null) timer = timerUntil(deadline, once);
  return cancel;
}
