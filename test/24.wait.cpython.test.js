// CPython's TestWait (test_multiprocessing: test_wait, test_wait_timeout,
// test_wait_integer, test_neg_timeout) ported, for waitSync() and wait().
import { expect } from 'chai';
import { Pipe, posix, wait, waitSync } from '../dist/index.js';
import { watchedFdCount } from './internals.js';
import { expectNoLeaks, seconds } from './helpers.js';
import { spawnNode } from './nodechild.js';

const flavours = {
  waitSync: {
    wait: async (objects, timeout) => waitSync(objects, timeout),
    recv: async (conn) => conn.recvSync(),
  },
  'wait (async)': {
    wait: (objects, timeout) => wait(objects, timeout),
    recv: (conn) => conn.recv(),
  },
};


for (const [name, api] of Object.entries(flavours)) {
  describe(`24 ${name}: CPython TestWait`, function () {
    this.timeout(60000);
    expectNoLeaks(() => expect(watchedFdCount()).to.equal(0));

    for (const slow of [false, true]) {
      it(`test_wait${slow ? '_slow' : ''}: collects every message from 4 writers, a closed peer is ready`, async function () {
        const readers = [];
        const children = [];
        for (let k = 0; k < 4; k++) {
          const [r, w] = Pipe(false);
          children.push(
            spawnNode(
              `const w = new Connection(3, { readable: false });
               for (let i = 0; i < 10; i++) {
                 w.send([i, process.pid]);
                 if (${slow}) await new Promise((ok) => setTimeout(ok, Math.random() * 100));
               }
               w.close();`,
              [w.fileno()],
            ),
          );
          w.close();
          readers.push(r);
        }
        const messages = [];
        while (readers.length > 0) {
          for (const r of await api.wait(readers)) {
            try {
              messages.push(await api.recv(r));
            } catch (error) {
              if (error.code !== 'EOF') throw error;
              readers.splice(readers.indexOf(r), 1);
              r.close();
            }
          }
        }
        const expected = children.flatMap((c) => Array.from({ length: 10 }, (_, i) => [i, c.pid]));
        const order = (x, y) => x[1] - y[1] || x[0] - y[0];
        expect(messages.sort(order)).to.deep.equal(expected.sort(order));
        for (const c of children) {
          expect(posix.waitpidTimeout(c.pid, 20).exitCode).to.equal(0);
          posix.close(c.sentinel);
        }
      });
    }

    it('test_wait_timeout: [] after the timeout, then the ready connection', async function () {
      const [a, b] = Pipe();
      let t0 = performance.now();
      expect(await api.wait([a, b], 1.0)).to.deep.equal([]);
      const elapsed = seconds(t0);
      expect(elapsed).to.be.within(0.9, 5);
      b.send(null);
      t0 = performance.now();
      const ready = await api.wait([a, b], 20);
      expect(ready).to.have.lengthOf(1);
      expect(ready[0]).to.equal(a);
      expect(seconds(t0)).to.be.below(2);
      a.close();
      b.close();
    });

    it('test_wait_integer: a child sentinel (an int) mixed with connections', async function () {
      const [a, b] = Pipe();
      const child = posix.spawn('sleep', ['sleep', '1'], { searchPath: true });
      const sentinel = child.sentinel;
      expect(Number.isInteger(sentinel)).to.equal(true);
      let t0 = performance.now();
      expect(await api.wait([a, sentinel, b], 23)).to.deep.equal([sentinel]);
      expect(seconds(t0)).to.be.within(0.5, 10);

      a.send(null);
      t0 = performance.now();
      expect(await api.wait([a, sentinel, b], 20)).to.deep.equal([sentinel, b]);
      expect(seconds(t0)).to.be.below(1);

      b.send(null);
      t0 = performance.now();
      expect(await api.wait([a, sentinel, b], 20)).to.deep.equal([a, sentinel, b]);
      expect(seconds(t0)).to.be.below(1);

      expect(posix.waitpid(child.pid).exitCode).to.equal(0);
      // The sentinel stays ready after the child is reaped, until closed.
      expect(await api.wait([sentinel], 0)).to.deep.equal([sentinel]);
      posix.close(sentinel);
      a.close();
      b.close();
    });

    it('test_neg_timeout: a negative timeout polls and returns [] at once', async function () {
      const [a, b] = Pipe();
      const t0 = performance.now();
      expect(await api.wait([a], -1)).to.deep.equal([]);
      expect(await api.wait([a], -0.5)).to.deep.equal([]);
      expect(seconds(t0)).to.be.below(1);
      a.close();
      b.close();
    });
  });
}
