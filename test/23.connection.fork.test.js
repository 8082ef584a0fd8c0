// Connections across posix.fork(): the child inherits the same objects and
// fds. Forking needs `node --single-threaded`, so each scenario runs in a
// fresh single-threaded node started with posix.spawn.
import { expect } from 'chai';
import { Pipe, posix, wait } from '../dist/index.js';

const INDEX = new URL('../dist/index.js', import.meta.url).href;

/** Runs `body` in `node --single-threaded`; resolves with its exit code and stdout. */
async function runSingleThreaded(body) {
  const [r, w] = Pipe(false);
  const code = `import { Pipe, posix, wait } from ${JSON.stringify(INDEX)};\n${body}`;
  const child = posix.spawn(process.execPath, [process.execPath, '--single-threaded', '--input-type=module', '-e', code], {
    fds: [0, w.fileno(), 2],
  });
  w.close();
  const chunks = [];
  for (;;) {
    try {
      chunks.push(await r.recv());
    } catch (error) {
      if (error.code !== 'EOF') throw error;
      break;
    }
  }
  r.close();
  expect(await wait([child.sentinel], 30)).to.deep.equal([child.sentinel]);
  const status = posix.waitpid(child.pid);
  posix.close(child.sentinel);
  return { exitCode: status.exitCode, out: chunks };
}

// The scenario scripts report over fd 1 (a pipe) with framed messages.
const REPORT = `
import { Connection } from ${JSON.stringify(INDEX)};
const report = new Connection(1, { readable: false });
`;

describe('23 Connection: across posix.fork()', function () {
  this.timeout(60000);

  it('a Connection with a recv() pending at fork time works in both parent and child', async function () {
    const { exitCode, out } = await runSingleThreaded(`${REPORT}
      const [a, b] = Pipe();
      const pendingInParent = a.recv();
      const pid = posix.fork();
      if (pid === 0) {
        const guard = setTimeout(() => posix.exit(3), 10000);
        b.send('to child');
        const got = await a.recv();          // same fd as the parent's pending subscription
        const again = (b.send('sync too'), a.recvSync());
        const none = await wait([a], 0.05);   // nothing left over
        clearTimeout(guard);
        report.send(['child', got, again, none.length]);
        posix.exit(got === 'to child' && again === 'sync too' && none.length === 0 ? 0 : 2);
      } else {
        const st = posix.waitpidTimeout(pid, 20);
        b.send('to parent');
        report.send(['parent', await pendingInParent, st && st.exitCode]);
        a.close(); b.close();
      }`);
    expect(exitCode).to.equal(0);
    expect(out).to.deep.include(['child', 'to child', 'sync too', 0]);
    expect(out).to.deep.include(['parent', 'to parent', 0]);
  });

  it('parent and fork child talk over a one-way Pipe created before the fork', async function () {
    const { exitCode, out } = await runSingleThreaded(`${REPORT}
      const [r, w] = Pipe(false);
      const pid = posix.fork();
      if (pid === 0) {
        r.close();
        for (let i = 0; i < 5; i++) w.send({ i, big: Buffer.alloc(300000, i) });
        w.close();
        posix.exit(0);
      } else {
        w.close();
        const got = [];
        for (;;) {
          try { const m = await r.recv(); got.push(m.i + ':' + m.big.length + ':' + m.big[299999]); }
          catch (e) { got.push(e.code); break; }
        }
        const st = posix.waitpidTimeout(pid, 20);
        report.send([got, st && st.exitCode]);
        r.close();
      }`);
    expect(exitCode).to.equal(0);
    expect(out).to.deep.equal([[['0:300000:0', '1:300000:1', '2:300000:2', '3:300000:3', '4:300000:4', 'EOF'], 0]]);
  });
});
