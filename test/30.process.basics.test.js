// Process: construction, options checking, names, daemon, authkey, repr,
// and every misuse error of docs/api.md's table (Errors) (code and exact message).
import { expect } from 'chai';
import { inspect } from 'node:util';
import { activeChildren, currentProcess, parentProcess, Pipe, Process, ProcessError } from '../dist/index.js';
import { ref } from './fixtures/process-targets.js';

function expectProcessError(fn, code, message) {
  let caught;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected a throw').to.be.instanceOf(ProcessError);
  expect(caught.code).to.equal(code);
  expect(caught.message).to.equal(message);
}

async function expectRejection(promise, code, message) {
  let caught;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected a rejection').to.be.instanceOf(Error);
  expect(caught.code).to.equal(code);
  if (message !== undefined) expect(caught.message).to.equal(message);
}

// deref() keeps its target alive until the current job ends, so collect
// across jobs without looking in between.
async function collectGarbage(gc) {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  await new Promise((resolve) => setImmediate(resolve));
}

const CLOSED = ['ERR_PROCESS_CLOSED', 'process object is closed'];
const NOT_STARTED = ['ERR_PROCESS_NOT_STARTED', 'process not started'];

describe('30 Process basics', function () {
  describe('currentProcess() in the main process (test_current)', function () {
    it('is alive, not daemonic, has a 32-byte authkey, ident = pid, exitCode null', function () {
      const cur = currentProcess();
      expect(cur.isAlive()).to.equal(true);
      expect(cur.daemon).to.equal(false);
      expect(Buffer.isBuffer(cur.authkey)).to.equal(true);
      expect(cur.authkey.length).to.equal(32);
      expect(cur.ident).to.equal(process.pid);
      expect(cur.pid).to.equal(process.pid);
      expect(cur.exitCode).to.equal(null);
      expect(cur.name).to.equal('MainProcess');
      expect(currentProcess()).to.equal(cur);
    });

    it('has the CPython repr and no parent', function () {
      expect(String(currentProcess())).to.equal("<_MainProcess name='MainProcess' parent=None started>");
      expect(parentProcess()).to.equal(null);
    });

    it('cannot be joined, started or closed into a broken state', async function () {
      const cur = currentProcess();
      expectProcessError(() => cur.joinSync(), 'ERR_PROCESS_NOT_CHILD', 'can only join a child process');
      await expectRejection(cur.join(), 'ERR_PROCESS_NOT_CHILD', 'can only join a child process');
      expectProcessError(() => cur.start(), 'ERR_PROCESS_NOT_CHILD', 'can only start a process object created by current process');
      cur.close(); // a no-op, like CPython's _MainProcess.close()
      expect(cur.isAlive()).to.equal(true);
    });
  });

  describe('construction', function () {
    it('daemon defaults to currentProcess().daemon and takes true/false (test_daemon_argument)', function () {
      expect(new Process({ target: () => {} }).daemon).to.equal(false);
      expect(new Process({ target: () => {}, daemon: true }).daemon).to.equal(true);
      expect(new Process({ target: () => {}, daemon: false }).daemon).to.equal(false);
      expect(new Process().daemon).to.equal(false);
    });

    it('names Process-N, advancing on construction even if never started', function () {
      const a = new Process();
      const b = new Process();
      const n = Number(a.name.split('-')[1]);
      expect(a.name).to.match(/^Process-\d+$/);
      expect(b.name).to.equal(`Process-${n + 1}`);
      expect(new Process({ name: 'SomeProcess' }).name).to.equal('SomeProcess');
      // An empty name falls back to the default, as `name or default` does.
      expect(new Process({ name: '' }).name).to.equal(`Process-${n + 3}`);
      class Worker extends Process {}
      expect(new Worker().name).to.equal(`Worker-${n + 4}`);
    });

    it('inherits the authkey (a copy) and lets it be set before start', function () {
      const p = new Process();
      expect(p.authkey.equals(currentProcess().authkey)).to.equal(true);
      expect(p.authkey).to.not.equal(currentProcess().authkey);
      p.authkey = Buffer.from('secret');
      expect(p.authkey.toString()).to.equal('secret');
      p.authkey = new Uint8Array([1, 2, 3]);
      expect(Buffer.isBuffer(p.authkey)).to.equal(true);
      expect(() => {
        p.authkey = 'secret';
      }).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    });

    it('name is settable and must be a string', function () {
      const p = new Process();
      p.name = 'renamed';
      expect(p.name).to.equal('renamed');
      expect(() => {
        p.name = 3;
      }).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
      expect(() => {
        p.daemon = 'yes';
      }).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    });

    it('is not alive, not in activeChildren(), exitCode/pid null before start', function () {
      const p = new Process({ target: () => {} });
      expect(p.isAlive()).to.equal(false);
      expect(p.exitCode).to.equal(null);
      expect(p.signalCode).to.equal(null);
      expect(p.pid).to.equal(null);
      expect(p.ident).to.equal(null);
      expect(p.stdin).to.equal(null);
      expect(Array.isArray(activeChildren())).to.equal(true);
      expect(activeChildren()).to.not.include(p);
    });
  });

  describe('bad options', function () {
    const cases = [
      ['options', 5, TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['options', [], TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['target', 5, TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['target', 'fn', TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['target', { export: 'x' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['target', { module: 5 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['target', { module: '' }, RangeError, 'ERR_INVALID_ARG_VALUE'],
      ['target', { module: 'x', export: 5 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['args', 'abc', TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['args', { 0: 1 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['kwargs', [1], TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['kwargs', 3, TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['name', 3, TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['daemon', 1, TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['startMethod', 3, TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['startMethod', 'thread', RangeError, 'ERR_INVALID_ARG_VALUE'],
      ['executable', 3, TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['executable', '', RangeError, 'ERR_INVALID_ARG_VALUE'],
      ['env', 'A=1', TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['env', { A: 1 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['env', { 'A=B': 'x' }, RangeError, 'ERR_INVALID_ARG_VALUE'],
      ['cwd', 3, TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['stdio', 'loud', RangeError, 'ERR_INVALID_ARG_VALUE'],
      ['stdio', 3, TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['stdio', ['pipe', {}], TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['stdio', ['pipe', -1], RangeError, 'ERR_OUT_OF_RANGE'],
      ['stdio', ['pipe', 1.5], RangeError, 'ERR_OUT_OF_RANGE'],
      ['stdio', ['nope'], RangeError, 'ERR_INVALID_ARG_VALUE'],
    ];
    for (const [key, value, type, code] of cases) {
      it(`${key}: ${inspect(value)} -> ${type.name} ${code}`, function () {
        const options = key === 'options' ? value : { [key]: value };
        expect(() => new Process(options)).to.throw(type).with.property('code', code);
      });
    }

    it('executable excludes target and kwargs, and takes string args only', function () {
      expect(() => new Process({ executable: '/bin/true', target: () => {} })).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
      expect(() => new Process({ executable: '/bin/true', kwargs: {} })).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
      expect(() => new Process({ executable: '/bin/true', args: [1] })).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    });

    it('a failed construction does not advance the name counter', function () {
      const before = Number(new Process().name.split('-')[1]);
      expect(() => new Process({ args: 1 })).to.throw(TypeError);
      expect(new Process().name).to.equal(`Process-${before + 1}`);
    });

    it('bad join timeouts: TypeError thrown by joinSync, rejected by join', async function () {
      const p = new Process({ executable: '/bin/true' });
      p.start();
      expect(() => p.joinSync('1')).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
      expect(() => p.joinSync(NaN)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
      await expectRejection(p.join('1'), 'ERR_INVALID_ARG_TYPE');
      await p.join();
      p.close();
    });
  });

  describe('misuse errors (docs/api.md, Errors)', function () {
    it('before start: join -> NOT_STARTED, sentinel/terminate/kill/interrupt -> process not started', async function () {
      const p = new Process({ target: () => {} });
      expectProcessError(() => p.joinSync(), 'ERR_PROCESS_NOT_STARTED', 'can only join a started process');
      await expectRejection(p.join(), 'ERR_PROCESS_NOT_STARTED', 'can only join a started process');
      await expectRejection(p.join(1), 'ERR_PROCESS_NOT_STARTED', 'can only join a started process');
      expectProcessError(() => p.sentinel, ...NOT_STARTED);
      expectProcessError(() => p.terminate(), ...NOT_STARTED);
      expectProcessError(() => p.kill(), ...NOT_STARTED);
      expectProcessError(() => p.interrupt(), ...NOT_STARTED);
    });

    it('start twice; daemon after start; close while running', async function () {
      const p = new Process({ executable: '/bin/sleep', args: ['10'] });
      p.start();
      try {
        expectProcessError(() => p.start(), 'ERR_PROCESS_STARTED', 'cannot start a process twice');
        expectProcessError(
          () => {
            p.daemon = true;
          },
          'ERR_PROCESS_STARTED',
          'process has already started',
        );
        expectProcessError(
          () => p.close(),
          'ERR_PROCESS_RUNNING',
          'Cannot close a process while it is still running. You should first call join() or terminate().',
        );
        expect(p.isAlive()).to.equal(true);
      } finally {
        p.kill();
        await p.join();
        p.close();
      }
    });

    it('after close: everything but name, daemon, authkey, repr and close throws', async function () {
      const p = new Process({ executable: '/bin/true', name: 'closing' });
      p.start();
      await p.join();
      p.close();
      expectProcessError(() => p.isAlive(), ...CLOSED);
      expectProcessError(() => p.joinSync(), ...CLOSED);
      await expectRejection(p.join(), ...CLOSED);
      expectProcessError(() => p.start(), ...CLOSED);
      expectProcessError(() => p.terminate(), ...CLOSED);
      expectProcessError(() => p.kill(), ...CLOSED);
      expectProcessError(() => p.interrupt(), ...CLOSED);
      expectProcessError(() => p.exitCode, ...CLOSED);
      expectProcessError(() => p.pid, ...CLOSED);
      expectProcessError(() => p.ident, ...CLOSED);
      expectProcessError(() => p.sentinel, ...CLOSED);
      expect(p.name).to.equal('closing');
      expect(p.daemon).to.equal(false);
      expect(p.authkey.length).to.equal(32);
      expect(String(p)).to.equal(`<Process name='closing' parent=${process.pid} closed>`);
      p.close(); // idempotent
    });

    it('close() of a never-started process works and then everything throws', function () {
      const p = new Process();
      p.close();
      expectProcessError(() => p.start(), ...CLOSED);
      expect(String(p)).to.contain('closed');
    });
  });

  describe('repr (CPython 3.8+)', function () {
    it('walks initial -> started -> stopped exitcode=0, and shows daemon', async function () {
      const p = new Process({ executable: '/bin/sleep', args: ['0.2'], name: 'Process-1' });
      expect(String(p)).to.equal(`<Process name='Process-1' parent=${process.pid} initial>`);
      expect(inspect(p)).to.equal(String(p));
      p.start();
      expect(String(p)).to.equal(`<Process name='Process-1' pid=${p.pid} parent=${process.pid} started>`);
      await p.join();
      expect(String(p)).to.equal(`<Process name='Process-1' pid=${p.pid} parent=${process.pid} stopped exitcode=0>`);
      p.close();
    });

    it('stopped exitcode=-SIGKILL daemon; stopped exitcode=-SIGTERM; subclasses show their class name', async function () {
      const p = new Process({ executable: '/bin/sleep', args: ['10'], daemon: true, name: "it's" });
      p.start();
      expect(String(p)).to.equal(`<Process name="it's" pid=${p.pid} parent=${process.pid} started daemon>`);
      p.kill();
      await p.join();
      expect(String(p)).to.equal(`<Process name="it's" pid=${p.pid} parent=${process.pid} stopped exitcode=-SIGKILL daemon>`);
      class Sub extends Process {}
      const q = new Sub({ executable: '/bin/sleep', args: ['10'] });
      q.start();
      q.terminate();
      q.joinSync();
      expect(String(q)).to.equal(`<Sub name='${q.name}' pid=${q.pid} parent=${process.pid} stopped exitcode=-SIGTERM>`);
      expect(`${q}`).to.match(/^<Sub name='Sub-\d+'/);
      q.close();
      p.close();
    });

    it('exit codes above 0 print as numbers', async function () {
      const p = new Process({ executable: '/bin/sh', args: ['-c', 'exit 3'] });
      p.start();
      await p.join();
      expect(String(p)).to.match(/ stopped exitcode=3>$/);
      p.close();
    });
  });

  describe('start()', function () {
    it('drops its references to target, args and kwargs (test_lose_target_ref)', async function () {
      // Needs --expose-gc; enabled at run time for this check.
      const { setFlagsFromString } = await import('node:v8');
      const { runInNewContext } = await import('node:vm');
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc');
      const [r, w] = Pipe(false);
      let target = (conn) => conn.send(5);
      let big = { payload: new Array(10).fill('x') };
      const targetRef = new WeakRef(target);
      const argRef = new WeakRef(big);
      const p = new Process({ target, args: [w, big], kwargs: { big } });
      target = null;
      big = null;
      p.start();
      w.close();
      expect(await r.recv()).to.equal(5);
      await p.join();
      await collectGarbage(gc);
      expect(targetRef.deref()).to.equal(undefined);
      expect(argRef.deref()).to.equal(undefined);
      r.close();
      p.close();
    });

    it('a closed, dropped process is collectable (no cycles keep it)', async function () {
      const { setFlagsFromString } = await import('node:v8');
      const { runInNewContext } = await import('node:vm');
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc');
      let p = new Process({ executable: '/bin/true' });
      p.start();
      await p.join();
      p.close();
      const weak = new WeakRef(p);
      p = null;
      await collectGarbage(gc);
      expect(weak.deref()).to.equal(undefined);
    });

    it('a target reference must name a function export (exit 1 in the child otherwise)', async function () {
      const p = new Process({ target: ref('notAFunction'), stdio: ['ignore', 'ignore', 'ignore'] });
      p.start();
      await p.join();
      expect(p.exitCode).to.equal(1);
      p.close();
    });
  });
});
