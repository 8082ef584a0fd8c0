// Runs a child's target and turns the outcome into multiprocessing's exit
// code: 0 when it returns (or its promise resolves), 1 when it throws (or
// rejects), with `Process <name>:` and the stack on stderr, written
// synchronously so it is there before the child exits. process.exit(n)
// inside the target never comes back here: the process ends with n & 0xff,
// like any Node program. Shared by Process.run(), the spawn bootstrap and
// the fork start method.
import type { Process } from '../process.js';

/** A module (an absolute specifier) and the name of a function it exports. */
export interface ResolvedTargetRef {
  module: string;
  export: string;
}

export type AnyTarget = ((...args: never[]) => unknown) | ResolvedTargetRef;

/** Calls the target with `args` (and `kwargs` last, when given), importing it first if it is a reference. */
export function invokeTarget(target: AnyTarget, args: unknown[], kwargs: Record<string, unknown> | null): unknown {
  const all = kwargs === null ? args : [...args, kwargs];
  if (typeof target === 'function') return (target as (...a: unknown[]) => unknown)(...all);
  return import(target.module).then((mod: Record<string, unknown>) => {
    const fn = mod[target.export];
    if (typeof fn !== 'function') {
      throw new TypeError(`export '${target.export}' of ${target.module} is not a function (got ${typeof fn})`);
    }
    return (fn as (...a: unknown[]) => unknown)(...all);
  });
}

export function describeError(error: unknown): string {
  // node:util on failure only: a child that succeeds never loads it.
  const { inspect } = process.getBuiltinModule('node:util');
  // The stack starts with name and message; inspect keeps extra properties visible too.
  if (error instanceof Error && typeof error.stack === 'string') return inspect(error);
  return `Uncaught ${inspect(error)}`;
}

export function reportFailure(name: string, error: unknown): void {
  try {
    process.getBuiltinModule('node:fs').writeSync(2, `Process ${name}:\n${describeError(error)}\n`);
  } catch {
    // stderr closed: the exit code still says it failed
  }
}

/** Awaits `run()` and returns the exit code it earns. */
export async function runAndReport(name: string, run: () => unknown): Promise<number> {
  try {
    await run();
    return 0;
  } catch (error) {
    reportFailure(name, error);
    return 1;
  }
}

export function runProcessTarget(proc: Process): Promise<number> {
  return runAndReport(proc.name, () => proc.run());
}
