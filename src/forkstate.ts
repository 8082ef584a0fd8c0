// Per-process state that Node caches in JS and a fork child inherits stale
// (DESIGN.md, "Forking a Node process", item 5). Fixed by at-fork hooks the
// library registers itself, through the same registry users get. They are
// registered first (index.ts imports this module first), so they run before
// any user hook in the child.
import { randomFillSync, randomUUID } from 'node:crypto';
import { binding } from './binding.js';
import { registerAtFork } from './atfork.js';

// Math.random: V8 keeps its xorshift128+ state and a cache of 64 results in
// the native context, and offers no way to reseed it; the child would
// replay the parent's exact sequence. The child gets a replacement drawing
// from OpenSSL, which reseeds itself after fork. It yields 53 random bits
// per number, uniform in [0, 1), like V8's. (A reference to the original
// taken before the fork, `const r = Math.random`, is not reached.)
function reseedMathRandom(): void {
  const pool = new Uint32Array(512);
  let index = pool.length;
  function random(): number {
    if (index === pool.length) {
      randomFillSync(pool);
      index = 0;
    }
    const high = pool[index++] >>> 5; // 27 bits
    const low = pool[index++] >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }
  Object.defineProperty(Math, 'random', { value: random, writable: true, enumerable: false, configurable: true });
}

// crypto.randomUUID() serves 128 UUIDs from one cached random buffer
// (lib/internal/crypto/random.js: uuidData, uuidBatch), refilled when its
// index wraps to 0. The child inherits buffer and index, so it would hand
// out the parent's next UUIDs. The index is unreachable, but 128 calls
// pass through 0 exactly once, so afterwards every UUID comes from a buffer
// the child refilled itself. globalThis.crypto.randomUUID shares the cache.
const UUID_BATCH = 128;

function drainUuidCache(): void {
  for (let i = 0; i < UUID_BATCH; i++) randomUUID();
}

registerAtFork({
  afterInChild() {
    Object.defineProperty(process, 'pid', { value: binding.getpid(), writable: false, enumerable: true, configurable: true });
    Object.defineProperty(process, 'ppid', { get: () => binding.getppid(), enumerable: true, configurable: true });
    reseedMathRandom();
    drainUuidCache();
  },
});
