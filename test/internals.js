// What tests reach inside dist/ besides the package entry (dist/index.js):
// the one file to change when the inside moves. Everything else comes from
// the entry, as a user gets it.
export { binding, forkBinding } from '../dist/binding.js';
export { forkChild } from '../dist/fork/child.js';
export { launchFork } from '../dist/fork/gate.js';
export { watchedFdCount, whenReadable } from '../dist/watch.js';
export { childExecArgv } from '../dist/child/execargv.js';
export { parseDuration, parseSignal } from '../dist/cli/duration.js';
export { MAX_TIMER_MS } from '../dist/timing.js';

/** The command-line entry (package.json "bin"). */
export const CLI_PATH = new URL('../dist/cli.js', import.meta.url);
export { forkserverPid, setForkserverReplyTimeout } from '../dist/forkserver/client.js';
export { requestBody, requestRecords, signalRecord, MAX_RECORD } from '../dist/forkserver/protocol.js';
export const FORKSERVER_MAIN = new URL('../dist/forkserver/server.js', import.meta.url);
