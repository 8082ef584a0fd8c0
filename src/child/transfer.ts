// Carrying Connections to a spawned child inside args/kwargs. A Connection
// is an fd, which structured clone cannot carry: the parent replaces each
// one (found at any depth) with a marker and maps its fd into the child at a
// fixed number; the child puts a Connection over that fd back in its place.
// Containers are copied only on the path to a Connection; the rest of the
// value is left to structured clone as it is.
// No import of connection.js here: the child loads it only when it has
// Connections to rebuild.
import type { Connection } from '../connection.js';

/** The marker that stands for Connection number `index` of the transfer. */
export const MARKER_KEY = '__posixProcessConnection__';

export interface ConnectionSlot {
  /** This process's fd (parent side) or the child's fd (child side). */
  fd: number;
  readable: boolean;
  writable: boolean;
  maxMessageSize: number;
}

function isMarker(value: unknown): value is { [MARKER_KEY]: number } {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.keys(value).length === 1 &&
    typeof (value as Record<string, unknown>)[MARKER_KEY] === 'number'
  );
}

function plainContainer(value: object): boolean {
  if (Array.isArray(value) || value instanceof Map || value instanceof Set) return true;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Walks `value`; `visit` may replace a leaf. Copies containers it changes. */
function rewrite(value: unknown, visit: (v: unknown) => unknown, seen: Map<object, unknown>): unknown {
  const replaced = visit(value);
  if (replaced !== value) return replaced;
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return seen.get(value);
  // Class instances other than the containers travel as structured clone
  // makes them (own enumerable properties), so they are walked too.
  if (!plainContainer(value) && ArrayBuffer.isView(value)) return value;
  seen.set(value, value);
  let changed = false;
  let out: unknown;
  if (Array.isArray(value)) {
    const copy = value.map((item) => rewrite(item, visit, seen));
    changed = copy.some((item, i) => item !== value[i]);
    out = copy;
  } else if (value instanceof Map) {
    const copy = new Map<unknown, unknown>();
    for (const [k, v] of value) {
      const nk = rewrite(k, visit, seen);
      const nv = rewrite(v, visit, seen);
      changed ||= nk !== k || nv !== v;
      copy.set(nk, nv);
    }
    out = copy;
  } else if (value instanceof Set) {
    const copy = new Set<unknown>();
    for (const item of value) {
      const n = rewrite(item, visit, seen);
      changed ||= n !== item;
      copy.add(n);
    }
    out = copy;
  } else if (value instanceof Date || value instanceof RegExp || value instanceof Error || value instanceof ArrayBuffer) {
    return value;
  } else {
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const n = rewrite(v, visit, seen);
      // An accessor was just read: carry the copy, or structured clone
      // would run it a second time.
      changed ||= n !== v || !('value' in Object.getOwnPropertyDescriptor(value, k)!);
      copy[k] = n;
    }
    out = copy;
  }
  if (!changed) return value;
  seen.set(value, out);
  return out;
}

/** Parent side: replaces Connections by markers; returns the rewritten value. */
export function extractConnections(
  value: unknown,
  slots: ConnectionSlot[],
  index: Map<Connection, number>,
  ConnectionClass: typeof Connection,
): unknown {
  return rewrite(
    value,
    (v) => {
      if (!(v instanceof ConnectionClass)) return v;
      let i = index.get(v);
      if (i === undefined) {
        i = slots.length;
        slots.push({ fd: v.fileno(), readable: v.readable, writable: v.writable, maxMessageSize: v.maxMessageSize });
        index.set(v, i);
      }
      return { [MARKER_KEY]: i };
    },
    new Map(),
  );
}

/** Child side: puts a Connection (one per slot, shared) where each marker is. */
export function restoreConnections(value: unknown, connections: Connection[]): unknown {
  return rewrite(value, (v) => (isMarker(v) ? connections[v[MARKER_KEY]] : v), new Map());
}
