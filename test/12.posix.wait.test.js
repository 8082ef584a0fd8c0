// waitpid, waitpidTimeout and WaitStatus on real children: every field,
// stop/continue, timeouts with generous bounds, and waits hit by signals.
import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { posix } from '../dist/index.js';
import { zombieChildren } from './helpers.js';
import { killAndReap, release, spawnSleep } from './fixtures/posix-util.js';

const S = posix.signals;

function spawnSh(script, options = {}) {
  return posix.spawn('/bin/sh', ['sh', '-c', script], options);
}

function reap(child) {
  const status = posix.waitpid(child.pid);
  release(child);
  return status;
}

const elapsed = (start) => Number(process.hrtime.bigint() - start) / 1e9;

describe('12 posix.waitpid and WaitStatus', function () {
  it('a normal exit: exited, exitStatus, exitCode', function () {
    const child = spawnSh('exit 7');
    const { rusage, ...status } = reap(child);
    // A reaped child carries its own resource usage (wait4).
    expect(rusage.maxRSS).to.be.above(0);
    expect(rusage.userCPUTime + rusage.systemCPUTime).to.be.at.least(0);
    expect(rusage.minorPageFault).to.be.above(0);
    expect(status).to.deep.equal({
      pid: child.pid,
      raw: 7 << 8,
      exited: true,
      exitStatus: 7,
      signaled: false,
      termSignal: null,
      coreDumped: false,
      stopped: false,
      stopSignal: null,
      continued: false,
      exitCode: 7,
    });
  });

  it('exit status is the low byte (exit 300 -> 44)', function () {
    expect(reap(spawnSh('exit 300'))).to.include({ exitStatus: 44, exitCode: 44 });
  });

  it('killed by a signal: signaled, termSignal, exitCode -N', function () {
    const child = spawnSleep();
    posix.kill(child.pid, 'SIGTERM');
    const { rusage, ...status } = reap(child);
    expect(rusage).to.be.an('object');
    expect(status).to.deep.equal({
      pid: child.pid,
      raw: S.SIGTERM,
      exited: false,
      exitStatus: null,
      signaled: true,
      termSignal: S.SIGTERM,
      coreDumped: false,
      stopped: false,
      stopSignal: null,
      continued: false,
      exitCode: -S.SIGTERM,
    });
  });

  describe('core dumps', function () {
    let dir;
    beforeEach(function () {
      dir = mkdtempSync(join(tmpdir(), 'posix-core-'));
    });
    afterEach(function () {
      rmSync(dir, { recursive: true, force: true });
    });

    it('coreDumped is true when the kernel wrote a core, and matches raw & 0x80', function () {
      // The shell raises its own RLIMIT_CORE (soft, up to the hard limit),
      // then SIGQUITs itself; the core, if any, lands in the cwd.
      const child = spawnSh('ulimit -c unlimited 2>/dev/null || ulimit -c "$(ulimit -H -c)"; kill -QUIT $$; exit 99', { cwd: dir });
      const status = reap(child);
      expect(status).to.include({ signaled: true, termSignal: S.SIGQUIT, exitCode: -S.SIGQUIT });
      expect(status.coreDumped).to.equal((status.raw & 0x80) !== 0);
      const cores = readdirSync(dir).filter((f) => f.startsWith('core'));
      if (cores.length > 0) expect(status.coreDumped, 'a core file was written').to.equal(true);
      else this.test.title += ' (no core written here: core_pattern or limits)';
    });

    it('coreDumped is false with RLIMIT_CORE 0', function () {
      const status = reap(spawnSh('ulimit -c 0; kill -QUIT $$; exit 99', { cwd: dir }));
      expect(status).to.include({ signaled: true, termSignal: S.SIGQUIT, coreDumped: false });
      expect(status.raw & 0x80).to.equal(0);
      expect(readdirSync(dir)).to.deep.equal([]);
    });
  });

  it('stopped (untraced) and continued (continued), then killed', function () {
    const child = spawnSleep();
    try {
      expect(posix.waitpid(child.pid, { nohang: true, untraced: true, continued: true })).to.equal(null);
      posix.kill(child.pid, 'SIGSTOP');
      const stopped = posix.waitpid(child.pid, { untraced: true });
      expect(stopped).to.deep.equal({
        pid: child.pid,
        raw: (S.SIGSTOP << 8) | 0x7f,
        exited: false,
        exitStatus: null,
        signaled: false,
        termSignal: null,
        coreDumped: false,
        stopped: true,
        stopSignal: S.SIGSTOP,
        continued: false,
        exitCode: null,
        rusage: null, // not reaped: no final usage yet
      });
      // Reported once: a second WNOHANG|WUNTRACED has nothing new.
      expect(posix.waitpid(child.pid, { nohang: true, untraced: true })).to.equal(null);
      posix.kill(child.pid, 'SIGCONT');
      const continued = posix.waitpid(child.pid, { continued: true });
      expect(continued).to.deep.equal({
        pid: child.pid,
        raw: 0xffff,
        exited: false,
        exitStatus: null,
        signaled: false,
        termSignal: null,
        coreDumped: false,
        stopped: false,
        stopSignal: null,
        continued: true,
        exitCode: null,
        rusage: null,
      });
    } finally {
      expect(killAndReap(child)).to.include({ termSignal: S.SIGKILL, exitCode: -S.SIGKILL });
    }
  });

  it('a stop by SIGTSTP reports stopSignal SIGTSTP', function () {
    // In a group of its own inside our session: Linux discards SIGTSTP for
    // a member of an orphaned group (ours may be one, e.g. under nohup).
    const child = spawnSleep(30, { pgid: 0 });
    try {
      posix.kill(child.pid, 'SIGTSTP');
      expect(posix.waitpid(child.pid, { untraced: true })).to.include({ stopped: true, stopSignal: S.SIGTSTP });
    } finally {
      killAndReap(child);
    }
  });

  it('nohang returns null while the child runs', function () {
    const child = spawnSleep();
    try {
      expect(posix.waitpid(child.pid, { nohang: true })).to.equal(null);
    } finally {
      killAndReap(child);
    }
  });

  it('reaping twice, or a pid that is not our child, is waitpid ECHILD', function () {
    const child = spawnSh('exit 0');
    reap(child);
    for (const pid of [child.pid, 1]) {
      expect(() => posix.waitpid(pid))
        .to.throw(Error, 'waitpid ECHILD')
        .that.includes({ code: 'ECHILD', errno: -10, syscall: 'waitpid' });
    }
  });

  it('never waits for "any child": pid must be > 0', function () {
    for (const pid of [0, -1, -process.pid]) {
      expect(() => posix.waitpid(pid)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
    }
  });
});

describe('posix.decodeWaitStatus', function () {
  it('decodes raw statuses without a process', function () {
    expect(posix.decodeWaitStatus(0x0700)).to.include({ pid: 0, exited: true, exitStatus: 7, exitCode: 7, signaled: false });
    expect(posix.decodeWaitStatus(0)).to.include({ exited: true, exitStatus: 0, exitCode: 0 });
    expect(posix.decodeWaitStatus(9)).to.include({ signaled: true, termSignal: 9, exitCode: -9, coreDumped: false });
    expect(posix.decodeWaitStatus(0x86)).to.include({ signaled: true, termSignal: 6, coreDumped: true, exitCode: -6 });
    expect(posix.decodeWaitStatus(0x137f)).to.include({ stopped: true, stopSignal: 19, exitCode: null, exited: false, signaled: false });
    expect(posix.decodeWaitStatus(0xffff)).to.include({ continued: true, stopped: false, exitCode: null, exited: false });
  });

  it('agrees with what waitpid reported', function () {
    const child = spawnSh('exit 5');
    const status = reap(child);
    // Decoding has the status word only: no resource usage.
    expect({ ...posix.decodeWaitStatus(status.raw), pid: status.pid }).to.deep.equal({ ...status, rusage: null });
  });

  it('rejects what is not a 16-bit status', function () {
    for (const raw of [-1, 0x10000, 1.5, NaN, Infinity]) {
      expect(() => posix.decodeWaitStatus(raw)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
    }
    for (const raw of ['7', null, undefined, 7n]) {
      expect(() => posix.decodeWaitStatus(raw)).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    }
  });
});

describe('posix.waitpidTimeout', function () {
  it('returns null after about the timeout while the child runs (0.5 s on sleep 5)', function () {
    const child = spawnSleep(5);
    try {
      const start = process.hrtime.bigint();
      expect(posix.waitpidTimeout(child.pid, 0.5)).to.equal(null);
      expect(elapsed(start)).to.be.within(0.3, 3);
    } finally {
      killAndReap(child);
    }
  });

  it('returns the status promptly when the child exits first', function () {
    const child = spawnSh('sleep 0.2; exit 4');
    const start = process.hrtime.bigint();
    const status = posix.waitpidTimeout(child.pid, 20);
    release(child);
    expect(status).to.include({ pid: child.pid, exited: true, exitCode: 4 });
    expect(elapsed(start)).to.be.within(0.1, 3);
  });

  it('timeout <= 0 polls without blocking', function () {
    const child = spawnSleep(5);
    try {
      for (const t of [0, -1, -Infinity]) {
        const start = process.hrtime.bigint();
        expect(posix.waitpidTimeout(child.pid, t)).to.equal(null);
        expect(elapsed(start)).to.be.below(0.25);
      }
    } finally {
      killAndReap(child);
    }
    const quick = spawnSh('exit 3');
    let status = null;
    const deadline = Date.now() + 5000;
    while (status === null && Date.now() < deadline) status = posix.waitpidTimeout(quick.pid, 0);
    release(quick);
    expect(status).to.include({ exitCode: 3 });
  });

  it('undefined, null and Infinity wait for the exit', function () {
    for (const t of [undefined, null, Infinity]) {
      const child = spawnSh('sleep 0.3; exit 6');
      const start = process.hrtime.bigint();
      const status = t === undefined ? posix.waitpidTimeout(child.pid) : posix.waitpidTimeout(child.pid, t);
      release(child);
      expect(status).to.include({ exitCode: 6 });
      expect(elapsed(start)).to.be.within(0.2, 5);
    }
  });

  it('a timed-out wait leaves no fd or zombie, and the child can still be reaped', function () {
    const child = spawnSleep(0.5);
    expect(posix.waitpidTimeout(child.pid, 0.05)).to.equal(null);
    expect(posix.waitpidTimeout(child.pid, 10)).to.include({ exitCode: 0 });
    release(child);
    expect(zombieChildren()).to.deep.equal([]);
  });

  it('reports ECHILD for a pid that is not our child', function () {
    expect(() => posix.waitpidTimeout(1, 0.1)).to.throw(Error, 'waitpid ECHILD').with.property('errno', -10);
  });

  it('rejects a bad timeout', function () {
    expect(() => posix.waitpidTimeout(process.pid, NaN)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
    expect(() => posix.waitpidTimeout(process.pid, '1')).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
  });
});

describe('waits interrupted by signals (EINTR)', function () {
  // A helper process sends SIGUSR2 to us while we block in the wait. Node
  // handles it (process.on) through libuv: the wait must go on and give the
  // right status, and the JS handler runs afterwards, on the event loop.
  let count = 0;
  const onUsr2 = () => {
    count++;
  };
  beforeEach(function () {
    count = 0;
    process.on('SIGUSR2', onUsr2);
  });
  afterEach(function () {
    process.removeListener('SIGUSR2', onUsr2);
  });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

  function sendUsr2(script) {
    return spawnSh(script.replaceAll('PID', String(process.pid)));
  }

  it('waitpidTimeout keeps waiting and returns the status', async function () {
    const target = spawnSh('sleep 1; exit 9');
    const helper = sendUsr2('sleep 0.3; kill -USR2 PID');
    const start = process.hrtime.bigint();
    const status = posix.waitpidTimeout(target.pid, 10);
    const took = elapsed(start);
    release(target);
    expect(status).to.include({ pid: target.pid, exitCode: 9 });
    expect(took).to.be.within(0.7, 5);
    expect(reap(helper).exitCode, 'the helper signalled us').to.equal(0);
    expect(count, 'no JS runs inside the wait').to.equal(0);
    await settle();
    expect(count).to.equal(1);
  });

  it('waitpidTimeout still times out on time under a stream of signals', async function () {
    this.timeout(20000);
    const target = spawnSleep(10);
    const helper = sendUsr2('i=0; while [ $i -lt 25 ]; do sleep 0.1; kill -USR2 PID || exit 1; i=$((i+1)); done');
    try {
      const start = process.hrtime.bigint();
      expect(posix.waitpidTimeout(target.pid, 1)).to.equal(null);
      // Restarting the full timeout after each signal would last >= 2.5 s.
      expect(elapsed(start)).to.be.within(0.8, 2.2);
    } finally {
      killAndReap(target);
      expect(reap(helper).exitCode).to.equal(0);
    }
    await settle();
    expect(count).to.be.at.least(1);
  });

  it('a blocking waitpid returns the right status', async function () {
    const target = spawnSh('sleep 1; exit 12');
    const helper = sendUsr2('sleep 0.3; kill -USR2 PID');
    const status = posix.waitpid(target.pid);
    release(target);
    expect(status).to.include({ pid: target.pid, exited: true, exitCode: 12 });
    expect(reap(helper).exitCode).to.equal(0);
    await settle();
    expect(count).to.equal(1);
  });

  it('posix.poll keeps its timeout across signals', async function () {
    const helper = sendUsr2('sleep 0.2; kill -USR2 PID');
    const [r, w] = posix.pipe();
    try {
      const start = process.hrtime.bigint();
      expect(posix.poll([{ fd: r, events: posix.POLLIN }], 800)).to.deep.equal([0]);
      expect(elapsed(start)).to.be.within(0.6, 3);
    } finally {
      posix.close(r);
      posix.close(w);
    }
    expect(reap(helper).exitCode).to.equal(0);
    await settle();
    expect(count).to.equal(1);
  });
});
