// The benchmark side of a worker process: start it, send "<op> <iters>",
// read back per-op samples (ns, and the worker's own CPU ns per op when it
// reports them), shut it down and make sure it is gone.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const MARKER = '@@BENCH ';
export const WORKERS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'workers');

export class Worker {
  /** @param {string} label @param {string} file @param {string[]} args @param {NodeJS.ProcessEnv} [env] */
  constructor(label, file, args, env = process.env) {
    this.label = label;
    this.child = spawn(file, args, { stdio: ['pipe', 'pipe', 'inherit'], env });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    this.waiting = [];
    this.failure = null;
    this.child.once('error', (err) => this.fail(err));
    this.exited.then(({ code, signal }) => this.fail(new Error(`${label}: worker exited (code ${code}, signal ${signal})`)));
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      if (!line.startsWith(MARKER)) {
        process.stderr.write(`[${label}] ${line}\n`);
        return;
      }
      const msg = JSON.parse(line.slice(MARKER.length));
      const next = this.waiting.shift();
      if (next) next(msg);
    });
    this.info = this.next(); // the worker's "ready" message
  }

  fail(err) {
    this.failure ??= err;
    for (const next of this.waiting.splice(0)) next({ error: err.message });
  }

  next() {
    if (this.failure) return Promise.resolve({ error: this.failure.message });
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async ready() {
    const msg = await this.info;
    if (msg.error) throw new Error(`${this.label}: ${msg.error}`);
    return msg;
  }

  /** Runs `op` `iters` times in the worker; per-op nanoseconds. */
  async run(op, iters) {
    return (await this.measure(op, iters)).samples;
  }

  /**
   * Like run(), with each op's CPU time (user + system, ns) of the worker
   * process itself, not of its children: `cpuNs`, null from a worker that
   * does not report it.
   */
  async measure(op, iters) {
    const reply = this.next();
    this.child.stdin.write(`${op} ${iters}\n`);
    const msg = await reply;
    if (msg.error) throw new Error(`${this.label}: ${msg.error}`);
    return { samples: msg.samples, cpuNs: Array.isArray(msg.cpuNs) ? msg.cpuNs : null };
  }

  /** A node worker's child processes still in /proc (zombies or strays). */
  async children() {
    const reply = this.next();
    this.child.stdin.write('children 1\n');
    const msg = await reply;
    if (msg.error) throw new Error(`${this.label}: ${msg.error}`);
    return msg.children;
  }

  /** EOF on stdin ends the worker; SIGKILL if it lingers. Always reaped. */
  async close() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin.end();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
  }
}

/** A node worker; `packageDir` runs its ops on another built checkout (a previous version). */
export function nodeWorker(label, opsName, { nodeFlags = [], holdBuffersMb = 0, holdHeapMb = 0, packageDir = null } = {}) {
  const env = packageDir === null ? process.env : { ...process.env, POSIX_PROCESS_BENCH_PACKAGE: packageDir };
  const worker = new Worker(label, process.execPath, [
    ...nodeFlags,
    path.join(WORKERS_DIR, 'node-worker.js'),
    '--ops', opsName,
    '--hold-buffers-mb', String(holdBuffersMb),
    '--hold-heap-mb', String(holdHeapMb),
  ], env);
  worker.isNode = true;
  return worker;
}

/**
 * Closes every worker; first asks each live node worker which children its
 * ops left behind and adds a note for any (the ops must leave none).
 */
export async function closeAll(workers, notes) {
  for (const w of workers) {
    if (!w.isNode || w.failure) continue;
    try {
      const left = await w.children();
      if (left.length > 0) notes.push(`LEFTOVER children in worker '${w.label}': ${JSON.stringify(left)}`);
    } catch (err) {
      notes.push(`could not check worker '${w.label}' for leftover children: ${err.message}`);
    }
  }
  await Promise.all(workers.map((w) => w.close()));
}

/** Finds `name` on PATH; null when absent. */
export function which(name) {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const file = path.join(dir || '.', name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {}
  }
  return null;
}

/** A fresh temp dir for compiled helpers; remove it with fs.rmSync when done. */
export function makeTempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'posix-process-bench-'));
}

/**
 * Compiles bench/workers/<sourceName> with `cc` into `dir`.
 * Returns { file } or { skip: reason }.
 */
export function compileC(sourceName, dir, flags = ['-O2']) {
  const cc = which('cc');
  if (!cc) return { skip: 'no C compiler (cc) on PATH' };
  const file = path.join(dir, path.basename(sourceName, '.c'));
  const r = spawnSync(cc, [...flags, '-o', file, path.join(WORKERS_DIR, sourceName)], { encoding: 'utf8' });
  if (r.status !== 0) return { skip: `cc ${sourceName} failed: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}` };
  return { file };
}
