// Connections across real processes: node children spawned with posix.spawn
// get one end through the fd map (child fd 3) and rebuild it with
// new Connection(fd), as the spawn start method does.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { Pipe, wait } from '../dist/index.js';
import { binding, watchedFdCount } from './internals.js';
import { expectNoLeaks } from './helpers.js';
import { reap, spawnNode } from './nodechild.js';

function nonblocking(fd) {
  const flags = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))[1];
  return (parseInt(flags, 8) & 0o4000) !== 0;
}

describe('22 Connection: across processes', function () {
  this.timeout(60000);
  expectNoLeaks(() => expect(watchedFdCount()).to.equal(0));

  it('recvSync() blocks until a child writes', async function () {
    const [r, w] = Pipe(false);
    const child = spawnNode(
      `const w = new Connection(3, { readable: false });
       setTimeout(() => { w.send({ from: process.pid, at: Date.now() }); w.close(); }, 400);`,
      [w.fileno()],
    );
    w.close();
    const t0 = performance.now();
    const message = r.recvSync();
    const elapsed = (performance.now() - t0) / 1000;
    expect(message.from).to.equal(child.pid);
    expect(elapsed).to.be.within(0.25, 10);
    expect(() => r.recvSync()).to.throw().with.property('code', 'EOF');
    r.close();
    expect(await reap(child)).to.equal(0);
  });

  for (const duplex of [true, false]) {
    it(`moves 10 MB messages both ways (${duplex ? 'socketpair' : 'two pipes'}), each side reading asynchronously`, async function () {
      let mine;
      let theirs;
      let toClose;
      if (duplex) {
        const [a, b] = Pipe();
        mine = { send: a, recv: a };
        theirs = [b.fileno(), b.fileno()];
        toClose = [b];
      } else {
        const [r1, w1] = Pipe(false);
        const [r2, w2] = Pipe(false);
        mine = { send: w1, recv: r2 };
        theirs = [r1.fileno(), w2.fileno()];
        toClose = [r1, w2];
      }
      // The child echoes the message back with its length; its recv() is async.
      const child = spawnNode(
        `const rx = new Connection(3, { writable: ${duplex} });
         const tx = ${duplex} ? rx : new Connection(4, { readable: false });
         const m = await rx.recv();
         tx.send({ length: m.length, echo: m });
         rx.close(); if (tx !== rx) tx.close();`,
        duplex ? [theirs[0]] : theirs,
      );
      for (const c of toClose) c.close();
      const big = Buffer.alloc(10 * 1024 * 1024);
      for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
      // Blocks (in poll, EAGAIN-safe) while the child drains the pipe.
      mine.send.send(big);
      const reply = await mine.recv.recv();
      expect(reply.length).to.equal(big.length);
      expect(Buffer.compare(reply.echo, big)).to.equal(0);
      expect(await reap(child)).to.equal(0);
      mine.send.close();
      mine.recv.close();
    });
  }

  it('recvSync() reassembles a message written in pieces on an O_NONBLOCK fd (EAGAIN path)', async function () {
    const [r, w] = Pipe(false);
    // O_NONBLOCK, as another owner of the file description may set it (the
    // reactor sets it on an fd it reads).
    binding.reactorWatch(r.fileno(), true);
    binding.reactorUnwatch(r.fileno());
    expect(nonblocking(r.fileno())).to.equal(true);
    const child = spawnNode(
      `import { writeSync } from 'node:fs';
       import { serialize } from 'node:v8';
       const payload = serialize({ text: 'x'.repeat(200000), n: 42 });
       const header = Buffer.alloc(4); header.writeUInt32BE(payload.length);
       const frame = Buffer.concat([header, payload]);
       const cuts = [2, 4, 1000, 100000, frame.length];
       let at = 0;
       const next = () => {
         const end = cuts.shift();
         writeSync(3, frame, at, end - at); at = end;
         if (cuts.length) setTimeout(next, 60); else posix.close(3);
       };
       next();`,
      [w.fileno()],
    );
    w.close();
    const t0 = performance.now();
    const message = r.recvSync();
    expect(message.n).to.equal(42);
    expect(message.text.length).to.equal(200000);
    expect((performance.now() - t0) / 1000).to.be.within(0.15, 10);
    expect(() => r.recvSync()).to.throw().with.property('code', 'EOF');
    r.close();
    expect(await reap(child)).to.equal(0);
  });

  it('a duplex Connection handed to a child carries requests and replies; EOF when the child exits', async function () {
    const [mine, theirs] = Pipe();
    const child = spawnNode(
      `const c = new Connection(3);
       for (;;) {
         const s = c.recvSync();
         if (s === null) break;
         c.send(s.toUpperCase());
       }
       c.close();`,
      [theirs.fileno()],
    );
    theirs.close();
    mine.send('hello');
    expect(await mine.recv()).to.equal('HELLO');
    mine.send('world');
    expect(mine.recvSync()).to.equal('WORLD');
    mine.send(null);
    const eof = await mine.recv().catch((e) => e);
    expect(eof.code).to.equal('EOF');
    mine.close();
    expect(await reap(child)).to.equal(0);
  });

  it('never reads past a message: a child given the fd later gets the rest', async function () {
    const [r, w] = Pipe(false);
    const [back, backW] = Pipe(false);
    for (let i = 0; i < 4; i++) w.send({ i });
    w.close();
    expect(r.recvSync()).to.deep.equal({ i: 0 });
    expect(await r.recv()).to.deep.equal({ i: 1 });
    const child = spawnNode(
      `const r = new Connection(3, { writable: false });
       const out = new Connection(4, { readable: false });
       const got = [];
       for (;;) { try { got.push(r.recvSync()); } catch (e) { got.push(e.code); break; } }
       out.send(got);`,
      [r.fileno(), backW.fileno()],
    );
    r.close();
    backW.close();
    expect(await back.recv()).to.deep.equal([{ i: 2 }, { i: 3 }, 'EOF']);
    back.close();
    expect(await reap(child)).to.equal(0);
  });

  it('a child that dies mid-message leaves the reader with EOF, not a hang', async function () {
    const [r, w] = Pipe(false);
    const child = spawnNode(
      `import { writeSync } from 'node:fs';
       const h = Buffer.alloc(4); h.writeUInt32BE(1000);
       writeSync(3, h); writeSync(3, Buffer.alloc(10));
       process.kill(process.pid, 'SIGKILL');`,
      [w.fileno()],
    );
    w.close();
    const error = await r.recv().catch((e) => e);
    expect(error.code).to.equal('EOF');
    expect(error.message).to.equal('got end of file during message');
    r.close();
    expect(await reap(child)).to.equal(-9);
  });

  it('a child can rebuild a Connection from an inherited fd and check its direction', async function () {
    const [r, w] = Pipe(false);
    const child = spawnNode(
      `const c = new Connection(3, { writable: false });
       let code = 'none';
       try { c.send(1); } catch (e) { code = e.code; }
       process.exitCode = code === 'ERR_CONNECTION_READ_ONLY' ? 7 : 1;`,
      [r.fileno()],
    );
    r.close();
    w.close();
    expect(await reap(child)).to.equal(7);
  });
});
