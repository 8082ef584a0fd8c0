// Helpers for the fork suite: run a function in a forkChild() child and get
// back what it reported (JSON over a pipe), its exit status, and no leaks.
import { closeSync, readSync } from 'node:fs';
import { forkChild } from '../../dist/forkstart.js';
import { binding, forkBinding } from '../../dist/binding.js';

/** Reads fd to EOF as a string. */
export function readAll(fd) {
  const chunks = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    const n = readSync(fd, buf);
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString();
}

/**
 * Forks; the child runs `fn` (may be async), sends JSON.stringify(result)
 * on a pipe and exits with `code` (default 0). Resolves to { report,
 * status, started } once the child is reaped; the sentinel is closed.
 */
export function inChild(fn, { code = 0 } = {}) {
  const [r, w] = binding.pipe();
  const started = forkChild(async () => {
    closeSync(r);
    const result = await fn();
    forkBinding().forkWriteAll(w, Buffer.from(JSON.stringify(result ?? null)));
    closeSync(w);
    return code;
  });
  closeSync(w);
  const text = readAll(r);
  closeSync(r);
  const status = binding.waitpid(started.pid);
  closeSync(started.sentinel);
  return { report: text === '' ? undefined : JSON.parse(text), status, started };
}

/** Forks a child running childMain; returns its wait status (sentinel closed). */
export function forkAndWait(childMain) {
  const started = forkChild(childMain);
  const status = binding.waitpid(started.pid);
  closeSync(started.sentinel);
  return status;
}
