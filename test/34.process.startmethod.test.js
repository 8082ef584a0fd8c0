// Start methods (setStartMethod/getStartMethod/getAllStartMethods), cpuCount,
// and which node options a spawned child inherits.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import {
  cpuCount,
  getAllStartMethods,
  getStartMethod,
  Process,
  ProcessError,
  setStartMethod,
} from '../dist/index.js';
import { childExecArgv } from './internals.js';

const DIST = new URL('../dist/index.js', import.meta.url).href;

describe('34 start methods', function () {
  this.timeout(60000);

  afterEach(function () {
    setStartMethod(null, { force: true });
  });

  it("defaults to 'forkserver' on Linux (as CPython 3.14); getAllStartMethods() lists only what works here, default first", function () {
    expect(getStartMethod()).to.equal('forkserver');
    const all = getAllStartMethods();
    // forkserver works from a plain node (its server runs single-threaded).
    expect(all).to.deep.equal(['forkserver', 'spawn']);
    // This suite runs without --single-threaded: fork cannot be made safe.
    expect(all).to.not.include('fork');
  });

  it("setStartMethod: once, then only with { force: true }", function () {
    setStartMethod('spawn');
    expect(getStartMethod()).to.equal('spawn');
    expect(() => setStartMethod('spawn'))
      .to.throw(ProcessError, 'context has already been set (pass { force: true } to change it)')
      .that.includes({ code: 'ERR_START_METHOD_SET' });
    setStartMethod('spawn', { force: true });
    setStartMethod(null, { force: true });
    expect(getStartMethod()).to.equal('forkserver');
  });

  it("setStartMethod('forkserver') works without flags; 'fork' here -> ERR_FORK_UNSAFE", function () {
    setStartMethod('forkserver');
    expect(getStartMethod()).to.equal('forkserver');
    setStartMethod(null, { force: true });
    let caught;
    try {
      setStartMethod('fork');
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(ProcessError);
    expect(caught.code).to.equal('ERR_FORK_UNSAFE');
    expect(caught.message).to.contain('--single-threaded');
    expect(getStartMethod()).to.equal('forkserver');
  });

  it('bad arguments', function () {
    expect(() => setStartMethod('thread')).to.throw(RangeError).that.includes({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(() => setStartMethod(3)).to.throw(TypeError).that.includes({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(() => setStartMethod('spawn', 'force')).to.throw(TypeError).that.includes({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(() => setStartMethod('spawn', { force: 1 })).to.throw(TypeError).that.includes({ code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('a Process with an unusable start method fails at start() and stays unstarted', function () {
    for (const [startMethod, code] of [['fork', 'ERR_FORK_UNSAFE']]) {
      const p = new Process({ target: () => {}, startMethod });
      expect(() => p.start()).to.throw(ProcessError).that.includes({ code });
      expect(p.pid).to.equal(null);
      expect(p.isAlive()).to.equal(false);
    }
  });

  it('cpuCount() is os.availableParallelism(), an integer >= 1', function () {
    expect(cpuCount()).to.equal(availableParallelism());
    expect(Number.isInteger(cpuCount())).to.equal(true);
    expect(cpuCount()).to.be.at.least(1);
  });

  it("under --single-threaded: 'fork' is listed and setStartMethod('fork') makes it the default", function () {
    const source = `
      import { getAllStartMethods, getStartMethod, setStartMethod, Pipe, Process } from ${JSON.stringify(DIST)};
      const [r, w] = Pipe(false);
      const closure = { value: 41 };
      setStartMethod('fork');
      const p = new Process({ target: () => w.send([closure.value + 1, process.pid]) });
      p.start();
      const [value, pid] = await r.recv();
      await p.join();
      console.log(JSON.stringify({ all: getAllStartMethods(), method: getStartMethod(), value, same: pid === p.pid, code: p.exitCode }));
    `;
    const r = spawnSync(process.execPath, ['--single-threaded', '--input-type=module', '-e', source], { encoding: 'utf8', timeout: 30000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal({ all: ['forkserver', 'spawn', 'fork'], method: 'fork', value: 42, same: true, code: 0 });
  });

  describe('node options of a spawned child', function () {
    it('drops program source, debugger, test runner, watch and env-file options; keeps the rest', function () {
      expect(
        childExecArgv([
          '--stack-trace-limit=7', '-e', 'code', '--input-type=module', '--inspect', '--inspect-brk=0',
          '--inspect-port', '9230', '--import', 'tsx', '-r', './hook.cjs', '--test', '--test-reporter', 'spec',
          '--test-only', '--experimental-test-coverage', '--watch', '--watch-path', 'src', '--env-file=.env',
          '--single-threaded', '-p', '1+1', '--print=2', '--eval=3', '--max-old-space-size=100', '--run', 'x',
          '--check', '-i', '--expose-gc', '--no-warnings', '--conditions=dev',
        ]),
      ).to.deep.equal([
        '--stack-trace-limit=7', '--import', 'tsx', '-r', './hook.cjs', '--single-threaded',
        '--max-old-space-size=100', '--expose-gc', '--no-warnings', '--conditions=dev',
      ]);
      expect(childExecArgv([])).to.deep.equal([]);
      expect(childExecArgv(['--input-type', 'module'])).to.deep.equal([]);
    });

    it('a spawn or forkserver child of `node --stack-trace-limit=7 --input-type=module -e ...` gets --stack-trace-limit=7 only', function () {
      const source = `
        import { Pipe, Process } from ${JSON.stringify(DIST)};
        const [r, w] = Pipe(false);
        const p = new Process({ target: (conn) => conn.send(process.execArgv), args: [w], startMethod: process.argv[1] });
        p.start();
        w.close();
        console.log(JSON.stringify(await r.recv()));
        await p.join();
        console.log(p.exitCode);
      `;
      // A forkserver child shows what a spawn child would, not its server's flags.
      for (const method of ['spawn', 'forkserver']) {
        const r = spawnSync(process.execPath, ['--stack-trace-limit=7', '--input-type=module', '-e', source, method], {
          encoding: 'utf8',
          timeout: 30000,
        });
        expect(r.status, r.stderr).to.equal(0);
        expect(r.stdout, method).to.equal('["--stack-trace-limit=7"]\n0\n');
      }
    });
  });
});
