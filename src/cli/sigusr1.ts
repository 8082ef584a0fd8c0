// SIGUSR1 belongs to the command, never to Node's inspector (see
// docs/design.md, "The posix-process command"). Node answers SIGUSR1 by
// opening a debugger on 127.0.0.1:9229 unless a listener is installed; so
// the command's first statement installs one, kept until exit. While `run`
// supervises a command it adds its own listener, which forwards the signal;
// at any other time the signal ends this process as its default action
// would (GNU timeout, before it has a child, exits 128+N on it).
const SIGNAL = 'SIGUSR1';

function onSignal(): void {
  if (process.listenerCount(SIGNAL) > 1) return; // `run` forwards it
  // Without the last listener libuv restores SIG_DFL (not Node's handler).
  process.off(SIGNAL, onSignal);
  process.kill(process.pid, SIGNAL);
}

/** Call first: from here on SIGUSR1 never reaches Node's inspector. */
export function claimSigusr1(): void {
  process.on(SIGNAL, onSignal);
}

/**
 * Node installs its SIGUSR1 handler early in its start-up, before any of the
 * command's code runs: a SIGUSR1 in that window (tens of milliseconds) still
 * opens the inspector. Called once the command is loaded: such an inspector,
 * unless the command was started with --inspect, is closed and the signal
 * then counts as received before there was a command to forward it to.
 */
export async function closeInspectorOpenedAtStartup(): Promise<void> {
  const flags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  if (/--inspect(-brk|-wait)?(=|\s|$)/.test(flags)) return;
  let inspector: typeof import('node:inspector');
  try {
    inspector = await import('node:inspector');
  } catch {
    return; // a Node built without the inspector
  }
  if (inspector.url() === undefined) return;
  inspector.close();
  onSignal();
}
