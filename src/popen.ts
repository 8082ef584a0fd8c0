// One launched child, whatever the start method: its pid, its sentinel, its
// exit status once reaped. Like CPython's Popen classes, minus the launch.
//
// Reaping: a non-refed readiness subscription on the sentinel reaps the child
// as soon as it exits, so an unjoined child never stays a zombie and never
// keeps the event loop alive. join() makes that same subscription refed while
// it waits: one watched fd per child in the thread's reactor (watch.ts), O(1)
// work per exit, no scans.
// A child with a pidfd is waited for through it (waitid(P_PIDFD)), never by
// pid: code elsewhere in the program may reap our child (a waitpid(-1)) and
// its pid go to another process. The child is reaped at most once and never
// waited for after: every later call uses the kept status.
// Once reaped, the child's own fds are closed and `sentinel` is a shared,
// always-readable fd, unless the program was handed the sentinel's number
// (kept until close()). docs/design.md, "Sentinels, waiting and pid reuse".
// In a worker thread a child of ours is tied to the thread until it is
// reaped, so that the thread's end, where no JS runs, still reaps it and
// closes its fds (thread-ties.ts; docs/design.md, "forkserver", A worker's
// own children at its end).
import { writeSync } from 'node:fs';
import { binding, type Launched, type WaitStatus } from './binding.js';
import { tieChild, tieFd, untieChild, untieFd, type ChildTie } from './thread-ties.js';
import { deadlineIn, pollUntil, remainingMs, timerUntil, type Timer } from './timing.js';
import { closeWatched, whenReadable, type Subscription } from './watch.js';

const { POLLIN } = binding.pollConstants;

function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

// The sentinel of every finished child whose own sentinel nobody was handed:
// the read end of a pipe that holds one byte and has no writer, readable
// (POLLIN | POLLHUP) for good. Made on first use, closed only with a worker
// thread (thread-ties.ts); null if it could not be made (EMFILE), then
// children keep their own until close().
let endedSentinel: number | null = null;

function sharedEndedSentinel(): number | null {
  if (endedSentinel !== null) return endedSentinel;
  let readEnd: number;
  let writeEnd: number;
  try {
    [readEnd, writeEnd] = binding.pipe();
  } catch {
    return null;
  }
  try {
    writeSync(writeEnd, Buffer.of(1));
  } catch {
    binding.close(readEnd);
    return null;
  } finally {
    binding.close(writeEnd);
  }
  endedSentinel = readEnd;
  tieFd(readEnd);
  return readEnd;
}

// Closes the fds of a Popen that was dropped unclosed (its Process dropped):
// only one that still holds fds of its own once reaped is registered, one
// whose sentinel number was handed out or whose retire failed (EMFILE). A
// running child's Popen is never unreachable (the children set and its
// reaper hold it). Registering every child would cost more than it saves:
// V8's young-generation GC keeps a registered target alive, so each Process
// and all it refers to would be promoted to the old generation
// (docs/design.md, "Throughput: the per-child path").
const dropped = new FinalizationRegistry<{ pidfd: number | null; sentinel: number }>((held) => {
  if (held.pidfd !== null && held.pidfd !== held.sentinel) releaseFd(held.pidfd);
  releaseFd(held.sentinel);
});

// Children waited for by pid (no pidfd), not yet reaped, by pid. A launch
// that gets one of these pids proves that child was reaped elsewhere and
// its pid reused (Popen.launched).
const unreapedByPid = new Map<number, Popen>();

/** In a fork child (fork/atfork.ts): its own children are not these. */
export const forgetUnreapedChildren = (function forgetUnreapedChildren(): void {
  unreapedByPid.clear();
});

/**
 * A child this process did not fork and cannot wait for (a forkserver
 * child, forkserver/client.ts): its status comes from here. poll() returns
 * the status once known, null while running, or the error that says it can
 * never be known; `notify` is set by Popen and called when that changes.
 */
export interface StatusSource {
  poll(): WaitStatus | Error | null;
  /** Blocks until poll() would not return null, or `timeoutSec` passed. */
  waitSync(timeoutSec: number | null): WaitStatus | Error | null;
  /** Signals the child when there is no pidfd to do it safely. */
  signal(signal: number): void;
  notify: (() => void) | null;
}

/** Internal: a Process's current sentinel, read without handing its number to the program. */
export const kSentinel = Symbol('posix-process.sentinel');

