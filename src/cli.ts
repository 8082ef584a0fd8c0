#!/usr/bin/env node
// The `posix-process` command (package.json "bin"): run, watch, bench.
// Loaded dynamically so that even a failure to load the native addon ends
// in a message and exit status 125 (posix-process's own failure), not a trace.
try {
  const { main } = await import('./cli/main.js');
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`posix-process: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 125;
}
