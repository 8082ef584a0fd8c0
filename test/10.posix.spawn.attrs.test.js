// posix.spawn process attributes, read from the running child's /proc:
// session and group, signal dispositions and mask, parent-death signal.
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { posix } from '../dist/index.js';
import { procStat, zombieChildren } from './helpers.js';
import { killAndReap, mask, procStatus, readLine, release, sigBit, spawnSleep } from './fixtures/posix-util.js';

const fixture = (name) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const SIGPIPE = posix.signals.SIGPIPE;

describe('10 posix.spawn process attributes', function () {
  describe('session and process group', function () {
    it('by default the child stays in our session and group', function () {
      const child = spawnSleep();
      try {
        const ours = procStat(process.pid);
        expect(procStat(child.pid)).to.include({ ppid: process.pid, pgrp: ours.pgrp, session: ours.session });
      } finally {
        killAndReap(child);
      }
    });

    it('setsid makes the child leader of a new session and group', function () {
      const child = spawnSleep(30, { setsid: true });
      try {
        expect(procStat(child.pid)).to.include({ pgrp: child.pid, session: child.pid });
      } finally {
        killAndReap(child);
      }
    });

    it('pgid 0 makes a new group in our session; pgid N joins group N', function () {
      const leader = spawnSleep(30, { pgid: 0 });
      const member = spawnSleep(30, { pgid: leader.pid });
      try {
        const session = procStat(process.pid).session;
        expect(procStat(leader.pid)).to.include({ pgrp: leader.pid, session });
        expect(procStat(member.pid)).to.include({ pgrp: leader.pid, session });
        // The group is real: killpg reaches both.
        posix.killpg(leader.pid, 'SIGTERM');
        expect(posix.waitpid(leader.pid).termSignal).to.equal(posix.signals.SIGTERM);
        expect(posix.waitpid(member.pid).termSignal).to.equal(posix.signals.SIGTERM);
      } finally {
        release(leader);
        release(member);
      }
    });

    it('joining a group of another session fails with setpgid EPERM', function () {
      const other = spawnSleep(30, { setsid: true });
      try {
        expect(() => posix.spawn('/bin/true', ['true'], { pgid: other.pid }))
          .to.throw(Error, 'setpgid EPERM')
          .that.includes({ code: 'EPERM', errno: -1, syscall: 'setpgid' });
        expect(zombieChildren()).to.deep.equal([]);
      } finally {
        killAndReap(other);
      }
    });
  });

  describe('signal dispositions and mask', function () {
    it('Node ignores SIGPIPE here (the precondition of the next tests)', function () {
      expect(mask(procStatus(process.pid).SigIgn) & sigBit(SIGPIPE)).to.not.equal(0n);
    });

    it('resetSignals (default) leaves nothing ignored in the child', function () {
      const child = spawnSleep();
      try {
        const status = procStatus(child.pid);
        expect(mask(status.SigIgn)).to.equal(0n);
        expect(mask(status.SigBlk)).to.equal(0n);
      } finally {
        killAndReap(child);
      }
    });

    it('resetSignals false keeps ignored signals ignored (SIGPIPE)', function () {
      const child = spawnSleep(30, { resetSignals: false });
      try {
        const ignored = mask(procStatus(child.pid).SigIgn);
        expect(ignored & sigBit(SIGPIPE)).to.equal(sigBit(SIGPIPE));
        expect(ignored, 'exactly what this process ignores').to.equal(mask(procStatus(process.pid).SigIgn));
      } finally {
        killAndReap(child);
      }
    });

    it('signalMask blocks exactly the given signals in the child', function () {
      const child = spawnSleep(30, { signalMask: ['SIGUSR1', posix.signals.SIGTERM, 'SIGHUP'] });
      try {
        const blocked = mask(procStatus(child.pid).SigBlk);
        expect(blocked).to.equal(sigBit(posix.signals.SIGUSR1) | sigBit(posix.signals.SIGTERM) | sigBit(posix.signals.SIGHUP));
        // A blocked SIGTERM stays pending; SIGKILL still ends the child.
        posix.kill(child.pid, 'SIGTERM');
        expect(posix.waitpid(child.pid, { nohang: true })).to.equal(null);
        expect(mask(procStatus(child.pid).ShdPnd) & sigBit(posix.signals.SIGTERM)).to.not.equal(0n);
      } finally {
        expect(killAndReap(child).termSignal).to.equal(posix.signals.SIGKILL);
      }
    });

    it('our own signal mask is untouched by spawning', function () {
      const before = procStatus(process.pid).SigBlk;
      killAndReap(spawnSleep(30, { signalMask: ['SIGINT'] }));
      expect(procStatus(process.pid).SigBlk).to.equal(before);
    });
  });

  describe('parentDeathSignal', function () {
    // An intermediate node process spawns `sh` with parentDeathSignal and
    // exits; the grandchild reports (on our pipe, its fd 3) the signal it got.
    function grandchild(options) {
      const [r, w] = posix.pipe();
      let middle;
      try {
        middle = posix.spawn(process.execPath, [process.execPath, fixture('pdeath-parent.js'), JSON.stringify(options)], {
          fds: [0, 1, 2, w],
        });
      } finally {
        posix.close(w);
      }
      const pid = Number(readLine(r));
      const middleStatus = posix.waitpid(middle.pid);
      release(middle);
      return { r, pid, middleStatus };
    }

    it('is a signal 1-64 given by name or number; 0 is refused (leave it out for none), as by Process', function () {
      expect(() => posix.spawn('/bin/true', ['true'], { parentDeathSignal: 0 }))
        .to.throw(RangeError)
        .with.property('code', 'ERR_OUT_OF_RANGE');
      expect(() => posix.spawn('/bin/true', ['true'], { parentDeathSignal: 'SIGNOPE' }))
        .to.throw(TypeError)
        .with.property('code', 'ERR_UNKNOWN_SIGNAL');
      const child = posix.spawn('/bin/true', ['true'], { parentDeathSignal: 'SIGRTMIN+1' });
      expect(posix.waitpid(child.pid).exitCode).to.equal(0);
      release(child);
    });

    it('the grandchild gets the signal when its parent dies', function () {
      this.timeout(20000);
      const { r, pid, middleStatus } = grandchild({ parentDeathSignal: 'SIGUSR1' });
      try {
        expect(middleStatus.exitCode).to.equal(0);
        expect(pid).to.be.above(0);
        expect(readLine(r, 10000)).to.equal('ready');
        // It traps the signal and says so, then exits.
        expect(readLine(r, 10000)).to.equal('got USR1');
        const deadline = Date.now() + 10000;
        while (Date.now() < deadline && procAlive(pid)) posix.poll([], 20);
        expect(procAlive(pid), 'the grandchild ended').to.equal(false);
      } finally {
        posix.close(r);
      }
    });

    it('without it the grandchild outlives its parent', function () {
      this.timeout(20000);
      const { r, pid, middleStatus } = grandchild({});
      try {
        expect(middleStatus.exitCode).to.equal(0);
        expect(readLine(r, 10000)).to.equal('ready');
        expect(posix.poll([{ fd: r, events: posix.POLLIN }], 700), 'nothing reported').to.deep.equal([0]);
        expect(procAlive(pid)).to.equal(true);
      } finally {
        // Not our child: signal it through a pidfd when we can (no recycled pid).
        if (posix.pidfdSupported()) {
          const fd = posix.pidfdOpen(pid);
          posix.pidfdSendSignal(fd, 'SIGKILL');
          posix.close(fd);
        } else {
          posix.kill(pid, 'SIGKILL');
        }
        posix.close(r);
      }
    });
  });
});

function procAlive(pid) {
  try {
    return procStat(pid).state !== 'Z';
  } catch {
    return false;
  }
}
