// The launch of each start method, handed to context.ts by index.ts. Kept
// out of process.ts's own imports so that a spawn child's bootstrap, which
// needs Process but launches nothing until its target imports the package,
// loads a smaller module graph and starts faster.
import type { Launchers } from './context.js';
import { assertForkSafe, forkserverUnsafeReason, forkUnsafeReason, launchFork } from './fork/gate.js';
import { launchForkserver } from './forkserver/client.js';
import { launchProgram } from './popen-exec.js';
import { launchSpawn } from './popen-spawn.js';

export const launchers: Launchers = {
  spawn: launchSpawn,
  forkserver: launchForkserver,
  forkserverUnavailable: forkserverUnsafeReason,
  program: launchProgram,
  fork: launchFork,
  forkUnavailable: forkUnsafeReason,
  assertForkSafe,
};
