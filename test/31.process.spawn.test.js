// Process with JS targets under the 'spawn' start method: the CPython
// lifecycle tests (Part A of the reference) translated, and
// what the child knows about itself and its parent.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { activeChildren, currentProcess, Pipe, Process, ProcessError } from '../dist/index.js';
import { ref } from './fixtures/process-targets.js';
import { UpperCaser, Anonymous, Renamed, Reporter } from './fixtures/process-subclass.js';
import { zombieChildren } from './helpers.js';
import { elapsedSince, startReporting } from './fixtures/spawn-children.js';

const SIGTERM = 15;

describe('31 Process, spawn start method', function () {
  this.timeout(60000);

  let tmp;
  before(function () {
    tmp = mkdtempSync(join(tmpdir(), 'pp-31-'));
  });
  after(function () {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('test_process: args, kwargs, name, authkey and pid reach the child; lifecycle states', async function () {
    const [r, w] = Pipe(false);
    const kwargs = { hello: 23, bye: 2.54 };
    const p = new Process({ target: ref('reportSelf'), args: [w, 1, 2], kwargs, name: 'SomeProcess' });
    p.daemon = true;
    const current = currentProcess();
    expect(p.authkey.equals(current.authkey)).to.equal(true);
    expect(p.isAlive()).to.equal(false);
    expect(p.daemon).to.equal(true);
    expect(activeChildren()).to.not.include(p);
    expect(p.exitCode).to.equal(null);

    p.start();
    w.close();
    expect(p.exitCode).to.equal(null);
    expect(p.isAlive()).to.equal(true);
    expect(activeChildren()).to.include(p);

    expect(await r.recv()).to.deep.equal([1, 2]);
    expect(await r.recv()).to.deep.equal(kwargs);
    expect(await r.recv()).to.equal('SomeProcess');
    expect(await r.recv()).to.equal(current.authkey.toString('hex'));
    expect(await r.recv()).to.equal(p.pid);

    await p.join();
    expect(p.exitCode).to.equal(0);
    expect(p.isAlive()).to.equal(false);
    expect(activeChildren()).to.not.include(p);
    r.close();
    p.close();
  });

  it('test_args_argument: values of several types arrive equal', async function () {
    for (const arg of [1, 'str', [1], { a: [1, { b: 2 }] }, new Map([[1, 2]]), Buffer.from('x'), null, 1n]) {
      const { p, r } = startReporting({ target: ref('sendArgs'), args: [arg], daemon: true });
      const [got] = await r.recv();
      if (Buffer.isBuffer(arg)) expect(Buffer.from(got).equals(arg)).to.equal(true);
      else expect(got).to.deep.equal(arg);
      await p.join();
      r.close();
      p.close();
    }
  });

  it('a large payload (4 MiB of args) reaches the child without blocking start()', async function () {
    const [r, w] = Pipe(false);
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    const p = new Process({ target: (conn, data) => conn.send([data.length, data[0], data[data.length - 1]]), args: [w, big] });
    const t0 = performance.now();
    p.start();
    expect(elapsedSince(t0)).to.be.lessThan(0.5);
    w.close();
    expect(await r.recv()).to.deep.equal([big.length, 7, 7]);
    await p.join();
    expect(p.exitCode).to.equal(0);
    r.close();
    p.close();
  });

  it('a target function travels by its source (kwargs last)', async function () {
    const [r, w] = Pipe(false);
    const p = new Process({
      target: async (conn, a, kw) => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        conn.send({ a, kw, t: typeof process.pid });
      },
      args: [w, 'x'],
      kwargs: { k: 1 },
    });
    p.start();
    w.close();
    expect(await r.recv()).to.deep.equal({ a: 'x', kw: { k: 1 }, t: 'number' });
    await p.join();
    expect(p.exitCode).to.equal(0);
    r.close();
    p.close();
  });

  it('the default export is used when export is omitted; a URL module works', async function () {
    const { p, r } = startReporting({ target: { module: new URL('./fixtures/process-targets.js', import.meta.url) } });
    expect(await r.recv()).to.equal('default export');
    await p.join();
    r.close();
    p.close();
  });

  it('test_parent_process_attributes: the child sees its name, identity, parent, /dev/null stdin', async function () {
    const { p, r } = startReporting({ target: ref('reportContext') });
    const seen = await r.recv();
    await p.join();
    expect(seen.name).to.equal(p.name);
    expect(seen.pid).to.equal(p.pid);
    expect(seen.ident).to.equal(p.pid);
    expect(seen.processPid).to.equal(p.pid);
    expect(seen.alive).to.equal(true);
    expect(seen.exitCode).to.equal(null);
    expect(seen.daemon).to.equal(false);
    expect(seen.authkey).to.equal(currentProcess().authkey.toString('hex'));
    expect(seen.parent).to.deep.equal({ pid: process.pid, name: 'MainProcess', alive: true, sentinel: 'number' });
    expect(seen.repr).to.equal(`<Process name='${p.name}' parent=${process.pid} started>`);
    expect(seen.children).to.equal(0);
    expect(seen.stdinIsDevNull).to.equal(true);
    r.close();
    p.close();
  });

  it('names in a child are Process-<child identity>:n (derived test C1)', async function () {
    const { p, r } = startReporting({ target: ref('childNames') });
    const [a, b, self] = await r.recv();
    const id = p.name.split('-')[1];
    expect(self).to.equal(p.name);
    expect([a, b]).to.deep.equal([`Process-${id}:1`, `Process-${id}:2`]);
    await p.join();
    r.close();
    p.close();
  });

  it('authkey: set before start, the child has it; by default the parent key', async function () {
    const [r, w] = Pipe(false);
    const p = new Process({ target: ref('reportContext'), args: [w] });
    p.authkey = Buffer.from('secret');
    p.start();
    w.close();
    expect((await r.recv()).authkey).to.equal(Buffer.from('secret').toString('hex'));
    await p.join();
    r.close();
    p.close();
  });

  it('a daemon child may not start children (ERR_DAEMON_CHILDREN); its daemon flag is true', async function () {
    const { p, r } = startReporting({ target: ref('tryToStartChild'), daemon: true });
    expect(await r.recv()).to.deep.equal({
      name: 'ProcessError',
      code: 'ERR_DAEMON_CHILDREN',
      message: 'daemonic processes are not allowed to have children',
    });
    await p.join();
    expect(p.exitCode).to.equal(0);
    r.close();
    p.close();
  });

  it('no target (test_set_executable shape): start, join, exitCode 0', async function () {
    const p = new Process();
    p.start();
    await p.join();
    expect(p.exitCode).to.equal(0);
    p.close();
  });

  it('test_close: close while running throws; after join it closes; a second close is fine', async function () {
    const [r, w] = Pipe();
    const p = new Process({ target: async (conn) => process.exit(await conn.recv()), args: [w], daemon: true });
    p.start();
    expect(p.isAlive()).to.equal(true);
    expect(() => p.close()).to.throw(ProcessError).with.property('code', 'ERR_PROCESS_RUNNING');
    r.send(0);
    await p.join();
    expect(p.isAlive()).to.equal(false);
    expect(p.exitCode).to.equal(0);
    p.close();
    expect(() => p.isAlive()).to.throw(ProcessError, 'process object is closed');
    expect(() => p.terminate()).to.throw(ProcessError, 'process object is closed');
    p.close();
    r.close();
    w.close();
  });

  it('test_active_children', async function () {
    expect(activeChildren()).to.be.an('array');
    const [r, w] = Pipe();
    const p = new Process({ target: async (conn) => conn.recv(), args: [w], daemon: true });
    expect(activeChildren()).to.not.include(p);
    p.start();
    expect(activeChildren()).to.include(p);
    r.send('go');
    await p.join();
    expect(activeChildren()).to.not.include(p);
    r.close();
    w.close();
    p.close();
  });

  it('test_many_processes (spawn, N=5): all exit 0; all SIGTERMed right after start give -15', async function () {
    const N = 5;
    let procs = Array.from({ length: N }, () => new Process({ target: () => new Promise((resolve) => setTimeout(resolve, 10)) }));
    for (const p of procs) p.start();
    for (const p of procs) await p.join(30);
    expect(procs.map((p) => p.exitCode)).to.deep.equal(Array(N).fill(0));
    procs.forEach((p) => p.close());

    procs = Array.from({ length: N }, () => new Process({ target: () => new Promise((resolve) => setTimeout(resolve, 100000)) }));
    for (const p of procs) p.start();
    await new Promise((resolve) => setTimeout(resolve, 1));
    for (const p of procs) p.terminate();
    for (const p of procs) await p.join(30);
    expect(procs.map((p) => p.exitCode)).to.deep.equal(Array(N).fill(-SIGTERM));
    procs.forEach((p) => p.close());
  });

  it('test_recursion: children start and join grandchildren, a Connection handed down two levels', async function () {
    const [r, w] = Pipe(false);
    const { rec } = await import('./fixtures/process-targets.js');
    rec(w, []);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const result = [];
    while (r.poll(0)) result.push(await r.recv());
    expect(result).to.deep.equal([[], [0], [0, 0], [0, 1], [1], [1, 0], [1, 1]]);
    r.close();
    w.close();
  });

  it('test_parent_process: a grandchild sees its parent alive, then dead', async function () {
    const { p, r } = startReporting({ target: ref('startGrandchildThenSleep') });
    expect(r.poll(300)).to.equal(true);
    expect(await r.recv()).to.equal('alive');
    p.terminate();
    await p.join();
    expect(p.exitCode).to.equal(-SIGTERM);
    expect(r.poll(300)).to.equal(true);
    expect(await r.recv()).to.equal('not alive');
    r.close();
    p.close();
  });

  it('parentProcess().join(t)/joinSync(t) return after about t while the parent lives; <= 0 polls', async function () {
    const { p, r } = startReporting({ target: ref('parentJoinTimeouts') });
    const seen = await r.recv();
    await p.join();
    expect(seen.sync).to.be.within(0.2, 3);
    expect(seen.async).to.be.within(0.2, 3);
    expect(seen.poll).to.be.lessThan(0.2);
    expect(seen.alive).to.equal(true);
    expect(seen.ident).to.equal(process.pid);
    expect(seen.repr).to.equal(`<_ParentProcess name='MainProcess' pid=${process.pid} parent=None started>`);
    r.close();
    p.close();
  });

  it('test_subclassing: run() override and instance state reach the child (static module)', async function () {
    const uc = new UpperCaser();
    uc.daemon = true;
    uc.start();
    expect(uc.parentConn.recvSync()).to.equal('state set before start');
    expect(uc.submit('hello')).to.equal('HELLO');
    expect(uc.submit('world')).to.equal('WORLD');
    uc.stop();
    await uc.join();
    expect(uc.exitCode).to.equal(0);
    uc.parentConn.close();
    uc.close();

    const renamed = new Renamed();
    renamed.start();
    await renamed.join();
    expect(renamed.exitCode).to.equal(42);
    renamed.close();
  });

  it("a subclass's module, imported in the child, already sees the child's name and authkey", async function () {
    const [r, w] = Pipe(false);
    const p = new Reporter({ name: 'Importer' });
    p.conn = w;
    p.authkey = Buffer.from('k');
    p.start();
    w.close();
    expect(await r.recv()).to.deep.equal({ name: 'Importer', authkey: Buffer.from('k').toString('hex') });
    await p.join();
    expect(p.exitCode).to.equal(0);
    r.close();
    p.close();
  });

  it('a subclass without static module, a native target or a method shorthand: ERR_TARGET_NOT_TRANSFERABLE at start()', function () {
    const anon = new Anonymous();
    expect(() => anon.start()).to.throw(ProcessError).with.property('code', 'ERR_TARGET_NOT_TRANSFERABLE');
    expect(anon.pid).to.equal(null);
    for (const target of [Math.max, (() => {}).bind(null), { run() {} }.run, class X {}]) {
      const p = new Process({ target });
      expect(() => p.start(), String(target)).to.throw(ProcessError).with.property('code', 'ERR_TARGET_NOT_TRANSFERABLE');
      expect(p.isAlive()).to.equal(false);
    }
  });

  it('args that cannot be cloned fail in the parent at start() and leave it unstarted', function () {
    const zombies = zombieChildren().length;
    for (const args of [[() => {}], [{ f: Symbol('s') }], [new WeakMap()]]) {
      const p = new Process({ target: () => {}, args });
      let caught;
      try {
        p.start();
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(ProcessError);
      expect(caught.code).to.equal('ERR_TARGET_NOT_TRANSFERABLE');
      expect(caught.message).to.contain('args');
      expect(p.pid).to.equal(null);
      expect(p.exitCode).to.equal(null);
    }
    const p = new Process({ target: () => {}, kwargs: { f: () => {} } });
    expect(() => p.start()).to.throw(ProcessError, /kwargs/);
    expect(zombieChildren().length).to.equal(zombies);
  });

  it('test_poll_eintr: a signal to the parent during join/joinSync does not break it', async function () {
    let got = 0;
    const onSignal = () => {
      got += 1;
    };
    process.on('SIGUSR1', onSignal);
    try {
      for (const mode of ['sync', 'async']) {
        const killer = new Process({
          target: (pid) => new Promise((resolve) => setTimeout(() => resolve(process.kill(pid, 'SIGUSR1')), 300)),
          args: [process.pid],
        });
        const p = new Process({ target: () => new Promise((resolve) => setTimeout(resolve, 1200)) });
        killer.start();
        p.start();
        if (mode === 'sync') p.joinSync();
        else await p.join();
        killer.joinSync();
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(p.exitCode).to.equal(0);
        expect(killer.exitCode).to.equal(0);
        killer.close();
        p.close();
      }
      expect(got).to.equal(2);
    } finally {
      process.off('SIGUSR1', onSignal);
    }
  });

  it("stdio 'pipe' works for a JS child: console.log arrives on p.stdout", async function () {
    const p = new Process({ target: () => console.log('from the child'), stdio: ['ignore', 'pipe', 'inherit'] });
    p.start();
    const chunks = [];
    p.stdout.on('data', (chunk) => chunks.push(chunk));
    await new Promise((resolve) => p.stdout.on('end', resolve));
    await p.join();
    expect(Buffer.concat(chunks).toString()).to.equal('from the child\n');
    expect(p.exitCode).to.equal(0);
    p.close();
  });

  it('env and cwd apply to a JS child too', async function () {
    const { p, r } = startReporting({
      target: (conn) => conn.send([process.env.PP_TEST, process.cwd()]),
      env: { ...process.env, PP_TEST: 'yes' },
      cwd: tmp,
    });
    expect(await r.recv()).to.deep.equal(['yes', tmp]);
    await p.join();
    r.close();
    p.close();
  });
});
