// Shared test helpers: real fd and zombie counts from /proc.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { release } from 'node:os';

/** Open fds of this process, as { fd: target }. */
export function openFds(pid = 'self') {
  const out = {};
  for (const name of readdirSync(`/proc/${pid}/fd`)) {
    try {
      out[name] = readlinkSync(`/proc/${pid}/fd/${name}`);
    } catch {
      // closed while listing (the listing's own fd)
    }
  }
  return out;
}

export function fdCount() {
  return Object.keys(openFds()).length;
}

/** Children of this process that are zombies (state Z). */
export function zombieChildren() {
  const zombies = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' && Number(fields[1]) === process.pid) zombies.push(Number(name));
  }
  return zombies;
}

/** Fields of /proc/PID/stat after the command name: state, ppid, pgrp, session... */
export function procStat(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], ppid: Number(fields[1]), pgrp: Number(fields[2]), session: Number(fields[3]) };
}

/** Seconds since `t0` (a performance.now() reading). */
export const seconds = (t0) => (performance.now() - t0) / 1000;

/** The error a promise rejects with; fails the test if it resolves. */
export async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  expect.fail('expected a rejection');
}

/** Hooks: every test of the suite leaves fds, children and `more()` as it found them. */
export function expectNoLeaks(more = () => {}) {
  let fds;
  beforeEach(function () {
    fds = fdCount();
  });
  afterEach(function () {
    expect(fdCount(), 'fd leak').to.equal(fds);
    expect(zombieChildren()).to.deep.equal([]);
    more();
  });
}

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/**
 * Runs the real `posix-process` command: resolves to { code, signal,
 * stdout, stderr, elapsed } once it has exited and its output is read.
 */
export function cli(args, { input, stdio, onSpawn, onStdout } = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { stdio: stdio ?? ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      onStdout?.(stdout, child);
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, elapsed: (performance.now() - started) / 1000 }));
    if (input !== undefined) child.stdin.end(input);
    else child.stdin?.end();
    onSpawn?.(child);
  });
}

/**
 * Whether a child reaped behind the library's back still reports its own
 * exit code: on the pidfd path (`pidfd`, posix.pidfdSupported()) of a
 * kernel that keeps the status for pidfd holders (PIDFD_INFO_EXIT, 6.15+).
 */
export function kernelKeepsExitStatus(pidfd) {
  const [major, minor] = release().split('.').map(Number);
  return pidfd && (major > 6 || (major === 6 && minor >= 15));
}

/**
 * What a hung process is doing, for the failure message: each thread's
 * name, state and kernel wait channel from /proc, and, where gdb is
 * installed (.ci/run installs it), every thread's backtrace. Call before
 * killing it.
 */
export function describeHang(pid) {
  const lines = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const read = (f) => {
        try {
          return readFileSync(`/proc/${pid}/task/${tid}/${f}`, 'utf8').trim();
        } catch {
          return '?';
        }
      };
      const stat = read('stat');
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      lines.push(`  thread ${tid} ${read('comm')}: state ${state}, wchan ${read('wchan')}, syscall ${read('syscall').split(' ')[0]}`);
    }
  } catch (error) {
    lines.push(`  /proc/${pid}: ${error.code ?? error.message}`);
  }
  const gdb = spawnSync('gdb', ['-p', String(pid), '-batch', '-nx', '-ex', 'thread apply all bt 30'], {
    encoding: 'utf8',
    timeout: 60000,
  });
  if (gdb.error === undefined && gdb.stdout) {
    lines.push(...gdb.stdout.split('\n').filter((l) => /^(Thread|#)/.test(l)).map((l) => `  ${l}`));
  }
  return `what pid ${pid} was doing:\n${lines.join('\n')}`;
}

/** Everything a readable stream delivers, as a string, once it ends. */
export function collect(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (chunk) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString()));
    stream.on('error', reject);
  });
}