export class Popen {
  readonly pid: number;
  /** Called once, right after the child has been reaped (or lost). */
  onExit: (() => void) | null = null;
  #pidfd: number | null;
  #sentinel: number;
  // The sentinel number was handed out: it stays this child's until close().
  #kept = false;
  // The child's own fds are closed; #sentinel is the shared ended one.
  #retired = false;
  // In `dropped`: the fds are closed if this Popen is collected unclosed.
  #guarded = false;
  #status: WaitStatus | null = null;
  #closed = false;
  #lost = false;
  #reaper: Subscription | null = null;
  #retry: NodeJS.Timeout | null = null;
  #retryMs = 0;
  // The pending wait()s' callbacks; made by the first wait().
  #waiters: Set<() => void> | null = null;
  readonly #source: StatusSource | null;
  #failure: Error | null = null;
  // While tied to this worker thread (thread-ties.ts): what its end does.
  #tie: ChildTie | null = null;

  /** `tie`: a child of ours (no `source`) is tied to the worker thread that launches it, by that policy, until reaped. */
  constructor(launched: Launched, source: StatusSource | null = null, tie: ChildTie | null = null) {
    this.pid = launched.pid;
    this.#pidfd = launched.pidfd;
    this.#sentinel = launched.sentinel;
    this.#source = source;
    if (source !== null) {
      // Not our child: its pid says nothing about our own children.
      source.notify = () => {
        if (!this.#closed) this.poll();
      };
    } else {
      Popen.launched(this.pid);
      if (this.#pidfd === null) unreapedByPid.set(this.pid, this);
      // launched itself: no object made per child on the main thread.
      if (tie !== null && tieChild(launched, tie)) this.#tie = tie;
    }
    this.#arm();
  }

  /**
   * A child of this process was launched with `pid` (any launch path). A
   * child we still wait for by that pid was therefore reaped elsewhere: its
   * status is lost, and its pid is no longer its own.
   */
  static launched(pid: number): void {
    const held = unreapedByPid.get(pid);
    if (held !== undefined) held.#lose();
  }

  /** Readable once the child has ended; the library's own reads (no hand-out). */
  get sentinel(): number {
    return this.#sentinel;
  }

  /** The sentinel for the program: this number stays readable until close(). */
  exposeSentinel(): number {
    this.#kept = true;
    this.#guard();
    return this.#sentinel;
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

  /** The status comes from a StatusSource (a forkserver child): only such a child can have a `failure`. */
  get external(): boolean {
    return this.#source !== null;
  }

  /** Why the status will never be known (a StatusSource's error), or null. */
  get failure(): Error | null {
    return this.#failure;
  }

  /** multiprocessing's exit code, reaping without blocking; null while running. */
  poll(): number | null {
    if (this.#status !== null) return this.#status.exitCode;
    if (this.#closed || this.#lost) return null;
    this.#settleFrom(this.#wait(0));
    return (this.#status as WaitStatus | null)?.exitCode ?? null;
  }

  /**
   * poll(), skipped (null) when the child cannot have ended: it has a
   * pidfd, its reaper watches it and it is not in `readable` (the watched
   * fds readable now, watch.ts readableNow). A pidfd is readable from the
   * child's exit on; the pipe fallback and forkserver children are polled.
   */
  pollIfEnded(readable: Set<number>): number | null {
    if (this.#status === null && this.#source === null && this.#pidfd !== null && this.#reaper !== null && !readable.has(this.#sentinel)) {
      return null;
    }
    return this.poll();
  }

  /** Blocks until the child has exited or `timeoutSec` passed (null: forever, 0: poll). */
  waitSync(timeoutSec: number | null): void {
    if (this.poll() !== null || this.#closed || this.#lost) return;
    if (timeoutSec === 0) return;
    if (this.#source !== null) {
      this.#settleFrom(this.#fromSource(this.#source.waitSync(timeoutSec)));
      return;
    }
    if (timeoutSec === null && this.#pidfd === null) {
      // A plain blocking waitpid, as CPython's join() without timeout: it
      // does not depend on the pipe sentinel (which a grandchild might hold
      // open). The native call retries EINTR.
      this.#settleFrom(this.#wait(null));
      return;
    }
    // Poll the sentinel, then reap without blocking: a pidfd is readable
    // once the child has exited, whoever reaps it (a blocking waitid would
    // sleep on if another thread reaped it first).
    const deadline = deadlineIn(timeoutSec);
    let backoffMs = 0;
    pollUntil(deadline, (ms) => {
      if (ms === 0) return true; // the deadline has passed
      const [revents] = binding.poll([{ fd: this.#sentinel, events: POLLIN }], ms);
      if (revents === 0) return null;
      if (this.poll() !== null || this.#lost) return true;
      if (this.#pidfd === null) {
        // The pipe fallback can report EOF a moment before the child is a
        // zombie (its fds close before exit_notify), or early if the program
        // closed the write end itself: wait on the pid for the time left.
        const left = deadline === null ? null : (deadline - performance.now()) / 1000;
        if (left === null || left > 0) this.#settleFrom(this.#wait(left));
        return true;
      }
      // Exited, nothing to reap: another thread is reaping it right now.
      backoffMs = Math.min(Math.max(backoffMs * 2, 1), 100);
      binding.poll([], deadline === null ? backoffMs : Math.min(backoffMs, remainingMs(deadline)));
      return null;
    });
  }

  /** Resolves when the child has exited or after `timeoutSec` (null: never, 0: poll). */
  wait(timeoutSec: number | null): Promise<void> {
    if (this.poll() !== null || this.#closed || this.#lost || timeoutSec === 0) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: Timer | null = null;
      const done = (): void => {
        timer?.cancel();
        if (this.#waiters?.delete(done)) this.#updateRef();
        resolve();
      };
      (this.#waiters ??= new Set()).add(done);
      this.#updateRef();
      if (timeoutSec !== null) timer = timerUntil(deadlineIn(timeoutSec)!, done);
    });
  }

  /**
   * Sends `signal` unless the child has exited (never a recycled pid).
   * `group`: then also to the process group the child leads (killpg(pid),
   * for a child launched as a group leader), in the same step: the group id
   * is the child's pid, ours only until the child is reaped, so the group is
   * never signalled after that, nor reaped between the two sends. The group
   * is signalled even if the child's own signal failed; that error is then
   * thrown.
   */
  sendSignal(signal: number, options: { group?: boolean } = {}): void {
    // Lost: reaped elsewhere, the pid may already be recycled.
    if (this.poll() !== null || this.#closed || this.#lost) return;
    let failure: unknown = null;
    try {
      // Not reaped, not lost: kill(pid) still names our child (see launched()).
      if (this.#pidfd !== null) binding.pidfdSendSignal(this.#pidfd, signal);
      else if (this.#source !== null) this.#source.signal(signal);
      else binding.kill(this.pid, signal);
    } catch (error) {
      if (!isCode(error, 'ESRCH')) failure = error;
    }
    if (options.group === true) {
      try {
        binding.killpg(this.pid, signal);
      } catch (error) {
        // ESRCH: the group is empty, or the child leads none.
        if (!isCode(error, 'ESRCH')) failure ??= error;
      }
    }
    if (failure !== null) throw failure;
  }

  /** Releases the sentinel; the child must have been reaped (or be abandoned). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#guarded) dropped.unregister(this);
    this.#disarm();
    this.#forget();
    this.#untie();
    this.#releaseWaiters();
    if (this.#retired) return; // the shared sentinel is never closed
    if (this.#pidfd !== null && this.#pidfd !== this.#sentinel) releaseFd(this.#pidfd);
    releaseFd(this.#sentinel);
  }

  // One wait for our child, for `timeoutSec` (0: WNOHANG, null: until it
  // exits, else by pid only): through its pidfd when it has one, else by
  // pid. ECHILD (reaped behind our back): the status the kernel kept for the
  // pidfd if any, else the child is lost; either way the result is settled
  // here and null returned.
  // A tied child waited for by pid is untied for the wait, and tied again if
  // it still runs: the thread's teardown must never wait for a pid we reaped
  // (another process's by then). With a pidfd it names only this child: it
  // is untied once finished, before its fds close (#finish).
  #wait(timeoutSec: number | null): WaitStatus | null {
    if (this.#source !== null) return this.#fromSource(timeoutSec === 0 ? this.#source.poll() : this.#source.waitSync(null));
    const untied = this.#pidfd === null ? this.#untie() : null;
    let status: WaitStatus | null;
    try {
      if (this.#pidfd !== null) status = binding.pidfdWait(this.#pidfd, { nohang: timeoutSec === 0 });
      else if (timeoutSec === 0 || timeoutSec === null) status = binding.waitpid(this.pid, { nohang: timeoutSec === 0 });
      else status = binding.waitpidTimeout(this.pid, timeoutSec);
    } catch (error) {
      if (!isCode(error, 'ECHILD')) {
        if (untied !== null) this.#tieTo(untied);
        throw error;
      }
      this.#reapedElsewhere();
      return null;
    }
    if (untied !== null && status === null) this.#tieTo(untied);
    return status;
  }

  #tieTo(tie: ChildTie): void {
    this.#tie = tieChild({ pid: this.pid, pidfd: this.#pidfd, sentinel: this.#sentinel }, tie) ? tie : null;
  }

  // The policy it was tied by, or null.
  #untie(): ChildTie | null {
    const tie = this.#tie;
    if (tie !== null) {
      this.#tie = null;
      untieChild({ pid: this.pid, pidfd: this.#pidfd, sentinel: this.#sentinel });
    }
    return tie;
  }

  #fromSource(result: WaitStatus | Error | null): WaitStatus | null {
    if (!(result instanceof Error)) return result;
    this.#failure = result;
    this.#lose();
    return null;
  }

  #reapedElsewhere(): void {
    const kept = this.#pidfd === null ? null : binding.pidfdExitStatus(this.#pidfd, this.pid);
    if (kept !== null) this.#settle(kept);
    else this.#lose();
  }

  #arm(): void {
    this.#reaper = whenReadable(this.#sentinel, () => this.#onReadable(), { ref: this.#waiting() });
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
    // Readable but not reapable: on the pipe fallback, not yet a zombie, or
    // the program closed its end of the pipe; with a pidfd, another thread
    // is reaping it right now. The sentinel stays readable, so retry on a
    // short backoff timer instead of re-subscribing (that would spin).
    this.#retryMs = Math.min(Math.max(this.#retryMs * 2, 1), 100);
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.#onReadable();
    }, this.#retryMs);
    if (!this.#waiting()) this.#retry.unref();
  }

  #waiting(): boolean {
    return this.#waiters !== null && this.#waiters.size > 0;
  }

  #releaseWaiters(): void {
    if (this.#waiters !== null) for (const done of [...this.#waiters]) done();
  }

  #updateRef(): void {
    const wanted = this.#waiting();
    this.#reaper?.setRef(wanted);
    if (this.#retry !== null) {
      if (wanted) this.#retry.ref();
      else this.#retry.unref();
    }
  }

  // Stop waiting for a status that will never come; joins return, the
  // exit code stays null.
  #lose(): void {
    if (this.#lost || this.#status !== null || this.#closed) return;
    this.#lost = true;
    this.#finish();
  }

  #settleFrom(status: WaitStatus | null): void {
    if (status !== null && (status.exited || status.signaled)) this.#settle(status);
  }

  #settle(status: WaitStatus): void {
    if (this.#status !== null || this.#lost) return;
    this.#status = status;
    this.#finish();
  }

  // The child is done with (reaped or lost): stop watching, give its fds
  // back, release every waiter, tell the owner once.
  #finish(): void {
    this.#disarm();
    this.#forget();
    this.#untie();
    this.#retire();
    this.#releaseWaiters();
    const onExit = this.onExit;
    this.onExit = null;
    onExit?.();
  }

  #forget(): void {
    if (unreapedByPid.get(this.pid) === this) unreapedByPid.delete(this.pid);
  }

  // A finished child holds no fd of its own: its sentinel becomes the shared
  // ended one, unless the program holds its number (then close() closes it,
  // or `dropped` once this Popen is collected).
  #retire(): void {
    if (this.#kept || this.#retired || this.#closed) return;
    const shared = sharedEndedSentinel();
    if (shared === null) {
      this.#guard();
      return;
    }
    const own = this.#sentinel;
    const pidfd = this.#pidfd;
    this.#sentinel = shared;
    this.#pidfd = null;
    this.#retired = true;
    if (pidfd !== null && pidfd !== own) releaseFd(pidfd);
    // Last: library waits on the old number (wait()) are woken to look again.
    releaseFd(own);
  }

  // Once this Popen keeps fds of its own for good: they are closed if it is dropped.
  #guard(): void {
    if (this.#guarded || this.#closed || this.#retired) return;
    this.#guarded = true;
    dropped.register(this, { pidfd: this.#pidfd, sentinel: this.#sentinel }, this);
  }
}

// A child's fd that a worker thread may have tied to itself (a forkserver
// child's sentinel, thread-ties.ts): untied first, so its teardown never
// closes the number again.
function releaseFd(fd: number): void {
  untieFd(fd);
  closeWatched(fd);
}
