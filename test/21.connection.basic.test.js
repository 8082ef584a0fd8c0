// Pipe()/Connection in one process: message round trips, ordering, poll()
// bounds, EOF, misuse errors, and no leaked fds or poll handles.
import { writeSync } from 'node:fs';
import { serialize } from 'node:v8';
import { expect } from 'chai';
import { Connection, Pipe, ProcessError, posix } from '../dist/index.js';
import { watchedFdCount } from './internals.js';
import { fdCount, rejection } from './helpers.js';

function expectCode(fn, code, message) {
  let thrown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected a throw').to.be.an('error');
  expect(thrown.code).to.equal(code);
  if (message !== undefined) expect(thrown.message).to.equal(message);
  return thrown;
}


function frame(payload) {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(payload.length);
  return Buffer.concat([header, payload]);
}

const samples = () => [
  null,
  undefined,
  true,
  0,
  -1.5,
  NaN,
  'text with ünïcödé',
  '',
  123456789012345678901234567890n,
  [1, 'two', [3, [4]]],
  { a: 1, nested: { b: [null, { c: 'deep' }] } },
  new Map([
    ['k', { v: 1 }],
    [2, new Set([3, 4])],
  ]),
  new Set(['x', 'y']),
  new Date(1700000000123),
  /ab+c/gi,
  Buffer.from('buffer bytes'),
  new Uint8Array([0, 1, 254, 255]),
  new Float64Array([1.5, -2.25]),
  new Error('carried error'),
];

