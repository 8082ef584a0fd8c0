// `posix-process run`: GNU timeout(1) on the same Popen a Process uses (see
// docs/design.md, "The posix-process command"). Three steps:
// - spawn: the command as a Popen, leader of its own process group (unless
//   --foreground);
// - supervise: the timeout, --kill-after, SIGALRM ("time is up", as for
//   timeout) and the terminating signals this process receives, all passed
//   to the command and its group; the exit is seen on the Popen's sentinel
//   (a pidfd on Linux) on the event loop, the timeouts are event-loop
//   timers: no polling;
// - report: the exit status as timeout's, --json, and dying of a passed-on
//   interrupt.
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { Popen } from '../popen.js';
import * as posix from '../posix.js';
import { surviveBrokenPipe } from './brokenpipe.js';
import { deadlineIn, timerUntil, type Timer } from '../timing.js';
import { nameOfSignal, verboseSignalName } from './duration.js';
import { EXIT_CANCELED, EXIT_CANNOT_INVOKE, EXIT_ENOENT, EXIT_TIMEDOUT } from './exitcodes.js';

export interface RunOptions {
  /** Seconds; 0 = no timeout. */
  timeout: number;
  signal: number;
  /** Seconds after the first signal until SIGKILL; 0 = never. */
  killAfter: number;
  preserveStatus: boolean;
  /** Keep the child in our process group (it may use the terminal); signal only the child. */
  foreground: boolean;
  /** Say on stderr which signal is sent, as timeout --verbose. */
  verbose: boolean;
  json: boolean;
}

const { SIGCONT, SIGKILL } = posix.signals;

export async function run(argv: string[], options: RunOptions): Promise<number> {
  // Listeners first: a signal that arrives during the spawn must not kill us
  // and orphan the child.
  const supervisor = new Supervisor(argv[0], options);
  const started = performance.now();
  let child: Popen;
  try {
    child = spawn(argv, options);
  } catch (err) {
    supervisor.stop();
    return spawnFailure(argv, err, options.json);
  }
  // Our own peak RSS, which Linux folds into the command's rusage.maxRSS
  // at its exec (docs/design.md, "The posix-process command").
  const spawnerMaxRSS = process.resourceUsage().maxRSS;
  const status = await supervisor.supervise(child, started);
  const elapsed = (performance.now() - started) / 1000;
  const code = report(argv, options, { status, elapsed, spawnerMaxRSS, timedOut: supervisor.timedOut, killed: supervisor.killed });
  supervisor.passOnDeath(status);
  return code;
}

// ---- spawn ----------------------------------------------------------------

function spawn(argv: string[], options: RunOptions): Popen {
  if (argv[0] === '') {
    // execvp("") fails with ENOENT; posix.spawn() rejects it as an argument instead.
    throw Object.assign(new Error('execve ENOENT'), { code: 'ENOENT', errno: -constants.errno.ENOENT, syscall: 'execve' });
  }
  const launched = posix.spawn(argv[0], argv, {
    searchPath: true,
    // Only stdin, stdout and stderr: unlike timeout(1) we cannot pass the
    // caller's other fds on, because Node marks the low inherited fds
    // close-on-exec at start-up and they can no longer be told apart from
    // its own.
    ...(options.foreground ? {} : { pgid: 0 }),
    // As timeout: should this process die without passing a signal on
    // (SIGKILL), the command gets the timeout signal.
    ...(options.signal > 0 ? { parentDeathSignal: options.signal } : {}),
  });
  return new Popen(launched);
}

function errnoText(err: NodeJS.ErrnoException): string {
  const text = err.errno === undefined ? undefined : getSystemErrorMap().get(err.errno)?.[1];
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : (err.code ?? err.message);
}

function spawnFailure(argv: string[], err: unknown, json: boolean): number {
  const e = err as NodeJS.ErrnoException;
  let status: number;
  if (e.syscall === 'execve') {
    // Like GNU timeout after execvp: not found is 127, found but not runnable 126.
    status = e.code === 'ENOENT' ? EXIT_ENOENT : EXIT_CANNOT_INVOKE;
    process.stderr.write(`posix-process: failed to run command '${argv[0]}': ${errnoText(e)}\n`);
  } else {
    status = EXIT_CANCELED;
    process.stderr.write(`posix-process: cannot start '${argv[0]}': ${e.message}\n`);
  }
  if (json) {
    const error = { code: e.code ?? null, syscall: e.syscall ?? null, message: e.message };
    process.stderr.write(`${JSON.stringify({ command: argv, pid: null, error, status })}\n`);
  }
  return status;
}

// ---- supervise ------------------------------------------------------------

