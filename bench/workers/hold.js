// Memory a benchmark parent holds, so we can see whether process creation
// cost grows with it. Every page is written, so it is resident and mapped.

/** `mb` MiB of Buffers outside the JS heap. */
export function holdBuffers(mb) {
  const held = [];
  const CHUNK_MB = 64;
  for (let left = mb; left > 0; left -= CHUNK_MB) {
    const b = Buffer.allocUnsafeSlow(Math.min(left, CHUNK_MB) << 20);
    b.fill(0x5a); // touch every page
    held.push(b);
  }
  return held;
}

/**
 * About `mb` MiB of live JS heap: half small objects with strings (many
 * pages, many pointers: what a real service holds), half big flat strings.
 * Needs --max-old-space-size above `mb`.
 */
export function holdHeap(mb) {
  const held = { objects: [], strings: [] };
  if (!(mb > 0)) return held;
  const target = mb * 2 ** 20;
  const start = process.memoryUsage().heapUsed;
  let i = 0;
  while (process.memoryUsage().heapUsed - start < target / 2) {
    const batch = new Array(50_000);
    for (let j = 0; j < batch.length; j++, i++) batch[j] = { id: i, name: `item-${i}`, score: i * 0.5 };
    held.objects.push(batch);
  }
  // 512 KiB strings: below Node's limit for external strings, so they are
  // flat strings inside the V8 heap.
  const raw = Buffer.alloc(2 ** 19);
  while (process.memoryUsage().heapUsed - start < target) {
    raw.fill(held.strings.length % 251);
    held.strings.push(raw.toString('latin1'));
  }
  return held;
}
