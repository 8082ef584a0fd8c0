// wait()/waitSync(): what counts as an object and as ready, argument
// errors (async ones reject), and the async version's bookkeeping.
import { expect } from 'chai';
import { Pipe, ProcessError, posix, wait, waitSync } from '../dist/index.js';
import { watchedFdCount } from './internals.js';
import { fdCount, openFds, rejection, seconds, zombieChildren } from './helpers.js';



function notStarted() {
  return {
    get sentinel() {
      throw new ProcessError('ERR_PROCESS_NOT_STARTED', 'process not started');
    },
  };
}

describe('25 wait objects and readiness', function () {
  let fds;
  let watchedBefore;
  let open;
  before(async function () {
    // Warm up whatever Node opens lazily on first use, so fd counts compare like with like.
    const [a, b] = Pipe();
    await wait([a], 0.01);
    a.close();
    b.close();
  });
  beforeEach(function () {
    fds = fdCount();
    watchedBefore = watchedFdCount(); // an earlier test file's forkserver, if any
    open = [];
  });
  /** Fds the reactor watches beyond those watched before this test. */
  const watching = () => watchedFdCount() - watchedBefore;
  afterEach(function () {
    for (const c of open) c.close();
    expect(fdCount(), `fd leak: ${JSON.stringify(openFds())}`).to.equal(fds);
    expect(watching()).to.equal(0);
    expect(zombieChildren()).to.deep.equal([]);
  });
  const pipe = (duplex) => {
    const pair = Pipe(duplex);
    open.push(...pair);
    return pair;
  };

  for (const [name, call] of [
    ['waitSync', async (o, t) => waitSync(o, t)],
    ['wait', (o, t) => wait(o, t)],
  ]) {
    describe(name, function () {
      it('accepts fd numbers, objects with fileno() and objects with a sentinel, returning those objects in input order', async function () {
        const [a, b] = pipe();
        const [c, d] = pipe();
        const byFileno = { fileno: () => d.fileno() };
        const bySentinel = { sentinel: b.fileno() };
        expect(await call([a.fileno(), byFileno, bySentinel, a], 0)).to.deep.equal([]);
        a.send(1);
        c.send(2);
        const ready = await call([a, byFileno, bySentinel, b.fileno(), c], 5);
        expect(ready).to.have.lengthOf(3);
        expect(ready[0]).to.equal(byFileno);
        expect(ready[1]).to.equal(bySentinel);
        expect(ready[2]).to.equal(b.fileno());
      });

      it('counts a closed peer (EOF) and a closed fd (POLLNVAL) as ready', async function () {
        const [r, w] = Pipe(false);
        open.push(r);
        expect(await call([r], 0)).to.deep.equal([]);
        w.close();
        expect(await call([r], 5)).to.deep.equal([r]);
        const [x, y] = posix.pipe();
        posix.close(x);
        posix.close(y);
        expect(await call([x], 0)).to.deep.equal([x]);
      });

      it('sees a running child sentinel as not ready, and ready once the child is killed', async function () {
        const child = posix.spawn('sleep', ['sleep', '30'], { searchPath: true });
        const proc = { sentinel: child.sentinel };
        expect(await call([proc], 0.1)).to.deep.equal([]);
        posix.kill(child.pid, 'SIGKILL');
        expect(await call([proc], 20)).to.deep.equal([proc]);
        expect(posix.waitpid(child.pid).exitCode).to.equal(-9);
        posix.close(child.sentinel);
      });

      it('waits out the timeout on an empty list', async function () {
        const t0 = performance.now();
        expect(await call([], 0.2)).to.deep.equal([]);
        expect(seconds(t0)).to.be.within(0.15, 3);
      });

      it('lets a sentinel getter error surface', async function () {
        const [a] = pipe();
        const error = await rejection(call([a, notStarted()], 0));
        expect(error).to.be.instanceOf(ProcessError);
        expect(error.code).to.equal('ERR_PROCESS_NOT_STARTED');
      });

      it('rejects a closed Connection with ERR_CONNECTION_CLOSED', async function () {
        const [a, b] = Pipe();
        open.push(b);
        a.close();
        expect((await rejection(call([a], 0))).code).to.equal('ERR_CONNECTION_CLOSED');
      });

      it('checks its arguments', async function () {
        const [a] = pipe();
        const cases = [
          [['not an array'], 'ERR_INVALID_ARG_TYPE', TypeError],
          [[a.fileno()], 'ERR_INVALID_ARG_TYPE', TypeError],
          [[['3']], 'ERR_INVALID_ARG_TYPE', TypeError],
          [[[null]], 'ERR_INVALID_ARG_TYPE', TypeError],
          [[[{}]], 'ERR_INVALID_ARG_TYPE', TypeError],
          [[[-1]], 'ERR_OUT_OF_RANGE', RangeError],
          [[[1.5]], 'ERR_OUT_OF_RANGE', RangeError],
          [[[{ fileno: () => 'x' }]], 'ERR_INVALID_ARG_TYPE', TypeError],
          [[[{ sentinel: -3 }]], 'ERR_OUT_OF_RANGE', RangeError],
          [[[a], '1'], 'ERR_INVALID_ARG_TYPE', TypeError],
          [[[a], NaN], 'ERR_OUT_OF_RANGE', RangeError],
        ];
        for (const [args, code, type] of cases) {
          const error = await rejection(call(...args));
          expect(error, JSON.stringify(args)).to.be.instanceOf(type);
          expect(error.code, JSON.stringify(args)).to.equal(code);
        }
        const e = await rejection(call([a, 'x'], 0));
        expect(e.message).to.match(/"objects\[1\]"/);
      });
    });
  }

  describe('wait (async) specifics', function () {
    it('reports every error by rejecting, never by throwing', function () {
      for (const args of [['x'], [[{}]], [[1], 'x'], [[notStarted()]]]) {
        let promise;
        expect(() => {
          promise = wait(...args);
        }).to.not.throw();
        expect(promise).to.be.instanceOf(Promise);
        promise.catch(() => {});
      }
    });

    it('resolves at once when something is ready, leaving no poll handle or timer behind', async function () {
      const [a, b] = pipe();
      b.send('x');
      const t0 = performance.now();
      expect(await wait([a, b], 30)).to.deep.equal([a]);
      expect(seconds(t0)).to.be.below(0.5);
      expect(watching()).to.equal(0);
    });

    it('does not block the event loop while waiting, and cancels its subscriptions when done', async function () {
      const [a, b] = pipe();
      const [c, d] = pipe();
      let ticks = 0;
      const interval = setInterval(() => ticks++, 20);
      const pending = wait([a, c], null);
      await new Promise((ok) => setTimeout(ok, 200));
      expect(watching()).to.equal(2);
      b.send('wake');
      const ready = await pending;
      clearInterval(interval);
      expect(ready).to.deep.equal([a]);
      expect(ticks).to.be.at.least(3);
      expect(watching()).to.equal(0);
      expect(d.poll()).to.equal(false);
    });

    it('cancels its subscriptions after a timeout', async function () {
      const [a] = pipe();
      expect(await wait([a, a.fileno()], 0.1)).to.deep.equal([]);
      expect(watching()).to.equal(0);
    });

    it('keeps waiting when a recv() takes the message it woke for', async function () {
      const [a, b] = pipe();
      const got = a.recv();
      const waiting = wait([a], 0.6);
      b.send('taken by recv');
      expect(await got).to.equal('taken by recv');
      const t0 = performance.now();
      expect(await waiting).to.deep.equal([]);
      expect(seconds(t0)).to.be.within(0.2, 3);
    });

    it('resolves on data with a huge timeout', async function () {
      const [a, b] = pipe();
      setTimeout(() => b.send(1), 50);
      expect(await wait([a], 1e9)).to.deep.equal([a]);
    });

    it('many concurrent waits on the same fd all resolve', async function () {
      const [a, b] = pipe();
      const waits = Array.from({ length: 5 }, () => wait([a], 10));
      setTimeout(() => b.send(1), 30);
      for (const w of await Promise.all(waits)) expect(w).to.deep.equal([a]);
    });
  });
});
