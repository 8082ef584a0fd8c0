// N children of `/bin/echo hi`, K in flight, stdout captured and read to
// the end, each joined: the "throughput" suite. One op runs a whole batch;
// its argument is "K:N". Every child must print "hi\n" and exit 0.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import { packageModule } from './package.js';

const pkg = await import(packageModule('index.js'));
const { Process, posix } = pkg;

const ECHO = '/bin/echo';
const ARGS = ['hi'];
const EXPECTED = 'hi\n';

function check(out, what) {
  if (out !== EXPECTED) throw new Error(`${what}: stdout ${JSON.stringify(out)}`);
}

/** Runs `one` n times, k at a time (`arg`: "K:N"). */
export async function batch(arg, one) {
  const [k, n] = String(arg).split(':').map(Number);
  if (!(k >= 1 && n >= 1)) throw new Error(`bad K:N '${arg}'`);
  let started = 0;
  const lane = async () => {
    while (started < n) {
      started++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: Math.min(k, n) }, lane));
}

/** A readable stream's whole text. */
export function readAll(stream) {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => (text += chunk));
    stream.once('error', reject);
    stream.once('end', () => resolve(text));
  });
}

async function processPipe() {
  const p = new Process({ executable: ECHO, args: ARGS, stdio: ['ignore', 'pipe', 'inherit'] });
  p.start();
  const out = await readAll(p.stdout);
  await p.join();
  if (p.exitCode !== 0) throw new Error(`${p}: exitCode ${p.exitCode}`);
  p.close();
  check(out, 'Process');
}

// The raw layer: posix.pipe + posix.spawn, readiness by the package's async
// wait() over the pipe and then the sentinel, reads by fs.readSync, reap by pid.
let devNull = null;
const chunk = Buffer.alloc(4096);
async function raw() {
  devNull ??= fs.openSync('/dev/null', 'r');
  const [r, w] = posix.pipe();
  let child;
  try {
    child = posix.spawn(ECHO, [ECHO, ...ARGS], { fds: [devNull, w, 2] });
  } catch (error) {
    posix.close(r);
    throw error;
  } finally {
    posix.close(w);
  }
  let out = '';
  try {
    for (;;) {
      await pkg.wait([r]);
      const n = fs.readSync(r, chunk, 0, chunk.length, null);
      if (n === 0) break;
      out += chunk.toString('utf8', 0, n);
    }
  } finally {
    posix.close(r);
  }
  await pkg.wait([child.sentinel]);
  const status = posix.waitpid(child.pid);
  posix.close(child.sentinel);
  if (status.exitCode !== 0) throw new Error(`raw: exitCode ${status.exitCode}`);
  check(out, 'raw');
}

function cpExecFile() {
  return new Promise((resolve, reject) => {
    execFile(ECHO, ARGS, (error, stdout) => {
      if (error) reject(error);
      else {
        try {
          check(stdout, 'execFile');
          resolve();
        } catch (e) {
          reject(e);
        }
      }
    });
  });
}

async function cpSpawn() {
  const child = spawn(ECHO, ARGS, { stdio: ['ignore', 'pipe', 'inherit'] });
  const closed = new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`spawn: code ${code}`))));
  });
  const out = await readAll(child.stdout);
  await closed;
  check(out, 'child_process.spawn');
}

export const ops = {
  processPipe: (arg) => batch(arg, processPipe),
  raw: (arg) => batch(arg, raw),
  cpExecFile: (arg) => batch(arg, cpExecFile),
  cpSpawn: (arg) => batch(arg, cpSpawn),
};
