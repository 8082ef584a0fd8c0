// `posix-process run`: GNU timeout(1) on the native layer (see docs/design.md,
// "The posix-process command"). The child gets its own process group (unless
// --foreground); the first signal, the SIGKILL of --kill-after and the
// terminating signals this process receives all go to the child and its
// group; SIGALRM means "time is up", as for timeout. Exit is watched on the
// sentinel (a pidfd on Linux) on the event loop, the timeouts are event-loop
// timers: no polling.
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import * as posix from '../posix.js';
import { whenReadable, type Subscription } from '../watch.js';
import { after, nameOfSignal, verboseSignalName, type Deadline } from './duration.js';
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

function ignoreGone(send: () => void): void {
  try {
    send();
  } catch (err) {
    // ESRCH: the group is already empty; EPERM: members we may not signal.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ESRCH' && code !== 'EPERM') throw err;
  }
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

export async function run(argv: string[], options: RunOptions): Promise<number> {
  const usePidfd = posix.pidfdSupported();
  let child: posix.SpawnResult | null = null;
  let status: posix.WaitStatus | null = null;
  let timedOut = false;
  let killed = false;
  let signalled = false;
  let killArmed = false;
  let timer: Deadline | null = null;
  let killTimer: Deadline | null = null;
  let subscription: Subscription | null = null;
  let done: (status: posix.WaitStatus) => void = () => {};
  let fail: (err: unknown) => void = () => {};
  const exited = new Promise<posix.WaitStatus>((resolve, reject) => {
    done = resolve;
    fail = reject;
  });
  // Event-loop callbacks report unexpected errors through `exited`, which
  // ends in exit 125 (after the child's group is SIGKILLed, below).
  const guarded =
    <A extends unknown[]>(fn: (...args: A) => void) =>
    (...args: A): void => {
      try {
        fn(...args);
      } catch (err) {
        fail(err);
      }
    };

  // GNU timeout's order: the child, then its group, then SIGCONT so that a
  // stopped member can act on the signal. Never after the reap: the pid (and
  // so the group id) may belong to someone else by then.
  const SIGKILL = posix.signals.SIGKILL;
  const SIGCONT = posix.signals.SIGCONT;
  const send = (sig: number): void => {
    if (!child || status) return;
    if (options.verbose) {
      process.stderr.write(`posix-process: sending signal ${verboseSignalName(sig)} to command '${argv[0]}'\n`);
    }
    const { pid, pidfd } = child;
    ignoreGone(() => (pidfd === null ? posix.kill(pid, sig) : posix.pidfdSendSignal(pidfd, sig)));
    if (!options.foreground) {
      ignoreGone(() => posix.killpg(pid, sig));
      if (sig !== SIGKILL && sig !== SIGCONT) {
        ignoreGone(() => (pidfd === null ? posix.kill(pid, SIGCONT) : posix.pidfdSendSignal(pidfd, SIGCONT)));
        ignoreGone(() => posix.killpg(pid, SIGCONT));
      }
    }
    if (!signalled) {
      signalled = true;
      if (options.killAfter > 0) {
        // Like GNU: the KILL deadline replaces the main timeout, and from
        // now on SIGALRM means "kill".
        killArmed = true;
        timer?.cancel();
        killTimer = after(options.killAfter, onAlarm);
      }
    }
  };

  const reap = (blocking: boolean): void => {
    if (!child || status) return;
    const st = posix.waitpid(child.pid, { nohang: !blocking });
    if (st) {
      status = st;
      done(st);
    }
  };

  let received: NodeJS.Signals | null = null;
  // After the reap these ignore every signal: the pid may be someone else's
  // by then (GNU timeout blocks them).
  const onSignal = guarded((name: NodeJS.Signals): void => {
    if (!child || status) return;
    received = name;
    send(posix.signals[name]);
  });
  // The timeout, the --kill-after deadline, or a SIGALRM from outside:
  // for GNU timeout all three are its alarm going off.
  const onAlarm = guarded((): void => {
    if (!child || status) return;
    if (killArmed) {
      killed = true;
      send(SIGKILL);
    } else {
      timedOut = true;
      send(options.signal);
    }
  });
  const onChild = guarded(() => reap(false));
  // Listeners first: a signal that arrives during the spawn must not kill us
  // and orphan the child. They stay until this process exits, ignoring what
  // comes after the reap; a listener removed would leave the signal at
  // SIG_DFL, also SIGPIPE, which Node otherwise ignores. (Signal listeners
  // do not keep the loop alive.)
  for (const name of forwardedWith(options.signal)) process.on(name, onSignal);
  process.on('SIGALRM', onAlarm);
  // Without pidfd the sentinel pipe stays open while a grandchild holds its
  // write end, so the child's own exit is also caught by SIGCHLD.
  if (!usePidfd) process.on('SIGCHLD', onChild);
  // A reader that went away (`posix-process run -v ... 2>&1 | :`) must not
  // end the supervision: the writes fail with EPIPE, as timeout's do.
  process.stderr.on('error', () => {});
  const cleanup = (): void => {
    process.off('SIGCHLD', onChild);
    timer?.cancel();
    killTimer?.cancel();
    subscription?.cancel();
    if (child) posix.close(child.sentinel);
  };

  if (argv[0] === '') {
    // execvp("") fails with ENOENT; spawn() rejects it as an argument instead.
    const enoent = Object.assign(new Error('execve ENOENT'), { code: 'ENOENT', errno: -constants.errno.ENOENT, syscall: 'execve' });
    cleanup();
    return spawnFailure(argv, enoent, options.json);
  }
  const started = performance.now();
  try {
    child = posix.spawn(argv[0], argv, {
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
  } catch (err) {
    cleanup();
    return spawnFailure(argv, err, options.json);
  }

  // pidfd: readable only once the child has exited, so a blocking reap is
  // immediate. Pipe: readable when every holder closed it, maybe not the exit.
  subscription = whenReadable(
    child.sentinel,
    guarded(() => reap(usePidfd)),
  );
  // Our own peak RSS, which Linux folds into the command's rusage.maxRSS
  // at its exec (docs/design.md, "The posix-process command").
  const spawnerMaxRSS = process.resourceUsage().maxRSS;
  if (options.timeout > 0) {
    // Counted from just before the spawn, which itself takes about a millisecond.
    timer = after(Math.max(options.timeout - (performance.now() - started) / 1000, 0), onAlarm);
  }
  // Without pidfd the pipe may hang up a moment before the child is
  // waitable, and SIGCHLD listeners do not keep the loop alive: hold it
  // with a timer that never fires in practice (it does not poll).
  const keepAlive = usePidfd ? null : setInterval(() => {}, 2 ** 31 - 1);
  if (!usePidfd) reap(false);

  let st: posix.WaitStatus;
  try {
    st = await exited;
  } catch (err) {
    // We can no longer watch the command: leave nothing running behind.
    const { pid, pidfd } = child;
    ignoreGone(() => (pidfd === null ? posix.kill(pid, 'SIGKILL') : posix.pidfdSendSignal(pidfd, 'SIGKILL')));
    if (!options.foreground) ignoreGone(() => posix.killpg(pid, 'SIGKILL'));
    throw err;
  } finally {
    if (keepAlive) clearInterval(keepAlive);
    cleanup();
  }
  const elapsed = (performance.now() - started) / 1000;

  let code = st.signaled ? 128 + (st.termSignal ?? 0) : (st.exitStatus ?? 0);
  // GNU: a child that had to be SIGKILLed after a timeout reports 128+9, not 124.
  const diedOfKill = st.signaled && st.termSignal === posix.signals.SIGKILL;
  if (timedOut && !options.preserveStatus && !diedOfKill) code = EXIT_TIMEDOUT;

  if (st.coreDumped) process.stderr.write('posix-process: the monitored command dumped core\n');
  if (options.json) {
    const report = {
      command: argv,
      pid: st.pid,
      exitCode: st.exitStatus,
      signal: st.signaled && st.termSignal !== null ? nameOfSignal(st.termSignal) : null,
      coreDumped: st.coreDumped,
      timedOut,
      killed,
      elapsed: Math.round(elapsed * 1e6) / 1e6,
      rusage: st.rusage,
      maxRSSExact: st.rusage !== null && st.rusage.maxRSS > spawnerMaxRSS,
      raw: st.raw,
      status: code,
    };
    process.stderr.write(`${JSON.stringify(report)}\n`);
  }
  if (!timedOut && received !== null && RERAISED.includes(received) && st.termSignal === posix.signals[received]) {
    // Without our listener the default action applies.
    process.off(received, onSignal);
    process.kill(process.pid, received);
  }
  return code;
}
