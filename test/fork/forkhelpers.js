// Helpers for the fork suite: run a function in a forkChild() child and get
// back what it reported (JSON over a pipe), its exit status, and no leaks.
import { closeSync, readSync } from 'node:fs';
import { forkChild } from '../internals.js';
import { binding, forkBinding } from '../internals.js';
import { describeHang } from '../helpers.js';

// A fork child that has not ended by then has hung: the test fails (and the
// child is killed) instead of hanging the suite.
const DEADLINE_MS = 60000;

function hung(started) {
  const doing = describeHang(started.pid);
  binding.kill(started.pid, 9);
  binding.waitpid(started.pid);
  closeSync(started.sentinel);
  return new Error(`fork child ${started.pid} hung: not done within ${DEADLINE_MS / 1000} s; ${doing}`);
}

/** Reads fd to EOF as a string; null if that takes past `deadline` (a Date.now() value). */
export function readAll(fd, deadline = Infinity) {
  const chunks = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    if (deadline !== Infinity) {
      const left = Math.max(0, Math.min(2 ** 31 - 1, deadline - Date.now()));
      if (binding.poll([{ fd, events: binding.pollConstants.POLLIN }], left)[0] === 0) return null;
    }
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
  const deadline = Date.now() + DEADLINE_MS;
  const text = readAll(r, deadline);
  closeSync(r);
  if (text === null) throw hung(started);
  const status = binding.waitpidTimeout(started.pid, Math.max(0, deadline - Date.now()) / 1000);
  if (status === null) throw hung(started);
  closeSync(started.sentinel);
  return { report: text === '' ? undefined : JSON.parse(text), status, started };
}

/** Forks a child running childMain; returns its wait status (sentinel closed). */
export function forkAndWait(childMain) {
  const started = forkChild(childMain);
  const status = binding.waitpidTimeout(started.pid, DEADLINE_MS / 1000);
  if (status === null) throw hung(started);
  closeSync(started.sentinel);
  return status;
}
