// The fork child's exit path: every exit-code route ends the child with
// multiprocessing's code through our own exit (listeners run, stdio flushed,
// _exit), never through Node's teardown (which would crash: -11).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const fixture = fileURLToPath(new URL('../fixtures/fork-exit.js', import.meta.url));

function run(mode, arg, { input, env } = {}) {
  const args = ['--single-threaded', fixture, mode];
  if (arg !== undefined) args.push(String(arg));
  const result = spawnSync(process.execPath, args, {
    input,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 20000,
    maxBuffer: 64 * 1024 * 1024,
  });
  expect(result.status, `fixture failed: ${result.stderr}`).to.equal(0);
  const lines = result.stdout.trimEnd().split('\n');
  return { ...JSON.parse(lines.at(-1)), stdout: result.stdout, stderr: result.stderr };
}

for (const env of [{}, { POSIX_PROCESS_NO_PIDFD: '1' }]) {
  describe(`fork child exit codes${env.POSIX_PROCESS_NO_PIDFD ? ' (pipe sentinel)' : ''}`, () => {
    it('the code childMain resolves to', () => {
      expect(run('return', 7, { env }).exitCode).to.equal(7);
      expect(run('return', 0, { env }).exitCode).to.equal(0);
    });

    it('process.exit(n) gives n & 0xff', () => {
      expect(run('exit', 3, { env }).exitCode).to.equal(3);
      expect(run('exit', 260, { env }).exitCode).to.equal(4);
      expect(run('exit', -1, { env }).exitCode).to.equal(255);
      expect(run('exit-later', 12, { env }).exitCode).to.equal(12);
    });

    it('process.exitCode is honoured when childMain resolves 0', () => {
      expect(run('exitCode', 9, { env }).exitCode).to.equal(9);
      expect(run('exitCode', 513, { env }).exitCode).to.equal(1);
    });

    it("'exit' listeners run and may still set process.exitCode", () => {
      const out = run('exit-listener', 4, { env });
      expect(out.stdout).to.include('exit listener 0');
      expect(out.exitCode).to.equal(4);
    });

    it('a rejected childMain ends the child with 1 and its stack on stderr', () => {
      const out = run('throw', undefined, { env });
      expect(out.exitCode).to.equal(1);
      expect(out.stderr).to.include('Error: rejected childMain');
    });
  });
}

describe('10 fork child: stray errors', () => {
  it("a timer of the child's own that throws ends it with 1 and the stack on stderr, not a crash", () => {
    const out = run('own-timer-throw');
    expect(out.exitCode).to.equal(1);
    expect(out.stderr).to.include('own timer error');
  });

  it("the parent's timers never fire in the child (one that would throw there)", () => {
    const out = run('timer-throw');
    expect(out.exitCode).to.equal(0);
    expect(out.stderr).to.not.include('stray timer error');
  });

  it('an unhandled rejection ends the child with 1', () => {
    const out = run('reject');
    expect(out.exitCode).to.equal(1);
    expect(out.stderr).to.include('unhandled in child');
  });
});

describe("fork child: the parent's error handlers", () => {
  it("do not run in the child: an uncaught error there ends it with 1", () => {
    for (const kind of [0, 1]) {
      const out = run('parent-handlers', kind);
      expect(out.exitCode).to.equal(1);
      expect(out.stdout).to.not.include('HANDLER RAN');
      expect(out.stderr).to.include(kind === 1 ? 'child rejection' : 'child timer error');
    }
  });
});

describe("fork child: the child's own error handlers", () => {
  it("handle its uncaught errors and rejections as in any Node process; monitors see them", () => {
    for (const [kind, origin, message] of [[0, 'uncaughtException', 'child timer error'], [1, 'unhandledRejection', 'child rejection']]) {
      const out = run('child-handlers', kind);
      expect(out.stdout).to.include(`monitor ${origin}: ${message}\n`);
      expect(out.stdout).to.include(`child handler: ${message}\n`);
      expect(out.stdout).to.include('child went on\n');
      expect(out.exitCode).to.equal(5);
    }
  });

  it('a capture callback set by the child handles its errors too', () => {
    const out = run('capture-callback');
    expect(out.stdout).to.include('captured: captured in child\n');
    expect(out.exitCode).to.equal(6);
  });

  it('without handlers, monitors still see the error before the child ends with 1', () => {
    const out = run('monitor-only');
    expect(out.stdout).to.include('monitor uncaughtException: stray in child\n');
    expect(out.stderr).to.include('stray in child');
    expect(out.exitCode).to.equal(1);
  });
});

describe('fork child: stdio', () => {
  it('console.log output survives process.exit()', () => {
    const out = run('console-exit');
    expect(out.exitCode).to.equal(3);
    expect(out.stdout.startsWith('from child\n')).to.equal(true);
  });

  it('3 MB written to a slowly read pipe stdout is all flushed before _exit, in order', () => {
    // The reader starts after 1 s: the child's writes queue in libuv and in
    // the stream, and only the exit path's flush gets them out.
    const result = spawnSync('/bin/sh', ['-c', `"$0" --single-threaded "$1" big-stdout 3000 | (sleep 1; cat)`, process.execPath, fixture], {
      encoding: 'utf8',
      timeout: 20000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const out = { stdout: result.stdout, stderr: result.stderr, ...JSON.parse(result.stdout.trimEnd().split('\n').at(-1)) };
    expect(out.exitCode).to.equal(0);
    const lines = out.stdout.split('\n');
    const xs = lines.filter((l) => l.startsWith('x'));
    expect(xs).to.have.length(3000);
    expect(xs.every((l) => l.length === 1023)).to.equal(true);
    expect(out.stderr).to.include('stderr tail');
  });

  it("stdin: the child never reads the parent's input (it sees EOF), the parent gets all of it", () => {
    const out = run('stdin', undefined, { input: 'hello parent\n' });
    expect(out.exitCode).to.equal(0);
    expect(out.stdout).to.include('child stdin ""');
    expect(out.stdinData).to.equal('hello parent\n');
  });
});
