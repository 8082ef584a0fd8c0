// What a Process holds once its child is reaped, and whose status it
// reports: a finished child keeps no fd of its own (start + join without
// close() under a low fd limit), its sentinel stays readable, and a pid
// reused after someone else reaped our child never hands its status, or
// our signals, to the new process (real recycling in a pid namespace).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { posix, Process, wait, waitSync } from '../dist/index.js';
import { watchedFdCount } from './internals.js';
import { fdCount, kernelKeepsExitStatus, zombieChildren } from './helpers.js';

const UNCLOSED_LOOP = fileURLToPath(new URL('./fixtures/unclosed-loop.js', import.meta.url));
const PID_RECYCLE = fileURLToPath(new URL('./fixtures/pid-recycle.js', import.meta.url));
const { POLLIN } = posix;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Earlier tests' dropped Processes close their kept sentinels when
// collected: collect first, so that fd baselines do not move under a test.
// One start + join first, too: the shared sentinel is made on first use.
async function settle() {
  const p = new Process({ executable: '/bin/true' });
  p.start();
  await p.join();
  p.close();
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(10);
  }
}

function shell(script) {
  const p = new Process({ executable: '/bin/sh', args: ['-c', script] });
  p.start();
  return p;
}

const readable = (fd) => posix.poll([{ fd, events: POLLIN }], 0)[0];

describe('36 a reaped child holds no fd of its own', function () {
  it('start + join without close(): the fd count is back to where it was; sentinels readable, shared, never closed by close()', async function () {
    await settle();
    const fds = fdCount();
    const p = shell('exit 3');
    const q = shell('exit 4');
    expect(fdCount()).to.be.above(fds);
    await p.join();
    q.joinSync();
    expect([p.exitCode, q.exitCode]).to.deep.equal([3, 4]);
    expect(fdCount(), 'fds held by two finished, unclosed Processes').to.equal(fds);
    // Read after the end: one shared, always-readable fd.
    expect(p.sentinel).to.equal(q.sentinel);
    expect(readable(p.sentinel) & POLLIN).to.equal(POLLIN);
    expect(waitSync([p, q.sentinel], 0)).to.deep.equal([p, q.sentinel]);
    expect(await wait([q], 0)).to.deep.equal([q]);
    p.close();
    expect(readable(q.sentinel) & POLLIN, 'close() left the shared sentinel open').to.equal(POLLIN);
    q.close();
    const r = shell('exit 5');
    await r.join();
    expect(waitSync([r], 0)).to.deep.equal([r]);
    r.close();
    expect(fdCount()).to.equal(fds);
  });

  it('a sentinel read while the child runs stays that fd, readable, until close() (CPython semantics)', async function () {
    await settle();
    const fds = fdCount();
    const p = shell('sleep 0.2');
    const sentinel = p.sentinel;
    expect(readable(sentinel)).to.equal(0);
    expect(await wait([p.sentinel], 10)).to.deep.equal([sentinel]);
    await p.join();
    expect(p.sentinel).to.equal(sentinel);
    expect(waitSync([sentinel], 0)).to.deep.equal([sentinel]);
    expect(fdCount(), 'the sentinel the program holds').to.equal(fds + 1);
    p.close();
    expect(fdCount()).to.equal(fds);
  });

  it('a wait() on a Process whose child another call reaps: resolves with it, no watcher or fd left', async function () {
    await settle();
    const fds = fdCount();
    const watched = watchedFdCount();
    const p = shell('sleep 0.3; exit 6');
    const pending = wait([p], 20);
    await sleep(20);
    expect(watchedFdCount()).to.equal(watched + 1);
    p.joinSync(); // reaps (and releases the child's own fd) under the pending wait
    expect(await pending).to.deep.equal([p]);
    expect(p.exitCode).to.equal(6);
    expect(watchedFdCount()).to.equal(watched);
    expect(fdCount()).to.equal(fds);
    p.close();
  });

  it('start() in a loop that never yields reaps the children that finished before it (no zombie pile-up)', async function () {
    await settle();
    const started = [];
    for (let i = 0; i < 5; i++) {
      const p = new Process({ executable: '/bin/true' });
      p.start();
      started.push(p);
      // Block until it has exited, without letting the event loop turn: its
      // reaper cannot run, so only the next start() can reap it.
      expect(posix.poll([{ fd: p.sentinel, events: POLLIN }], 5000)[0], 'the sentinel is ready').to.not.equal(0);
      // On the pipe fallback the pipe ends a moment before the child is a zombie.
      for (let ms = 0; ms < 2000 && !zombieChildren().includes(p.pid); ms++) posix.poll([], 1);
      expect(zombieChildren(), `child ${i} is a zombie until something reaps it`).to.include(p.pid);
    }
    // Every start() after the first reaped the child before it.
    const zombies = zombieChildren();
    expect(started.slice(0, -1).filter((p) => zombies.includes(p.pid))).to.deep.equal([]);
    expect(zombies).to.include(started[4].pid);
    expect(started.slice(0, -1).map((p) => p.exitCode)).to.deep.equal([0, 0, 0, 0]);
    await started[4].join();
    for (const p of started) p.close();
  });

  describe('start + join loops without close() under ulimit -n 128', function () {
    this.timeout(120000);
    const runs = [
      { noPidfd: false, fork: false },
      { noPidfd: true, fork: false },
      { noPidfd: false, fork: true },
      { noPidfd: true, fork: true },
    ];
    for (const { noPidfd, fork } of runs) {
      const path = noPidfd ? 'pipe fallback' : 'pidfd';
      it(`1000 children, every way of joining${fork ? ', half of them fork-started' : ''} (${path}): no failure, a flat fd count`, function () {
        const node = [process.execPath, ...(fork ? ['--single-threaded'] : []), UNCLOSED_LOOP, '1000', ...(fork ? ['fork'] : [])];
        const r = spawnSync('/bin/sh', ['-c', 'ulimit -n 128 && exec "$@"', 'sh', ...node], {
          env: { ...process.env, POSIX_PROCESS_NO_PIDFD: noPidfd ? '1' : '0' },
          encoding: 'utf8',
          timeout: 110000,
        });
        expect(r.status, r.stderr).to.equal(0);
        const report = JSON.parse(r.stdout);
        expect(report.firstFailure).to.equal(null);
        expect(report.failures).to.equal(0);
        expect(report.wrongCodes).to.equal(0);
        // The first sample precedes the lazily made fds (the shared sentinel, the fork liveness pipe).
        expect(Math.max(...report.fds.slice(1), report.fdsAtEnd)).to.be.at.most(report.fds[0] + 3);
        this.test.title += ` [fds ${report.fds[0]} -> ${report.fdsAtEnd}]`;
      });
    }
  });
});

