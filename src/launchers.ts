// Registers the start methods' launchers with context.ts. Imported by
// index.ts; kept out of process.ts's own imports so that a spawn child's
// bootstrap, which needs Process but launches nothing until its target
// imports the package, loads a smaller module graph and starts faster.
import { registerLaunchers } from './context.js';
import { assertForkSafe, forkUnsafeReason } from './forksafety.js';
import { launchProgram } from './popen-exec.js';
import { forkAvailable, launchFork } from './popen-fork.js';
import { launchSpawn } from './popen-spawn.js';

registerLaunchers({
  spawn: launchSpawn,
  program: launchProgram,
  fork: launchFork,
  forkUnavailable: () => (forkAvailable() ? forkUnsafeReason() : "the 'fork' start method needs Linux"),
  assertForkSafe,
});
