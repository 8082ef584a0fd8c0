// One launched child, whatever the start method: its pid, its sentinel, its
// exit status once reaped. Like CPython's Popen classes, minus the launch.
//
// Reaping: a non-refed readiness subscription on the sentinel reaps the child
// as soon as it exits, so an unjoined child never stays a zombie and never
// keeps the event loop alive. join() makes that same subscription refed while
// it waits: one poll handle per child, O(1) work per exit, no scans.
// The pid is waited for at most once successfully and never after: a reaped
// pid may be recycled, so every later call uses the kept status.
import { binding, type WaitStatus } from './binding.js';
import { whenReadable, type Subscription } from './watch.js';

export interface Launched {
  pid: number;
  pidfd: number | null;
  /** Readable once the child has exited: the pidfd, or a pipe's read end. */
  sentinel: number;
}

// setTimeout takes at most 2^31-1 ms; longer waits are chained.
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_POLL_MS = 2 ** 31 - 1;

function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

export class Popen {
  readonly pid: number;
  readonly pidfd: number | null;
  readonly sentinel: number;
  /** Called once, right after the child has been reaped. */
  onExit: (() => void) | null = null;
  #status: WaitStatus | null = null;
  #closed = false;
  #lost = false;
  #reaper: Subscription | null = null;
  #retry: NodeJS.Timeout | null = null;
  #retryMs = 0;
  readonly #waiters = new Set<() => void>();

  constructor(launched: Launched) {
    this.pid = launched.pid;
    this.pidfd = launched.pidfd;
    this.sentinel = launched.sentinel;
    this.#arm();
  }

  get status(): WaitStatus | null {
    return this.#status;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The child is gone but its status could not be read (ECHILD). */
  get lost(): boolean {
    return this.#lost;
  }

  /** multiprocessing's exit code, reaping without blocking; null while running. */
  poll(): number | null {
    if (this.#status !== null) return this.#status.exitCode;
    if (this.#closed) return null;
    let status: WaitStatus | null;
    try {
      status = binding.waitpid(this.pid, { nohang: true });
    } catch (error) {
      // ECHILD: someone else reaped our pid (a waitpid(-1) elsewhere); the
      // status is lost, as CPython's poll() returns None then.
      if (isCode(error, 'ECHILD')) {
        this.#lose();
        return null;
      }
      throw error;
    }
    if (status === null || !(status.exited || status.signaled)) return null;
    this.#settle(status);
    return status.exitCode;
  }

  /** Blocks until the child has exited or `timeoutSec` passed (null: forever, 0: poll). */
  waitSync(timeoutSec: number | null): void {
    if (this.poll() !== null || this.#closed || this.#lost) return;
    if (timeoutSec === 0) return;
    if (timeoutSec === null) {
      // A plain blocking waitpid, as CPython's join() without timeout: it
      // does not depend on the sentinel (which a grandchild might hold open
      // on the pipe fallback). The native call retries EINTR.
      try {
        this.#settleFrom(binding.waitpid(this.pid));
      } catch (error) {
        // ECHILD: reaped behind our back (a waitpid(-1) elsewhere): the status is lost.
        if (!isCode(error, 'ECHILD')) throw error;
        this.#lose();
      }
      return;
    }
    const deadline = performance.now() + timeoutSec * 1000;
    for (;;) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) return;
      const ms = Math.min(Math.ceil(remaining), MAX_POLL_MS);
      const [revents] = binding.poll([{ fd: this.sentinel, events: binding.pollConstants.POLLIN }], ms);
      if (revents !== 0) break;
    }
    if (this.poll() !== null) return;
    // The pipe fallback can report EOF a moment before the child is a
    // zombie (its fds close before exit_notify), or early if the program
    // closed the write end itself: wait on the pid for the time left.
    const left = (deadline - performance.now()) / 1000;
    if (left > 0) this.#settleFrom(binding.waitpidTimeout(this.pid, left));
  }

  /** Resolves when the child has exited or after `timeoutSec` (null: never, 0: poll). */
  wait(timeoutSec: number | null): Promise<void> {
    if (this.poll() !== null || this.#closed || this.#lost || timeoutSec === 0) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      const done = (): void => {
        if (timer !== null) clearTimeout(timer);
        if (this.#waiters.delete(done)) this.#updateRef();
        resolve();
      };
      this.#waiters.add(done);
      this.#updateRef();
      if (timeoutSec !== null) {
        const deadline = performance.now() + timeoutSec * 1000;
        const arm = (): void => {
          const remaining = deadline - performance.now();
          if (remaining <= 0) return done();
          timer = setTimeout(arm, Math.min(Math.ceil(remaining), MAX_TIMER_MS));
        };
        arm();
      }
    });
  }

  /** Sends `signal` unless the child has exited (never a recycled pid). */
  sendSignal(signal: number): void {
    // Lost: reaped elsewhere, the pid may already be recycled.
    if (this.poll() !== null || this.#closed || this.#lost) return;
    try {
      // Not yet reaped here, so even kill(pid) cannot hit a recycled pid.
      if (this.pidfd !== null) binding.pidfdSendSignal(this.pidfd, signal);
      else binding.kill(this.pid, signal);
    } catch (error) {
      if (!isCode(error, 'ESRCH')) throw error;
    }
  }

  /** Releases the sentinel; the child must have been reaped (or be abandoned). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#disarm();
    for (const done of [...this.#waiters]) done();
    binding.close(this.sentinel);
    if (this.pidfd !== null && this.pidfd !== this.sentinel) binding.close(this.pidfd);
  }

  #arm(): void {
    this.#reaper = whenReadable(this.sentinel, () => this.#onReadable(), { ref: this.#waiters.size > 0 });
  }

  #disarm(): void {
    this.#reaper?.cancel();
    this.#reaper = null;
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
  }

  #onReadable(): void {
    this.#reaper = null;
    if (this.#closed || this.poll() !== null || this.#lost) return;
    // Pipe fallback only: readable but not yet a zombie, or the program
    // closed its end of the pipe. The pipe stays readable (EOF), so retry
    // on a short backoff timer instead of re-subscribing (that would spin).
    this.#retryMs = Math.min(Math.max(this.#retryMs * 2, 1), 100);
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.#onReadable();
    }, this.#retryMs);
    if (this.#waiters.size === 0) this.#retry.unref();
  }

  #updateRef(): void {
    const wanted = this.#waiters.size > 0;
    this.#reaper?.setRef(wanted);
    if (this.#retry !== null) {
      if (wanted) this.#retry.ref();
      else this.#retry.unref();
    }
  }

  // Stop waiting for a status that will never come; joins return, the
  // exit code stays null.
  #lose(): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#finish();
  }

  #settleFrom(status: WaitStatus | null): void {
    if (status !== null && (status.exited || status.signaled)) this.#settle(status);
  }

  #settle(status: WaitStatus): void {
    if (this.#status !== null) return;
    this.#status = status;
    this.#finish();
  }

  // The child is done with (reaped or lost): stop watching, release every
  // waiter, tell the owner once.
  #finish(): void {
    this.#disarm();
    for (const done of [...this.#waiters]) done();
    const onExit = this.onExit;
    this.onExit = null;
    onExit?.();
  }
}