/**
 * Signals this process passes on to the child instead of dying of them:
 * GNU timeout's terminating signals (its term-sig.h) but those Node cannot
 * take: SIGILL, SIGBUS, SIGFPE and SIGSEGV (a listener would turn a real
 * fault of this process into an endless loop of faults) and the real-time
 * signals (Node has no names for them). SIGIO is SIGPOLL's other name.
 */
const FORWARDED: readonly NodeJS.Signals[] = (
  ['SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGTERM', 'SIGPIPE', 'SIGUSR1', 'SIGUSR2', 'SIGTRAP', 'SIGABRT', 'SIGXCPU',
    'SIGXFSZ', 'SIGSYS', 'SIGVTALRM', 'SIGPROF', 'SIGIO', 'SIGPWR', 'SIGSTKFLT'] as const
).filter((name) => Object.hasOwn(constants.signals, name));
/**
 * Never listened to as the --signal either: the faults above, the signals
 * no one can catch, and those timeout gives another role (SIGALRM is its
 * timer, SIGCHLD wakes it, SIGTTIN/SIGTTOU it ignores; a listener would
 * make a background write to the terminal stop and restart forever).
 */
const UNLISTENED = new Set([
  ...['SIGILL', 'SIGBUS', 'SIGFPE', 'SIGSEGV', 'SIGKILL', 'SIGSTOP'],
  ...['SIGALRM', 'SIGCHLD', 'SIGTTIN', 'SIGTTOU'],
]);

/** FORWARDED, and the --signal if it is another one Node can listen to (as timeout: `-s WINCH`). */
function forwardedWith(signal: number): NodeJS.Signals[] {
  const name = signal > 0 ? posix.signalName(signal) : null;
  const extra = name !== null && Object.hasOwn(constants.signals, name) && !UNLISTENED.has(name);
  return extra && !FORWARDED.includes(name as NodeJS.Signals) ? [...FORWARDED, name as NodeJS.Signals] : [...FORWARDED];
}
/**
 * When one of these reached us and the command died of it, we die of it
 * too (after reporting), so that a calling shell sees an interrupt and not
 * a plain exit 130 (bash would carry on with its loop or script). SIGQUIT
 * is left out: dying of it would dump this process's core.
 */
const RERAISED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** timeout ignores kill's errors: members of the group we may not signal (EPERM) are skipped. */
function permitted(send: () => void): void {
  try {
    send();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
  }
}

/**
 * The signal listeners, the timers and what they did. Listeners are added
 * at construction and stay until this process exits, ignoring what comes
 * after the reap (the pid may be someone else's by then; GNU timeout blocks
 * them): a listener removed would leave the signal at SIG_DFL, also
 * SIGPIPE, which Node otherwise ignores. (Signal listeners do not keep the
 * loop alive.)
 */
class Supervisor {
  /** The timeout fired (or a SIGALRM came), and the signal went out. */
  timedOut = false;
  /** --kill-after's SIGKILL went out. */
  killed = false;
  readonly #command: string;
  readonly #options: RunOptions;
  #child: Popen | null = null;
  /** The last signal passed on because it reached us. */
  #received: NodeJS.Signals | null = null;
  #signalled = false;
  #killArmed = false;
  #timer: Timer | null = null;
  #fail: (err: unknown) => void = () => {};

