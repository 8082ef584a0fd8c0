// The child never resumes the code that called fork: the caller's frames
// (including finally blocks) and the parent's pending promise jobs do not
// run there; childMain runs from a clean stack wherever fork was called.
import { closeSync, writeSync } from 'node:fs';
import { expect } from 'chai';
import { binding } from '../internals.js';
import { forkChild } from '../internals.js';
import { readAll } from './forkhelpers.js';

/** Forks from `where`; the child and the parent's leftovers write marks to a pipe. */
function trace(where) {
  const [r, w] = binding.pipe();
  const mark = (s) => writeSync(w, `${binding.getpid() === parentPid ? 'P' : 'C'}:${s};`);
  const parentPid = binding.getpid();
  return new Promise((resolve) => {
    const go = () => {
      Promise.resolve().then(() => mark('pending-job'));
      let started;
      try {
        started = forkChild(async () => {
          mark('childMain');
          await new Promise((res) => setTimeout(res, 20));
          mark('childMain-after-await');
          return 9;
        });
        mark('after-fork');
      } finally {
        mark('finally');
      }
      const status = binding.waitpid(started.pid);
      closeSync(started.sentinel);
      closeSync(w);
      resolve({ marks: readAll(r), code: status.exitCode });
      closeSync(r);
    };
    if (where === 'sync') go();
    else if (where === 'microtask') Promise.resolve().then(go);
    else if (where === 'timer') setTimeout(go, 1);
    else if (where === 'immediate') setImmediate(go);
  });
}

describe('35 fork child: a clean start', () => {
  for (const where of ['sync', 'microtask', 'timer', 'immediate']) {
    it(`called from ${where}: the child runs only childMain; the caller's code and finally run only in the parent`, async () => {
      const { marks, code } = await trace(where);
      expect(code).to.equal(9);
      const child = marks.split(';').filter((m) => m.startsWith('C:'));
      expect(child).to.deep.equal(['C:childMain', 'C:childMain-after-await']);
      // The two processes write concurrently: only each one's own order is fixed.
      const parent = marks.split(';').filter((m) => m.startsWith('P:'));
      expect(parent).to.deep.equal(['P:after-fork', 'P:finally']);
    });
  }

  it("the parent's intervals and immediates do not run in the child; the child's own do", () => {
    const [r, w] = binding.pipe();
    const parentPid = binding.getpid();
    const mark = (s) => binding.getpid() !== parentPid && writeSync(w, `${s};`);
    const interval = setInterval(() => mark('parent-interval'), 2);
    setImmediate(() => mark('parent-immediate'));
    const started = forkChild(async () => {
      let n = 0;
      await new Promise((resolve) => {
        const own = setInterval(() => {
          mark('own-interval');
          if (++n === 3) {
            clearInterval(own);
            resolve();
          }
        }, 10);
      });
      await new Promise((resolve) => setImmediate(resolve));
      mark('own-immediate');
      return 0;
    });
    const status = binding.waitpid(started.pid);
    clearInterval(interval);
    closeSync(started.sentinel);
    closeSync(w);
    expect(status.exitCode).to.equal(0);
    expect(readAll(r)).to.equal('own-interval;own-interval;own-interval;own-immediate;');
    closeSync(r);
  });

  it("a child forking while its own target is in flight: the grandchild is not ended by that target's completion", () => {
    const [r, w] = binding.pipe();
    const started = forkChild(async () => {
      const timer = new Promise((res) => setTimeout(res, 30));
      const grand = forkChild(async () => {
        await new Promise((res) => setTimeout(res, 200)); // outlives the child's timer
        writeSync(w, 'grandchild done');
        return 4;
      });
      await timer; // settles in the grandchild too: must not end it with 5
      const status = binding.waitpid(grand.pid);
      return status.exitCode === 4 ? 5 : 100 + (status.exitCode ?? 99);
    });
    closeSync(w);
    const status = binding.waitpid(started.pid);
    closeSync(started.sentinel);
    expect(readAll(r)).to.equal('grandchild done');
    closeSync(r);
    expect(status.exitCode).to.equal(5);
  });
});
