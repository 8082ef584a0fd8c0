// The byte API of Connection (sendBytes, recvBytes, recvBytesInto and their
// Sync forms) with CPython's semantics, the maxMessageSize cap against a
// hostile peer, values and bytes sharing one framing, truncated frames,
// large messages across a real child, and the byte API in spawn children.
import { writeSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';
import { expect } from 'chai';
import fc from 'fast-check';
import { BufferTooShort, Connection, Pipe, Process, ProcessError, posix } from '../dist/index.js';
import { watchedFdCount } from './internals.js';
import { expectNoLeaks, rejection } from './helpers.js';
import { reap, spawnNode } from './nodechild.js';

const MiB = 1024 * 1024;

function thrown(fn) {
  try {
    fn();
  } catch (error) {
    return error;
  }
  expect.fail('expected a throw');
}

/** The error the async form gives: it must not throw, only reject. */
async function rejected(call) {
  let promise;
  expect(() => {
    promise = call();
  }, 'an async call must reject, not throw').to.not.throw();
  return rejection(promise);
}

function expectError(error, code, message) {
  expect(error).to.be.an('error');
  expect(error.code).to.equal(code);
  if (message !== undefined) expect(error.message).to.equal(message);
  return error;
}

function header(length) {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(length);
  return h;
}

/** Bytes whose every offset is recognisable: a swapped or shifted chunk shows. */
function pattern(size, seed = 0) {
  const buf = Buffer.allocUnsafe(size);
  for (let i = 0; i + 4 <= size; i += 4) buf.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  for (let i = size - (size % 4); i < size; i++) buf[i] = i & 0xff;
  return buf;
}

// The sync and async receive forms, called the same way.
const forms = {
  sync: {
    recvBytes: (c, ...a) => Promise.resolve().then(() => c.recvBytesSync(...a)),
    recvBytesInto: (c, ...a) => Promise.resolve().then(() => c.recvBytesIntoSync(...a)),
    recv: (c) => Promise.resolve().then(() => c.recvSync()),
  },
  async: {
    recvBytes: (c, ...a) => c.recvBytes(...a),
    recvBytesInto: (c, ...a) => c.recvBytesInto(...a),
    recv: (c) => c.recv(),
  },
};

describe('26 Connection: byte API', function () {
  this.timeout(60000);
  let open = [];
  const pipe = (...args) => {
    const pair = Pipe(...args);
    open.push(...pair);
    return pair;
  };
  afterEach(function () {
    for (const c of open) c.close();
    open = [];
  });
  expectNoLeaks(() => expect(watchedFdCount()).to.equal(0));

  for (const [form, api] of Object.entries(forms)) {
    describe(`${form} receives`, function () {
      it('sendBytes(buf, offset, size) sends exactly those bytes, whatever the view type', async function () {
        const [a, b] = pipe();
        const text = Buffer.from('hello, bytes');
        a.sendBytes(text);
        expect((await api.recvBytes(b)).toString()).to.equal('hello, bytes');
        a.sendBytes(text, 7);
        expect((await api.recvBytes(b)).toString()).to.equal('bytes');
        a.sendBytes(text, 0, 5);
        expect((await api.recvBytes(b)).toString()).to.equal('hello');
        a.sendBytes(text, 5, null);
        expect((await api.recvBytes(b)).toString()).to.equal(', bytes');
        // Offsets and sizes count bytes, as CPython's (it casts to 'B'), whatever the element size.
        const words = new Uint32Array([0x01020304, 0x05060708, 0x090a0b0c]);
        a.sendBytes(words, 2, 6);
        expect([...(await api.recvBytes(b))]).to.deep.equal([...Buffer.from(words.buffer).subarray(2, 8)]);
        const shifted = new Uint8Array(new ArrayBuffer(16), 4, 8).fill(9);
        a.sendBytes(new DataView(shifted.buffer, 4, 8), 1, 3);
        expect([...(await api.recvBytes(b))]).to.deep.equal([9, 9, 9]);
        a.sendBytes(new Uint8Array([1, 2, 3]).buffer);
        expect([...(await api.recvBytes(b))]).to.deep.equal([1, 2, 3]);
        const shared = new Uint8Array(new SharedArrayBuffer(4)).fill(7);
        a.sendBytes(shared.buffer, 2);
        const got = await api.recvBytes(b);
        expect(Buffer.isBuffer(got)).to.equal(true);
        expect([...got]).to.deep.equal([7, 7]);
        expect(b.poll()).to.equal(false);
      });

      it('recvBytes(maxLength) takes a message of up to maxLength bytes', async function () {
        const [a, b] = pipe();
        a.sendBytes(Buffer.alloc(10, 1));
        expect((await api.recvBytes(b, 10)).length).to.equal(10);
        a.sendBytes(Buffer.alloc(0));
        expect((await api.recvBytes(b, 0)).length).to.equal(0);
        a.sendBytes(Buffer.alloc(3));
        expect((await api.recvBytes(b, null)).length).to.equal(3);
        a.sendBytes(Buffer.alloc(3));
        expect((await api.recvBytes(b, undefined)).length).to.equal(3);
      });

      it('a duplex connection refuses a message over maxLength and becomes write-only, as CPython', async function () {
        const [a, b] = pipe();
        a.sendBytes(Buffer.from('0123456789'));
        a.send('never read');
        const error = expectError(await rejection(api.recvBytes(b, 9)), 'ERR_MESSAGE_TOO_LONG', 'bad message length');
        expect(error).to.be.instanceOf(ProcessError);
        expect(error.length).to.equal(10);
        expect(error.maxLength).to.equal(9);
        // The body was never read: the stream is out of step, so no more reading.
        expect(b.readable).to.equal(false);
        expect(b.writable).to.equal(true);
        expect(b.closed).to.equal(false);
        expect(String(b)).to.match(/write-only/);
        for (const use of [() => b.recvSync(), () => b.recvBytesSync(), () => b.recvBytesIntoSync(Buffer.alloc(1)), () => b.poll()]) {
          expectError(thrown(use), 'ERR_CONNECTION_WRITE_ONLY', 'connection is write-only');
        }
        expectError(await rejected(() => b.recv()), 'ERR_CONNECTION_WRITE_ONLY');
        expectError(await rejected(() => b.recvBytes()), 'ERR_CONNECTION_WRITE_ONLY');
        // It still writes.
        b.sendBytes(Buffer.from('still writes'));
        expect(a.recvBytesSync().toString()).to.equal('still writes');
      });

      it('a read-only connection refuses a message over maxLength and is closed, as CPython', async function () {
        const [r, w] = pipe(false);
        w.sendBytes(Buffer.alloc(100));
        expectError(await rejection(api.recvBytes(r, 99)), 'ERR_MESSAGE_TOO_LONG', 'bad message length');
        expect(r.closed).to.equal(true);
        expectError(thrown(() => r.recvBytesSync()), 'ERR_CONNECTION_CLOSED', 'handle is closed');
        // Its fd is gone: the writer sees no reader.
        expectError(thrown(() => w.sendBytes(Buffer.alloc(1))), 'EPIPE', 'write EPIPE');
      });

      it('recvBytesInto(buf, offset) writes the message at byte offset and returns its length', async function () {
        const [a, b] = pipe();
        const target = Buffer.alloc(12, '.');
        a.sendBytes(Buffer.from('abc'));
        expect(await api.recvBytesInto(b, target)).to.equal(3);
        expect(target.toString()).to.equal('abc.........');
        a.sendBytes(Buffer.from('xyz'));
        expect(await api.recvBytesInto(b, target, 9)).to.equal(3);
        expect(target.toString()).to.equal('abc......xyz');
        // Byte offsets into a wider typed array; the rest is left alone.
        const words = new Uint16Array(4).fill(0xffff);
        a.sendBytes(Buffer.from([1, 2, 3]));
        expect(await api.recvBytesInto(b, words, 3)).to.equal(3);
        expect([...new Uint8Array(words.buffer)]).to.deep.equal([0xff, 0xff, 0xff, 1, 2, 3, 0xff, 0xff]);
        const ab = new ArrayBuffer(4);
        a.sendBytes(Buffer.from([5, 6]));
        expect(await api.recvBytesInto(b, ab, 2)).to.equal(2);
        expect([...new Uint8Array(ab)]).to.deep.equal([0, 0, 5, 6]);
        const view = new DataView(new ArrayBuffer(8), 2, 4);
        a.sendBytes(Buffer.from([8, 9, 10, 11]));
        expect(await api.recvBytesInto(b, view)).to.equal(4);
        expect([...new Uint8Array(view.buffer)]).to.deep.equal([0, 0, 8, 9, 10, 11, 0, 0]);
        // A value message lands as its v8.serialize() bytes.
        const big = Buffer.alloc(64);
        a.send({ into: true });
        const n = await api.recvBytesInto(b, big);
        expect(deserialize(big.subarray(0, n))).to.deep.equal({ into: true });
      });

      it('a message that does not fit throws BufferTooShort with the whole message; the connection goes on', async function () {
        const [a, b] = pipe();
        const target = Buffer.alloc(8, '.');
        a.sendBytes(Buffer.from('0123456789'));
        a.sendBytes(Buffer.from('next'));
        const error = await rejection(api.recvBytesInto(b, target, 2));
        expect(error).to.be.instanceOf(BufferTooShort);
        expect(error).to.be.instanceOf(ProcessError);
        expect(error.name).to.equal('BufferTooShort');
        expect(error.code).to.equal('ERR_BUFFER_TOO_SHORT');
        expect(error.message).to.equal('message of 10 bytes does not fit in the buffer (6 bytes from offset 2)');
        expect(Buffer.isBuffer(error.data)).to.equal(true);
        expect(error.data.toString()).to.equal('0123456789');
        expect(target.toString()).to.equal('........');
        // The message was consumed whole: the next one is intact.
        expect(b.readable).to.equal(true);
        expect(await api.recvBytesInto(b, target, 4)).to.equal(4);
        expect(target.toString()).to.equal('....next');
        // An exact fit is no error.
        a.sendBytes(Buffer.from('12345678'));
        expect(await api.recvBytesInto(b, target)).to.equal(8);
        expect(target.toString()).to.equal('12345678');
      });

      it('zero-length messages: empty Buffer, 0 bytes into (even at the end of the buffer), undecodable as a value', async function () {
        const [a, b] = pipe();
        a.sendBytes(Buffer.alloc(0));
        a.sendBytes(Buffer.from('abc'), 3);
        a.sendBytes(Buffer.from('abc'), 1, 0);
        const empty = await api.recvBytes(b);
        expect(Buffer.isBuffer(empty)).to.equal(true);
        expect(empty.length).to.equal(0);
        const target = Buffer.from('xy');
        expect(await api.recvBytesInto(b, target, 2)).to.equal(0);
        expect(target.toString()).to.equal('xy');
        const error = await rejection(api.recv(b));
        expect(error).to.be.an('error');
        expect(error.message).to.match(/deserialize/);
        a.send('after the empty ones');
        expect(await api.recv(b)).to.equal('after the empty ones');
      });

      it('values and bytes share one framing: recvBytes gives v8.serialize() bytes, recv decodes bytes', async function () {
        const [a, b] = pipe();
        const value = { n: 1, list: [1, 'two'], when: new Date(7) };
        a.send(value);
        const bytes = await api.recvBytes(b);
        expect(bytes.equals(serialize(value))).to.equal(true);
        expect(deserialize(bytes)).to.deep.equal(value);
        a.sendBytes(serialize(value));
        expect(await api.recv(b)).to.deep.equal(value);
        // Bytes that are no v8.serialize() output: v8.deserialize's error, and the connection goes on.
        a.sendBytes(Buffer.from('plain text'));
        a.sendBytes(Buffer.from('plain text, as bytes'));
        const error = await rejection(api.recv(b));
        expect(error).to.be.an('error');
        expect(error.message).to.equal('Unable to deserialize cloned data due to invalid or unsupported version.');
        expect((await api.recvBytes(b)).toString()).to.equal('plain text, as bytes');
      });

      it('EOF: at a message boundary, and mid-message (in the header, in the body)', async function () {
        for (const cut of [null, 2, 4, 9]) {
          const [r, w] = Pipe(false);
          open.push(r);
          const whole = Buffer.concat([header(8), Buffer.from('12345678')]);
          writeSync(w.fileno(), cut === null ? whole : whole.subarray(0, cut));
          w.close();
          if (cut === null) expect((await api.recvBytes(r)).toString()).to.equal('12345678');
          const message = cut === null ? 'end of file: the other end of the connection is closed' : 'got end of file during message';
          expectError(await rejection(api.recvBytes(r)), 'EOF', message);
          expectError(await rejection(api.recvBytesInto(r, Buffer.alloc(16))), 'EOF', message);
        }
      });

      it('the maxMessageSize cap: up to it accepted, over it refused for recv, recvBytes and recvBytesInto', async function () {
        for (const receive of [(c) => api.recv(c), (c) => api.recvBytes(c), (c) => api.recvBytes(c, 1000), (c) => api.recvBytesInto(c, Buffer.alloc(1000))]) {
          const [a, b] = pipe(true, { maxMessageSize: 32 });
          expect(b.maxMessageSize).to.equal(32);
          const fits = 'x'.repeat(28);
          expect(serialize(fits).length).to.equal(32);
          a.sendBytes(serialize(fits));
          const ok = await receive(b);
          expect(ok === 32 || ok === fits || ok.length === 32).to.equal(true);
          a.sendBytes(serialize(`${fits}x`));
          const error = expectError(await rejection(receive(b)), 'ERR_MESSAGE_TOO_LONG', 'bad message length');
          expect([error.length, error.maxLength]).to.deep.equal([33, 32]);
          expect(b.readable).to.equal(false);
        }
        // A maxLength under the cap still applies.
        const [a, b] = pipe(true, { maxMessageSize: 32 });
        a.sendBytes(Buffer.alloc(20));
        expect((await rejection(api.recvBytes(b, 10))).maxLength).to.equal(10);
      });
    });
  }

  it('sendBytes checks offset and size as CPython does, with Node\'s errors, and writes nothing then', function () {
    const [a, b] = pipe();
    const buf = Buffer.alloc(10);
    const cases = [
      // CPython: 'offset is negative'
      [[buf, -1], 'ERR_OUT_OF_RANGE', 'The value of "offset" is out of range. It must be an integer >= 0 and <= 10. Received -1'],
      // 'buffer length < offset'
      [[buf, 11], 'ERR_OUT_OF_RANGE', 'The value of "offset" is out of range. It must be an integer >= 0 and <= 10. Received 11'],
      // 'size is negative'
      [[buf, 0, -1], 'ERR_OUT_OF_RANGE', 'The value of "size" is out of range. It must be an integer >= 0 and <= 10. Received -1'],
      // 'buffer length < offset + size'
      [[buf, 4, 7], 'ERR_OUT_OF_RANGE', 'The value of "size" is out of range. It must be an integer >= 0 and <= 6. Received 7'],
      [[buf, 1.5], 'ERR_OUT_OF_RANGE'],
      [[buf, 0, NaN], 'ERR_OUT_OF_RANGE'],
      [[buf, '1'], 'ERR_INVALID_ARG_TYPE', 'The "offset" argument must be of type number. Received type string (\'1\')'],
      [[buf, 0, 2n], 'ERR_INVALID_ARG_TYPE'],
      [['text'], 'ERR_INVALID_ARG_TYPE', 'The "buf" argument must be an instance of ArrayBuffer, Buffer, TypedArray, or DataView. Received type string (\'text\')'],
      [[[1, 2, 3]], 'ERR_INVALID_ARG_TYPE'],
      [[null], 'ERR_INVALID_ARG_TYPE'],
    ];
    for (const [args, code, message] of cases) {
      const error = expectError(thrown(() => a.sendBytes(...args)), code, message);
      expect(error).to.be.instanceOf(code === 'ERR_OUT_OF_RANGE' ? RangeError : TypeError);
    }
    expect(b.poll()).to.equal(false);
    // The edges themselves are fine.
    a.sendBytes(buf, 10);
    a.sendBytes(buf, 4, 6);
    expect(b.recvBytesSync().length).to.equal(0);
    expect(b.recvBytesSync().length).to.equal(6);
  });

  it('receive arguments: maxLength < 0 and bad offsets are errors; async forms reject and never throw', async function () {
    const [a, b] = pipe();
    const buf = Buffer.alloc(4);
    const cases = [
      ['recvBytes', [-1], 'ERR_OUT_OF_RANGE', RangeError],
      ['recvBytes', [1.5], 'ERR_OUT_OF_RANGE', RangeError],
      ['recvBytes', ['10'], 'ERR_INVALID_ARG_TYPE', TypeError],
      // CPython: 'negative offset', 'offset too large'
      ['recvBytesInto', [buf, -1], 'ERR_OUT_OF_RANGE', RangeError],
      ['recvBytesInto', [buf, 5], 'ERR_OUT_OF_RANGE', RangeError],
      ['recvBytesInto', [buf, '0'], 'ERR_INVALID_ARG_TYPE', TypeError],
      ['recvBytesInto', ['text'], 'ERR_INVALID_ARG_TYPE', TypeError],
      ['recvBytesInto', [], 'ERR_INVALID_ARG_TYPE', TypeError],
    ];
    for (const [method, args, code, type] of cases) {
      expect(expectError(thrown(() => b[`${method}Sync`](...args)), code)).to.be.instanceOf(type);
      expect(expectError(await rejected(() => b[method](...args)), code)).to.be.instanceOf(type);
    }
    expect(thrown(() => b.recvBytesSync(-1)).message).to.equal(
      'The value of "maxLength" is out of range. It must be an integer >= 0 and <= 9007199254740991. Received -1',
    );
    expect(thrown(() => b.recvBytesIntoSync(buf, 5)).message).to.equal(
      'The value of "offset" is out of range. It must be an integer >= 0 and <= 4. Received 5',
    );
    // Nothing was consumed and nothing is left waiting.
    expect(watchedFdCount()).to.equal(0);
    a.sendBytes(Buffer.from('ok'));
    expect(b.recvBytesSync(2).toString()).to.equal('ok');
  });

  it('misuse: closed and wrong-direction connections, sync throws and async rejects', async function () {
    const [r, w] = pipe(false);
    expectError(thrown(() => r.sendBytes(Buffer.alloc(1))), 'ERR_CONNECTION_READ_ONLY', 'connection is read-only');
    for (const method of ['recvBytes', 'recvBytesInto']) {
      const args = method === 'recvBytes' ? [] : [Buffer.alloc(1)];
      expectError(thrown(() => w[`${method}Sync`](...args)), 'ERR_CONNECTION_WRITE_ONLY', 'connection is write-only');
      expectError(await rejected(() => w[method](...args)), 'ERR_CONNECTION_WRITE_ONLY');
    }
    // State comes before arguments, as in CPython.
    expectError(thrown(() => r.sendBytes('not bytes')), 'ERR_CONNECTION_READ_ONLY');
    expectError(await rejected(() => w.recvBytes(-1)), 'ERR_CONNECTION_WRITE_ONLY');
    const [a, b] = Pipe();
    open.push(b);
    a.close();
    expectError(thrown(() => a.sendBytes(Buffer.alloc(1))), 'ERR_CONNECTION_CLOSED', 'handle is closed');
    expectError(thrown(() => a.recvBytesSync()), 'ERR_CONNECTION_CLOSED');
    expectError(thrown(() => a.recvBytesIntoSync(Buffer.alloc(1))), 'ERR_CONNECTION_CLOSED');
    expectError(await rejected(() => a.recvBytes()), 'ERR_CONNECTION_CLOSED');
    expectError(await rejected(() => a.recvBytesInto(Buffer.alloc(1))), 'ERR_CONNECTION_CLOSED');
  });

  it('pending receives settle in call order, each its own way; close() rejects the rest', async function () {
    const [a, b] = pipe();
    const target = Buffer.alloc(4);
    const p1 = b.recvBytes();
    const p2 = b.recv();
    const p3 = b.recvBytesInto(target, 1);
    const p4 = b.recvBytesInto(Buffer.alloc(1));
    const p5 = b.recvBytes();
    a.sendBytes(Buffer.from('one'));
    a.send({ two: 2 });
    a.sendBytes(Buffer.from('333'));
    a.sendBytes(Buffer.from('four'));
    expect((await p1).toString()).to.equal('one');
    expect(await p2).to.deep.equal({ two: 2 });
    expect(await p3).to.equal(3);
    expect([...target]).to.deep.equal([0, 0x33, 0x33, 0x33]);
    expect((await rejection(p4)).data.toString()).to.equal('four');
    b.close();
    expectError(await rejection(p5), 'ERR_CONNECTION_CLOSED');
  });

  it('a message over the head receive\'s limit: it gets the error, the receives after it what a new call would', async function () {
    // Duplex: the connection becomes write-only.
    let [a, b] = pipe();
    let pending = [b.recvBytes(4), b.recv(), b.recvBytesInto(Buffer.alloc(100))];
    a.sendBytes(Buffer.alloc(5));
    expectError(await rejection(pending[0]), 'ERR_MESSAGE_TOO_LONG');
    for (const p of pending.slice(1)) expectError(await rejection(p), 'ERR_CONNECTION_WRITE_ONLY');
    // A sync receive behind a pending async one: the async one's message is too long.
    [a, b] = pipe();
    const first = b.recvBytes(4);
    a.sendBytes(Buffer.alloc(5));
    expectError(thrown(() => b.recvBytesSync()), 'ERR_CONNECTION_WRITE_ONLY');
    expectError(await rejection(first), 'ERR_MESSAGE_TOO_LONG');
    // Read-only: the connection is closed.
    const [r, w] = pipe(false);
    pending = [r.recvBytes(4), r.recvBytes()];
    w.sendBytes(Buffer.alloc(5));
    expectError(await rejection(pending[0]), 'ERR_MESSAGE_TOO_LONG');
    expectError(await rejection(pending[1]), 'ERR_CONNECTION_CLOSED');
    expect(r.closed).to.equal(true);
    expect(watchedFdCount()).to.equal(0);
  });

  it('the maxMessageSize option: validated, on Pipe() and new Connection(), default the wire format\'s 4294967295', function () {
    const [a, b] = pipe();
    expect([a.maxMessageSize, b.maxMessageSize]).to.deep.equal([4294967295, 4294967295]);
    const [r, w] = pipe(false, { maxMessageSize: 0 });
    expect([r.maxMessageSize, w.maxMessageSize]).to.deep.equal([0, 0]);
    w.sendBytes(Buffer.alloc(0));
    expect(r.recvBytesSync().length).to.equal(0);
    const [fr, fw] = posix.pipe();
    const reader = new Connection(fr, { writable: false, maxMessageSize: 8 });
    const writer = new Connection(fw, { readable: false });
    open.push(reader, writer);
    expect(reader.maxMessageSize).to.equal(8);
    writer.sendBytes(Buffer.alloc(9));
    expectError(thrown(() => reader.recvBytesSync()), 'ERR_MESSAGE_TOO_LONG');
    for (const [bad, code] of [
      [-1, 'ERR_OUT_OF_RANGE'],
      [1.5, 'ERR_OUT_OF_RANGE'],
      [2 ** 32, 'ERR_OUT_OF_RANGE'],
      [Infinity, 'ERR_OUT_OF_RANGE'],
      ['1', 'ERR_INVALID_ARG_TYPE'],
      [null, 'ERR_INVALID_ARG_TYPE'],
    ]) {
      expectError(thrown(() => Pipe(true, { maxMessageSize: bad })), code);
      expectError(thrown(() => new Connection(0, { maxMessageSize: bad })), code);
    }
    expectError(thrown(() => Pipe(true, 'big')), 'ERR_INVALID_ARG_TYPE');
    expect(thrown(() => Pipe(false, { maxMessageSize: -1 })).message).to.equal(
      'The value of "options.maxMessageSize" is out of range. It must be an integer >= 0 and <= 4294967295. Received -1',
    );
  });

  it('property: any byte sequence, any slice of it, round-trips through every receive form', async function () {
    const [a, b] = pipe();
    // Up to 60 KiB: the socket buffer holds it while this same thread sends, then receives.
    const slice = fc
      .uint8Array({ maxLength: 60 * 1024, size: 'max' })
      .chain((bytes) => fc.tuple(fc.constant(bytes), fc.nat(bytes.length)).chain(([bs, offset]) => fc.tuple(fc.constant(bs), fc.constant(offset), fc.nat(bs.length - offset))));
    await fc.assert(
      fc.asyncProperty(slice, fc.nat(3), fc.nat(16), async ([bytes, offset, size], how, pad) => {
        const expected = Buffer.from(bytes.buffer, bytes.byteOffset + offset, size);
        a.sendBytes(bytes, offset, size);
        let got;
        if (how === 0) got = b.recvBytesSync();
        else if (how === 1) got = await b.recvBytes(size);
        else {
          const target = Buffer.alloc(size + pad * 2, 0xee);
          const n = how === 2 ? b.recvBytesIntoSync(target, pad) : await b.recvBytesInto(target, pad);
          expect(n).to.equal(size);
          expect(target.subarray(0, pad).every((x) => x === 0xee)).to.equal(true);
          expect(target.subarray(pad + size).every((x) => x === 0xee)).to.equal(true);
          got = target.subarray(pad, pad + size);
        }
        expect(Buffer.compare(got, expected)).to.equal(0);
      }),
      { numRuns: 300 },
    );
    expect(b.poll()).to.equal(false);
  });
});

describe('22 Connection: byte API across processes', function () {
  this.timeout(120000);
  before(async function () {
    // The first start() opens fds the package keeps (a self-pipe, /dev/null): not a leak.
    const p = new Process({ target: () => {} });
    p.start();
    await p.join(30);
    p.close();
    // A forkserver (the default start method) keeps its socket and its pidfd watched.
    watched = watchedFdCount();
  });
  let watched;
  expectNoLeaks(() => expect(watchedFdCount()).to.equal(watched));

  it('64 MiB messages both ways through the sync and async paths', async function () {
    const [mine, theirs] = Pipe();
    // The child takes two messages (async recvBytes, then recvBytesIntoSync)
    // and echoes each; the parent receives the echoes async, then sync.
    const child = spawnNode(
      `const c = new Connection(3);
       const m = await c.recvBytes();
       c.sendBytes(m);
       const into = new Uint8Array(m.length + 16);
       const n = c.recvBytesIntoSync(into, 16);
       c.sendBytes(into, 16, n);
       c.close();`,
      [theirs.fileno()],
    );
    theirs.close();
    const one = pattern(64 * MiB, 1);
    const two = pattern(64 * MiB, 2);
    mine.sendBytes(one); // blocks (in poll) while the child drains it
    const echoOne = await mine.recvBytes();
    expect(echoOne.length).to.equal(one.length);
    expect(echoOne.equals(one)).to.equal(true);
    mine.sendBytes(two);
    const target = Buffer.alloc(64 * MiB);
    expect(mine.recvBytesIntoSync(target)).to.equal(two.length);
    expect(target.equals(two)).to.equal(true);
    expectError(thrown(() => mine.recvBytesSync()), 'EOF');
    mine.close();
    expect(await reap(child)).to.equal(0);
  });

  it('a peer that dies mid-message leaves recvBytes/recvBytesInto with EOF, not a hang', async function () {
    for (const receive of [(c) => c.recvBytes(), (c) => Promise.resolve().then(() => c.recvBytesIntoSync(Buffer.alloc(2000)))]) {
      const [r, w] = Pipe(false);
      const child = spawnNode(
        `import { writeSync } from 'node:fs';
         const h = Buffer.alloc(4); h.writeUInt32BE(1000);
         writeSync(3, h); writeSync(3, Buffer.alloc(10));
         process.kill(process.pid, 'SIGKILL');`,
        [w.fileno()],
      );
      w.close();
      expectError(await rejection(receive(r)), 'EOF', 'got end of file during message');
      r.close();
      expect(await reap(child)).to.equal(-9);
    }
  });

  // The peer writes a raw header announcing 4 GiB - 1 bytes through the fd,
  // then streams 256 MiB of body until the pipe breaks. Refused at the
  // header: nothing allocated, nothing of the body read.
  for (const [how, receive] of [
    ['async recv() on a read-only end', (c) => c.recv()],
    ['recvBytesSync() on a duplex end', (c) => Promise.resolve().then(() => c.recvBytesSync())],
  ]) {
    it(`a hostile peer announcing 4 GiB is refused at the header by maxMessageSize (${how})`, async function () {
      const duplex = how.includes('duplex');
      const [r, w] = Pipe(duplex, { maxMessageSize: MiB });
      const child = spawnNode(
        `import { writeSync } from 'node:fs';
         const h = Buffer.alloc(4); h.writeUInt32BE(0xffffffff);
         writeSync(3, h);
         const chunk = Buffer.alloc(1 << 20, 0x55);
         try {
           for (let i = 0; i < 256; i++) writeSync(3, chunk);
           process.exitCode = 1;  // all of it went through: the reader read it
         } catch (e) {
           process.exitCode = e.code === 'EPIPE' ? 3 : 2;
         }`,
        [w.fileno()],
      );
      w.close();
      const before = process.memoryUsage();
      const error = expectError(await rejection(receive(r)), 'ERR_MESSAGE_TOO_LONG', 'bad message length');
      const after = process.memoryUsage();
      expect([error.length, error.maxLength]).to.deep.equal([0xffffffff, MiB]);
      expect(after.arrayBuffers - before.arrayBuffers, 'bytes allocated for the message').to.be.below(16 * MiB);
      expect(after.rss - before.rss, 'RSS growth').to.be.below(64 * MiB);
      // Unusable after: the read-only end was closed, the duplex one reads no more.
      expect(r.closed).to.equal(!duplex);
      if (duplex) {
        expectError(thrown(() => r.recvBytesSync()), 'ERR_CONNECTION_WRITE_ONLY');
        r.close();
      }
      // The writer finds its reader gone before it could send the 256 MiB.
      expect(await reap(child)).to.equal(3);
    });
  }

  it('spawn start method: a Connection in args keeps the byte API and its maxMessageSize', async function () {
    const [mine, theirs] = Pipe(true, { maxMessageSize: 1024 });
    const p = new Process({
      target: async (conn) => {
        const buf = new Uint8Array(16);
        const n = await conn.recvBytesInto(buf, 4);
        conn.sendBytes(buf, 4, n);
        const tooLong = await conn.recvBytes().catch((e) => e.code);
        conn.send([conn.maxMessageSize, tooLong, conn.readable]);
        conn.close();
      },
      args: [theirs],
    });
    p.start();
    theirs.close();
    mine.sendBytes(Buffer.from('spawned'));
    expect(mine.recvBytesSync().toString()).to.equal('spawned');
    mine.sendBytes(Buffer.alloc(2000));
    expect(await mine.recv()).to.deep.equal([1024, 'ERR_MESSAGE_TOO_LONG', false]);
    await p.join(30);
    expect(p.exitCode).to.equal(0);
    mine.close();
    p.close();
  });
});
