// `posix-process run`: GNU timeout(1) on the native layer. The child gets its
// own process group (unless --foreground); the first signal, the SIGKILL of
// --kill-after and the SIGINT/SIGTERM/SIGHUP/SIGQUIT this process receives
// all go to the child and its group. Exit is watched on the sentinel (a pidfd
// on Linux) on the event loop, the timeouts are event-loop timers: no polling.
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import * as posix from '../posix.js';
import { whenReadable, type Subscription } from '../watch.js';
import { after, nameOfSignal, type Deadline } from './duration.js';
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
  json: boolean;
}

/** Signals this process passes on to the child instead of dying of them. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
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
  const send = (sig: number): void => {
    if (!child || status) return;
    const { pid, pidfd } = child;
    ignoreGone(() => (pidfd === null ? posix.kill(pid, sig) : posix.pidfdSendSignal(pidfd, sig)));
    if (!options.foreground) ignoreGone(() => posix.killpg(pid, sig));
    const SIGKILL = posix.signals.SIGKILL;
    const SIGCONT = posix.signals.SIGCONT;
    if (sig !== SIGKILL && sig !== SIGCONT) {
      ignoreGone(() => (pidfd === null ? posix.kill(pid, SIGCONT) : posix.pidfdSendSignal(pidfd, SIGCONT)));
      if (!options.foreground) ignoreGone(() => posix.killpg(pid, SIGCONT));
    }
    if (!signalled) {
      signalled = true;
      if (options.killAfter > 0) {
        // Like GNU: the KILL deadline replaces the main timeout.
        timer?.cancel();
        killTimer = after(
          options.killAfter,
          guarded(() => {
            killed = true;
            send(SIGKILL);
          }),
        );
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
  const onSignal = guarded((name: NodeJS.Signals): void => {
    received = name;
    send(posix.signals[name]);
  });
  const onChild = guarded(() => reap(false));
  // Listeners first: a signal that arrives during the spawn must not kill us
  // and orphan the child. (Signal listeners do not keep the loop alive.)
  for (const name of FORWARDED) process.on(name, onSignal);
  // Without pidfd the sentinel pipe stays open while a grandchild holds its
  // write end, so the child's own exit is also caught by SIGCHLD.
  if (!usePidfd) process.on('SIGCHLD', onChild);
  const cleanup = (): void => {
    for (const name of FORWARDED) process.off(name, onSignal);
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
  if (options.timeout > 0) {
    // Counted from just before the spawn, which itself takes about a millisecond.
    timer = after(
      Math.max(options.timeout - (performance.now() - started) / 1000, 0),
      guarded(() => {
        timedOut = true;
        send(options.signal);
      }),
    );
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
      raw: st.raw,
      status: code,
    };
    process.stderr.write(`${JSON.stringify(report)}\n`);
  }
  if (!timedOut && received !== null && RERAISED.includes(received) && st.termSignal === posix.signals[received]) {
    // cleanup() removed our listeners, so the default action applies now.
    process.kill(process.pid, received);
  }
  return code;
}
