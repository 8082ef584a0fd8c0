// Program targets: `executable` + args + env + cwd + stdio, exec failures
// thrown synchronously from start(), and no fd or zombie left behind.
import { expect } from 'chai';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Process } from '../dist/index.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { collect, fdCount, zombieChildren } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

// Sentinels of processes dropped by earlier tests close when they are
// collected: collect first, so fd baselines do not move under a test.
async function settleGarbage() {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function run(options) {
  const p = new Process(options);
  p.start();
  const out = p.stdout ? collect(p.stdout) : Promise.resolve(null);
  const err = p.stderr ? collect(p.stderr) : Promise.resolve(null);
  await p.join();
  const result = { code: p.exitCode, out: await out, err: await err };
  p.close();
  return result;
}

describe('32 Process, program targets', function () {
  this.timeout(60000);

  let tmp;
  before(function () {
    tmp = mkdtempSync(join(tmpdir(), 'pp-32-'));
    // Warm up what stays open for the life of the process (/dev/null).
    const p = new Process({ executable: '/bin/true' });
    p.start();
    p.joinSync();
    p.close();
  });
  after(function () {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('runs execve(executable, [executable, ...args]) and reports the exit status', async function () {
    expect((await run({ executable: '/bin/true' })).code).to.equal(0);
    expect((await run({ executable: '/bin/false' })).code).to.equal(1);
    expect((await run({ executable: '/bin/sh', args: ['-c', 'exit 300'] })).code).to.equal(300 & 0xff);
    expect((await run({ executable: '/bin/sh', args: ['-c', 'kill -USR1 $$'] })).code).to.equal(-10);
    const argv0 = await run({ executable: '/bin/sh', args: ['-c', 'echo "$0"', 'zero'], stdio: ['ignore', 'pipe', 'inherit'] });
    expect(argv0.out).to.equal('zero\n');
  });

  it('a bare name is looked up in PATH', async function () {
    expect((await run({ executable: 'true' })).code).to.equal(0);
    const r = await run({ executable: 'sh', args: ['-c', 'echo $0'], stdio: ['ignore', 'pipe', 'ignore'] });
    expect(r.out).to.equal('sh\n');
  });

  describe('exec failure', function () {
    it('ENOENT is thrown by start() synchronously, the object stays unstarted, nothing leaks', async function () {
      await settleGarbage();
      const fds = fdCount();
      const zombies = zombieChildren().length;
      for (let i = 0; i < 50; i++) {
        const p = new Process({ executable: '/nonexistent/program', stdio: ['pipe', 'pipe', 'pipe'] });
        let caught;
        try {
          p.start();
        } catch (error) {
          caught = error;
        }
        expect(caught).to.be.instanceOf(Error);
        expect(caught.code).to.equal('ENOENT');
        expect(caught.syscall).to.equal('execve');
        expect(caught.errno).to.equal(-2);
        expect(caught.path).to.equal('/nonexistent/program');
        expect(caught.message).to.equal('execve ENOENT /nonexistent/program');
        expect(p.pid).to.equal(null);
        expect(p.isAlive()).to.equal(false);
        expect(p.stdout).to.equal(null);
        expect(() => p.sentinel).to.throw('process not started');
        expect(() => p.joinSync()).to.throw('can only join a started process');
        p.close();
      }
      expect(fdCount()).to.equal(fds);
      expect(zombieChildren().length).to.equal(zombies);
    });

    it('EACCES for a file that is not executable; ENOENT from PATH search', function () {
      const file = join(tmp, 'not-executable');
      writeFileSync(file, '#!/bin/sh\n', { mode: 0o644 });
      const p = new Process({ executable: file });
      expect(() => p.start()).to.throw().that.includes({ code: 'EACCES', syscall: 'execve' });
      const q = new Process({ executable: 'no-such-program-pp' });
      expect(() => q.start()).to.throw().that.includes({ code: 'ENOENT' });
    });

    it('a missing cwd fails in chdir with the path', function () {
      const p = new Process({ executable: '/bin/true', cwd: join(tmp, 'missing') });
      expect(() => p.start()).to.throw().that.includes({ code: 'ENOENT', syscall: 'chdir', path: join(tmp, 'missing') });
      expect(p.pid).to.equal(null);
    });

    it('after a failure the same object can still be started once things are fixed', async function () {
      const dir = join(tmp, 'later');
      const p = new Process({ executable: '/bin/true', cwd: dir });
      expect(() => p.start()).to.throw().that.includes({ code: 'ENOENT' });
      (await import('node:fs')).mkdirSync(dir);
      p.start();
      await p.join();
      expect(p.exitCode).to.equal(0);
      p.close();
    });
  });

  describe('env and cwd', function () {
    it('env replaces the environment; cwd sets the directory', async function () {
      const r = await run({
        executable: '/bin/sh',
        args: ['-c', 'echo "$FOO:$HOME:$(pwd)"'],
        env: { FOO: 'bar' },
        cwd: tmp,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      expect(r.out).to.equal(`bar::${tmp}\n`);
    });

    it('without env the child gets this process environment', async function () {
      process.env.PP_32_MARK = 'inherited';
      try {
        const r = await run({ executable: '/bin/sh', args: ['-c', 'echo $PP_32_MARK'], stdio: ['ignore', 'pipe', 'inherit'] });
        expect(r.out).to.equal('inherited\n');
      } finally {
        delete process.env.PP_32_MARK;
      }
    });
  });

  describe('stdio', function () {
    it("default: stdin is /dev/null, stdout and stderr are inherited", async function () {
      const file = join(tmp, 'default.txt');
      const r = await run({
        executable: '/bin/sh',
        args: ['-c', `readlink /proc/self/fd/0 > ${file}; [ "$(readlink /proc/$$/fd/1)" = "$(readlink /proc/${process.pid}/fd/1)" ] && echo same >> ${file}`],
      });
      expect(r.code).to.equal(0);
      expect(readFileSync(file, 'utf8')).to.equal('/dev/null\nsame\n');
    });

    it("'pipe' gives Node streams: write stdin, read stdout and stderr", async function () {
      const p = new Process({ executable: '/bin/sh', args: ['-c', 'cat; echo oops >&2'], stdio: 'pipe' });
      p.start();
      const out = collect(p.stdout);
      const err = collect(p.stderr);
      expect(p.stdio.length).to.equal(3);
      p.stdin.write('hello ');
      p.stdin.end('world');
      expect(await out).to.equal('hello world');
      expect(await err).to.equal('oops\n');
      await p.join();
      expect(p.exitCode).to.equal(0);
      p.close();
    });

    it("'pipe' is a pipe for fds 0-2 (each end one way) and a socketpair for higher fds", async function () {
      const p = new Process({
        executable: '/bin/sh',
        args: ['-c', 'for fd in 0 1 2 3; do l=$(readlink /proc/$$/fd/$fd); echo "${l%%:*}"; done; read line; echo "$line" >&3; cat <&3'],
        stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      });
      p.start();
      const out = collect(p.stdout);
      const three = collect(p.stdio[3]);
      p.stdin.end('up\n');
      p.stdio[3].end('down\n');
      expect(await out).to.equal('pipe\npipe\npipe\nsocket\ndown\n');
      expect(await three).to.equal('up\n');
      await p.join();
      expect(p.exitCode).to.equal(0);
      p.close();
    });

    it("'ignore' is /dev/null; a number maps that fd; more than three entries map higher fds", async function () {
      const file = join(tmp, 'mapped.txt');
      const fd = openSync(file, 'w');
      const p = new Process({
        executable: '/bin/sh',
        args: ['-c', 'readlink /proc/self/fd/0; readlink /proc/self/fd/2; echo three >&3'],
        stdio: ['ignore', fd, 'ignore', 'pipe'],
      });
      p.start();
      closeSync(fd);
      const three = collect(p.stdio[3]);
      await p.join();
      expect(await three).to.equal('three\n');
      expect(readFileSync(file, 'utf8')).to.equal('/dev/null\n/dev/null\n');
      expect(p.stdin).to.equal(null);
      p.close();
    });

    it("'inherit' for stdin passes this process's fd 0", async function () {
      const r = await run({
        executable: '/bin/sh',
        args: ['-c', `[ "$(readlink /proc/$$/fd/0)" = "$(readlink /proc/${process.pid}/fd/0)" ] && echo same`],
        stdio: ['inherit', 'pipe', 'inherit'],
      });
      expect(r.out).to.equal('same\n');
    });

    it('close() destroys the pipe streams; an fd that is not open fails with EBADF', async function () {
      await settleGarbage();
      const fds = fdCount();
      const p = new Process({ executable: '/bin/sleep', args: ['0'], stdio: 'pipe' });
      p.start();
      await p.join();
      const streams = p.stdio;
      p.close();
      expect(streams.map((stream) => stream.destroyed)).to.deep.equal([true, true, true]);
      expect(p.stdout).to.equal(null);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(fdCount()).to.equal(fds);
      const bad = new Process({ executable: '/bin/true', stdio: ['ignore', 987, 'ignore'] });
      expect(() => bad.start()).to.throw().that.includes({ code: 'EBADF' });
      expect(fdCount()).to.equal(fds);
    });
  });

  it('test_many_processes with 20 program targets: all 0; all SIGTERMed give -15', async function () {
    const N = 20;
    let procs = Array.from({ length: N }, () => new Process({ executable: '/bin/sleep', args: ['0.01'] }));
    procs.forEach((p) => p.start());
    await Promise.all(procs.map((p) => p.join(30)));
    expect(procs.map((p) => p.exitCode)).to.deep.equal(Array(N).fill(0));
    procs.forEach((p) => p.close());
    procs = Array.from({ length: N }, () => new Process({ executable: '/bin/sleep', args: ['100'] }));
    procs.forEach((p) => p.start());
    await new Promise((resolve) => setTimeout(resolve, 1));
    procs.forEach((p) => p.terminate());
    for (const p of procs) p.joinSync(30);
    expect(procs.map((p) => p.exitCode)).to.deep.equal(Array(N).fill(-15));
    expect(procs.map((p) => p.signalCode)).to.deep.equal(Array(N).fill('SIGTERM'));
    procs.forEach((p) => p.close());
  });

  it('1000 start/join/close cycles leave no fd and no zombie', async function () {
    await settleGarbage();
    const fds = fdCount();
    const zombies = zombieChildren().length;
    for (let i = 0; i < 1000; i++) {
      const p = new Process({ executable: '/bin/true' });
      p.start();
      if (i % 2 === 0) p.joinSync();
      else await p.join();
      if (p.exitCode !== 0) throw new Error(`cycle ${i}: exit code ${p.exitCode}`);
      p.close();
    }
    expect(fdCount()).to.equal(fds);
    expect(zombieChildren().length).to.equal(zombies);
  });
});
