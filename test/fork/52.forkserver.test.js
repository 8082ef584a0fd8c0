// A 'fork' child of a process that uses a forkserver: the server is its
// parent's, and the child must neither talk to it (it would take its
// parent's replies) nor keep it alive; its own forkserver children get a
// server of its own.
import { expect } from 'chai';
import { Pipe, Process } from '../../dist/index.js';
import { forkserverPid } from '../internals.js';

describe('52 fork and forkserver together', function () {
  this.timeout(60000);

  it("a 'fork' child starts forkserver children through a server of its own", async function () {
    const warm = new Process({ startMethod: 'forkserver', target: () => {} });
    warm.start();
    await warm.join(30);
    const parentServer = forkserverPid();
    expect(parentServer).to.be.a('number');
    const [r, w] = Pipe(false);
    const p = new Process({
      startMethod: 'fork',
      target: async () => {
        const before = forkserverPid();
        const q = new Process({ startMethod: 'forkserver', target: () => { process.exitCode = 21; } });
        q.start();
        await q.join(30);
        w.send({ before, after: forkserverPid(), code: q.exitCode });
      },
    });
    p.start();
    w.close();
    const seen = await r.recv();
    await p.join(30);
    r.close();
    expect(p.exitCode).to.equal(0);
    expect(seen.before, "the parent's server is forgotten in the child").to.equal(null);
    expect(seen.code).to.equal(21);
    expect(seen.after).to.be.a('number').and.not.equal(parentServer);
    // The parent's server still serves the parent.
    const again = new Process({ startMethod: 'forkserver', target: () => { process.exitCode = 22; } });
    again.start();
    await again.join(30);
    expect(again.exitCode).to.equal(22);
    expect(forkserverPid()).to.equal(parentServer);
  });
});
