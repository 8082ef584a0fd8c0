// The command's own output to a reader that went away: as coreutils with
// SIGPIPE at its default, posix-process dies of SIGPIPE, silently (Node
// would otherwise crash on the EPIPE with a trace and status 1); but while
// `run` supervises a command, a failed write is only a failed write.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { posix } from '../dist/index.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const GNU = existsSync('/usr/bin/timeout') ? '/usr/bin/timeout' : null;

/**
 * Runs `file args` with `stream` (1 or 2) the write end of a pipe whose
 * read end is already closed, the other one a pipe we read:
 * { code, signal, output }.
 */
function withBrokenPipe(stream, file, args) {
  const [readEnd, writeEnd] = posix.pipe();
  posix.close(readEnd);
  return new Promise((resolve, reject) => {
    const stdio = ['ignore', 'pipe', 'pipe'];
    stdio[stream] = writeEnd;
    const child = spawn(file, args, { stdio });
    posix.close(writeEnd);
    let output = '';
    child[stream === 1 ? 'stderr' : 'stdout'].on('data', (d) => (output += d));
    const deadline = setTimeout(() => child.kill('SIGKILL'), 20000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(deadline);
      resolve({ code, signal, output });
    });
  });
}

describe('54 cli: output to a closed pipe', () => {
  for (const args of [['--help'], ['--version'], ['run', '--help'], ['watch', '--help'], ['bench', '--help']]) {
    it(`${args.join(' ')} to a closed stdout dies of SIGPIPE, with nothing on stderr`, async () => {
      const r = await withBrokenPipe(1, process.execPath, [CLI, ...args]);
      expect(r).to.deep.equal({ code: null, signal: 'SIGPIPE', output: '' });
    });
  }

  it('a usage error to a closed stderr dies of SIGPIPE, with nothing on stdout', async () => {
    const r = await withBrokenPipe(2, process.execPath, [CLI, 'run', '--no-such-option', 'true']);
    expect(r).to.deep.equal({ code: null, signal: 'SIGPIPE', output: '' });
  });

  (GNU ? it : it.skip)('GNU timeout --help does the same', async () => {
    const r = await withBrokenPipe(1, GNU, ['--help']);
    expect(r).to.deep.equal({ code: null, signal: 'SIGPIPE', output: '' });
  });

  it('`posix-process run --help | head -1` prints the first line and exits 0 (the help is one write)', () => {
    for (let i = 0; i < 5; i++) {
      const r = spawnSync('bash', ['-c', `"${process.execPath}" "${CLI}" run --help | head -1; echo "\${PIPESTATUS[0]}"`], {
        encoding: 'utf8',
        timeout: 20000,
      });
      expect(r.stdout).to.match(/^Usage: posix-process run .*\n0\n$/);
      expect(r.stderr).to.equal('');
    }
  });

  it('run: a --json report and --verbose to a closed stderr do not end the supervision (the command’s status)', async () => {
    const done = await withBrokenPipe(2, process.execPath, [CLI, 'run', '--json', '--', 'sh', '-c', 'exit 3']);
    expect(done).to.include({ code: 3, signal: null });
    const timedOut = await withBrokenPipe(2, process.execPath, [CLI, 'run', '-v', '--timeout', '0.2', '--', 'sleep', '10']);
    expect(timedOut).to.include({ code: 124, signal: null });
  });
});