// unshare -pf --mount-proc: a fresh pid namespace, where writing
// /proc/sys/kernel/ns_last_pid chooses the next pid (needs root).
function unshareUnavailable() {
  const r = spawnSync('unshare', ['-pf', '--mount-proc', '/bin/sh', '-c', 'echo 300 > /proc/sys/kernel/ns_last_pid'], { encoding: 'utf8' });
  if (r.error) return `unshare cannot run (${r.error.code})`;
  if (r.status !== 0) return `unshare -pf --mount-proc with ns_last_pid failed (${r.stderr.trim() || `status ${r.status}`}; needs root)`;
  return null;
}

describe('36 a pid reused after someone else reaped our child', function () {
  this.timeout(60000);
  let unavailable;
  before(function () {
    unavailable = unshareUnavailable();
  });

  for (const noPidfd of [false, true]) {
    it(`never reports, reaps or signals the new process (${noPidfd ? 'pipe fallback' : 'pidfd'} path)`, function () {
      if (unavailable !== null) {
        this.test.title += ` (skipped: ${unavailable})`;
        this.skip();
      }
      const r = spawnSync('unshare', ['-pf', '--mount-proc', process.execPath, PID_RECYCLE], {
        env: { ...process.env, POSIX_PROCESS_NO_PIDFD: noPidfd ? '1' : '0' },
        encoding: 'utf8',
        timeout: 50000,
      });
      expect(r.status, r.stderr).to.equal(0);
      const report = JSON.parse(r.stdout);
      expect(report.pidfd).to.equal(!noPidfd);
      // Our first child's status: the kernel kept it for the pidfd (6.15+),
      // else it is lost (null). Never the second process's.
      const first = kernelKeepsExitStatus(report.pidfd) ? 42 : null;
      // isAlive()/exitCode after the second child (a Process) exited on the same pid.
      expect(report.sync).to.deep.equal({ outside: 42, alive1: false, code1: first, code2: 7 });
      // terminate() while a raw child runs on the pid: no signal reaches it.
      expect(report.signal).to.deep.equal({ outside: 42, state2: 'S', alive1: false, code1: first, code2: -9 });
      // isAlive() while a raw child's zombie has the pid: it stays for its own waitpid.
      expect(report.raw).to.deep.equal({ outside: 42, alive1: false, code1: first, code2: 9 });
      // The event loop's reaper and join(), the raw child exiting later.
      expect(report.async).to.deep.equal({ outside: 42, code1: first, code2: 7 });
      if (report.pidfd) expect(report.rawPidfd).to.deep.equal({ outside: 42, first: 'waitid ECHILD', code2: 9 });
      expect(zombieChildren()).to.deep.equal([]);
    });
  }
});
