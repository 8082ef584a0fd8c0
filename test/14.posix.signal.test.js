// kill, killpg, pidfdOpen, pidfdSendSignal, the signal table: delivered
// signals, errors shaped like Node's, no signal to a reaped (recycled) pid.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { posix } from '../dist/index.js';
import { fdCount } from './helpers.js';
import { alive, killAndReap, pidfdMode, release, spawnSleep } from './fixtures/posix-util.js';

const S = posix.signals;
const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));

/** Own enumerable properties plus message and class: the visible shape of an error. */
function shape(error) {
  return { type: error.constructor.name, message: error.message, keys: Object.keys(error), ...error };
}

describe('14 posix signals', function () {
  describe('kill', function () {
    it('delivers a signal by name or number', function () {
      for (const sig of ['SIGTERM', S.SIGINT, 'SIGUSR1']) {
        const child = spawnSleep();
        posix.kill(child.pid, sig);
        const status = posix.waitpid(child.pid);
        release(child);
        expect(status.termSignal).to.equal(typeof sig === 'number' ? sig : S[sig]);
      }
    });

    it("takes every name signalName() gives, and SIGRTMAX-n; refuses real-time names out of range", function () {
      const named = [];
      for (let n = 1; n <= 64; n++) if (posix.signalName(n)?.startsWith('SIGRT')) named.push([posix.signalName(n), n]);
      expect(named.length).to.be.above(10);
      const max = named.at(-1)[1];
      const cases = [named[0], named[1], named.at(-1), ['SIGRTMAX', max], ['SIGRTMAX-1', max - 1]];
      for (const [name, n] of cases) {
        const child = spawnSleep();
        posix.kill(child.pid, name);
        const status = posix.waitpid(child.pid);
        release(child);
        expect(status.termSignal, name).to.equal(n);
      }
      const span = max - named[0][1];
      for (const bad of [`SIGRTMIN+${span + 1}`, 'SIGRTMIN-1', 'SIGRTMAX+1', `SIGRTMAX-${span + 1}`, 'SIGRTMIN+', 'SIGRTMIN+ 1', 'SIGRTMIN+01', 'RTMIN', 'sigrtmin']) {
        expect(() => posix.kill(process.pid, bad), bad).to.throw(TypeError).with.property('code', 'ERR_UNKNOWN_SIGNAL');
      }
    });

    it('defaults to SIGTERM; signal 0 only probes', function () {
      const child = spawnSleep();
      posix.kill(child.pid, 0);
      expect(alive(child.pid)).to.equal(true);
      posix.kill(child.pid);
      expect(posix.waitpid(child.pid).termSignal).to.equal(S.SIGTERM);
      release(child);
    });

    it('ESRCH has exactly the shape of process.kill(99999999)', function () {
      let node;
      try {
        process.kill(99999999, 'SIGTERM');
      } catch (e) {
        node = e;
      }
      let ours;
      try {
        posix.kill(99999999, 'SIGTERM');
      } catch (e) {
        ours = e;
      }
      expect(node, 'precondition: no such pid').to.include({ code: 'ESRCH' });
      expect(shape(ours)).to.deep.equal(shape(node));
      expect(ours).to.include({ message: 'kill ESRCH', code: 'ESRCH', errno: -3, syscall: 'kill' });
    });

    it('a pid above pid_max is ESRCH', function () {
      expect(() => posix.kill(pidMax + 1, 0)).to.throw(Error, 'kill ESRCH');
    });

    it('refuses pid <= 0 (groups and broadcast go through killpg)', function () {
      for (const pid of [0, -1, -process.pid, 1.5, 2 ** 31]) {
        expect(() => posix.kill(pid, 0)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
      }
    });

    it('rejects unknown signals like Node', function () {
      expect(() => posix.kill(process.pid, 'SIGNOPE')).to.throw(TypeError, 'Unknown signal: SIGNOPE').with.property('code', 'ERR_UNKNOWN_SIGNAL');
      expect(() => posix.kill(process.pid, 'toString')).to.throw(TypeError).with.property('code', 'ERR_UNKNOWN_SIGNAL');
      expect(() => posix.kill(process.pid, 65)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
      expect(() => posix.kill(process.pid, {})).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    });
  });

  describe('killpg', function () {
    it('signals every member of the group and nobody else', function () {
      const a = spawnSleep(30, { pgid: 0 });
      const b = spawnSleep(30, { pgid: a.pid });
      const outside = spawnSleep();
      try {
        posix.killpg(a.pid, 'SIGUSR1');
        expect(posix.waitpid(a.pid).termSignal).to.equal(S.SIGUSR1);
        expect(posix.waitpid(b.pid).termSignal).to.equal(S.SIGUSR1);
        expect(posix.waitpid(outside.pid, { nohang: true })).to.equal(null);
      } finally {
        release(a);
        release(b);
        killAndReap(outside);
      }
    });

    it('a group that does not exist is killpg ESRCH', function () {
      expect(() => posix.killpg(pidMax + 1, 0))
        .to.throw(Error, 'killpg ESRCH')
        .that.includes({ code: 'ESRCH', errno: -3, syscall: 'killpg' });
    });
  });

  describe('pidfd', function () {
    if (!pidfdMode) {
      it('pidfdOpen is pidfd_open ENOSYS when pidfds are switched off', function () {
        expect(() => posix.pidfdOpen(process.pid))
          .to.throw(Error, 'pidfd_open ENOSYS')
          .that.includes({ code: 'ENOSYS', errno: -38, syscall: 'pidfd_open' });
      });
      return;
    }

    it('spawn gives a CLOEXEC pidfd that signals the child', function () {
      const child = spawnSleep();
      expect(child.pidfd).to.be.a('number');
      posix.pidfdSendSignal(child.pidfd, 'SIGUSR2');
      expect(posix.waitpid(child.pid).termSignal).to.equal(S.SIGUSR2);
      release(child);
    });

    it('after the child is reaped: ESRCH, and a fresh process is never hit', function () {
      const child = spawnSleep();
      const fd = posix.pidfdOpen(child.pid);
      posix.kill(child.pid, 'SIGKILL');
      posix.waitpid(child.pid);
      // Fill the pid space a little, hoping to recycle child.pid.
      const fresh = [];
      try {
        for (let i = 0; i < 50; i++) fresh.push(spawnSleep());
        for (const f of [fd, child.pidfd]) {
          expect(() => posix.pidfdSendSignal(f, 'SIGKILL'))
            .to.throw(Error, 'pidfd_send_signal ESRCH')
            .that.includes({ code: 'ESRCH', errno: -3, syscall: 'pidfd_send_signal' });
        }
        for (const f of fresh) expect(posix.waitpid(f.pid, { nohang: true }), `pid ${f.pid} unharmed`).to.equal(null);
      } finally {
        for (const f of fresh) expect(killAndReap(f).termSignal).to.equal(S.SIGKILL);
        posix.close(fd);
        release(child);
      }
    });

    it('pidfdOpen of a missing pid is ESRCH; of a non-pidfd fd, send is EBADF', function () {
      expect(() => posix.pidfdOpen(pidMax + 1)).to.throw(Error, 'pidfd_open ESRCH').with.property('errno', -3);
      const [r, w] = posix.pipe();
      try {
        expect(() => posix.pidfdSendSignal(r, 0)).to.throw(Error, 'pidfd_send_signal EBADF').with.property('code', 'EBADF');
      } finally {
        posix.close(r);
        posix.close(w);
      }
    });

    it('pidfdOpen leaves one fd per call and nothing after close', function () {
      const before = fdCount();
      const fd = posix.pidfdOpen(process.pid);
      expect(fdCount()).to.equal(before + 1);
      posix.pidfdSendSignal(fd, 0);
      posix.close(fd);
      expect(fdCount()).to.equal(before);
    });
  });

  describe('signal table', function () {
    it('has this platform\'s numbers', function () {
      expect(S).to.include({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGSTOP: 19, SIGCONT: 18 });
      // Node's own table for this platform agrees on every name we have.
      for (const [name, n] of Object.entries(S)) expect(n, name).to.equal(constants.signals[name]);
      expect(Object.isFrozen(S)).to.equal(true);
    });

    it('signalName gives the canonical name, SIGRTMIN+n, or null', function () {
      expect(posix.signalName(15)).to.equal('SIGTERM');
      expect(posix.signalName(6)).to.equal('SIGABRT');
      expect(posix.signalName(29)).to.equal('SIGIO');
      expect(posix.signalName(35)).to.match(/^SIGRTMIN/);
      expect(posix.signalName(64)).to.match(/^SIGRTMIN\+\d+$/);
      for (const bad of [0, 65, -1, 1.5]) {
        expect(() => posix.signalName(bad)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
      }
    });
  });
});
