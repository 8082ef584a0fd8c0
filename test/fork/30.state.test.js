// Per-process state in the fork child (docs/design.md, "Forking a Node process") and the at-fork
// hook registry (CPython's os.register_at_fork order).
import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { posix, registerAtFork } from '../../dist/index.js';
import { inChild } from './forkhelpers.js';

describe('30 fork child state', () => {
  it('process.pid and process.ppid are the child\'s', () => {
    const { report, status } = inChild(() => ({ pid: process.pid, ppid: process.ppid, real: posix.pidfdSupported() }));
    expect(status.exitCode).to.equal(0);
    expect(report.pid).to.equal(status.pid);
    expect(report.ppid).to.equal(process.pid);
  });

  it('Math.random() never repeats the parent\'s sequence', () => {
    Math.random(); // the parent's cache is mid-way, as in real programs
    const { report } = inChild(() => Array.from({ length: 200 }, () => Math.random()));
    const parent = Array.from({ length: 200 }, () => Math.random());
    expect(report).to.have.length(200);
    const shared = report.filter((x) => parent.includes(x));
    expect(shared).to.deep.equal([]);
    expect(report.every((x) => x >= 0 && x < 1)).to.equal(true);
    expect(new Set(report).size).to.equal(200);
  });

  it('two children draw different Math.random() values', () => {
    const a = inChild(() => Array.from({ length: 10 }, () => Math.random())).report;
    const b = inChild(() => Array.from({ length: 10 }, () => Math.random())).report;
    expect(a.filter((x) => b.includes(x))).to.deep.equal([]);
  });

  it('crypto.randomUUID() never repeats the parent\'s values (cached batch invalidated)', () => {
    for (const used of [1, 64, 127, 128]) {
      for (let i = 0; i < used; i++) randomUUID();
      const { report } = inChild(() => Array.from({ length: 300 }, () => randomUUID()));
      const parent = new Set(Array.from({ length: 300 }, () => randomUUID()));
      expect(report.filter((u) => parent.has(u)), `after ${used} parent calls`).to.deep.equal([]);
      expect(report.filter((u) => parent.has(u))).to.have.length(0);
    }
  });

  it('siblings forked back to back, and a grandchild, never share a randomUUID() either', () => {
    randomUUID();
    const a = inChild(() => Array.from({ length: 200 }, () => randomUUID())).report;
    const b = inChild(() => {
      const own = Array.from({ length: 100 }, () => randomUUID());
      const grand = inChild(() => Array.from({ length: 100 }, () => randomUUID())).report;
      return [...own, ...grand];
    }).report;
    const parent = Array.from({ length: 200 }, () => randomUUID());
    const all = [...a, ...b, ...parent];
    expect(all).to.have.length(600);
    expect(new Set(all).size).to.equal(600);
  });

  it('globalThis.crypto.randomUUID() (same cache) differs too', () => {
    globalThis.crypto.randomUUID();
    const { report } = inChild(() => Array.from({ length: 50 }, () => globalThis.crypto.randomUUID()));
    const parent = new Set(Array.from({ length: 50 }, () => globalThis.crypto.randomUUID()));
    expect(report.filter((u) => parent.has(u))).to.deep.equal([]);
  });

  it('randomBytes differs (OpenSSL reseeds itself)', () => {
    const { report } = inChild(() => randomBytes(32).toString('hex'));
    expect(report).to.not.equal(randomBytes(32).toString('hex'));
  });
});

describe('registerAtFork', () => {
  it('runs before hooks in reverse order, after hooks in order, in the right process', () => {
    const calls = [];
    let armed = true;
    const push = (x) => armed && calls.push(x);
    registerAtFork({ before: () => push('before1'), afterInParent: () => push('parent1'), afterInChild: () => push('child1') });
    registerAtFork({ before: () => push('before2'), afterInParent: () => push('parent2'), afterInChild: () => push('child2') });
    const { report } = inChild(() => calls.slice());
    armed = false;
    expect(report).to.deep.equal(['before2', 'before1', 'child1', 'child2']);
    expect(calls).to.deep.equal(['before2', 'before1', 'parent1', 'parent2']);
  });

  it('runs around raw posix.fork() too', () => {
    const calls = [];
    let armed = true;
    registerAtFork({ before: () => armed && calls.push('b'), afterInParent: () => armed && calls.push('p'), afterInChild: () => armed && calls.push('c') });
    const pid = posix.fork();
    if (pid === 0) posix.exit(calls.join(',') === 'b,c' ? 42 : 1);
    armed = false;
    expect(posix.waitpid(pid).exitCode).to.equal(42);
    expect(calls).to.deep.equal(['b', 'p']);
  });

  it('a failing hook is reported as a warning and does not stop the fork or the other hooks', () => {
    const calls = [];
    // Hooks cannot be unregistered (nor in CPython): disarm them afterwards
    // so later forks in this suite do not warn.
    let armed = true;
    registerAtFork({
      afterInChild: () => {
        if (armed) throw new Error('hook boom');
      },
    });
    registerAtFork({ afterInChild: () => armed && calls.push('after-failing') });
    const { report, status } = inChild(() => calls.slice());
    armed = false;
    expect(status.exitCode).to.equal(0);
    expect(report).to.deep.equal(['after-failing']);
  });

  it('rejects bad hooks with Node-shaped errors', () => {
    expect(() => registerAtFork(null)).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    expect(() => registerAtFork({})).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    expect(() => registerAtFork({ before: 1 })).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
  });
});

describe('raw posix.fork()', () => {
  it('the child runs JS and leaves with posix.exit(n)', () => {
    const pid = posix.fork();
    if (pid === 0) {
      const a = [];
      for (let i = 0; i < 200000; i++) a.push({ i, s: `v${i}` });
      posix.exit(a.length === 200000 && process.pid !== process.ppid ? 17 : 1);
    }
    expect(pid).to.be.above(0);
    const st = posix.waitpid(pid);
    expect(st.exitCode).to.equal(17);
  });
});
