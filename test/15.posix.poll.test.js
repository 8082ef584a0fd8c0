// poll, pipe, close, and the sentinel of a spawned child as a poll target.
import { expect } from 'chai';
import { writeSync } from 'node:fs';
import { posix } from '../dist/index.js';
import { fdCount } from './helpers.js';
import { isCloexec, killAndReap, readAll, release, spawnSleep } from './fixtures/posix-util.js';

const { POLLIN, POLLOUT, POLLHUP, POLLNVAL } = posix;
const elapsed = (start) => Number(process.hrtime.bigint() - start) / 1e9;

describe('15 posix poll, pipe, close', function () {
  it('pipe gives two CLOEXEC fds; close releases them', function () {
    const before = fdCount();
    const [r, w] = posix.pipe();
    expect(fdCount()).to.equal(before + 2);
    expect(isCloexec(r) && isCloexec(w)).to.equal(true);
    posix.close(r);
    posix.close(w);
    expect(fdCount()).to.equal(before);
  });

  it('close of a closed fd is close EBADF', function () {
    const [r, w] = posix.pipe();
    posix.close(r);
    posix.close(w);
    expect(() => posix.close(r)).to.throw(Error, 'close EBADF').that.includes({ code: 'EBADF', errno: -9, syscall: 'close' });
  });

  it('reports readable, writable, hang-up and invalid fds', function () {
    const [r, w] = posix.pipe();
    const [r2, w2] = posix.pipe();
    posix.close(r2);
    try {
      expect(posix.poll([{ fd: r, events: POLLIN }, { fd: w, events: POLLOUT }], 0)).to.deep.equal([0, POLLOUT]);
      writeSync(w, 'x');
      expect(posix.poll([{ fd: r, events: POLLIN }], -1)).to.deep.equal([POLLIN]);
      posix.close(w);
      expect(posix.poll([{ fd: r, events: POLLIN }], 0)[0] & POLLHUP).to.equal(POLLHUP);
      expect(posix.poll([{ fd: r2, events: POLLIN }], 0)).to.deep.equal([POLLNVAL]);
      // A negative fd is ignored, as poll(2) does.
      expect(posix.poll([{ fd: -1, events: POLLIN }], 0)).to.deep.equal([0]);
      expect(posix.poll([], 0)).to.deep.equal([]);
    } finally {
      posix.close(r);
      posix.close(w2);
    }
  });

  it('times out after about timeoutMs', function () {
    const [r, w] = posix.pipe();
    try {
      const start = process.hrtime.bigint();
      expect(posix.poll([{ fd: r, events: POLLIN }], 500)).to.deep.equal([0]);
      expect(elapsed(start)).to.be.within(0.3, 3);
    } finally {
      posix.close(r);
      posix.close(w);
    }
  });

  it('a child sentinel becomes readable when the child ends, and stays so', function () {
    const child = spawnSleep(30);
    try {
      expect(posix.poll([{ fd: child.sentinel, events: POLLIN }], 100)).to.deep.equal([0]);
      posix.kill(child.pid, 'SIGTERM');
      const start = process.hrtime.bigint();
      expect(posix.poll([{ fd: child.sentinel, events: POLLIN }], 5000)[0] & (POLLIN | POLLHUP)).to.not.equal(0);
      expect(elapsed(start)).to.be.below(3);
      // Readable before the reap and after it.
      expect(posix.waitpid(child.pid).termSignal).to.equal(posix.signals.SIGTERM);
      expect(posix.poll([{ fd: child.sentinel, events: POLLIN }], 0)[0]).to.not.equal(0);
    } finally {
      release(child);
    }
  });

  it('the sentinel is not inherited by later children', function () {
    const first = spawnSleep(30);
    const second = spawnSleep(30);
    try {
      expect(isCloexec(first.sentinel)).to.equal(true);
      // Killing the second must not be needed for the first's sentinel to fire.
      posix.kill(first.pid, 'SIGKILL');
      expect(posix.poll([{ fd: first.sentinel, events: POLLIN }], 5000)[0]).to.not.equal(0);
    } finally {
      killAndReap(first);
      killAndReap(second);
    }
  });

  describe('a reactor callback that throws', function () {
    // Runs in a child node: before the fix the C++ exception escaped the
    // libuv callback and the process aborted (SIGABRT).
    const script = (handler) => `
      import { binding, whenReadable } from ${JSON.stringify(new URL('./internals.js', import.meta.url).href)};
      import { writeSync } from 'node:fs';
      ${handler ? "process.on('uncaughtException', (e) => { writeSync(1, 'caught ' + e.message); process.exit(3); });" : ''}
      const [r, w] = binding.pipe();
      whenReadable(r, () => { throw new Error('boom'); });
      writeSync(w, 'x');
    `;
    function runNode(source) {
      const [r, w] = posix.pipe();
      const [er, ew] = posix.pipe();
      const child = posix.spawn(process.execPath, [process.execPath, '--input-type=module', '-e', source], { fds: [0, w, ew] });
      posix.close(w);
      posix.close(ew);
      try {
        return { out: readAll(r), err: readAll(er), status: posix.waitpid(child.pid) };
      } finally {
        posix.close(r);
        posix.close(er);
        release(child);
      }
    }

    it('is an uncaught exception that process.on("uncaughtException") sees', function () {
      const { out, status } = runNode(script(true));
      expect(status).to.include({ signaled: false, exitCode: 3 });
      expect(out).to.equal('caught boom');
    });

    it('without a handler ends the process like any uncaught exception (exit 1)', function () {
      const { err, status } = runNode(script(false));
      expect(status).to.include({ signaled: false, exitCode: 1 });
      expect(err).to.include('Error: boom');
    });
  });

  it('rejects bad entries and timeouts', function () {
    expect(() => posix.poll({}, 0)).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    expect(() => posix.poll([{ fd: 'x', events: POLLIN }], 0)).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    expect(() => posix.poll([{ fd: 0, events: 0x10000 }], 0)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
    expect(() => posix.poll([], -2)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
    expect(() => posix.poll([], 0.5)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
    expect(() => posix.close(-1)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
  });
});
