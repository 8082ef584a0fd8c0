// The Connection byte API across the fork start method: the child's copy
// keeps sendBytes/recvBytes/recvBytesInto and its maxMessageSize, and a
// message its parent began to read stays bound by the child's own limit.
import { writeSync } from 'node:fs';
import { serialize } from 'node:v8';
import { expect } from 'chai';
import { Pipe, Process, posix, wait } from '../../dist/index.js';
import { fdCount, zombieChildren } from '../helpers.js';

describe('55 Connection byte API with startMethod fork', function () {
  this.timeout(60000);
  let fds;
  before(async () => {
    // The first start() opens fds the package keeps (a self-pipe, /dev/null): not a leak.
    const p = new Process({ startMethod: 'fork', target: () => {} });
    p.start();
    await p.join(10);
    p.close();
  });
  beforeEach(() => {
    fds = fdCount();
  });
  afterEach(() => {
    expect(fdCount(), 'fd leak').to.equal(fds);
    expect(zombieChildren()).to.deep.equal([]);
  });

  it('the child\'s copy keeps the byte API and the maxMessageSize cap', async () => {
    const [mine, theirs] = Pipe(true, { maxMessageSize: 1024 });
    const p = new Process({
      startMethod: 'fork',
      target: async () => {
        mine.close();
        const buf = new Uint8Array(16);
        const n = await theirs.recvBytesInto(buf, 4);
        theirs.sendBytes(buf, 4, n);
        const into = Buffer.alloc(8);
        const n2 = theirs.recvBytesIntoSync(into);
        theirs.sendBytes(into.subarray(0, n2).reverse());
        const tooLong = await theirs.recvBytes().catch((e) => e.code);
        theirs.send([theirs.maxMessageSize, tooLong, theirs.readable]);
        theirs.close();
      },
    });
    p.start();
    theirs.close();
    mine.sendBytes(Buffer.from('forked'));
    expect((await mine.recvBytes()).toString()).to.equal('forked');
    mine.sendBytes(Buffer.from('abc'));
    expect(mine.recvBytesSync().toString()).to.equal('cba');
    mine.sendBytes(Buffer.alloc(2000));
    expect(await mine.recv()).to.deep.equal([1024, 'ERR_MESSAGE_TOO_LONG', false]);
    await p.join(10);
    expect(p.exitCode).to.equal(0);
    mine.close();
    p.close();
  });

  it('a message the parent began to read (header taken) is refused by a child receive with a smaller limit', async () => {
    const [a, b] = Pipe();
    const [reportR, reportW] = Pipe(false);
    const payload = serialize('y'.repeat(96));
    expect(payload.length).to.equal(100);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(payload.length);
    // The parent's pending recv() reads the header and the first 10 bytes...
    const pending = b.recv();
    writeSync(a.fileno(), Buffer.concat([head, payload.subarray(0, 10)]));
    const deadline = Date.now() + 10000;
    while (posix.poll([{ fd: b.fileno(), events: posix.POLLIN }], 0)[0] !== 0) {
      expect(Date.now(), 'the parent never read the start of the message').to.be.below(deadline);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // ...then forks: the child's recvBytes(50) must refuse the 100-byte
    // message it is in the middle of, not wait for the rest and take it.
    const p = new Process({
      startMethod: 'fork',
      target: () => {
        let outcome;
        try {
          outcome = b.recvBytesSync(50).length;
        } catch (error) {
          outcome = [error.code, error.length, error.maxLength, b.readable];
        }
        reportW.send(outcome);
      },
    });
    p.start();
    reportW.close();
    const ready = await wait([reportR], 10);
    if (ready.length === 0) {
      p.kill(); // leave no stray child behind a failure
      await p.join(10);
    }
    expect(ready, 'the child hangs on the rest of the message').to.deep.equal([reportR]);
    expect(reportR.recvSync()).to.deep.equal(['ERR_MESSAGE_TOO_LONG', 100, 50, false]);
    await p.join(10);
    expect(p.exitCode).to.equal(0);
    // The child read nothing: the parent gets the whole message.
    writeSync(a.fileno(), payload.subarray(10));
    expect(await pending).to.equal('y'.repeat(96));
    for (const c of [a, b, reportR]) c.close();
    p.close();
  });
});
