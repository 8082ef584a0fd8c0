// forkChild()'s sentinel, both ways: a pidfd, or (POSIX_PROCESS_NO_PIDFD=1)
// a pipe whose write end only the child holds — not the parent, not a
// grandchild made by either fork path.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const fixture = fileURLToPath(new URL('../fixtures/fork-sentinel.js', import.meta.url));

function run(env) {
  const result = spawnSync(process.execPath, ['--single-threaded', fixture], {
    env: { ...process.env, POSIX_PROCESS_NO_PIDFD: '', ...env },
    encoding: 'utf8',
    timeout: 30000,
  });
  expect(result.status, result.stderr).to.equal(0);
  return JSON.parse(result.stdout.trim());
}

for (const [label, env, pidfd] of [
  ['pidfd', {}, true],
  ['pipe fallback', { POSIX_PROCESS_NO_PIDFD: '1' }, false],
]) {
  describe(`20 fork sentinel: ${label}`, () => {
    let out;
    before(() => {
      out = run(env);
    });

    it(pidfd ? 'is the pidfd' : 'has no pidfd', () => {
      if (pidfd) expect(out.pidfd).to.be.a('number');
      else expect(out.pidfd).to.equal(null);
    });

    it('is CLOEXEC, not readable while the child runs, readable once it ends', () => {
      expect(out.cloexec).to.equal(true);
      expect(out.readableEarly).to.equal(false);
      expect(out.readableLater).to.equal(true);
      expect(out.exit1).to.equal(5);
    });

    it('a grandchild forked by the child does not keep it unreadable', () => {
      // The grandchildren live 1.5 s; the sentinel must fire well before.
      expect(out.msWithForkGrandchild).to.be.below(1000);
      expect(out.exit2).to.equal(6);
      expect(out.msWithRawGrandchild).to.be.below(1000);
      expect(out.exit3).to.equal(7);
    });
  });
}
