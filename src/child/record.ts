// A spawn child's own record, left here by the bootstrap. context.ts turns
// it into currentProcess()/parentProcess() the first time the target asks,
// so a target that never imports the package never loads it.
import type { SelfRecord } from '../context.js';

let pending: SelfRecord | null = null;

export function leaveSpawnRecord(record: SelfRecord): void {
  pending = record;
}

export function takeSpawnRecord(): SelfRecord | null {
  const record = pending;
  pending = null;
  return record;
}
