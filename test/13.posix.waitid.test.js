// Waiting through a pidfd (posix.pidfdWait, waitid(P_PIDFD)), the status the
// kernel keeps for a child reaped by someone else (PIDFD_INFO_EXIT), and
// timed waits that leave no thread or fd behind, on both sentinel paths.
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { binding } from './internals.js';
import { posix } from '../dist/index.js';
import { kernelKeepsExitStatus, zombieChildren } from './helpers.js';
import { killAndReap, readAll, release, spawnSleep } from './fixtures/posix-util.js';

const S = posix.signals;
const timedWaits = fileURLToPath(new URL('./fixtures/timed-waits.js', import.meta.url));

function spawnSh(script) {
  return posix.spawn('/bin/sh', ['sh', '-c', script]);
}

/** Runs `test(pidfd)` on a fresh child's pidfd; skipped where there are none (the pipe fallback). */
function withPidfd(ctx, child, test) {
  if (child.pidfd === null) {
    killAndReap(child);
    ctx.test.title += ' (no pidfds here: old kernel or POSIX_PROCESS_NO_PIDFD=1)';
    ctx.skip();
  }
  return test(child.pidfd);
}

describe('13 posix.pidfdWait', function () {
  it('an exit: the same WaitStatus as waitpid, rusage included', function () {
    const child = spawnSh('exit 7');
    withPidfd(this, child, (pidfd) => {
      const { rusage, ...status } = posix.pidfdWait(pidfd);
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
      expect(rusage.maxRSS).to.be.above(0);
      expect(rusage.minorPageFault).to.be.above(0);
      expect(zombieChildren()).to.not.include(child.pid);
    });
    release(child);
  });

  it('killed by a signal: raw, termSignal, exitCode -N', function () {
    const child = spawnSleep();
    withPidfd(this, child, (pidfd) => {
      posix.kill(child.pid, 'SIGTERM');
      expect(posix.pidfdWait(pidfd)).to.include({ pid: child.pid, raw: S.SIGTERM, signaled: true, termSignal: S.SIGTERM, exitCode: -S.SIGTERM });
    });
    release(child);
  });

  it('nohang: null while running; untraced and continued report stops and continues', function () {
    const child = spawnSleep();
    withPidfd(this, child, (pidfd) => {
      expect(posix.pidfdWait(pidfd, { nohang: true, untraced: true, continued: true })).to.equal(null);
      posix.kill(child.pid, 'SIGSTOP');
      expect(posix.pidfdWait(pidfd, { untraced: true })).to.include({
        raw: (S.SIGSTOP << 8) | 0x7f,
        stopped: true,
        stopSignal: S.SIGSTOP,
        exitCode: null,
        rusage: null,
      });
      expect(posix.pidfdWait(pidfd, { nohang: true, untraced: true })).to.equal(null);
      posix.kill(child.pid, 'SIGCONT');
      expect(posix.pidfdWait(pidfd, { continued: true })).to.include({ raw: 0xffff, continued: true, exitCode: null });
      posix.kill(child.pid, 'SIGKILL');
      expect(posix.pidfdWait(pidfd)).to.include({ termSignal: S.SIGKILL, exitCode: -S.SIGKILL });
    });
    release(child);
  });

  it('a child already reaped (by pid) is waitid ECHILD, never another status', function () {
    const child = spawnSh('exit 3');
    withPidfd(this, child, (pidfd) => {
      expect(posix.waitpid(child.pid).exitCode).to.equal(3);
      expect(() => posix.pidfdWait(pidfd)).to.throw(Error, 'waitid ECHILD').that.includes({ code: 'ECHILD', errno: -10, syscall: 'waitid' });
      expect(() => posix.pidfdWait(pidfd, { nohang: true })).to.throw(Error, 'waitid ECHILD');
    });
    release(child);
  });

  it('an fd that is no pidfd is waitid EBADF; bad arguments are TypeError/RangeError', function () {
    const [r, w] = posix.pipe();
    try {
      const code = posix.pidfdSupported() ? 'EBADF' : 'ENOSYS';
      expect(() => posix.pidfdWait(r)).to.throw(Error, `waitid ${code}`).that.includes({ code, syscall: 'waitid' });
    } finally {
      posix.close(r);
      posix.close(w);
    }
    if (!posix.pidfdSupported()) {
      expect(() => posix.pidfdWait(3)).to.throw(Error, 'waitid ENOSYS'); // as pidfdOpen: no pidfds here
    }
    expect(() => posix.pidfdWait(-1)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
    expect(() => posix.pidfdWait('3')).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    expect(() => posix.pidfdWait(3, 'nohang')).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    expect(() => posix.pidfdWait(3, { nohang: 1 })).to.throw(TypeError, 'options.nohang');
  });
});

describe('the status the kernel keeps for a child reaped elsewhere (PIDFD_INFO_EXIT)', function () {
  const keeps = kernelKeepsExitStatus(true);

  it(`an exit and a signal: ${keeps ? 'the exact status, without rusage' : 'unknown on this kernel (null)'}`, function () {
    for (const [script, code, raw] of [['exit 42', 42, 42 << 8], ['kill -KILL $$', -S.SIGKILL, S.SIGKILL]]) {
      const child = spawnSh(script);
      withPidfd(this, child, (pidfd) => {
        expect(posix.waitpid(child.pid).exitCode).to.equal(code); // someone else's reap
        const kept = binding.pidfdExitStatus(pidfd, child.pid);
        if (!keeps) return expect(kept).to.equal(null);
        expect(kept).to.include({ pid: child.pid, raw, exitCode: code, rusage: null });
      });
      release(child);
    }
  });

  it('nothing while the child runs or is an unreaped zombie', function () {
    const child = spawnSleep(0.2);
    withPidfd(this, child, (pidfd) => {
      expect(binding.pidfdExitStatus(pidfd, child.pid)).to.equal(null);
      expect(posix.poll([{ fd: pidfd, events: posix.POLLIN }], 5000)[0]).to.not.equal(0);
      expect(binding.pidfdExitStatus(pidfd, child.pid)).to.equal(null); // exited, not reaped yet
      expect(posix.pidfdWait(pidfd).exitCode).to.equal(0);
    });
    release(child);
  });
});

describe('timed waits leave no thread and no fd behind', function () {
  this.timeout(60000);

  for (const noPidfd of [false, true]) {
    it(`500 timed-out waitpidTimeout calls, then waits that see the exit (${noPidfd ? 'pipe fallback' : 'pidfd'} path)`, function () {
      const [r, w] = posix.pipe();
      const env = { ...process.env, POSIX_PROCESS_NO_PIDFD: noPidfd ? '1' : '0' };
      let child;
      try {
        child = posix.spawn(process.execPath, [process.execPath, timedWaits, '500'], { fds: [0, w, 2], env });
      } finally {
        posix.close(w);
      }
      let out;
      try {
        out = readAll(r, 50000);
      } finally {
        posix.close(r);
        expect(posix.waitpid(child.pid).exitCode).to.equal(0);
        release(child);
      }
      const report = JSON.parse(out);
      expect(report.pidfd).to.equal(!noPidfd);
      expect(report.nulls).to.equal(500);
      // No helper thread and no fd survives a timed-out wait.
      expect(report.afterTimeouts).to.deep.equal(report.before);
      expect(report.after).to.deep.equal(report.base);
      // A long wait blocks (no busy-waiting): 0.5 s of waiting, a few ms of CPU.
      expect(report.late).to.equal(null);
      expect(report.waitedMs).to.be.within(450, 5000);
      expect(report.cpuMs).to.be.below(100);
      expect(report.killed).to.equal(-S.SIGKILL);
      expect(report.quick).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
      this.test.title += ` [threads ${report.before.threads} -> ${report.afterTimeouts.threads}, fds ${report.before.fds} -> ${report.afterTimeouts.fds}]`;
    });
  }
});
