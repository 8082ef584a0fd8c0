// Running a target, for the ES module side of the package: Process.run(),
// the fork start method and spawn-full.js. The code is in target.cjs,
// CommonJS so that the spawn bootstrap loads it without Node's ES module
// loader; here it comes through require, which hands out the one instance
// the bootstrap may already have loaded (and skips the ESM loader's
// CommonJS export scan).
import { createRequire } from 'node:module';
import type * as Target from './target.cjs';

const target = createRequire(import.meta.url)('./target.cjs') as typeof Target;

export type { AnyTarget, ResolvedTargetRef } from './target.cjs';
export const { invokeTarget, resolveTarget, runAndReport, runAsChild } = target;

/** Runs a Process's run() (anything with a name and a run method) as this child's whole work. */
export function runProcessTarget(proc: { readonly name: string; run(): unknown }): Promise<number> {
  return target.runAndReport(proc.name, () => proc.run());
}