describe('21 Connection: basics', function () {
  let open = [];
  const pipe = (duplex) => {
    const pair = duplex === undefined ? Pipe() : Pipe(duplex);
    open.push(...pair);
    return pair;
  };
  afterEach(function () {
    for (const c of open) c.close();
    open = [];
  });

  it('Pipe() gives two duplex ends of a socketpair', function () {
    const [a, b] = pipe();
    expect(a).to.be.instanceOf(Connection);
    expect(b).to.be.instanceOf(Connection);
    for (const c of [a, b]) {
      expect(c.readable).to.equal(true);
      expect(c.writable).to.equal(true);
      expect(c.closed).to.equal(false);
      expect(Number.isInteger(c.fileno())).to.equal(true);
    }
    expect(a.fileno()).to.not.equal(b.fileno());
    expect(String(a)).to.equal(`<Connection fd=${a.fileno()} duplex>`);
  });

  it('Pipe(false) gives [read-only, write-only] ends of a pipe', function () {
    const [r, w] = pipe(false);
    expect([r.readable, r.writable]).to.deep.equal([true, false]);
    expect([w.readable, w.writable]).to.deep.equal([false, true]);
    expect(String(r)).to.match(/read-only/);
    expect(String(w)).to.match(/write-only/);
    w.send('one way');
    expect(r.recvSync()).to.equal('one way');
  });

  it('Pipe() rejects a non-boolean duplex', function () {
    expectCode(() => Pipe('yes'), 'ERR_INVALID_ARG_TYPE');
    expectCode(() => Pipe(null), 'ERR_INVALID_ARG_TYPE');
  });

  it('round-trips structured-clone values both ways, sync and async', async function () {
    const [a, b] = pipe();
    for (const value of samples()) {
      a.send(value);
      const viaSync = b.recvSync();
      b.send(value);
      const viaAsync = await a.recv();
      for (const got of [viaSync, viaAsync]) {
        if (value instanceof Error) {
          expect(got).to.be.instanceOf(Error);
          expect(got.message).to.equal(value.message);
        } else if (typeof value === 'number' && Number.isNaN(value)) {
          expect(Number.isNaN(got)).to.equal(true);
        } else {
          expect(got).to.deep.equal(value);
        }
      }
    }
    const buf = (a.send(Buffer.from('x')), b.recvSync());
    expect(Buffer.isBuffer(buf)).to.equal(true);
    const date = (a.send(new Date(5)), b.recvSync());
    expect(date).to.be.instanceOf(Date);
  });

  it('keeps message boundaries and order over many small messages', async function () {
    const [a, b] = pipe();
    // Few enough to fit in the kernel's buffer: nobody reads while we send.
    for (let i = 0; i < 100; i++) a.send({ i, pad: 'x'.repeat(i % 50) });
    for (let i = 0; i < 50; i++) expect(b.recvSync().i).to.equal(i);
    for (let i = 50; i < 100; i++) expect((await b.recv()).i).to.equal(i);
    expect(b.poll()).to.equal(false);
  });

  it('resolves concurrent recv() calls in call order, recvSync after them', async function () {
    const [a, b] = pipe();
    const first = b.recv();
    const second = b.recv();
    for (let i = 1; i <= 3; i++) a.send(i);
    // The pending recv() calls were made first: they get 1 and 2.
    expect(b.recvSync()).to.equal(3);
    expect(await first).to.equal(1);
    expect(await second).to.equal(2);
    const later = [b.recv(), b.recv(), b.recv()];
    a.send('x');
    a.send('y');
    a.send('z');
    expect(await Promise.all(later)).to.deep.equal(['x', 'y', 'z']);
    expect(watchedFdCount()).to.equal(0);
  });

  it('receives a message that nearly fills the pipe with async recv on the same thread', async function () {
    const [r, w] = pipe(false);
    // Fits in a 64 KiB pipe, so send() returns although nobody reads yet.
    const big = Buffer.alloc(60 * 1024, 7);
    const got = r.recv();
    w.send(big);
    expect((await got).equals(big)).to.equal(true);
  });

  it('poll() is false when empty, true with a message, and bounded by its timeout', function () {
    const [a, b] = pipe();
    let t0 = performance.now();
    expect(b.poll()).to.equal(false);
    expect(b.poll(0)).to.equal(false);
    expect(b.poll(-1)).to.equal(false);
    expect(performance.now() - t0).to.be.below(200);
    t0 = performance.now();
    expect(b.poll(0.5)).to.equal(false);
    const elapsed = (performance.now() - t0) / 1000;
    expect(elapsed).to.be.within(0.3, 3);
    a.send('ready');
    expect(b.poll()).to.equal(true);
    expect(b.poll(null)).to.equal(true);
    expect(b.recvSync()).to.equal('ready');
    expect(b.poll(0)).to.equal(false);
    expectCode(() => b.poll('1'), 'ERR_INVALID_ARG_TYPE');
    expectCode(() => b.poll(NaN), 'ERR_OUT_OF_RANGE');
  });

  it('delivers what was sent before EOF, then EOF (sync and async), both socketpair directions', async function () {
    for (const closeFirst of [0, 1]) {
      const pair = Pipe();
      const closer = pair[closeFirst];
      const reader = pair[1 - closeFirst];
      closer.send('last words');
      closer.close();
      expect(reader.poll()).to.equal(true);
      expect(reader.recvSync()).to.equal('last words');
      expect(reader.poll()).to.equal(true); // a closed peer is "ready"
      const e1 = expectCode(() => reader.recvSync(), 'EOF');
      expect(e1).to.be.an('error');
      const e2 = await rejection(reader.recv());
      expect(e2.code).to.equal('EOF');
      // EOF stays: every later receive reports it again.
      expectCode(() => reader.recvSync(), 'EOF');
      reader.close();
    }
  });

  it('rejects a pending recv() with EOF when the peer closes later', async function () {
    const [r, w] = Pipe(false);
    open.push(r);
    const pending = [r.recv(), r.recv()];
    setTimeout(() => w.close(), 50);
    for (const p of pending) expect((await rejection(p)).code).to.equal('EOF');
    expect(watchedFdCount()).to.equal(0);
  });

  it('reports a message cut short by EOF', async function () {
    const [r, w] = Pipe(false);
    open.push(r);
    const whole = frame(serialize('a long enough message'));
    writeSync(w.fileno(), whole.subarray(0, whole.length - 3));
    w.close();
    const error = expectCode(() => r.recvSync(), 'EOF', 'got end of file during message');
    expect(error).to.be.an('error');
    expect((await rejection(r.recv())).code).to.equal('EOF');
  });

  it('rejects an undecodable payload and goes on with the next message', async function () {
    const [r, w] = pipe(false);
    writeSync(w.fileno(), frame(Buffer.from([0xff, 0x0f, 0x77, 0x77])));
    w.send('after garbage');
    const error = await rejection(r.recv());
    expect(error).to.be.an('error');
    expect(await r.recv()).to.equal('after garbage');
  });

  it('throws ERR_DATA_CLONE from send() for values that cannot be cloned, writing nothing', function () {
    const [a, b] = pipe();
    for (const bad of [() => 1, { f() {} }, Symbol('s'), [1, new WeakMap()]]) {
      const error = expectCode(() => a.send(bad), 'ERR_DATA_CLONE');
      expect(error).to.be.instanceOf(TypeError);
      expect(error.message).to.match(/could not be cloned/);
    }
    expect(b.poll()).to.equal(false);
    a.send('still fine');
    expect(b.recvSync()).to.equal('still fine');
  });

  it('gives ProcessError codes for direction misuse', async function () {
    const [r, w] = pipe(false);
    let e = expectCode(() => w.recvSync(), 'ERR_CONNECTION_WRITE_ONLY', 'connection is write-only');
    expect(e).to.be.instanceOf(ProcessError);
    expectCode(() => w.poll(), 'ERR_CONNECTION_WRITE_ONLY');
    e = await rejection(w.recv());
    expect(e).to.be.instanceOf(ProcessError);
    expect(e.code).to.equal('ERR_CONNECTION_WRITE_ONLY');
    e = expectCode(() => r.send(1), 'ERR_CONNECTION_READ_ONLY', 'connection is read-only');
    expect(e).to.be.instanceOf(ProcessError);
  });

  it('after close(): closed is true, every use fails with ERR_CONNECTION_CLOSED, close() again is a no-op', async function () {
    const [a, b] = Pipe();
    open.push(b);
    a.close();
    expect(a.closed).to.equal(true);
    expect(String(a)).to.equal('<Connection closed>');
    for (const use of [() => a.send(1), () => a.recvSync(), () => a.poll(), () => a.fileno()]) {
      const e = expectCode(use, 'ERR_CONNECTION_CLOSED', 'handle is closed');
      expect(e).to.be.instanceOf(ProcessError);
    }
    let p;
    expect(() => {
      p = a.recv();
    }).to.not.throw();
    expect((await rejection(p)).code).to.equal('ERR_CONNECTION_CLOSED');
    a.close();
    expect(a.closed).to.equal(true);
  });

  it('close() rejects pending recv() calls and drops the poll handle', async function () {
    const before = watchedFdCount();
    const [a, b] = Pipe();
    open.push(b);
    const pending = [a.recv(), a.recv()];
    expect(watchedFdCount()).to.equal(before + 1);
    a.close();
    for (const p of pending) expect((await rejection(p)).code).to.equal('ERR_CONNECTION_CLOSED');
    expect(watchedFdCount()).to.equal(before);
  });

  it('send() to a pipe whose reader closed fails with write EPIPE', function () {
    const [r, w] = Pipe(false);
    open.push(w);
    r.close();
    const e = expectCode(() => w.send('nobody listens'), 'EPIPE', 'write EPIPE');
    expect(e.syscall).to.equal('write');
    expect(e.errno).to.be.below(0);
  });

  it('leaks no fds or poll handles over many pipes', async function () {
    const fds = fdCount();
    const watched = watchedFdCount();
    for (let i = 0; i < 100; i++) {
      const [a, b] = Pipe(i % 2 === 0);
      const got = a.readable && a.writable ? b.recv() : a.recv();
      if (a.writable) a.send(i);
      else b.send(i);
      expect(await got).to.equal(i);
      const unanswered = a.recv();
      a.close();
      b.close();
      await rejection(unanswered);
    }
    expect(fdCount()).to.equal(fds);
    expect(watchedFdCount()).to.equal(watched);
  });

  it('wraps an existing fd with new Connection(), validating options', function () {
    const [r, w] = posix.pipe();
    const reader = new Connection(r, { writable: false });
    const writer = new Connection(w, { readable: false });
    open.push(reader, writer);
    writer.send({ wrapped: true });
    expect(reader.recvSync()).to.deep.equal({ wrapped: true });
    expectCode(() => new Connection(-1), 'ERR_OUT_OF_RANGE');
    expectCode(() => new Connection('3'), 'ERR_INVALID_ARG_TYPE');
    expectCode(() => new Connection(r, { readable: 'no' }), 'ERR_INVALID_ARG_TYPE');
    expectCode(() => new Connection(r, { readable: false, writable: false }), 'ERR_INVALID_ARG_VALUE');
  });
});
