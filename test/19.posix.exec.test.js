// posix.execve and posix.exit: failures in this process, success in a
// child node process (it is replaced, or it ends at once).
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { posix } from '../dist/index.js';
import { fdCount } from './helpers.js';
import { readAll, release } from './fixtures/posix-util.js';

const index = JSON.stringify(fileURLToPath(new URL('../dist/index.js', import.meta.url)));
// Node marks low inherited fds CLOEXEC at start-up (3..~16); fd 50 it leaves alone.
const SIDE = 50;

/** Runs an ES module in a child node: its fd 1 and 2 and fd 50 are pipes we read. */
function node(source) {
  const pipes = [posix.pipe(), posix.pipe(), posix.pipe()];
  const fds = Array.from({ length: SIDE + 1 }, (_, i) => (i === 0 ? 0 : null));
  fds[1] = pipes[0][1];
  fds[2] = pipes[1][1];
  fds[SIDE] = pipes[2][1];
  let child;
  try {
    child = posix.spawn(process.execPath, [process.execPath, '--input-type=module', '-e', `import { posix } from ${index};\n${source}`], { fds });
  } finally {
    for (const [, w] of pipes) posix.close(w);
  }
  try {
    const [out, err, side] = pipes.map(([r]) => readAll(r, 20000));
    return { pid: child.pid, out, err, side, status: posix.waitpid(child.pid) };
  } finally {
    for (const [r] of pipes) posix.close(r);
    release(child);
  }
}

describe('19 posix.execve and posix.exit', function () {
  this.timeout(30000);
  let dir;
  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'posix-exec-'));
    writeFileSync(join(dir, 'noexec'), '#!/bin/sh\n', { mode: 0o644 });
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a failed execve throws the system error and this process goes on', function () {
    const before = fdCount();
    expect(() => posix.execve('/nope', ['/nope']))
      .to.throw(Error, 'execve ENOENT /nope')
      .that.includes({ code: 'ENOENT', errno: -2, syscall: 'execve', path: '/nope' });
    expect(() => posix.execve(join(dir, 'noexec'), ['noexec'], {}))
      .to.throw(Error, `execve EACCES ${join(dir, 'noexec')}`)
      .that.includes({ code: 'EACCES', errno: -13 });
    expect(() => posix.execve('/bin/true', ['true'], { 'A=B': 'x' })).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
    expect(() => posix.execve('/bin/true', 'true')).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    expect(fdCount()).to.equal(before);
  });

  it('execve replaces the process: same pid, the given argv and env', function () {
    const r = node(`posix.execve('/bin/sh', ['sh', '-c', 'echo "$$ $0 $X" > /dev/fd/${SIDE}; exit 7', 'zero'], { X: 'from-env' });`);
    expect(r.status).to.include({ exited: true, exitCode: 7 });
    expect(r.side).to.equal(`${r.pid} zero from-env\n`);
  });

  it('execve keeps stdio: the new program writes to the same stdout', function () {
    // Node marks fds 0-2 CLOEXEC at start-up; execve must undo that for
    // them, as the spawn child does for the fds it maps.
    const r = node(`posix.execve('/bin/sh', ['sh', '-c', 'echo out; echo err >&2']);`);
    expect(r.status.exitCode, r.err).to.equal(0);
    expect(r.out).to.equal('out\n');
    expect(r.err).to.equal('err\n');
  });

  it('exit ends at once with the low byte of the code, without exit handlers', function () {
    for (const [code, expected] of [[0, 0], [3, 3], [300, 44], [-1, 255]]) {
      const r = node(`process.on('exit', () => process.stdout.write('exit handler ran'));\nposix.exit(${code});\nprocess.stdout.write('after exit');`);
      expect(r.status, `exit(${code})`).to.include({ exited: true, exitCode: expected });
      expect(r.out).to.equal('');
    }
  });

  it('exit rejects what is not a 32-bit integer', function () {
    for (const code of [1.5, NaN, 2 ** 31, '1', undefined]) {
      expect(() => posix.exit(code)).to.throw(/ERR_|out of range|must be/).with.property('code').that.matches(/^ERR_(OUT_OF_RANGE|INVALID_ARG_TYPE)$/);
    }
  });
});
