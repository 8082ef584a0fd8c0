// posix.sendFds / posix.recvFds: fd passing over real socketpairs
// (SCM_RIGHTS), truncation, EOF, errors, and no fd left behind.
import { expect } from 'chai';
import { readFileSync, readSync, writeSync } from 'node:fs';
import { posix } from '../dist/index.js';
import { fdCount } from './helpers.js';

function closeAll(fds) {
  for (const fd of fds) posix.close(fd);
}

function cloexec(fd) {
  const flags = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').match(/flags:\s+(\d+)/)[1];
  return (parseInt(flags, 8) & 0o2000000) !== 0;
}

describe('27 posix sendFds/recvFds', function () {
  for (const type of ['stream', 'seqpacket']) {
    it(`passes fds that work on the other side, CLOEXEC (${type})`, function () {
      const before = fdCount();
      const [a, b] = posix.socketpair(type);
      const [r, w] = posix.pipe();
      expect(posix.sendFds(a, Buffer.from('hello'), [r, w])).to.equal(5);
      const got = posix.recvFds(b, 64, 8);
      expect(got.data.toString()).to.equal('hello');
      expect(got.fds).to.have.length(2);
      expect(got.fds).to.not.include(r);
      for (const fd of got.fds) expect(cloexec(fd), `fd ${fd} CLOEXEC`).to.equal(true);
      // The received write end writes into the pipe we still read.
      writeSync(got.fds[1], 'via passed fd');
      const buf = Buffer.alloc(64);
      expect(buf.toString('utf8', 0, readSync(r, buf))).to.equal('via passed fd');
      closeAll([...got.fds, r, w, a, b]);
      expect(fdCount()).to.equal(before);
    });
  }

  it('data without fds, and a Uint8Array', function () {
    const [a, b] = posix.socketpair();
    posix.sendFds(a, new Uint8Array([1, 2, 3]), []);
    const got = posix.recvFds(b, 16, 0);
    expect([...got.data]).to.deep.equal([1, 2, 3]);
    expect(got.fds).to.deep.equal([]);
    closeAll([a, b]);
  });

  it('EOF is empty data and no fds', function () {
    const [a, b] = posix.socketpair();
    posix.close(a);
    const got = posix.recvFds(b, 16, 4);
    expect(got.data.length).to.equal(0);
    expect(got.fds).to.deep.equal([]);
    posix.close(b);
  });

  it('more fds than maxFds: EMSGSIZE, and every fd that arrived is closed', function () {
    const [a, b] = posix.socketpair();
    const pipes = [posix.pipe(), posix.pipe()].flat();
    const before = fdCount();
    posix.sendFds(a, Buffer.from('x'), pipes);
    let error;
    try {
      posix.recvFds(b, 16, 2);
    } catch (e) {
      error = e;
    }
    expect(error).to.be.an('error');
    expect(error.code).to.equal('EMSGSIZE');
    expect(error.syscall).to.equal('recvmsg');
    expect(error.message).to.match(/^recvmsg EMSGSIZE: more file descriptors arrived than maxFds \(2\)/);
    expect(fdCount(), 'the 2 that fit were closed too').to.equal(before);
    // maxFds 0: any fd is a truncation.
    posix.sendFds(a, Buffer.from('y'), [pipes[0]]);
    expect(() => posix.recvFds(b, 16, 0)).to.throw(/EMSGSIZE/);
    expect(fdCount()).to.equal(before);
    closeAll([...pipes, a, b]);
  });

  it('a record longer than maxBytes (seqpacket): EMSGSIZE, its fds closed', function () {
    const [a, b] = posix.socketpair('seqpacket');
    const [r, w] = posix.pipe();
    const before = fdCount();
    posix.sendFds(a, Buffer.alloc(100, 1), [r]);
    expect(() => posix.recvFds(b, 10, 4)).to.throw(/recvmsg EMSGSIZE: the message was longer than maxBytes \(10\)/);
    expect(fdCount()).to.equal(before);
    // The next record is whole.
    posix.sendFds(a, Buffer.from('next'), []);
    expect(posix.recvFds(b, 10, 4).data.toString()).to.equal('next');
    closeAll([r, w, a, b]);
  });

  it('a gone peer is EPIPE (no SIGPIPE); a bad fd is EBADF', function () {
    const [a, b] = posix.socketpair();
    posix.close(b);
    expect(() => posix.sendFds(a, Buffer.from('x'), [])).to.throw().with.property('code', 'EPIPE');
    posix.close(a);
    const [r, w] = posix.pipe();
    expect(() => posix.sendFds(w, Buffer.from('x'), [r])).to.throw('sendmsg ENOTSOCK');
    expect(() => posix.recvFds(r, 4, 1)).to.throw('recvmsg ENOTSOCK');
    closeAll([r, w]);
    const [c, d] = posix.socketpair();
    expect(() => posix.sendFds(c, Buffer.from('x'), [999999])).to.throw().with.property('code', 'EBADF');
    closeAll([c, d]);
  });

  it('validates its arguments', function () {
    const [a, b] = posix.socketpair();
    expect(() => posix.sendFds(-1, Buffer.from('x'), [])).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
    expect(() => posix.sendFds(a, 'x', [])).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    expect(() => posix.sendFds(a, Buffer.from('x'), 'nope')).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    expect(() => posix.sendFds(a, Buffer.from('x'), [1.5])).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
    expect(() => posix.sendFds(a, Buffer.from('x'), new Array(254).fill(0))).to.throw(RangeError);
    expect(() => posix.sendFds(a, Buffer.alloc(0), [0])).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
    expect(() => posix.recvFds(a, -1, 1)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
    expect(() => posix.recvFds(a, 4, 254)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
    expect(() => posix.socketpair('dgram')).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
    closeAll([a, b]);
  });

  it('1000 round trips of 3 fds leave no fd behind', function () {
    const before = fdCount();
    const [a, b] = posix.socketpair('seqpacket');
    for (let i = 0; i < 1000; i++) {
      posix.sendFds(a, Buffer.of(i & 0xff), [0, 1, 2]);
      const got = posix.recvFds(b, 4, 3);
      expect(got.fds).to.have.length(3);
      closeAll(got.fds);
    }
    closeAll([a, b]);
    expect(fdCount()).to.equal(before);
  });
});
