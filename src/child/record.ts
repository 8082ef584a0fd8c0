// A spawn child's own record, left by the bootstrap (spawn-main.cjs) in a
// global slot: that CommonJS entry runs a plain target without loading the
// package, so it cannot reach an ES module's variables. context.ts turns
// the record into currentProcess()/parentProcess() the first time the
// target asks, so a target that never imports the package never loads it.
import type { SelfRecord } from '../context.js';

// The same key as RECORD_SLOT in spawn-main.cts.
const RECORD_SLOT = Symbol.for('posix-process.spawnRecord');

export function takeSpawnRecord(): SelfRecord | null {
  const slot = globalThis as { [RECORD_SLOT]?: SelfRecord };
  const record = slot[RECORD_SLOT] ?? null;
  delete slot[RECORD_SLOT];
  return record;
}
