// Runs a child's target and turns the outcome into multiprocessing's exit
// code: 0 when it returns (or its promise resolves), 1 when it throws (or
// rejects), with `Process <name>:` and the stack on stderr, written
// synchronously so it is there before the child exits. process.exit(n)
// inside the target never comes back here: the process ends with n & 0xff,
// like any Node program. Shared by Process.run() and the fork start method
// (through runtarget.js) and by both halves of the spawn bootstrap.
//
// CommonJS on purpose: the spawn bootstrap (spawn-main.cjs) loads it
// without Node's ES module loader. ES modules get this same instance
// through require (runtarget.ts), never a second copy.
import { writeSync } from 'node:fs';
import { inspect } from 'node:util';
import type { TargetSpec } from './wire.cjs';

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

/** A spawn child's target from its payload; null for none. */
export function resolveTarget(spec: TargetSpec): AnyTarget | null {
  if (spec.kind === 'none') return null;
  if (spec.kind === 'module') return { module: spec.module, export: spec.export };
  // Indirect eval: global scope, no access to this module's bindings. The
  // function must not close over variables of its original scope. Its
  // import() calls resolve from this file's directory (dist/child/).
  const fn: unknown = (0, eval)(`(${spec.source}\n)`);
  if (typeof fn !== 'function') throw new TypeError('the target source did not evaluate to a function');
  return fn as AnyTarget;
}

export function describeError(error: unknown): string {
  // The stack starts with name and message; inspect keeps extra properties visible too.
  if (error instanceof Error && typeof error.stack === 'string') return inspect(error);
  return `Uncaught ${inspect(error)}`;
}

export function reportFailure(name: string, error: unknown): void {
  try {
    writeSync(2, `Process ${name}:\n${describeError(error)}\n`);
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

/**
 * A spawn child's whole life: `prepare()` returns the run (a failure there
 * fails the child too), which then earns process.exitCode. Leaves the
 * process to end when its loop drains, like any Node script.
 */
export async function runAsChild(name: string, prepare: () => (() => unknown) | Promise<() => unknown>): Promise<void> {
  let run: () => unknown;
  try {
    run = await prepare();
  } catch (error) {
    reportFailure(name, error);
    process.exitCode = 1;
    return;
  }
  const code = await runAndReport(name, run);
  if (code !== 0) process.exitCode = code;
}
