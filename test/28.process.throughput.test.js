// Many children at once, each with its stdout captured: every child's whole
// output arrives, every child is reaped, nothing is left behind (fds,
// zombies, fd watchers). The per-child path of docs/design.md,
// "Throughput: the per-child path".
import { expect } from 'chai';
import { Process, posix } from '../dist/index.js';
import { watchedFdCount } from './internals.js';
import { collect, expectNoLeaks } from './helpers.js';

// More than a pipe buffer (64 KiB) per child, so the reads interleave.
const BYTES = 100_000;
const SCRIPT = `head -c ${BYTES} /dev/zero | tr '\\0' "$0"; echo " $1"`;

async function runOne(i) {
  const letter = String.fromCharCode(97 + (i % 26));
  const p = new Process({ executable: '/bin/sh', args: ['-c', SCRIPT, letter, String(i)], stdio: ['ignore', 'pipe', 'inherit'] });
  p.start();
  const out = await collect(p.stdout);
  await p.join();
  const code = p.exitCode;
  p.close();
  return { out, code, expected: `${letter.repeat(BYTES)} ${i}\n` };
}

describe('40 throughput: many piped children at once', function () {
  this.timeout(60_000);
  // The first child makes the fds kept for good (/dev/null for 'ignore',
  // the shared sentinel of ended children): before the leak baselines.
  before(async function () {
    expect((await runOne(0)).code).to.equal(0);
  });
  expectNoLeaks();

  it('64 concurrent children each deliver their full output, are reaped, leave no fd, zombie or watcher', async function () {
    const watched = watchedFdCount();
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => runOne(i)));
    for (const [i, r] of results.entries()) {
      expect(r.code, `child ${i}`).to.equal(0);
      expect(r.out.length, `child ${i} output length`).to.equal(r.expected.length);
      expect(r.out === r.expected, `child ${i} output`).to.equal(true);
    }
    expect(watchedFdCount()).to.equal(watched);
  });

  it('256 children, 16 in flight, in a row: each gets its own argv (the spawn stack is reused)', async function () {
    const seen = [];
    let next = 0;
    const lane = async () => {
      while (next < 256) {
        const i = next++;
        const p = new Process({ executable: '/bin/echo', args: [`child-${i}`], stdio: ['ignore', 'pipe', 'inherit'] });
        p.start();
        seen[i] = await collect(p.stdout);
        await p.join();
        expect(p.exitCode).to.equal(0);
        p.close();
      }
    };
    await Promise.all(Array.from({ length: 16 }, lane));
    expect(seen).to.deep.equal(Array.from({ length: 256 }, (_, i) => `child-${i}\n`));
  });

  it('posix.spawn from a worker thread and the main thread at once: each thread spawns on its own stack', async function () {
    const { Worker } = await import('node:worker_threads');
    const code = `
      import { posix } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
      import { parentPort } from 'node:worker_threads';
      let ok = 0;
      for (let i = 0; i < 100; i++) {
        const c = posix.spawn('/bin/true', ['/bin/true']);
        const s = posix.waitpid(c.pid);
        posix.close(c.sentinel);
        if (s.exitCode === 0) ok++;
      }
      parentPort.postMessage(ok);`;
    const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`));
    const fromWorker = new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    let ok = 0;
    for (let i = 0; i < 100; i++) {
      const c = posix.spawn('/bin/true', ['/bin/true']);
      const s = posix.waitpid(c.pid);
      posix.close(c.sentinel);
      if (s.exitCode === 0) ok++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(ok).to.equal(100);
    expect(await fromWorker).to.equal(100);
    await worker.terminate();
  });
});
