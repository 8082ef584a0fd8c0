// The payload a 'spawn' child reads from fd 3, and its two encodings:
//   - JSON, when JSON carries the payload exactly as structured clone would
//     (plain objects and dense arrays, each reached once, of strings,
//     booleans, null and finite numbers other than -0): the child then
//     never loads node:v8, whose import pulls in Node's streams (~2.5 ms of
//     a ~55 ms start);
//   - v8.serialize (structured clone) for everything else.
// The first byte tells them apart: '{' for JSON, 0xFF (the serializer's
// version tag) for V8.
// CommonJS: the spawn bootstrap (spawn-main.cjs) decodes without Node's ES
// module loader; the parent (popen-spawn.ts) encodes through require.
import type * as V8 from 'node:v8';
import type { ConnectionSlot } from './transfer.js' with { 'resolution-mode': 'import' };

/** How the child finds its target: by module reference, or by source text. */
export type TargetSpec =
  | { kind: 'none' }
  | { kind: 'source'; source: string }
  | { kind: 'module'; module: string; export: string };

/** What spawn-main.cjs reads from fd 3. */
export interface SpawnPayload {
  target: TargetSpec;
  cls: { module: string; export: string } | null;
  props: unknown;
  args: unknown;
  kwargs: unknown;
  name: string;
  identity: number[];
  daemon: boolean;
  /** Hex: the same in both encodings. */
  authkey: string;
  parentPid: number;
  parentName: string;
  parentSentinel: number;
  connections: ConnectionSlot[];
  /** Without pidfds: the child's copy of its exit-sentinel pipe (made CLOEXEC there). */
  exitSentinelFd: number | null;
}

const JSON_OPEN_BRACE = 0x7b;
// Values the JSON check looks at before it settles for V8: bounds the
// parent's extra work for large args, where V8's encoding is faster anyway.
const JSON_BUDGET = 4096;

// One value as structured clone would carry it, but through JSON? Data
// properties only: reading an accessor here would run it a second time.
function jsonExact(root: unknown): boolean {
  // A toJSON on the prototypes would change what JSON.stringify writes.
  if ('toJSON' in Object.prototype || 'toJSON' in Array.prototype) return false;
  const seen = new Set<object>();
  const stack: unknown[] = [root];
  let budget = JSON_BUDGET;
  while (stack.length > 0) {
    if (--budget < 0) return false;
    const value = stack.pop();
    if (value === null || typeof value === 'string' || typeof value === 'boolean') continue;
    if (typeof value === 'number') {
      if (!Number.isFinite(value) || Object.is(value, -0)) return false;
      continue;
    }
    if (typeof value !== 'object') return false; // undefined, bigint, symbol, function
    // Structured clone keeps shared references shared; JSON would copy them.
    if (seen.has(value)) return false;
    seen.add(value);
    // The prototype first: Object.keys of a large typed array is costly.
    const proto: unknown = Object.getPrototypeOf(value);
    const array = Array.isArray(value);
    if (array ? proto !== Array.prototype : proto !== Object.prototype && proto !== null) {
      return false; // Date, Map, typed arrays, class instances...
    }
    // Over budget: say so before listing a large array's keys.
    if (array && value.length > budget) return false;
    const keys = Object.keys(value);
    if (keys.length > budget) return false;
    // Dense, and nothing but its elements.
    if (array && keys.length !== value.length) return false;
    for (const key of keys) {
      const desc = Object.getOwnPropertyDescriptor(value, key);
      if (desc === undefined || !('value' in desc)) return false;
      stack.push(desc.value);
    }
    if (array) {
      for (let i = 0; i < value.length; i++) if (!Object.hasOwn(value, i)) return false;
    }
  }
  return true;
}

// node:v8 only when a payload needs it (see the top of this file).
function v8(): typeof V8 {
  return require('node:v8') as typeof V8;
}

/** The payload's bytes; throws structured clone's error when it cannot be carried. */
export function encodePayload(payload: SpawnPayload): Buffer {
  if (jsonExact(payload)) return Buffer.from(JSON.stringify(payload));
  return v8().serialize(payload);
}

export function decodePayload(bytes: Buffer): SpawnPayload {
  if (bytes[0] === JSON_OPEN_BRACE) return JSON.parse(bytes.toString()) as SpawnPayload;
  return v8().deserialize(bytes) as SpawnPayload;
}
