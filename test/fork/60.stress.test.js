// Many forks of a parent whose heap keeps changing, with GC- and JIT-heavy
// children: no hang, no crash, every exit code right, nothing leaked.
import { expect } from 'chai';
import { Process } from '../../dist/index.js';
import { fdCount, zombieChildren } from '../helpers.js';
import { forkAndWait } from './forkhelpers.js';

// Allocation-heavy: several scavenges and likely a mark-compact.
function churn(rounds) {
  let keep = [];
  let total = 0;
  for (let i = 0; i < rounds; i++) {
    const batch = [];
    for (let j = 0; j < 1000; j++) batch.push({ i, j, s: `s${j}`, a: [j, j + 1] });
    total += batch.length;
    if (i % 10 === 0) keep = batch; // some survive to old space
  }
  return total + keep.length;
}

// JIT-heavy: hot enough for the optimizing compiler (on the main thread,
// with --single-threaded).
function hot(n) {
  let acc = 0;
  for (let i = 0; i < n; i++) acc = (acc + ((i * 2654435761) % 1000003)) % 1000000007;
  return acc;
}

describe('60 fork stress', function () {
  this.timeout(240000);

  it('1000 GC- and JIT-heavy fork children, the parent churning its heap in between', () => {
    const fdsBefore = fdCount();
    const expectedHot = hot(200000);
    const parentGarbage = [];
    const t0 = Date.now();
    for (let k = 0; k < 1000; k++) {
      const code = (k % 200) + 1;
      const status = forkAndWait(async () => {
        const ok = churn(60) === 61000 && hot(200000) === expectedHot;
        return ok ? code : 255;
      });
      expect(status.exitCode, `child ${k}`).to.equal(code);
      // The parent's heap moves between forks: new pages, freed pages.
      parentGarbage.push(churn(2));
      if (parentGarbage.length > 50) parentGarbage.length = 0;
    }
    const seconds = (Date.now() - t0) / 1000;
    expect(seconds).to.be.below(200);
    expect(zombieChildren()).to.deep.equal([]);
    expect(fdCount()).to.equal(fdsBefore);
  });

  it('200 Process fork children started together, joined together', async () => {
    const procs = [];
    for (let k = 0; k < 200; k++) {
      const p = new Process({ startMethod: 'fork', target: (n) => process.exit(n % 100), args: [k] });
      p.start();
      procs.push(p);
    }
    await Promise.all(procs.map((p) => p.join(30)));
    procs.forEach((p, k) => expect(p.exitCode).to.equal(k % 100));
    procs.forEach((p) => p.close());
    expect(zombieChildren()).to.deep.equal([]);
  });
});
