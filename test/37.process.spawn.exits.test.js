// Process under the 'spawn' start method: exact exit codes and signals
// (CPython's _kill_process), sentinels and wait() over real children.
import { expect } from 'chai';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { activeChildren, Pipe, Process, ProcessError, wait, waitSync } from '../dist/index.js';
import { ref } from './fixtures/process-targets.js';
import { elapsedSince, exitCodeOf, startReporting, startSleeper } from './fixtures/spawn-children.js';

const SIGTERM = 15;
const SIGKILL = 9;
const SIGINT = 2;

describe('37 Process, spawn start method: exits, signals, sentinels', function () {
  this.timeout(60000);

  let tmp;
  before(function () {
    tmp = mkdtempSync(join(tmpdir(), 'pp-37-'));
  });
  after(function () {
    rmSync(tmp, { recursive: true, force: true });
  });

  describe('exit codes', function () {
    it('return -> 0, throw -> 1, rejection -> 1', async function () {
      expect(await exitCodeOf(() => 'ignored')).to.equal(0);
      expect(await exitCodeOf(() => {
        throw new Error('x');
      })).to.equal(1);
      expect(await exitCodeOf(() => Promise.reject(new Error('x')))).to.equal(1);
      expect(await exitCodeOf(() => {
        throw 'a string';
      })).to.equal(1);
    });

    it('process.exit(n) -> n & 0xff (test_sys_exit, Node semantics)', async function () {
      const table = [
        [[8], 8],
        [[], 0],
        [[undefined], 0],
        [[null], 0],
        [[0], 0],
        [[255], 255],
        [[256], 0],
        [[257], 1],
        [[-1], 255],
        [['3'], 3],
        // Node rejects these (ERR_INVALID_ARG_TYPE thrown in the target) -> 1
        [[true], 1],
        [[false], 1],
        [['ignore this'], 1],
        [[[1, 2, 3]], 1],
      ];
      const codes = await Promise.all(table.map(([args]) => exitCodeOf((...a) => process.exit(...a), args)));
      expect(codes).to.deep.equal(table.map(([, code]) => code));
    });

    it('a promise that never settles with nothing pending ends like a drained Node program', async function () {
      expect(await exitCodeOf(() => new Promise(() => {}))).to.equal(0);
      expect(await exitCodeOf(() => {
        process.exitCode = 4;
        return new Promise(() => {});
      })).to.equal(4);
    });

    it('process.exitCode = n -> n, after pending work', async function () {
      expect(await exitCodeOf(() => {
        process.exitCode = 5;
      })).to.equal(5);
      expect(await exitCodeOf(() => {
        setTimeout(() => {
          process.exitCode = 6;
        }, 50);
      })).to.equal(6);
    });

    it('a thrown error writes "Process <name>:" and the stack to stderr (test_stderr_flush)', async function () {
      const file = join(tmp, 'stderr.txt');
      const fd = openSync(file, 'w');
      const p = new Process({
        name: 'Flushing',
        target: function marker() {
          throw new Error('MARKER 1/0');
        },
        stdio: ['ignore', 'ignore', fd],
      });
      p.start();
      closeSync(fd);
      await p.join();
      expect(p.exitCode).to.equal(1);
      const text = readFileSync(file, 'utf8');
      expect(text.startsWith('Process Flushing:\n')).to.equal(true);
      expect(text).to.contain('Error: MARKER 1/0');
      expect(text).to.contain('at marker');
      p.close();
    });

    it('process.exit with a non-integer prints the reason (test_sys_exit part 1)', async function () {
      const file = join(tmp, 'exit.txt');
      const fd = openSync(file, 'w');
      const p = new Process({ target: (r) => process.exit(r), args: ['ignore this'], stdio: ['ignore', 'ignore', fd] });
      p.start();
      closeSync(fd);
      await p.join();
      expect(p.exitCode).to.equal(1);
      const text = readFileSync(file, 'utf8');
      expect(text).to.contain(`Process ${p.name}:`);
      expect(text).to.contain('ignore this');
      p.close();
    });

    it('a target that closes over outer variables fails in the child with ReferenceError -> 1', async function () {
      const outer = 41;
      const file = join(tmp, 'ref.txt');
      const fd = openSync(file, 'w');
      const p = new Process({ target: () => outer + 1, stdio: ['ignore', 'ignore', fd] });
      p.start();
      closeSync(fd);
      await p.join();
      expect(p.exitCode).to.equal(1);
      expect(readFileSync(file, 'utf8')).to.contain('ReferenceError: outer is not defined');
      p.close();
    });

    it('an uncaught exception after run() returned -> 1 with the process name', async function () {
      const file = join(tmp, 'late.txt');
      const fd = openSync(file, 'w');
      const p = new Process({
        name: 'Late',
        target: () => {
          setTimeout(() => {
            throw new Error('late failure');
          }, 10);
        },
        stdio: ['ignore', 'ignore', fd],
      });
      p.start();
      closeSync(fd);
      await p.join();
      expect(p.exitCode).to.equal(1);
      const text = readFileSync(file, 'utf8');
      expect(text).to.contain('Process Late:');
      expect(text).to.contain('late failure');
      p.close();
    });

    it('the child finishes its own pending work before exiting (test_wait_for_threads)', async function () {
      const [r, w] = Pipe(false);
      const t0 = performance.now();
      const p = new Process({
        target: (conn) => {
          setTimeout(() => conn.send('timer ran'), 500);
        },
        args: [w],
      });
      p.start();
      w.close();
      await p.join();
      expect(elapsedSince(t0)).to.be.greaterThan(0.45);
      expect(p.exitCode).to.equal(0);
      expect(r.poll(0)).to.equal(true);
      expect(await r.recv()).to.equal('timer ran');
      r.close();
      p.close();
    });
  });

  describe('signals (_kill_process)', function () {
    async function killWith(method) {
      const p = await startSleeper();
      expect(p.isAlive()).to.equal(true);
      expect(activeChildren()).to.include(p);
      expect(p.exitCode).to.equal(null);
      let t0 = performance.now();
      await p.join(0);
      expect(elapsedSince(t0)).to.be.lessThan(0.2);
      expect(p.isAlive()).to.equal(true);
      t0 = performance.now();
      await p.join(-1);
      p.joinSync(0);
      p.joinSync(-1);
      expect(elapsedSince(t0)).to.be.lessThan(0.2);
      expect(p.isAlive()).to.equal(true);
      p[method]();
      await p.join();
      expect(p.isAlive()).to.equal(false);
      expect(activeChildren()).to.not.include(p);
      await p.join();
      p.joinSync();
      const code = p.exitCode;
      const signal = p.signalCode;
      p.close();
      return [code, signal];
    }

    it('terminate() -> -SIGTERM', async function () {
      expect(await killWith('terminate')).to.deep.equal([-SIGTERM, 'SIGTERM']);
    });

    it('kill() -> -SIGKILL', async function () {
      expect(await killWith('kill')).to.deep.equal([-SIGKILL, 'SIGKILL']);
    });

    it('interrupt() -> -SIGINT (Node has no KeyboardInterrupt: SIGINT kills unless handled)', async function () {
      expect(await killWith('interrupt')).to.deep.equal([-SIGINT, 'SIGINT']);
    });

    it('a child that handles SIGINT decides its own exit code', async function () {
      const [r, w] = Pipe(false);
      const p = new Process({
        target: (conn) => {
          process.on('SIGINT', () => process.exit(1));
          conn.send('ready');
          setTimeout(() => {}, 100000);
        },
        args: [w],
      });
      p.start();
      w.close();
      await r.recv();
      p.interrupt();
      await p.join();
      expect(p.exitCode).to.equal(1);
      r.close();
      p.close();
    });

    it('join(0.5) returns after about 0.5 s with the child alive (derived test C8)', async function () {
      const p = await startSleeper();
      let t0 = performance.now();
      await p.join(0.5);
      let elapsed = elapsedSince(t0);
      expect(elapsed).to.be.within(0.3, 3);
      expect(p.isAlive()).to.equal(true);
      expect(p.exitCode).to.equal(null);
      t0 = performance.now();
      p.joinSync(0.5);
      elapsed = elapsedSince(t0);
      expect(elapsed).to.be.within(0.3, 3);
      expect(p.exitCode).to.equal(null);
      p.terminate();
      await p.join();
      expect(p.exitCode).to.equal(-SIGTERM);
      p.close();
    });

    it('terminate() and kill() of an exited child are no-ops', async function () {
      const p = new Process({ target: () => {} });
      p.start();
      await p.join();
      p.terminate();
      p.kill();
      p.interrupt();
      expect(p.exitCode).to.equal(0);
      p.close();
    });

    it('exitCode changes without join, and a later join is instant (derived test C9)', async function () {
      const p = new Process({ executable: '/bin/sleep', args: ['0.2'] });
      p.start();
      const t0 = performance.now();
      while (p.exitCode === null) {
        if (elapsedSince(t0) > 10) throw new Error('child did not exit');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const t1 = performance.now();
      p.joinSync();
      await p.join();
      expect(elapsedSince(t1)).to.be.lessThan(0.1);
      p.close();
    });
  });

  describe('sentinel and wait()', function () {
    it('test_sentinel: not started throws; an integer; not ready while running; stays ready after join', async function () {
      const p = new Process({ target: ref('readyThenSleep'), args: [] });
      expect(() => p.sentinel).to.throw(ProcessError, 'process not started');
      const { p: q, r } = startReporting({ target: ref('readyThenSleep'), daemon: true });
      await r.recv();
      expect(Number.isInteger(q.sentinel)).to.equal(true);
      expect(waitSync([q.sentinel], 0)).to.deep.equal([]);
      expect(await wait([q.sentinel], 0)).to.deep.equal([]);
      q.terminate();
      await q.join();
      expect(waitSync([q.sentinel], 1)).to.deep.equal([q.sentinel]);
      expect(await wait([q.sentinel], 1)).to.deep.equal([q.sentinel]);
      expect(waitSync([q], 1)).to.deep.equal([q]);
      r.close();
      q.close();
    });

    it('test_wait_timeout / test_neg_timeout with a running Process: [] after the timeout, at once when negative', async function () {
      const p = await startSleeper();
      let t0 = performance.now();
      expect(await wait([p], 1)).to.deep.equal([]);
      expect(elapsedSince(t0)).to.be.within(0.9, 4);
      t0 = performance.now();
      expect(waitSync([p, p.sentinel], 0.5)).to.deep.equal([]);
      expect(elapsedSince(t0)).to.be.within(0.4, 3);
      t0 = performance.now();
      expect(await wait([p], -1)).to.deep.equal([]);
      expect(waitSync([p], -1)).to.deep.equal([]);
      expect(elapsedSince(t0)).to.be.lessThan(0.5);
      p.kill();
      expect(await wait([p], 20)).to.deep.equal([p]);
      await p.join();
      expect(p.exitCode).to.equal(-SIGKILL);
      p.close();
    });

    it('test_wait_integer: a Process and its sentinel in wait() next to Connections', async function () {
      const [a, b] = Pipe();
      const p = new Process({ target: () => new Promise((resolve) => setTimeout(resolve, 1500)) });
      let t0 = performance.now();
      p.start();
      let res = await wait([a, p.sentinel, b], 23);
      expect(res).to.deep.equal([p.sentinel]);
      expect(elapsedSince(t0)).to.be.within(1, 6);
      t0 = performance.now();
      a.send(null);
      res = await wait([a, p, b], 20);
      expect(new Set(res)).to.deep.equal(new Set([p, b]));
      expect(elapsedSince(t0)).to.be.lessThan(0.4);
      b.send(null);
      res = waitSync([a, p, b], 20);
      expect(new Set(res)).to.deep.equal(new Set([a, p, b]));
      p.terminate();
      await p.join();
      expect(p.exitCode).to.equal(0);
      a.close();
      b.close();
      p.close();
    });
  });
});
