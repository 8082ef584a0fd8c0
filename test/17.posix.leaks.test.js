// 1000 spawn+wait cycles leave no zombie and no fd, on the pidfd path and
// on the pipe-sentinel fallback (each run in its own node process, so both
// paths are checked whichever way this suite runs).
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { posix } from '../dist/index.js';
import { fdCount, zombieChildren } from './helpers.js';
import { readAll, release } from './fixtures/posix-util.js';

const fixture = fileURLToPath(new URL('./fixtures/spawn-loop.js', import.meta.url));

function loop(n, noPidfd) {
  const env = { ...process.env, POSIX_PROCESS_NO_PIDFD: noPidfd ? '1' : '0' };
  const [r, w] = posix.pipe();
  let child;
  try {
    child = posix.spawn(process.execPath, [process.execPath, fixture, String(n)], { fds: [0, w, 2], env });
  } finally {
    posix.close(w);
  }
  try {
    const out = readAll(r, 60000);
    const status = posix.waitpid(child.pid);
    expect(status.exitCode, out).to.equal(0);
    return JSON.parse(out);
  } finally {
    posix.close(r);
    release(child);
  }
}

describe('17 posix leaks', function () {
  this.timeout(120000);

  for (const noPidfd of [false, true]) {
    it(`1000 spawns + waits leave no fd and no zombie (${noPidfd ? 'fallback' : 'pidfd'} path)`, function () {
      const result = loop(1000, noPidfd);
      expect(result.pidfd).to.equal(!noPidfd);
      expect(result.after, 'fd count after').to.equal(result.before);
      expect(result.zombies).to.deep.equal([]);
      expect(result.failures, 'exec failures thrown').to.equal(100);
      this.test.title += ` [${Math.round(result.ms)} ms]`;
    });
  }

  it('in this process too (current path)', function () {
    const before = fdCount();
    for (let i = 0; i < 300; i++) {
      const child = posix.spawn('/bin/true', ['true']);
      expect(posix.waitpid(child.pid).exitCode).to.equal(0);
      release(child);
    }
    expect(fdCount()).to.equal(before);
    expect(zombieChildren()).to.deep.equal([]);
  });
});
