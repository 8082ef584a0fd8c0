// `posix-process watch PID...`: waits for processes that are not its
// children (the test starts them, the command only watches).
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { cli as runCli } from './helpers.js';
import { posix } from '../dist/index.js';

const NO_SUCH_PID = String(2 ** 31 - 1); // above any pid_max

const cli = (args) => runCli(args, { stdio: ['ignore', 'pipe', 'pipe'] });

/** A `sleep` that is this test's child, never the command's. */
function sleeper(seconds) {
  const child = spawn('sleep', [String(seconds)], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return { pid: child.pid, exited, kill: () => child.kill('SIGKILL') };
}

const pidfd = posix.pidfdSupported();

describe('52 cli: watch', () => {
  (pidfd ? describe : describe.skip)('with pidfd', () => {
    it('returns 0 once an unrelated process has exited', async () => {
      const s = sleeper(0.5);
      const r = await cli(['watch', String(s.pid)]);
      expect(r.code).to.equal(0);
      expect(r.elapsed).to.be.within(0.2, 3);
      expect(r.stderr).to.equal('');
      await s.exited;
    });

    it('waits for ALL the pids', async () => {
      const short = sleeper(0.2);
      const long = sleeper(0.8);
      const r = await cli(['watch', String(short.pid), String(long.pid), String(short.pid)]);
      expect(r.code).to.equal(0);
      expect(r.elapsed).to.be.within(0.6, 4);
      await Promise.all([short.exited, long.exited]);
    });

    it('--timeout gives 124 while the process lives on', async () => {
      const s = sleeper(30);
      try {
        const r = await cli(['watch', '--timeout', '0.3', String(s.pid)]);
        expect(r.code).to.equal(124);
        expect(r.elapsed).to.be.within(0.3, 3);
        expect(() => process.kill(s.pid, 0)).not.to.throw();
      } finally {
        s.kill();
        await s.exited;
      }
    });

    it('a pid with no process counts as already exited (like tail --pid)', async () => {
      const r = await cli(['watch', NO_SUCH_PID]);
      expect(r.code).to.equal(0);
      expect(r.elapsed).to.be.below(3);
      const s = sleeper(0.4);
      const mixed = await cli(['watch', NO_SUCH_PID, String(s.pid)]);
      expect(mixed.code).to.equal(0);
      expect(mixed.elapsed).to.be.within(0.2, 3);
      await s.exited;
    });

    it('a zombie (exited, not yet reaped by its parent) counts as exited', async () => {
      const { pid, sentinel } = posix.spawn('true', ['true'], { searchPath: true });
      try {
        // Wait for the exit without reaping: the sentinel becomes readable.
        expect(posix.poll([{ fd: sentinel, events: posix.POLLIN }], 3000)[0]).to.not.equal(0);
        const r = await cli(['watch', '--timeout', '5', String(pid)]);
        expect(r.code).to.equal(0);
        expect(r.elapsed).to.be.below(3);
      } finally {
        posix.waitpid(pid);
        posix.close(sentinel);
      }
    });
  });

  (pidfd ? describe.skip : describe)('without pidfd (POSIX_PROCESS_NO_PIDFD=1)', () => {
    it('refuses with 125 rather than polling', async () => {
      const s = sleeper(30);
      try {
        const r = await cli(['watch', String(s.pid)]);
        expect(r.code).to.equal(125);
        expect(r.stderr).to.match(/^posix-process: watch needs pidfd_open\(2\)/);
        expect(r.elapsed).to.be.below(3);
      } finally {
        s.kill();
        await s.exited;
      }
    });
  });

  for (const args of [['watch'], ['watch', 'abc'], ['watch', '0'], ['watch', '12x'], ['watch', '--', '-5'], ['watch', '--timeout', 'x', '1'], ['watch', '2147483648']]) {
    it(`bad usage ${JSON.stringify(args)} exits 125 with the usage line`, async () => {
      const r = await cli(args);
      expect(r.code).to.equal(125);
      expect(r.stderr).to.include('Usage: posix-process watch [--timeout DUR] PID...');
    });
  }

  it('--help exits 0 and documents the choices', async () => {
    const r = await cli(['watch', '--help']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.include('counts as already exited');
    expect(r.stdout).to.include('does not fall back to polling');
  });
});
