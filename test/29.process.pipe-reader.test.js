// The readers of a child's stdout/stderr ('pipe' for fds 1 and 2) and the
// reactor under them (native/poll.cc, src/watch.ts): data with flow control,
// destroy before EOF, ref/unref, the stream API, a worker that ends while
// reading, and fds that leave the reactor behind its back.
import { expect } from 'chai';
import { existsSync, readFileSync, readlinkSync, readdirSync, writeSync } from 'node:fs';
import { Duplex, PassThrough } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { Process, posix, wait } from '../dist/index.js';
import { binding, watchedFdCount, whenReadable } from './internals.js';
import { collect, expectNoLeaks, procStat, seconds } from './helpers.js';
import { reap, spawnNode } from './nodechild.js';

const MiB = 1024 * 1024;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Whether this process still holds child `pid`'s sentinel `sentinel`, whose
 * link was `link` (a pidfd: for that pid; a pipe: that very pipe).
 */
function sentinelHeld({ pid, sentinel, link }) {
  let info;
  let now;
  try {
    info = readFileSync(`/proc/self/fdinfo/${sentinel}`, 'utf8');
    now = readlinkSync(`/proc/self/fd/${sentinel}`);
  } catch {
    return false; // not open
  }
  if (now !== link) return false;
  return !/pidfd/.test(link) || new RegExp(`^Pid:\\s*${pid}$`, 'm').test(info);
}

const threadCount = () => Number(/^Threads:\s*(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]);

/** Resolves once `check()` holds; fails after a generous deadline. */
async function until(check, what, timeoutSec = 10) {
  const t0 = performance.now();
  while (!check()) {
    if (seconds(t0) > timeoutSec) expect.fail(`not within ${timeoutSec} s: ${what}`);
    await sleep(20);
  }
}

/** Once child `pid` of this process is reaped: /proc/<pid> is gone (a zombie keeps it). */
const untilGone = (pid) => until(() => !existsSync(`/proc/${pid}`), `child ${pid} reaped`);

/** Once the worker's released child is reaped and its sentinel closed. */
async function untilReleased(child) {
  await untilGone(child.pid);
  await until(() => !sentinelHeld(child), `child ${child.pid}'s sentinel closed`);
}

/** `yes 0123456789abcdef | head -c n`, as this process computes it. */
function expectedYes(n) {
  const line = '0123456789abcdef\n';
  return line.repeat(Math.ceil(n / line.length)).slice(0, n);
}

