// posix.spawn: exec failures, PATH search, the child fd map and closeFds,
// checked in the real child after exec (its /proc/PID/fd table).
import { expect } from 'chai';
import { chmodSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binding } from './internals.js';
import { posix } from '../dist/index.js';
import { fdCount, zombieChildren } from './helpers.js';
import { fdTable, isCloexec, sleepingFdTable, killAndReap, pidfdMode, readAll, release, run, sh, spawnSleep } from './fixtures/posix-util.js';

const fixture = (name) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('11 posix.spawn', function () {
  let dir;
  before(function () {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'posix-spawn-')));
    writeFileSync(join(dir, 'noexec'), '#!/bin/sh\nexit 0\n', { mode: 0o644 });
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('exec failures are thrown synchronously, leaving nothing behind', function () {
    // Each case: what spawn is called with, and the exact error expected.
    const cases = () => [
      { what: 'a missing program', file: '/nope', options: {}, message: 'execve ENOENT /nope', code: 'ENOENT', errno: -2, syscall: 'execve', path: '/nope' },
      { what: 'a file without execute permission', file: join(dir, 'noexec'), options: {}, message: `execve EACCES ${join(dir, 'noexec')}`, code: 'EACCES', errno: -13, syscall: 'execve', path: join(dir, 'noexec') },
      { what: 'a path through a regular file', file: join(dir, 'noexec', 'x'), options: {}, message: `execve ENOTDIR ${join(dir, 'noexec', 'x')}`, code: 'ENOTDIR', errno: -20, syscall: 'execve', path: join(dir, 'noexec', 'x') },
      { what: 'a missing cwd', file: '/bin/true', options: { cwd: '/nope/dir' }, message: 'chdir ENOENT /nope/dir', code: 'ENOENT', errno: -2, syscall: 'chdir', path: '/nope/dir' },
      { what: 'a cwd that is a file', file: '/bin/true', options: { cwd: join(dir, 'noexec') }, message: `chdir ENOTDIR ${join(dir, 'noexec')}`, code: 'ENOTDIR', errno: -20, syscall: 'chdir', path: join(dir, 'noexec') },
    ];
    for (const index of [0, 1, 2, 3, 4]) {
      it(`case ${index}`, function () {
        const c = cases()[index];
        this.test.title = c.what;
        const fdsBefore = fdCount();
        let error;
        try {
          const child = posix.spawn(c.file, [c.file], c.options);
          killAndReap(child);
        } catch (e) {
          error = e;
        }
        expect(error, 'spawn must throw').to.be.an.instanceOf(Error);
        expect(error.message).to.equal(c.message);
        expect(error).to.include({ code: c.code, errno: c.errno, syscall: c.syscall, path: c.path });
        expect(fdCount(), 'no fd left behind').to.equal(fdsBefore);
        expect(zombieChildren(), 'no zombie left behind').to.deep.equal([]);
      });
    }

    it('a failed dup2 of a bad map source says dup2 EBADF', function () {
      const fdsBefore = fdCount();
      expect(() => posix.spawn('/bin/true', ['true'], { fds: [0, 1, 2, 19999] }))
        .to.throw(Error, 'dup2 EBADF')
        .that.includes({ code: 'EBADF', errno: -9, syscall: 'dup2' });
      expect(fdCount()).to.equal(fdsBefore);
      expect(zombieChildren()).to.deep.equal([]);
    });
  });

  describe('searchPath', function () {
    it('finds a program in PATH', function () {
      const { out, status } = run('sh', ['sh', '-c', 'echo found; exit 3'], { searchPath: true });
      expect(out).to.equal('found\n');
      expect(status.exitCode).to.equal(3);
    });

    it('without searchPath a bare name is not looked up', function () {
      expect(() => posix.spawn('sh', ['sh'], { cwd: dir })).to.throw('execve ENOENT sh').with.property('code', 'ENOENT');
    });

    it('searches the PATH of options.env, and EACCES wins over ENOENT', function () {
      const env = { PATH: `/nope1:${dir}:/nope2` };
      expect(() => posix.spawn('noexec', ['noexec'], { env, searchPath: true }))
        .to.throw(Error, 'execve EACCES noexec')
        .that.includes({ code: 'EACCES', errno: -13, syscall: 'execve', path: 'noexec' });
      expect(zombieChildren()).to.deep.equal([]);
    });

    it('gives ENOENT when no directory has the program', function () {
      expect(() => posix.spawn('noexec', ['noexec'], { env: { PATH: '/nope1:/nope2' }, searchPath: true }))
        .to.throw(Error, 'execve ENOENT noexec')
        .that.includes({ code: 'ENOENT', errno: -2, syscall: 'execve' });
    });

    it('goes on past a non-executable candidate to an executable one', function () {
      const other = mkdtempSync(join(dir, 'bin-'));
      writeFileSync(join(other, 'noexec'), '#!/bin/sh\necho second\n', { mode: 0o755 });
      const { out, status } = run('noexec', ['noexec'], { env: { PATH: `${dir}:${other}` }, searchPath: true });
      expect(out).to.equal('second\n');
      expect(status.exitCode).to.equal(0);
    });

    it('does not search when the file has a slash', function () {
      expect(() => posix.spawn('./sh', ['sh'], { cwd: dir, searchPath: true })).to.throw('execve ENOENT ./sh');
    });
  });

  describe('environment, cwd, umask', function () {
    it('gives the child exactly options.env', function () {
      const { out } = run('/usr/bin/env', ['env'], { env: { FOO: 'bar baz', EMPTY: '' } });
      expect(out.split('\n').filter(Boolean).sort()).to.deep.equal(['EMPTY=', 'FOO=bar baz']);
    });

    it('inherits this process environment by default', function () {
      process.env.POSIX_SPAWN_TEST_MARK = 'inherited';
      try {
        expect(sh('printf %s "$POSIX_SPAWN_TEST_MARK"').out).to.equal('inherited');
      } finally {
        delete process.env.POSIX_SPAWN_TEST_MARK;
      }
    });

    it('runs the child in options.cwd', function () {
      expect(sh('pwd', { cwd: dir }).out).to.equal(`${dir}\n`);
    });

    it('sets the child umask', function () {
      expect(sh('umask', { umask: 0o027 }).out).to.equal('0027\n');
      expect(sh('umask', { umask: 0 }).out).to.equal('0000\n');
      const own = process.umask();
      expect(sh('umask').out).to.equal(`${own.toString(8).padStart(4, '0')}\n`);
    });
  });

  describe('fd map (the child table after exec)', function () {
    // In fallback mode the child holds exactly one more fd: the write end of
    // the sentinel pipe, on the first fd after the map (closeFds true). Its
    // link is the same pipe inode as the sentinel's read end.
    function expectedExtra(child, n) {
      if (pidfdMode) return {};
      return { [n]: fdTable()[child.sentinel] };
    }
    const own = (fd) => fdTable()[fd];

    it('default map is 0, 1, 2 (plus the fallback sentinel) and nothing else', function () {
      const child = spawnSleep();
      try {
        const table = sleepingFdTable(child.pid);
        expect(table).to.deep.equal({ 0: own(0), 1: own(1), 2: own(2), ...expectedExtra(child, 3) });
        if (pidfdMode) expect(child.sentinel).to.equal(child.pidfd);
        else expect(child.pidfd).to.equal(null);
      } finally {
        killAndReap(child);
      }
    });

    it('remaps a pipe onto fd 0', function () {
      const [r, w] = posix.pipe();
      const child = spawnSleep(30, { fds: [r, 1, 2] });
      try {
        expect(sleepingFdTable(child.pid)).to.deep.equal({ 0: own(r), 1: own(1), 2: own(2), ...expectedExtra(child, 3) });
      } finally {
        killAndReap(child);
        posix.close(r);
        posix.close(w);
      }
    });

    it('swaps 0 and 1 (a source clobbered by a lower dup2)', function () {
      const child = spawnSleep(30, { fds: [1, 0, 2] });
      try {
        expect(sleepingFdTable(child.pid)).to.deep.equal({ 0: own(1), 1: own(0), 2: own(2), ...expectedExtra(child, 3) });
      } finally {
        killAndReap(child);
      }
    });

    it('swaps two distinct pipes inside the map', function () {
      // Two fresh fds a < b as both targets and sources: naive dup2 in order
      // would leave both child fds on b's pipe.
      const [a, a2] = posix.pipe();
      const [b, b2] = posix.pipe();
      const fds = Array.from({ length: b + 1 }, (_, i) => (i < 3 ? i : null));
      fds[a] = b;
      fds[b] = a;
      const child = spawnSleep(30, { fds });
      try {
        expect(own(a)).to.not.equal(own(b));
        expect(sleepingFdTable(child.pid)).to.deep.equal({ 0: own(0), 1: own(1), 2: own(2), [a]: own(b), [b]: own(a), ...expectedExtra(child, b + 1) });
      } finally {
        killAndReap(child);
        for (const fd of [a, a2, b, b2]) posix.close(fd);
      }
    });

    it('null closes a standard fd', function () {
      const child = spawnSleep(30, { fds: [null, 1, 2] });
      try {
        expect(sleepingFdTable(child.pid)).to.deep.equal({ 1: own(1), 2: own(2), ...expectedExtra(child, 3) });
      } finally {
        killAndReap(child);
      }
    });

    it('keeps the fallback sentinel across exec when it lands on the first fd after the map', function () {
      // The sentinel pipe takes the two lowest free fds; a map as long as
      // the write end's number makes the child's dup2(sentinel, n) a no-op.
      const [lo, hi] = posix.pipe();
      posix.close(lo);
      posix.close(hi);
      const fds = Array.from({ length: hi }, (_, i) => (i < 3 ? i : null));
      const child = spawnSleep(2, { fds });
      try {
        // The sentinel must not be ready while the child runs.
        expect(posix.poll([{ fd: child.sentinel, events: posix.POLLIN }], 300)).to.deep.equal([0]);
        expect(sleepingFdTable(child.pid)).to.deep.equal({ 0: own(0), 1: own(1), 2: own(2), ...expectedExtra(child, hi) });
      } finally {
        killAndReap(child);
      }
    });

    it('closeFds false keeps inheritable fds and still drops CLOEXEC ones', function () {
      const [r, w] = posix.pipe(); // CLOEXEC: must not reach the child
      const child = spawnSleep(30, { closeFds: false });
      try {
        const table = sleepingFdTable(child.pid);
        const parent = fdTable();
        const expected = { 0: own(0), 1: own(1), 2: own(2) };
        for (const [fd, link] of Object.entries(parent)) {
          if (Number(fd) > 2 && Number(fd) !== child.sentinel && !isCloexec(Number(fd))) expected[fd] = link;
        }
        if (!pidfdMode) {
          // The write end keeps its own number: exactly one extra fd, on the sentinel pipe.
          const extra = Object.keys(table).filter((fd) => !(fd in expected));
          expect(extra).to.have.lengthOf(1);
          expected[extra[0]] = parent[child.sentinel];
        }
        expect(table).to.deep.equal(expected);
        expect(table).to.not.have.property(String(r));
        expect(table).to.not.have.property(String(w));
      } finally {
        killAndReap(child);
        posix.close(r);
        posix.close(w);
      }
    });

    // A non-CLOEXEC fd that is not in the map only exists in a process that
    // inherited one: Node opens everything CLOEXEC (and at start-up even
    // marks a low inherited fd like 7 CLOEXEC, but leaves fd 50 alone). So
    // an intermediate node process gets our pipe on fd 50 and spawns from
    // there.
    const INHERITED = 50;
    function probe(options) {
      const [r, w] = posix.pipe();
      const [xr, xw] = posix.pipe();
      const fds = Array.from({ length: INHERITED + 1 }, (_, i) => (i < 3 ? i : null));
      fds[1] = w;
      fds[INHERITED] = xw;
      let child;
      try {
        child = posix.spawn(process.execPath, [process.execPath, fixture('spawn-probe.js'), JSON.stringify(options), String(INHERITED)], { fds });
      } finally {
        posix.close(w);
      }
      try {
        const out = readAll(r, 20000);
        const status = posix.waitpid(child.pid);
        expect(status.exitCode, out).to.equal(0);
        const result = JSON.parse(out);
        expect(result.self[INHERITED], 'the intermediate holds our pipe').to.equal(own(xw));
        expect(result.inheritedCloexec, `fd ${INHERITED} of the intermediate is inheritable`).to.equal(false);
        return result;
      } finally {
        posix.close(r);
        posix.close(xr);
        posix.close(xw);
        release(child);
      }
    }

    it('closeFds true (default) closes an inherited non-CLOEXEC fd', function () {
      const result = probe({});
      expect(result.child).to.not.have.property(String(INHERITED));
      const extra = result.pidfd ? {} : { 3: result.sentinelLink };
      expect(result.child).to.deep.equal({ 0: result.self[0], 1: result.self[1], 2: result.self[2], ...extra });
    });

    it('closeFds false keeps an inherited non-CLOEXEC fd', function () {
      const result = probe({ closeFds: false });
      expect(result.child).to.have.property(String(INHERITED), result.self[INHERITED]);
      expect(result.child[INHERITED]).to.match(/^pipe:/);
    });
  });

  describe('argument errors leave nothing behind', function () {
    it('rejects bad types and values before forking', function () {
      const fdsBefore = fdCount();
      expect(() => posix.spawn(1, [])).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
      expect(() => posix.spawn('/bin/true', 'true')).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
      expect(() => posix.spawn('/bin/true', ['a\0b'])).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
      expect(() => posix.spawn('', [])).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
      expect(() => posix.spawn('/bin/true', [], { fds: [-1] })).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
      expect(() => posix.spawn('/bin/true', [], { umask: 0o1000 })).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
      expect(() => posix.spawn('/bin/true', [], { env: { 'A=B': 'c' } })).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
      expect(() => posix.spawn('/bin/true', [], { signalMask: ['SIGNOPE'] })).to.throw(TypeError).with.property('code', 'ERR_UNKNOWN_SIGNAL');
      expect(fdCount()).to.equal(fdsBefore);
    });

    it('keeps the exact words of the checks the addon used to be the only one to make', function () {
      // src/posix.ts makes these checks now; the addon keeps them as a
      // backstop. A user of posix.* sees the same class, code and message.
      const cases = [
        [() => posix.spawn('', []), RangeError, 'ERR_INVALID_ARG_VALUE', 'The "file" argument must not be empty'],
        [() => posix.spawn('/bin/true\0x', []), RangeError, 'ERR_INVALID_ARG_VALUE', 'The "file" argument must not contain null bytes'],
        [() => posix.spawn('/bin/true', ['a\0b']), RangeError, 'ERR_INVALID_ARG_VALUE', 'The "argv" argument must not contain null bytes'],
        [() => posix.spawn('/bin/true', [], { cwd: '/\0' }), RangeError, 'ERR_INVALID_ARG_VALUE', 'The "options.cwd" argument must not contain null bytes'],
        [() => posix.spawn('/bin/true', [], { env: { A: 'b\0' } }), RangeError, 'ERR_INVALID_ARG_VALUE', 'The "options.env" argument must not contain null bytes'],
        [() => posix.spawn('/bin/true', [], { fds: new Array(1025).fill(null) }), RangeError, 'ERR_OUT_OF_RANGE', 'The "options.fds" array must have at most 1024 entries'],
        [() => posix.execve('/nonexistent\0', []), RangeError, 'ERR_INVALID_ARG_VALUE', 'The "path" argument must not contain null bytes'],
        [() => posix.execve('/nonexistent', [], { A: '\0' }), RangeError, 'ERR_INVALID_ARG_VALUE', 'The "env" argument must not contain null bytes'],
        [() => posix.waitpid(process.pid, { nohang: 1 }), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "options.nohang" property must be of type boolean'],
        [() => posix.pidfdWait(0, { untraced: 'yes' }), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "options.untraced" property must be of type boolean'],
        [() => posix.waitpidTimeout(process.pid, '1'), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "timeout" argument must be of type number'],
        [() => posix.waitpidTimeout(process.pid, NaN), RangeError, 'ERR_OUT_OF_RANGE', 'The value of "timeout" must not be NaN'],
        [() => posix.poll(new Array(65537).fill({ fd: -1, events: 0 }), 0), RangeError, 'ERR_OUT_OF_RANGE', 'The "entries" array must have at most 65536 entries'],
      ];
      const fdsBefore = fdCount();
      for (const [call, type, code, message] of cases) {
        expect(call).to.throw(type).that.includes({ code, message });
      }
      expect(fdCount()).to.equal(fdsBefore);
    });

    it('rejects a huge sparse argv with a TypeError, not an abort', function () {
      // Through the binding: the TS layer's Array#forEach walks all 2^32-1
      // holes (about a minute) before it gets there.
      expect(() => binding.spawn('/bin/true', new Array(2 ** 32 - 1))).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
      expect(() => binding.spawn('/bin/true', ['x'], { env: new Array(2 ** 32 - 1) })).to.throw(TypeError);
    });
  });
});
