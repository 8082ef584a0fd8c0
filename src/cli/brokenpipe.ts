// Output to a reader that went away (`posix-process --help | head -1` once
// head has exited, a usage error to a closed stderr): coreutils die of the
// SIGPIPE of their write, silently (a shell shows status 141). Node ignores
// SIGPIPE, so the write fails with EPIPE instead, emitted as an 'error' on
// the stream, which nobody handled: a crash with a trace and status 1. Here
// an EPIPE on stdout or stderr ends this process by SIGPIPE, as the default
// action would, unless `run` is supervising a command (it passes SIGPIPE on,
// and a report nobody reads must not end the supervision; see
// docs/design.md, "The posix-process command").
const SIGNAL = 'SIGPIPE';
let survive = false;

function onError(err: NodeJS.ErrnoException): void {
  if (err.code !== 'EPIPE') throw err;
  if (survive) return;
  // Node starts with SIGPIPE ignored; when the last listener goes, libuv
  // restores SIG_DFL, and the signal then ends the process.
  const listener = (): void => {};
  process.on(SIGNAL, listener);
  process.off(SIGNAL, listener);
  process.kill(process.pid, SIGNAL);
}

/** Call first: from here on a broken stdout or stderr ends this process as SIGPIPE does. */
export function dieOfBrokenPipe(): void {
  process.stdout.on('error', onError);
  process.stderr.on('error', onError);
}

/** From here on an EPIPE is only a write that failed, as for GNU timeout, which passes SIGPIPE on. */
export function surviveBrokenPipe(): void {
  survive = true;
}