  constructor(command: string, options: RunOptions) {
    this.#command = command;
    this.#options = options;
    for (const name of forwardedWith(options.signal)) process.on(name, this.#onSignal);
    process.on('SIGALRM', this.#onAlarm);
    // Without pidfd the sentinel pipe stays open while a grandchild holds its
    // write end, so the child's own exit is also caught by SIGCHLD.
    if (!posix.pidfdSupported()) process.on('SIGCHLD', this.#onChild);
    // A reader that went away (`posix-process run -v ... 2>&1 | :`) must not
    // end the supervision: the writes fail with EPIPE, as timeout's do.
    surviveBrokenPipe();
  }

  /** Resolves to the command's wait status once it has been reaped. */
  async supervise(child: Popen, started: number): Promise<posix.WaitStatus> {
    this.#child = child;
    if (this.#options.timeout > 0) {
      // Counted from just before the spawn, which itself takes about a millisecond.
      this.#timer = timerUntil(started + this.#options.timeout * 1000, this.#onAlarm);
    }
    // A SIGCHLD that came before there was a child to poll (pipe fallback).
    this.#onChild();
    try {
      // Event-loop callbacks report unexpected errors here; wait() holds
      // the loop open until the exit.
      await new Promise<void>((resolve, reject) => {
        this.#fail = reject;
        child.wait(null).then(resolve, reject);
      });
    } catch (err) {
      // We can no longer watch the command: leave nothing running behind.
      try {
        child.sendSignal(SIGKILL, { group: !this.#options.foreground });
      } catch {
        // The first error is the one to report.
      }
      throw err;
    } finally {
      this.stop();
      child.close();
    }
    if (child.status === null) throw new Error(`the exit status of '${this.#command}' was taken by another wait`);
    return child.status;
  }

  /** Stops the timers and the SIGCHLD listener; the others stay (see above). */
  stop(): void {
    process.off('SIGCHLD', this.#onChild);
    this.#timer?.cancel();
  }

  /** Dies of the interrupt passed on if the command died of it (see RERAISED). */
  passOnDeath(status: posix.WaitStatus): void {
    const name = this.#received;
    if (this.timedOut || name === null || !RERAISED.includes(name) || status.termSignal !== posix.signals[name]) return;
    // Without our listener the default action applies.
    process.off(name, this.#onSignal);
    process.kill(process.pid, name);
  }

  get #running(): boolean {
    return this.#child !== null && this.#child.status === null && !this.#child.lost;
  }

  #guarded<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return (...args: A): void => {
      try {
        fn(...args);
      } catch (err) {
        this.#fail(err);
      }
    };
  }

  readonly #onSignal = this.#guarded((name: NodeJS.Signals): void => {
    if (!this.#running) return;
    this.#received = name;
    this.#send(posix.signals[name]);
  });

  // The timeout, the --kill-after deadline, or a SIGALRM from outside:
  // for GNU timeout all three are its alarm going off.
  readonly #onAlarm = this.#guarded((): void => {
    if (!this.#running) return;
    if (this.#killArmed) {
      this.killed = true;
      this.#send(SIGKILL);
    } else {
      this.timedOut = true;
      this.#send(this.#options.signal);
    }
  });

  readonly #onChild = this.#guarded((): void => {
    this.#child?.poll();
  });

  // GNU timeout's order: the child and its group, then SIGCONT to both so
  // that a stopped member can act on the signal. Popen never signals after
  // the reap: the pid (and so the group id) may belong to someone else by then.
  #send(sig: number): void {
    const child = this.#child;
    if (child === null || !this.#running) return;
    const group = !this.#options.foreground;
    if (this.#options.verbose) {
      process.stderr.write(`posix-process: sending signal ${verboseSignalName(sig)} to command '${this.#command}'\n`);
    }
    permitted(() => child.sendSignal(sig, { group }));
    if (group && sig !== SIGKILL && sig !== SIGCONT) permitted(() => child.sendSignal(SIGCONT, { group }));
    if (!this.#signalled) {
      this.#signalled = true;
      if (this.#options.killAfter > 0) {
        // Like GNU: the KILL deadline replaces the main timeout, and from
        // now on SIGALRM means "kill".
        this.#killArmed = true;
        this.#timer?.cancel();
        this.#timer = timerUntil(deadlineIn(this.#options.killAfter) as number, this.#onAlarm);
      }
    }
  }
}

// ---- report ---------------------------------------------------------------

interface Outcome {
  status: posix.WaitStatus;
  /** Seconds from just before the spawn to the reap. */
  elapsed: number;
  /** Our own peak RSS right after the spawn, in KiB. */
  spawnerMaxRSS: number;
  timedOut: boolean;
  killed: boolean;
}

/** timeout's exit status for the outcome; --json and the core dump note on stderr. */
function report(argv: string[], options: RunOptions, outcome: Outcome): number {
  const { status: st, timedOut } = outcome;
  let code = st.signaled ? 128 + (st.termSignal ?? 0) : (st.exitStatus ?? 0);
  // GNU: a child that had to be SIGKILLed after a timeout reports 128+9, not 124.
  const diedOfKill = st.signaled && st.termSignal === SIGKILL;
  if (timedOut && !options.preserveStatus && !diedOfKill) code = EXIT_TIMEDOUT;

  if (st.coreDumped) process.stderr.write('posix-process: the monitored command dumped core\n');
  if (options.json) {
    const line = {
      command: argv,
      pid: st.pid,
      exitCode: st.exitStatus,
      signal: st.signaled && st.termSignal !== null ? nameOfSignal(st.termSignal) : null,
      coreDumped: st.coreDumped,
      timedOut,
      killed: outcome.killed,
      elapsed: Math.round(outcome.elapsed * 1e6) / 1e6,
      rusage: st.rusage,
      maxRSSExact: st.rusage !== null && st.rusage.maxRSS > outcome.spawnerMaxRSS,
      raw: st.raw,
      status: code,
    };
    process.stderr.write(`${JSON.stringify(line)}\n`);
  }
  return code;
}