describe('29 Process, stdout/stderr readers and the reactor', function () {
  this.timeout(60000);
  before(async function () {
    // What stays open for the life of the process: /dev/null, the shared
    // ended sentinel.
    const p = new Process({ executable: '/bin/true', stdio: ['ignore', 'pipe', 'inherit'] });
    p.start();
    await collect(p.stdout);
    await p.join();
    p.close();
  });
  expectNoLeaks();

  it('stdout and stderr are readable Duplex streams with their writable side ended', async function () {
    const p = new Process({ executable: '/bin/sh', args: ['-c', 'echo out; echo err >&2'], stdio: ['ignore', 'pipe', 'pipe'] });
    p.start();
    for (const stream of [p.stdout, p.stderr]) {
      expect(stream).to.be.an.instanceOf(Duplex);
      expect(stream.readable).to.equal(true);
      expect(stream.writable).to.equal(false);
    }
    const [out, err] = await Promise.all([collect(p.stdout), collect(p.stderr)]);
    expect([out, err]).to.deep.equal(['out\n', 'err\n']);
    await p.join();
    expect(p.exitCode).to.equal(0);
    p.close();
  });

  it("wait() on a reading stream's fd: RangeError ERR_INVALID_ARG_VALUE, nothing left watched, the stream unharmed", async function () {
    const p = new Process({ executable: '/bin/sh', args: ['-c', 'sleep 0.2; echo late'], stdio: ['ignore', 'pipe', 'inherit'] });
    p.start();
    const watched = watchedFdCount();
    let error = null;
    await wait([p.stdout.fd], 5).catch((e) => (error = e));
    expect(error).to.be.an.instanceOf(RangeError);
    expect(error.code).to.equal('ERR_INVALID_ARG_VALUE');
    expect(error.message).to.match(/is being read by a Process's stdout\/stderr stream/);
    expect(watchedFdCount()).to.equal(watched);
    expect(await collect(p.stdout)).to.equal('late\n');
    await p.join();
    p.close();
  });

  it('10 MiB with a consumer that pauses: every byte in order, and nothing read while paused', async function () {
    const n = 10 * MiB;
    const p = new Process({ executable: '/bin/sh', args: ['-c', `yes 0123456789abcdef | head -c ${n}`], stdio: ['ignore', 'pipe', 'inherit'] });
    p.start();
    const chunks = [];
    let got = 0;
    let pausedWith = null;
    await new Promise((resolve, reject) => {
      p.stdout.on('data', (chunk) => {
        chunks.push(chunk);
        got += chunk.length;
        if (pausedWith === null && got >= 2 * MiB) {
          p.stdout.pause();
          pausedWith = got + p.stdout.readableLength;
          setTimeout(() => {
            // The child kept writing all along; the reader did not read on.
            expect(got + p.stdout.readableLength).to.be.below(pausedWith + p.stdout.readableHighWaterMark + 64 * 1024 + 1);
            p.stdout.resume();
          }, 300);
        }
      });
      p.stdout.once('end', resolve);
      p.stdout.once('error', reject);
    });
    expect(got).to.equal(n);
    expect(Buffer.concat(chunks).toString('latin1') === expectedYes(n)).to.equal(true);
    await p.join();
    expect(p.exitCode).to.equal(0);
    p.close();
  });

  it('a child that wrote more than the buffer holds and exited before anyone read: all of it, then end', async function () {
    const n = 40 * 1024;
    const p = new Process({ executable: '/bin/sh', args: ['-c', `yes 0123456789abcdef | head -c ${n}`], stdio: ['ignore', 'pipe', 'inherit'] });
    p.start();
    await p.join();
    await sleep(50); // the reader has buffered what fits, then paused
    expect(p.stdout.readableLength).to.be.at.most(p.stdout.readableHighWaterMark + 64 * 1024);
    expect(await collect(p.stdout)).to.equal(expectedYes(n));
    p.close();
  });

  it('destroy() before EOF closes the fd: a child still writing gets SIGPIPE', async function () {
    const p = new Process({ executable: '/usr/bin/yes', stdio: ['ignore', 'pipe', 'inherit'] });
    p.start();
    await new Promise((resolve) => p.stdout.once('data', resolve));
    const fd = p.stdout.fd;
    p.stdout.destroy();
    expect(p.stdout.fd).to.equal(-1);
    expect(() => readlinkSync(`/proc/self/fd/${fd}`)).to.throw().with.property('code', 'ENOENT');
    await p.join(20);
    expect(p.exitCode).to.equal(-13);
    p.close();
  });

  it('for await, setEncoding and pipe() work as on any Readable', async function () {
    const p = new Process({ executable: '/bin/sh', args: ['-c', 'printf "h\\303\\251llo"; echo " world" >&2'], stdio: ['ignore', 'pipe', 'pipe'] });
    p.start();
    p.stdout.setEncoding('utf8');
    const sink = new PassThrough();
    p.stderr.pipe(sink);
    const piped = collect(sink);
    let text = '';
    for await (const chunk of p.stdout) text += chunk;
    expect(text).to.equal('héllo');
    expect(await piped).to.equal(' world\n');
    await p.join();
    p.close();
  });

  it('a reading stdout keeps the process alive; after unref() it does not', async function () {
    const script = (unref) => `
      import { Process } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
      const p = new Process({ executable: '/bin/sleep', args: ['4'], stdio: ['ignore', 'pipe', 'inherit'], daemon: true });
      p.start();
      p.stdout.on('data', (chunk) => process.stdout.write(chunk));
      ${unref ? 'p.stdout.unref();' : ''}
    `;
    for (const unref of [true, false]) {
      const t0 = performance.now();
      const code = await reap(spawnNode(script(unref)), 30);
      expect(code).to.equal(0);
      // unref: it ends at once (its daemon child is terminated at exit);
      // ref: it waits for the child's stdout to end, 4 s.
      if (unref) expect(seconds(t0)).to.be.below(3);
      else expect(seconds(t0)).to.be.above(3.5);
    }
  });

  it('a worker that ends while its child writes closes its reader fd', async function () {
    const worker = new Worker(
      `
      const { parentPort } = require('node:worker_threads');
      const { readlinkSync } = require('node:fs');
      import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)}).then(({ Process }) => {
        const p = new Process({ executable: '/bin/sh', args: ['-c', 'echo hi; sleep 1'], stdio: ['ignore', 'pipe', 'inherit'] });
        p.start();
        p.stdout.once('data', () => parentPort.postMessage({
          link: readlinkSync('/proc/self/fd/' + p.stdout.fd),
          pid: p.pid,
          sentinel: p.sentinel,
          sentinelLink: readlinkSync('/proc/self/fd/' + p.sentinel),
        }));
      });
      `,
      { eval: true },
    );
    const { link, pid, sentinel, sentinelLink } = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(link).to.match(/^pipe:\[\d+\]$/);
    await worker.terminate();
    const open = readdirSync('/proc/self/fd').map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return null;
      }
    });
    expect(open).to.not.include(link);
    // The worker's end released its child (next describe): it lives on, and
    // is reaped once it exits, its sentinel closed.
    await untilGone(pid);
    await until(() => !sentinelHeld({ pid, sentinel, link: sentinelLink }), 'sentinel closed');
  });

  describe("a worker's own children when worker.terminate() ends it (no JS runs)", function () {
    // A worker that starts `children` (Process options) and posts their pids
    // and sentinels, then blocks (`busy`) or idles; terminated by the test.
    async function workerWith(children, { busy = false } = {}) {
      const worker = new Worker(
        `
        const { parentPort } = require('node:worker_threads');
        const { readlinkSync, readFileSync } = require('node:fs');
        import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)}).then(({ Process }) => {
          const started = ${JSON.stringify(children)}.map((options) => {
            const p = new Process(options);
            p.start();
            return { pid: p.pid, sentinel: p.sentinel, link: readlinkSync('/proc/self/fd/' + p.sentinel) };
          });
          parentPort.postMessage(started);
          // Kept running until terminated (its natural end would join them).
          if (${busy}) for (;;);
          setInterval(() => {}, 1000);
        });
        `,
        { eval: true },
      );
      const started = await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      for (const child of started) {
        const { link } = child;
        expect(link).to.match(/^(anon_inode:\[?pidfd\]?|pipe:\[\d+\])$/);
        expect(sentinelHeld(child)).to.equal(true);
      }
      return { worker, started };
    }

    it('a running child is not killed; its sentinel is closed, and it is reaped once it exits', async function () {
      const threads = threadCount();
      const sleeper = { executable: '/bin/sleep', args: ['30'] };
      const { worker, started } = await workerWith([sleeper, sleeper]);
      await worker.terminate();
      await sleep(300);
      for (const { pid } of started) expect(procStat(pid).state).to.not.equal('Z'); // alive, not killed
      expect(threadCount(), 'one reaper thread').to.equal(threads + 1);
      // Each is reaped as it exits (no zombie) and its sentinel closed, the
      // other left running.
      process.kill(started[0].pid, 'SIGKILL');
      await untilReleased(started[0]);
      expect(procStat(started[1].pid).state).to.not.equal('Z');
      process.kill(started[1].pid, 'SIGKILL');
      await untilReleased(started[1]);
      // The reaper thread has ended with its last child.
      await until(() => threadCount() === threads, 'Threads back to ' + threads);
    });

    it('a child that exits by itself after the worker ended is reaped', async function () {
      const { worker, started } = await workerWith([{ executable: '/bin/sleep', args: ['0.3'] }]);
      await worker.terminate();
      await untilReleased(started[0]);
    });

    it('a daemon child gets SIGTERM and is reaped', async function () {
      const threads = threadCount();
      const t0 = performance.now();
      const { worker, started } = await workerWith([{ executable: '/bin/sleep', args: ['30'], daemon: true }]);
      await worker.terminate();
      await untilReleased(started[0]);
      expect(seconds(t0)).to.be.below(20); // not its own 30 s
      await until(() => threadCount() === threads, 'Threads back to ' + threads);
    });

    it('a child that has exited while the worker was blocked is reaped at the end', async function () {
      const threads = threadCount();
      const { worker, started } = await workerWith([{ executable: '/bin/true' }], { busy: true });
      await until(() => procStat(started[0].pid).state === 'Z', 'the child a zombie');
      await worker.terminate();
      expect(sentinelHeld(started[0])).to.equal(false);
      expect(existsSync(`/proc/${started[0].pid}`), 'reaped at the teardown').to.equal(false);
      expect(threadCount()).to.equal(threads); // no reaper thread needed
    });
  });

  describe('the reactor', function () {
    it('an fd closed behind its back while a dup keeps the file open does not spin the loop', async function () {
      const watched = watchedFdCount(); // earlier tests' forkserver, if any
      const [r, w] = posix.pipe();
      const [r2, w2] = posix.pipe();
      const keep = binding.dup(r);
      let calls = 0;
      whenReadable(r, () => calls++);
      posix.close(r); // not closeWatched(): the set keeps a registration for the file
      writeSync(w, 'x');
      await sleep(50);
      // The dropped registration fires once as r (its subscriber is called
      // and dropped), then is stale: the set is rebuilt without it.
      const before = process.cpuUsage();
      await sleep(300);
      const used = process.cpuUsage(before);
      expect((used.user + used.system) / 1000, 'ms of CPU in 300 ms').to.be.below(100);
      expect(calls).to.be.at.most(1);
      // What is watched afterwards still works.
      const seen = new Promise((resolve) => whenReadable(r2, resolve));
      writeSync(w2, 'y');
      await seen;
      expect(watchedFdCount()).to.equal(watched);
      for (const fd of [keep, w, r2, w2]) posix.close(fd);
    });

    it('a number reused for another file while the old file lives on: only the new file is reported', async function () {
      const [r, w] = posix.pipe();
      const keep = binding.dup(r);
      const old = whenReadable(r, () => {});
      posix.close(r);
      old.cancel(); // too late: the number is closed, the registration stays in the set
      const [again, w2] = posix.pipe();
      expect(again, 'the number is reused').to.equal(r);
      let fired = 0;
      const seen = new Promise((resolve) => whenReadable(again, () => resolve(++fired)));
      writeSync(w, 'old'); // the old file is readable, not the one the number names now
      await sleep(150);
      expect(fired, 'reported for the old file').to.equal(0);
      writeSync(w2, 'new');
      expect(await seen).to.equal(1);
      const before = process.cpuUsage();
      await sleep(200);
      const used = process.cpuUsage(before);
      expect((used.user + used.system) / 1000, 'ms of CPU in 200 ms').to.be.below(70);
      for (const fd of [keep, w, again, w2]) posix.close(fd);
    });

    it('reactorInit takes one callback per thread; a second call fails', function () {
      expect(() => binding.reactorInit(() => {})).to.throw().that.includes({ code: 'EALREADY', syscall: 'reactorInit' });
    });
  });
});
