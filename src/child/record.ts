// A child's own record: what it learns about itself and its parent (spawn
// bootstrap payload, or the fork start method in the copy). A spawn child's
// bootstrap (spawn-main.cjs) leaves it in a global slot: that CommonJS
// entry runs a plain target without loading the package, so it cannot
// reach an ES module's variables. process.ts turns the record into
// currentProcess()/parentProcess() the first time the target asks, so a
// target that never imports the package never loads it.

/** What a child learns about itself and its parent from the bootstrap. */
export interface SelfRecord {
  name: string;
  identity: number[];
  daemon: boolean;
  authkey: Buffer;
  parentPid: number;
  parentName: string;
  /** Read end of the parent's liveness pipe: EOF once the parent is gone. */
  parentSentinel: number;
}

// The same key as RECORD_SLOT in spawn-main.cts.
const RECORD_SLOT = Symbol.for('posix-process.spawnRecord');

export function takeSpawnRecord(): SelfRecord | null {
  const slot = globalThis as { [RECORD_SLOT]?: SelfRecord };
  const record = slot[RECORD_SLOT] ?? null;
  delete slot[RECORD_SLOT];
  return record;
}
