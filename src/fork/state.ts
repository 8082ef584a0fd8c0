// Per-process state a fork child inherits stale (docs/design.md, "Forking a
// Node process"): what Node caches in JS (pid, ppid, Math.random's state,
// randomUUID's batch) and the library's own lineage (which fork this is, the
// sentinel write end a child holds). atfork.ts runs the fixes below first,
// before any user hook.
import { binding } from '../binding.js';

// Math.random: V8 keeps its xorshift128+ state and a cache of 64 results in
// the native context, and offers no way to reseed it; the child would
// replay the parent's exact sequence. The child gets a replacement drawing
// from OpenSSL, which reseeds itself after fork. It yields 53 random bits
// per number, uniform in [0, 1), like V8's. (A reference to the original
// taken before the fork, `const r = Math.random`, is not reached.)
// The function and its pool are made here, in the parent, and the pool is
// filled on first use: every page a fork child writes costs a copy-on-write
// fault, and a child that never calls Math.random should not pay OpenSSL's
// reseed either.
// node:crypto only once something forks: importing the package stays cheap.
const crypto = () => process.getBuiltinModule('node:crypto');

const pool = new Uint32Array(512);
let poolIndex = pool.length;

function random(): number {
  if (poolIndex === pool.length) {
    crypto().randomFillSync(pool);
    poolIndex = 0;
  }
  const high = pool[poolIndex++] >>> 5; // 27 bits
  const low = pool[poolIndex++] >>> 6; // 26 bits
  return (high * 67108864 + low) / 9007199254740992;
}

// In parentheses: compiled with the module, not in every child (child.ts).
const reseedMathRandom = (function reseedMathRandom(): void {
  poolIndex = pool.length; // a grandchild must not reuse its parent's pool
  Object.defineProperty(Math, 'random', { value: random, writable: true, enumerable: false, configurable: true });
});

// crypto.randomUUID() serves 128 UUIDs from one cached random buffer
// (lib/internal/crypto/random.js: uuidData, uuidBatch), refilled when its
// index wraps to 0. A fork child inherits buffer and index, so it hands out
// the UUIDs the parent would hand out next. Neither index nor buffer can be
// reached, but 128 calls pass through 0 exactly once. So right after each
// fork the *parent* makes 128 calls and discards them: it skips past every
// cached UUID the child may serve (the child serves the rest of that batch,
// then refills from its own, reseeded, OpenSSL). Doing it in the parent
// keeps the child fast (every page it writes costs a copy-on-write fault:
// in the child this drain cost 0.4-2 ms) and runs on the other core while
// the child starts. Siblings never collide either: each forked from a
// different batch position or buffer. globalThis.crypto.randomUUID shares
// the cache; randomUUID({ disableEntropyCache: true }) never used it.
const UUID_BATCH = 128;

export function drainUuidCache(): void {
  const { randomUUID } = crypto();
  for (let i = 0; i < UUID_BATCH; i++) randomUUID();
}

function getppid(): number {
  return binding.getppid();
}

// Counts the forks this process descends from: state made before a fork
// (a Connection's buffered reads, a fork child's pending childMain) knows
// it is a copy when the count has moved.
let generation = 0;

export function forkGeneration(): number {
  return generation;
}

// In a fork child on the pipe fallback: the write end of its own sentinel.
// Only this process may hold it, so any process forked from here (a
// grandchild, through either fork path) closes its inherited copy first.
let heldSentinel: number | null = null;

export function holdSentinel(fd: number | null): void {
  heldSentinel = fd;
}

/** The child's own pid and ppid, a reseeded Math.random, the next generation. */
export const stateAfterForkInChild = (function stateAfterForkInChild(): void {
  Object.defineProperty(process, 'pid', { value: binding.getpid(), writable: false, enumerable: true, configurable: true });
  // A getter: the parent may die and the child be re-parented.
  Object.defineProperty(process, 'ppid', { get: getppid, enumerable: true, configurable: true });
  reseedMathRandom();
  generation++;
  if (heldSentinel !== null) {
    binding.close(heldSentinel);
    heldSentinel = null;
  }
});
