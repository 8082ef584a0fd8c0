// What happens to children when nobody joins them, and when their parent
// exits: reaped promptly, no zombie, no fd, daemons SIGTERMed, non-daemons
// joined; join() over 1000 live children.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fileURLToPath } from 'node:url';
import { activeChildren, posix, Process } from '../dist/index.js';
import { watchedFdCount } from './internals.js';
import { fdCount, kernelKeepsExitStatus, zombieChildren } from './helpers.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/process-parent-exit.js', import.meta.url));
const DIST = new URL('../dist/index.js', import.meta.url).href;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

// Sentinels of processes dropped by earlier tests close when they are
// collected: collect first, so fd baselines do not move under a test.
async function settleGarbage() {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(10);
  }
}

function runScript(args, source) {
  const t0 = performance.now();
  const argv = source === undefined ? [SCRIPT, ...args] : ['--input-type=module', '-e', source, ...args];
  const result = spawnSync(process.execPath, argv, { encoding: 'utf8', timeout: 30000 });
  return { ...result, elapsed: (performance.now() - t0) / 1000 };
}

function gone(pid) {
  const t0 = performance.now();
  while (performance.now() - t0 < 5000) {
    if (!existsSync(`/proc/${pid}`)) return true;
  }
  return false;
}

describe('33 Process exit and leaks', function () {
  this.timeout(60000);

  before(function () {
    const p = new Process({ executable: '/bin/true' });
    p.start();
    p.joinSync();
    p.close();
  });

  describe('exit of the parent (derived test B5)', function () {
    it('returns: waits ~0.5 s for the non-daemon child, SIGTERMs the daemon child', function () {
      const r = runScript([]);
      expect(r.status, r.stderr).to.equal(0);
      const [pids, codes] = r.stdout.trim().split('\n').map((line) => JSON.parse(line));
      expect(codes).to.deep.equal({ daemon: -15, worker: 0 });
      expect(r.elapsed).to.be.within(0.4, 10);
      expect(gone(pids.daemon)).to.equal(true);
      expect(gone(pids.worker)).to.equal(true);
    });

    it('process.exit(3): the same, synchronously in the exit path', function () {
      const r = runScript(['exit']);
      expect(r.status, r.stderr).to.equal(3);
      const [pids, codes] = r.stdout.trim().split('\n').map((line) => JSON.parse(line));
      expect(codes).to.deep.equal({ daemon: -15, worker: 0 });
      expect(r.elapsed).to.be.within(0.4, 10);
      expect(gone(pids.daemon)).to.equal(true);
    });

    it('an unjoined child that has exited does not keep the parent alive', function () {
      const r = runScript([], `
        import { Process } from ${JSON.stringify(DIST)};
        const p = new Process({ executable: '/bin/true' });
        p.start();
        setTimeout(() => console.log(p.exitCode), 300);
      `);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.equal('0\n');
      expect(r.elapsed).to.be.lessThan(5);
    });

    it('a daemon child that outlives its parent is SIGTERMed even when the parent was idle-waiting', function () {
      const r = runScript([], `
        import { Process } from ${JSON.stringify(DIST)};
        const p = new Process({ executable: '/bin/sleep', args: ['100'], daemon: true });
        p.start();
        console.log(p.pid);
        process.on('exit', () => console.log(p.exitCode));
      `);
      expect(r.status, r.stderr).to.equal(0);
      const [pid, code] = r.stdout.trim().split('\n').map(Number);
      expect(code).to.equal(-15);
      expect(gone(pid)).to.equal(true);
      expect(r.elapsed).to.be.lessThan(5);
    });
  });

  describe('reaping without join', function () {
    it('an exited child is reaped promptly even if nobody joins it; exitCode is kept', async function () {
      const p = new Process({ executable: '/bin/sh', args: ['-c', 'exit 7'] });
      p.start();
      const pid = p.pid;
      const t0 = performance.now();
      while (existsSync(`/proc/${pid}`) && performance.now() - t0 < 5000) await sleep(10);
      expect(existsSync(`/proc/${pid}`)).to.equal(false); // reaped: no zombie entry
      expect(zombieChildren()).to.not.include(pid);
      expect(activeChildren()).to.not.include(p);
      expect(p.exitCode).to.equal(7);
      p.close();
    });

    it('dropped, unjoined, unclosed processes leave no zombie, and their sentinels close once collected', async function () {
      await settleGarbage();
      const fds = fdCount();
      let procs = Array.from({ length: 50 }, () => new Process({ executable: '/bin/true' }));
      procs.forEach((p) => p.start());
      const pids = procs.map((p) => p.pid);
      procs = null;
      const t0 = performance.now();
      while (pids.some((pid) => existsSync(`/proc/${pid}`)) && performance.now() - t0 < 10000) await sleep(10);
      expect(pids.filter((pid) => existsSync(`/proc/${pid}`))).to.deep.equal([]);
      for (let i = 0; i < 10 && fdCount() > fds; i++) {
        gc();
        await sleep(20);
      }
      expect(fdCount()).to.equal(fds);
    });

    it('a child reaped behind our back (ECHILD): join returns, exitCode is the status the kernel kept or null, no signal, close works', async function () {
      for (const mode of ['async', 'sync']) {
        const p = new Process({ executable: '/bin/sh', args: ['-c', 'exit 3'] });
        p.start();
        expect(posix.waitpid(p.pid).exitCode).to.equal(3); // someone else's waitpid
        if (mode === 'async') await p.join();
        else p.joinSync();
        expect(p.exitCode).to.equal(kernelKeepsExitStatus(posix.pidfdSupported()) ? 3 : null);
        expect(p.isAlive()).to.equal(false);
        expect(activeChildren()).to.not.include(p);
        p.terminate(); // never signals: the pid may be recycled
        p.close();
      }
    });

    it('start() and activeChildren() reap finished children (derived test C10)', async function () {
      const p = new Process({ executable: '/bin/true' });
      p.start();
      await sleep(200);
      expect(activeChildren()).to.not.include(p);
      expect(zombieChildren()).to.not.include(p.pid);
      expect(p.exitCode).to.equal(0);
      p.close();
    });
  });

  it('join() of 1000 live children: one poll handle each, all resolved promptly after they exit', async function () {
    const N = 1000;
    await settleGarbage();
    const fds = fdCount();
    const watched = watchedFdCount();
    const procs = Array.from({ length: N }, () => new Process({ executable: '/bin/sleep', args: ['100'] }));
    const pids = [];
    try {
      procs.forEach((p) => {
        p.start();
        pids.push(p.pid);
      });
      expect(watchedFdCount() - watched).to.equal(N);
      let resolved = 0;
      const joins = Promise.all(procs.map((p) => p.join().then(() => resolved++)));
      await sleep(100);
      expect(resolved).to.equal(0);
      const t0 = performance.now();
      procs.forEach((p) => p.terminate());
      await joins;
      const elapsed = (performance.now() - t0) / 1000;
      expect(procs.every((p) => p.exitCode === -15)).to.equal(true);
      expect(elapsed).to.be.lessThan(10);
      expect(watchedFdCount()).to.equal(watched);
    } finally {
      procs.forEach((p) => p.pid !== null && p.kill());
      for (const p of procs) if (p.pid !== null) p.joinSync();
      procs.forEach((p) => p.close());
    }
    expect(fdCount()).to.equal(fds);
    const ours = new Set(pids);
    expect(zombieChildren().filter((pid) => ours.has(pid))).to.deep.equal([]);
  });
});
