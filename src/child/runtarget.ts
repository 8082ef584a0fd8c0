// Runs a Process's run() in the child and turns the outcome into
// multiprocessing's exit code: 0 when it returns (or its promise resolves),
// 1 when it throws (or rejects), with `Process <name>:` and the stack on
// stderr, written synchronously so it is there before the child exits.
// process.exit(n) inside run() never comes back here: the process ends with
// n & 0xff, like any Node program. Shared by the spawn bootstrap and the
// fork start method.
import { writeSync } from 'node:fs';
import { inspect } from 'node:util';
import type { Process } from '../process.js';

export function describeError(error: unknown): string {
  if (error instanceof Error && typeof error.stack === 'string') {
    // The stack starts with name and message; keep extra properties visible too.
    return inspect(error);
  }
  return `Uncaught ${inspect(error)}`;
}

export function reportFailure(name: string, error: unknown): void {
  try {
    writeSync(2, `Process ${name}:\n${describeError(error)}\n`);
  } catch {
    // stderr closed: the exit code still says it failed
  }
}

export async function runProcessTarget(proc: Process): Promise<number> {
  try {
    await proc.run();
    return 0;
  } catch (error) {
    reportFailure(proc.name, error);
    return 1;
  }
}
