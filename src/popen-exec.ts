// Program targets: execve(executable, [executable, ...args]) through the
// native vfork-class spawn. An exec failure throws the system error here,
// synchronously, and leaves nothing behind (the native side reaps the
// failed child; we close the stdio ends).
import type { Duplex } from 'node:stream';
import { binding, type Launched } from './binding.js';
import { openStreams, prepareStdio, releaseStdio, type StdioEntry } from './popen-stdio.js';
import { envStrings, searchDirs } from './environ.js';

export interface ProgramRequest {
  executable: string;
  args: string[];
  env: Record<string, string> | null;
  cwd: string | null;
  stdio: StdioEntry[] | null;
  /** Sent to the child when this process dies (0: none). */
  parentDeathSignal: number;
}

export function launchProgram(request: ProgramRequest): { launched: Launched; streams: Array<Duplex | null> } {
  const env = request.env === null ? undefined : envStrings(request.env);
  const stdio = prepareStdio(request.stdio);
  let launched: Launched;
  try {
    // One object shape for every launch (absent options are undefined, not
    // left out by spreads): docs/design.md, "Throughput: the per-child path".
    launched = binding.spawn(request.executable, [request.executable, ...request.args], {
      fds: stdio.fds,
      env,
      cwd: request.cwd ?? undefined,
      parentDeathSignal: request.parentDeathSignal,
      // A bare name is looked up in PATH, like execvp and child_process.
      path: request.executable.includes('/') ? undefined : searchDirs(request.env),
    });
  } catch (error) {
    releaseStdio(stdio, true);
    throw error;
  }
  releaseStdio(stdio, false);
  return { launched, streams: openStreams(stdio) };
}
