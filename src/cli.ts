#!/usr/bin/env node
// The `posix-process` command (package.json "bin"): run, watch, bench.
// SIGUSR1 is claimed before anything else (Node would open its inspector on
// it), and a reader of its output that went away ends it as SIGPIPE would.
// The rest is loaded dynamically so that even a failure to load the native
// addon ends in a message and exit status 125 (posix-process's own
// failure), not a trace.
import { dieOfBrokenPipe } from './cli/brokenpipe.js';
import { claimSigusr1, closeInspectorOpenedAtStartup } from './cli/sigusr1.js';

claimSigusr1();
dieOfBrokenPipe();
try {
  const { main } = await import('./cli/main.js');
  await closeInspectorOpenedAtStartup();
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`posix-process: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 125;
}
