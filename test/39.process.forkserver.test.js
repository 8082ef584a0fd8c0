// The 'forkserver' start method: targets, args, exit codes, signals, stdio,
// Connections, the child's view of itself and its parent, preload, faults
// (a killed server, garbage on its socket), load (200 children), worker
// threads. Scenarios that need a server of their own run in a fresh node
// (fixtures/forkserver-script.js).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { currentProcess, getAllStartMethods, Pipe, posix, Process, ProcessError } from '../dist/index.js';
import { ref } from './fixtures/process-targets.js';
import { fdCount, rejection, zombieChildren } from './helpers.js';
import { childExecArgv, FORKSERVER_MAIN, forkserverPid, requestBody, requestRecords } from './internals.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/forkserver-script.js', import.meta.url));
const DIST = new URL('../dist/index.js', import.meta.url).href;

function fs(options) {
  return new Process({ startMethod: 'forkserver', ...options });
}

async function exitCodeOf(target, args = [], options = {}) {
  const p = fs({ target, args, stdio: ['ignore', 'ignore', 'ignore'], ...options });
  p.start();
  await p.join(30);
  const code = p.exitCode;
  p.close();
  return code;
}

function runScenario(...args) {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', timeout: 60000 });
  expect(r.status, r.stderr).to.equal(0);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

describe('39 Process, forkserver start method', function () {
  this.timeout(60000);

  let tmp;
  before(function () {
    tmp = mkdtempSync(join(tmpdir(), 'pp-39-'));
  });
  after(function () {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('is listed from a plain node, and its server starts at the first start(), not at import', function () {
    expect(getAllStartMethods()).to.include('forkserver');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
      import { getAllStartMethods } from ${JSON.stringify(DIST)};
      import { forkserverPid } from ${JSON.stringify(new URL('./internals.js', import.meta.url).href)};
      console.log(JSON.stringify([getAllStartMethods(), forkserverPid()]));
    `], { encoding: 'utf8', timeout: 30000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal([['forkserver', 'spawn'], null]);
  });

  it('target by module reference, args and kwargs, name, authkey and pid (test_process)', async function () {
    const [r, w] = Pipe(false);
    const p = fs({ target: ref('reportSelf'), args: [w, 1, 'two', [3]], kwargs: { hello: 23, bye: 2.54 }, name: 'SomeProcess' });
    p.start();
    w.close();
    expect(await r.recv()).to.deep.equal([1, 'two', [3]]);
    expect(await r.recv()).to.deep.equal({ hello: 23, bye: 2.54 });
    expect(await r.recv()).to.equal('SomeProcess');
    expect(await r.recv()).to.equal(Buffer.from(currentProcess().authkey).toString('hex'));
    expect(await r.recv()).to.equal(p.pid);
    await p.join(30);
    expect(p.exitCode).to.equal(0);
    r.close();
  });

  it('currentProcess() and parentProcess() in the child: the requesting process is the parent', async function () {
    const [r, w] = Pipe(false);
    const p = fs({ target: ref('reportContext'), args: [w] });
    p.start();
    w.close();
    const seen = await r.recv();
    await p.join(30);
    expect(seen).to.include({ name: p.name, pid: p.pid, processPid: p.pid, daemon: false, alive: true, exitCode: null, stdinIsDevNull: true });
    expect(seen.parent).to.deep.equal({ pid: process.pid, name: 'MainProcess', alive: true, sentinel: 'number' });
    expect(seen.children).to.equal(0);
    // The server, not this process, is its OS parent.
    expect(forkserverPid()).to.be.a('number').and.not.equal(process.pid);
    r.close();
  });

  it('a self-contained function target, and a Process subclass by reference', async function () {
    const [r, w] = Pipe(false);
    const p = fs({ target: (conn, a, b) => conn.send(a + b), args: [w, 20, 22] });
    p.start();
    w.close();
    expect(await r.recv()).to.equal(42);
    await p.join(30);
    r.close();
    const { UpperCaser } = await import('./fixtures/process-subclass.js');
    const u = new UpperCaser();
    expect(u).to.be.instanceOf(Process);
  });

  it('exit codes exactly as spawn: 0, n & 0xff, 1 for a throw or rejection, process.exitCode', async function () {
    expect(await exitCodeOf(() => {})).to.equal(0);
    expect(await exitCodeOf(() => process.exit(300))).to.equal(300 & 0xff);
    expect(await exitCodeOf(() => process.exit(7))).to.equal(7);
    expect(await exitCodeOf(() => { throw new Error('boom'); })).to.equal(1);
    expect(await exitCodeOf(() => Promise.reject(new Error('late')))).to.equal(1);
    expect(await exitCodeOf(() => { process.exitCode = 9; })).to.equal(9);
    // Pending work after the target runs to its end, like a Node script.
    expect(await exitCodeOf(() => { setTimeout(() => process.exit(12), 100); })).to.equal(12);
    expect(await exitCodeOf(() => { setTimeout(() => { throw new Error('in a timer'); }, 10); })).to.equal(1);
  });

  it('the failure is reported on the child stderr as "Process <name>:"', async function () {
    const p = fs({ target: () => { throw new Error('marker-39'); }, stdio: ['ignore', 'ignore', 'pipe'], name: 'Failing' });
    p.start();
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const closed = new Promise((resolve) => p.stderr.once('end', resolve));
    await p.join(30);
    await closed;
    expect(p.exitCode).to.equal(1);
    expect(err).to.match(/^Process Failing:\nError: marker-39/);
  });

  it('terminate() -> -15, kill() -> -9, interrupt() -> -2; signalling after exit is a no-op', async function () {
    for (const [method, code] of [['terminate', -15], ['kill', -9], ['interrupt', -2]]) {
      const [r, w] = Pipe(false);
      const p = fs({ target: ref('readyThenSleep'), args: [w] });
      p.start();
      w.close();
      expect(await r.recv()).to.equal('ready');
      r.close();
      p[method]();
      await p.join(30);
      expect(p.exitCode, method).to.equal(code);
      p[method]();
    }
  });

  it('joinSync() blocks on the server until that child ends, keeping the news of others', function () {
    const quick = fs({ target: () => { process.exitCode = 3; } });
    const slow = fs({ target: () => new Promise((resolve) => setTimeout(() => { process.exitCode = 4; resolve(); }, 300)) });
    quick.start();
    slow.start();
    const t0 = performance.now();
    slow.joinSync();
    expect(slow.exitCode).to.equal(4);
    expect(performance.now() - t0).to.be.below(20000);
    expect(quick.exitCode).to.equal(3);
    const s = fs({ target: () => new Promise((resolve) => setTimeout(resolve, 5000)) });
    s.start();
    s.joinSync(0.1);
    expect(s.exitCode).to.equal(null);
    expect(s.isAlive()).to.equal(true);
    s.kill();
    s.joinSync();
    expect(s.exitCode).to.equal(-9);
  });

  it('wait(): the sentinel is readable once the child has ended', async function () {
    const p = fs({ target: () => {} });
    p.start();
    expect(p.sentinel).to.be.a('number');
    const [revents] = posix.poll([{ fd: p.sentinel, events: posix.POLLIN }], 20000);
    expect(revents).to.not.equal(0);
    await p.join(30);
    expect(p.exitCode).to.equal(0);
    // Its number was read: it stays open until close() (else a GC closes it later).
    p.close();
  });

  it("stdio: 'pipe', 'inherit', a file fd, 'ignore'", async function () {
    const p = fs({ target: () => { process.stdout.write('to stdout'); process.stderr.write('to stderr'); }, stdio: ['pipe', 'pipe', 'pipe'] });
    p.start();
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const ended = Promise.all([new Promise((r) => p.stdout.once('end', r)), new Promise((r) => p.stderr.once('end', r))]);
    p.stdin.end();
    await p.join(30);
    await ended;
    expect([out, err, p.exitCode]).to.deep.equal(['to stdout', 'to stderr', 0]);

    const file = join(tmp, 'out.txt');
    const fd = openSync(file, 'w');
    const [r, w] = Pipe(false);
    const q = fs({
      target: (conn) => {
        const { readlinkSync } = process.getBuiltinModule('node:fs');
        process.stdout.write('into the file');
        conn.send([readlinkSync('/proc/self/fd/0'), readlinkSync('/proc/self/fd/2')]);
      },
      args: [w],
      stdio: ['ignore', fd, 'inherit'],
    });
    q.start();
    w.close();
    closeSync(fd);
    const [stdin, stderr] = await r.recv();
    await q.join(30);
    r.close();
    expect(q.exitCode).to.equal(0);
    expect(readFileSync(file, 'utf8')).to.equal('into the file');
    expect(stdin).to.equal('/dev/null');
    expect(stderr).to.equal(readlinkSync('/proc/self/fd/2'));
  });

  it('a Connection in args, nested and repeated, works in the child', async function () {
    const [a, b] = Pipe();
    const p = fs({
      target: async (box) => {
        box.conns[0].send(await box.conns[1].recv() * 2);
      },
      args: [{ conns: [b, b] }],
    });
    p.start();
    a.send(21);
    expect(await a.recv()).to.equal(42);
    await p.join(30);
    expect(p.exitCode).to.equal(0);
    a.close();
    b.close();
  });

  it('daemon: the child knows it, and cannot start children', async function () {
    const [r, w] = Pipe(false);
    const p = fs({ target: ref('tryToStartChild'), args: [w], daemon: true });
    p.start();
    w.close();
    expect(await r.recv()).to.include({ code: 'ERR_DAEMON_CHILDREN' });
    await p.join(30);
    r.close();
  });

  it('env and cwd as for spawn: given, or this process\'s at start() (not the server\'s)', async function () {
    const report = (conn) => conn.send([process.cwd(), { ...process.env }]);
    const seen = async (options) => {
      const [r, w] = Pipe(false);
      const p = fs({ target: report, args: [w], ...options });
      p.start();
      w.close();
      const got = await r.recv();
      await p.join(30);
      expect(p.exitCode).to.equal(0);
      r.close();
      return got;
    };
    expect(await seen({ env: { ONLY: 'a=b', EMPTY: '' }, cwd: tmp })).to.deep.equal([tmp, { ONLY: 'a=b', EMPTY: '' }]);
    // Changed after the server started: the child follows this process, as a spawn child does.
    process.env.PP_39_LATE = 'late';
    const home = process.cwd();
    process.chdir(tmp);
    try {
      const [cwd, env] = await seen({});
      expect(cwd).to.equal(tmp);
      expect(env.PP_39_LATE).to.equal('late');
    } finally {
      process.chdir(home);
      delete process.env.PP_39_LATE;
    }
    const [cwd, env] = await seen({});
    expect(cwd).to.equal(home);
    expect(env).to.not.have.property('PP_39_LATE');
    // The real environ, for the programs the child runs.
    const p = fs({ target: () => { process.exitCode = process.getBuiltinModule('node:child_process').spawnSync('sh', ['-c', 'test "$ONLY" = a=b']).status; }, env: { ONLY: 'a=b', PATH: process.env.PATH } });
    p.start();
    await p.join(30);
    expect(p.exitCode).to.equal(0);
  });

  it('a bad cwd fails start() with chdir\'s error, as spawn, and leaves no child', function () {
    for (const [cwd, code] of [[join(tmp, 'missing'), 'ENOENT'], ['/etc/passwd', 'ENOTDIR']]) {
      const before = fdCount();
      const p = fs({ target: () => {}, cwd });
      expect(() => p.start()).to.throw(Error, `chdir ${code} ${cwd}`).that.includes({ code, syscall: 'chdir', path: cwd });
      expect(fdCount()).to.equal(before);
    }
    // The server went back to its own directory: the next child is where this process is.
    expect(zombieChildren()).to.deep.equal([]);
  });

  it('refuses what structured clone cannot carry', function () {
    expect(() => fs({ target: () => {}, args: [() => 1] }).start())
      .to.throw(ProcessError, /cannot be carried to a 'forkserver' child/)
      .with.property('code', 'ERR_TARGET_NOT_TRANSFERABLE');
  });

  it('a preloaded module runs in the server, before any child (setForkserverPreload)', function () {
    const result = runScenario('preload');
    expect(result.code).to.equal(0);
    expect(result.preloaded).to.deep.equal({ pid: result.serverPid, at: 'server' });
    expect(result.childPid).to.not.equal(result.serverPid);
  });

  it('setForkserverPreload validates its argument', async function () {
    const { setForkserverPreload } = await import('../dist/index.js');
    expect(() => setForkserverPreload('x')).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    expect(() => setForkserverPreload([1])).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    setForkserverPreload([]);
  });

  it('a server killed with SIGKILL: the join in flight ends (exact status with PIDFD_INFO_EXIT, else ERR_FORKSERVER_DIED), the next start() gets a new server', function () {
    const result = runScenario('server-killed');
    expect(result.outcome).to.not.equal('hang');
    if (posix.pidfdSupported()) {
      // This kernel keeps the status for the pidfd holder (Linux 6.15+).
      expect(result.outcome).to.deep.equal({ code: -9 });
      expect(result.orphanAlive).to.equal(false);
    } else {
      // kill() after the server died is a no-op there: the orphan lives on.
      expect(result.orphanAlive).to.equal(true);
      expect(result.outcome).to.include({ error: 'ERR_FORKSERVER_DIED', isProcessError: true });
      expect(result.outcome.message).to.match(/^the forkserver died before child \d+ ended; its exit status is unknown$/);
    }
    expect(result.next.code).to.equal(5);
    expect(result.next.server).to.be.a('number').and.not.equal(result.server);
  });

  it('a server alive but stuck: start() throws ERR_FORKSERVER_DIED at its deadline, kills it, and the next start() gets a new one', function () {
    const result = runScenario('stuck');
    expect(result).to.include({ code: 'ERR_FORKSERVER_DIED', isProcessError: true, serverAfter: null, next: 4 });
    expect(result.message).to.equal('the forkserver was killed: it did not answer within 1 s');
    expect(result.elapsedMs).to.be.within(900, 20000);
    expect(result.zombies).to.deep.equal([]);
  });

  it('a server that died between starts is replaced at the next start()', function () {
    const result = runScenario('start-after-death');
    expect(result.code).to.equal(6);
    expect(result.newServer).to.not.equal(result.server);
  });

  it('at exit, daemon children are terminated and the others joined', function () {
    const r = spawnSync(process.execPath, [SCRIPT, 'exit-joins'], { encoding: 'utf8', timeout: 30000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout.trim())).to.deep.equal({ slow: 0, daemon: -15 });
  });

  it('200 children started together: exact codes, no fd or zombie left in the caller or the server', function () {
    this.timeout(120000);
    const result = runScenario('load', '200');
    expect(result.wrong).to.deep.equal([]);
    expect(result.after).to.deep.equal(result.before);
    expect(result.zombies).to.deep.equal({ caller: [], server: [] });
    expect(result.sameServer).to.equal(true);
  });

  it('no fd or zombie left in this process after 50 children', async function () {
    const warm = fs({ target: () => {} });
    warm.start();
    await warm.join(30);
    warm.close();
    const before = fdCount();
    for (let i = 0; i < 50; i++) {
      const p = fs({ target: () => {} });
      p.start();
      if (i % 2) p.joinSync(30);
      else await p.join(30);
      expect(p.exitCode).to.equal(0);
      p.close();
    }
    expect(fdCount()).to.equal(before);
    expect(zombieChildren()).to.deep.equal([]);
  });

  it('from a worker thread', async function () {
    const worker = new Worker(`
      const { parentPort } = require('node:worker_threads');
      import(${JSON.stringify(DIST)}).then(async ({ Process, getAllStartMethods }) => {
        const p = new Process({ target: () => { process.exitCode = 17; }, startMethod: 'forkserver' });
        p.start();
        await p.join(30);
        parentPort.postMessage([getAllStartMethods(), p.exitCode]);
      });
    `, { eval: true });
    const [methods, code] = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(methods).to.include('forkserver');
    expect(code).to.equal(17);
  });

  describe("a worker thread's server ends with the thread", function () {
    const INTERNALS = new URL('./internals.js', import.meta.url).href;

    // Runs `body` (the worker's code, with Process, DIST and post(value) in
    // scope) in a worker, passes each message to onMessage(worker, value),
    // resolves when the worker has ended. Then: no fd, zombie or server left.
    async function endsClean(body, onMessage) {
      const before = fdCount();
      const worker = new Worker(`
        const { parentPort } = require('node:worker_threads');
        const post = (value) => parentPort.postMessage(value);
        const DIST = ${JSON.stringify(DIST)};
        Promise.all([import(DIST), import(${JSON.stringify(INTERNALS)})]).then(async ([{ Process }, { forkserverPid }]) => {
          ${body}
        });
      `, { eval: true });
      const messages = [];
      worker.on('message', (value) => {
        messages.push(value);
        onMessage?.(worker, value);
      });
      await new Promise((resolve, reject) => {
        worker.once('error', reject);
        worker.once('exit', resolve);
      });
      const { server } = messages[0];
      expect(server).to.be.a('number');
      // Ended and reaped during the thread's teardown: gone already.
      expect(existsSync(`/proc/${server}`), `server ${server} still there`).to.equal(false);
      expect(zombieChildren()).to.deep.equal([]);
      expect(fdCount(), 'fd leak').to.equal(before);
      return messages;
    }

    it('when the worker ends by itself', async function () {
      const [message] = await endsClean(`
        const p = new Process({ target: () => { process.exitCode = 3; }, startMethod: 'forkserver' });
        p.start();
        await p.join(30);
        post({ server: forkserverPid(), code: p.exitCode });
      `);
      expect(message.code).to.equal(3);
    });

    it('on worker.terminate() while a child runs; the child sees its parent end', async function () {
      let child = 0;
      await endsClean(`
        // Lives until its parent (this thread) is gone.
        const p = new Process({
          target: async (dist) => { const { parentProcess } = await import(dist); await parentProcess().join(30); },
          args: [DIST],
          startMethod: 'forkserver',
        });
        p.start();
        post({ server: forkserverPid(), child: p.pid });
        setInterval(() => {}, 1000);
      `, (worker, message) => {
        child = message.child;
        void worker.terminate();
      });
      // An orphan now (its server is gone): reaped by whoever adopted it.
      const deadline = performance.now() + 20000;
      while (existsSync(`/proc/${child}`) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(existsSync(`/proc/${child}`), `child ${child} still running`).to.equal(false);
    });

    it('worker.terminate() right after a join, 20 times: the process carries on', function () {
      const result = runScenario('terminate-workers', '20');
      expect(result).to.deep.equal({ terminated: 20, zombies: [] });
    });
  });

  describe('the request channel', function () {
    // A server of our own over a socketpair, as the client starts it.
    let sock;
    let server;
    let liveness;
    beforeEach(function () {
      const [ours, theirs] = posix.socketpair('seqpacket');
      liveness = posix.pipe();
      server = posix.spawn(process.execPath, [process.execPath, '--single-threaded', ...childExecArgv(), fileURLToPath(FORKSERVER_MAIN), '[]'], {
        fds: [0, 1, 2, theirs, liveness[0]],
      });
      posix.close(theirs);
      sock = ours;
    });
    afterEach(function () {
      posix.close(sock);
      posix.close(liveness[1]);
      posix.close(liveness[0]);
      const status = posix.waitpidTimeout(server.pid, 20);
      if (status === null) posix.kill(server.pid, 'SIGKILL');
      if (server.pidfd !== null) posix.close(server.pidfd);
      else posix.close(server.sentinel);
      if (status === null) posix.waitpid(server.pid);
    });

    function reply() {
      const [revents] = posix.poll([{ fd: sock, events: posix.POLLIN }], 20000);
      expect(revents, 'no answer within 20 s').to.not.equal(0);
      const { data, fds } = posix.recvFds(sock, 4096, 4);
      return { message: JSON.parse(data.toString()), fds };
    }

    function request(id, source, fds) {
      const payload = {
        target: { kind: 'source', source }, cls: null, props: null, args: [], kwargs: null, name: `Raw-${id}`, identity: [id],
        daemon: false, authkey: '00', parentPid: process.pid, parentName: 'MainProcess', parentSentinel: 0, connections: [], exitSentinelFd: null,
      };
      const body = requestBody({ env: { ...process.env }, cwd: process.cwd(), deathSignal: 0 }, Buffer.from(JSON.stringify(payload)));
      return requestRecords(id, body).map((record, i) => [record, i === 0 ? fds : []]);
    }

    function works(id, cutShort = null) {
      for (const [record, fds] of request(id, '() => { process.exitCode = 33; }', [0, 1, 2, liveness[0]])) posix.sendFds(sock, record, fds);
      if (cutShort !== null) {
        const error = reply().message;
        expect(error).to.deep.include({ t: 'error', id: cutShort });
        expect(error.message).to.match(new RegExp(`request ${cutShort} was cut short`));
      }
      const started = reply();
      expect(started.message).to.deep.include({ t: 'started', id });
      const exited = reply();
      expect(exited.message).to.deep.include({ t: 'exit', id });
      expect(posix.decodeWaitStatus(exited.message.raw).exitCode).to.equal(33);
      for (const fd of started.fds) posix.close(fd);
    }

    it('answers garbage, truncated and out-of-order records with an error and keeps serving', function () {
      const before = fdCount();
      const cases = [
        [Buffer.from('garbage that is long enough'), [], /malformed record/],
        [Buffer.alloc(3), [], /malformed record/],
        [Buffer.from([0x50, 0x50, 0x46, 0x53, 9, 0, 0, 0, 7]), [], /unknown record kind 9/],
        [Buffer.from([0x50, 0x50, 0x46, 0x53, 1, 0, 0, 0, 8]), [0], /truncated record header/],
        [Buffer.from([0x50, 0x50, 0x46, 0x53, 2, 0, 0, 0, 8, 1, 2]), [], /not in progress/],
        [Buffer.alloc(128 * 1024), [], /EMSGSIZE/],
      ];
      for (const [data, fds, pattern] of cases) {
        posix.sendFds(sock, data, fds);
        const { message, fds: got } = reply();
        expect(message.t).to.equal('error');
        expect(message.message).to.match(pattern);
        expect(got).to.deep.equal([]);
      }
      // A request cut short by the next one: the first gets an error.
      const [first] = request(7, '() => {}', [0, 1, 2, liveness[0]])[0];
      const cut = Buffer.concat([first.subarray(0, 13), Buffer.alloc(4)]);
      cut.writeUInt32BE(1000, 9);
      posix.sendFds(sock, cut, [0, 1, 2, liveness[0]]);
      works(8, 7);
      // Too few fds, and a payload that does not decode: errors, no child.
      for (const [record] of request(9, '() => {}', [0])) posix.sendFds(sock, record, [0]);
      expect(reply().message).to.deep.include({ t: 'error', id: 9 });
      // A body without the child's set-up, or with one that is not { env, cwd }.
      for (const body of [Buffer.from([0, 0, 0]), Buffer.from([0, 0, 1, 0, 0x7b]), Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from('{}')]), Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from('{x')])]) {
        posix.sendFds(sock, requestRecords(11, body)[0], [0, 1, 2, liveness[0]]);
        const { message, fds: got } = reply();
        expect(message).to.deep.include({ t: 'error', id: 11 });
        expect(message.message).to.match(/set-up/);
        expect(got).to.deep.equal([]);
      }
      works(10);
      expect(fdCount()).to.equal(before);
    });
  });
});
