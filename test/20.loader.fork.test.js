// The fork addon is loaded at the first fork, never at import, and only when
// it was built for the running Node's ABI: without it (or with one built for
// another Node) the package imports, spawn/wait/Pipe work, and every fork
// path refuses with a ProcessError that names the reason and the Node
// version. On a Node major nobody tested, fork runs a self-check first.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { arch, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const root = fileURLToPath(new URL('..', import.meta.url));
const abi = Number(process.versions.modules);
const forkPrebuilds = join(root, 'prebuilds', `${platform()}-${arch()}`, 'fork');
const tag = `${platform()}-${arch()}`;

/** A package as npm installs it, with the Node-API addon as a prebuild and `fork` laid out by the caller. */
function layout(dirs) {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'posix-forkload-')));
  dirs.push(dir);
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  mkdirSync(join(dir, 'prebuilds', tag, 'fork'), { recursive: true });
  copyFileSync(join(root, 'build', 'Release', 'posix_process.node'), join(dir, 'prebuilds', tag, 'node.napi.glibc.node'));
  return dir;
}

// Imports the package, reports which addons are mapped, then uses spawn,
// wait and Pipe, then tries every fork path.
const probe = `
import { readFileSync } from 'node:fs';
import { Process, Pipe, posix, getAllStartMethods, registerAtFork } from './dist/index.js';
const addons = () => [...new Set(readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/)[5]).filter((p) => p && p.endsWith('.node')))].map((p) => p.split('/').slice(-2).join('/'));
const out = { atImport: addons() };
const child = posix.spawn('/bin/sh', ['sh', '-c', 'exit 3']);
out.spawnExit = posix.waitpid(child.pid).exitCode;
posix.close(child.sentinel);
const [a, b] = Pipe();
a.send('ping');
out.pipe = await b.recv();
let forks = 0;
registerAtFork({ afterInParent: () => forks++ });
out.methods = getAllStartMethods();
const attempt = async (fn) => { try { return { forked: await fn() }; } catch (e) { return { name: e.name, code: e.code, message: e.message }; } };
out.process = await attempt(async () => {
  const p = new Process({ startMethod: 'fork', target: async () => { await new Promise((r) => setTimeout(r, 1)); process.exitCode = 7; } });
  p.start();
  await p.join(20);
  return p.exitCode;
});
out.posixFork = await attempt(() => {
  const pid = posix.fork();
  if (pid === 0) posix.exit(4);
  return posix.waitpid(pid).exitCode;
});
out.forksSeen = forks;
out.atEnd = addons();
process.stdout.write(JSON.stringify(out));
`;

function run(dir, env = {}) {
  const result = spawnSync(process.execPath, ['--single-threaded', '--input-type=module', '-e', probe], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60000,
    env: { ...process.env, PREBUILDS_ONLY: '1', POSIX_PROCESS_PREBUILD: '', ...env },
  });
  expect(result.status, result.stderr).to.equal(0);
  return JSON.parse(result.stdout);
}

function expectRefused(out, reason) {
  expect(out.methods).to.deep.equal(['spawn']);
  for (const path of ['process', 'posixFork']) {
    expect(out[path].name, path).to.equal('ProcessError');
    expect(out[path].code, path).to.equal('ERR_FORK_UNSAFE');
    expect(out[path].message, path).to.include(reason);
    expect(out[path].message, path).to.include(`(Node.js ${process.version})`);
    expect(out[path].message, path).to.include("Use the 'spawn' start method.");
  }
  expect(out.forksSeen).to.equal(0);
}

describe('20 loader: the fork addon', function () {
  this.timeout(120000);
  const dirs = [];
  after(function () {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('is not loaded at import, nor by spawn, wait or Pipe; the first fork loads it', function () {
    const result = spawnSync(
      process.execPath,
      ['--single-threaded', '--input-type=module', '-e', probe.replace("'./dist/index.js'", JSON.stringify(join(root, 'dist', 'index.js')))],
      { encoding: 'utf8', timeout: 60000 },
    );
    expect(result.status, result.stderr).to.equal(0);
    const out = JSON.parse(result.stdout);
    expect(out.atImport.some((p) => p.includes('posix_process_fork') || p.startsWith('fork/'))).to.equal(false);
    expect(out.spawnExit).to.equal(3);
    expect(out.pipe).to.equal('ping');
    expect(out.methods).to.deep.equal(['forkserver', 'spawn', 'fork']);
    expect(out.process).to.deep.equal({ forked: 7 });
    expect(out.posixFork).to.deep.equal({ forked: 4 });
    expect(out.atEnd.some((p) => p.includes('posix_process_fork') || p.startsWith('fork/'))).to.equal(true);
  });

  it('without a fork addon for this ABI: imports, spawns, and every fork path says why not', function () {
    const dir = layout(dirs);
    const out = run(dir);
    expect(out.spawnExit).to.equal(3);
    expect(out.pipe).to.equal('ping');
    expectRefused(out, `there is no fork addon built for this Node.js (ABI ${abi})`);
    expect(out.atEnd).to.deep.equal([`${tag}/node.napi.glibc.node`]);
  });

  it('a fork addon built for another Node is refused, not used', function () {
    const other = existsSync(forkPrebuilds) ? readdirSync(forkPrebuilds).find((f) => !f.startsWith(`node.abi${abi}.`)) : undefined;
    // `npm run prebuild` (CI runs it before the suites) leaves one per tested Node.
    if (other === undefined) this.skip();
    const otherAbi = Number(/abi(\d+)/.exec(other)[1]);
    const dir = layout(dirs);
    // Named as this ABI's prebuild: the loader must check what it loads.
    copyFileSync(join(forkPrebuilds, other), join(dir, 'prebuilds', tag, 'fork', `node.abi${abi}.glibc.node`));
    const out = run(dir);
    expect(out.spawnExit).to.equal(3);
    expectRefused(out, `was built for ABI ${otherAbi}`);
  });

  it("this ABI's prebuild is found in prebuilds/<platform>-<arch>/fork/ and forks", function () {
    const dir = layout(dirs);
    // This Node's build: its prebuild when there is one (other Nodes than the
    // one that ran npm install), else the build from source.
    const prebuilt = join(forkPrebuilds, `node.abi${abi}.glibc.node`);
    const built = join(root, 'native', 'fork', 'build', 'Release', 'posix_process_fork.node');
    copyFileSync(existsSync(prebuilt) ? prebuilt : built, join(dir, 'prebuilds', tag, 'fork', `node.abi${abi}.glibc.node`));
    const out = run(dir);
    expect(out.methods).to.deep.equal(['forkserver', 'spawn', 'fork']);
    expect(out.process).to.deep.equal({ forked: 7 });
    expect(out.posixFork).to.deep.equal({ forked: 4 });
    expect(out.atEnd).to.include(`fork/node.abi${abi}.glibc.node`);
  });

  describe('on a Node nobody tested (POSIX_PROCESS_FORK_SELF_CHECK=1 treats this one so)', function () {
    it('the first fork is preceded by one trial fork that must pass', function () {
      const out = run(root, { PREBUILDS_ONLY: '', POSIX_PROCESS_FORK_SELF_CHECK: '1' });
      expect(out.methods).to.deep.equal(['forkserver', 'spawn', 'fork']);
      expect(out.process).to.deep.equal({ forked: 7 });
      expect(out.posixFork).to.deep.equal({ forked: 4 });
      // The trial, the Process, posix.fork(): the hooks saw each.
      expect(out.forksSeen).to.equal(3);
    });

    it('a trial child that does not end as it should makes fork refuse, with what happened', function () {
      // An at-fork hook that ends every child early stands in for a Node on
      // which the child's path breaks.
      const breaking = probe.replace(
        'let forks = 0;',
        'let forks = 0; registerAtFork({ afterInChild: () => posix.exit(3) });',
      );
      const result = spawnSync(process.execPath, ['--single-threaded', '--input-type=module', '-e', breaking], {
        cwd: root,
        encoding: 'utf8',
        timeout: 60000,
        env: { ...process.env, POSIX_PROCESS_FORK_SELF_CHECK: '1' },
      });
      expect(result.status, result.stderr).to.equal(0);
      const out = JSON.parse(result.stdout);
      // Only this process's fork is refused: a forkserver is another
      // process, which checks itself.
      expect(out.methods).to.deep.equal(['forkserver', 'spawn']);
      for (const path of ['process', 'posixFork']) {
        expect(out[path].code, path).to.equal('ERR_FORK_UNSAFE');
        expect(out[path].message, path).to.include(`Node.js ${process.version} is not among the tested versions (20, 22, 24, 26)`);
        expect(out[path].message, path).to.include('its self-check fork child ended with exit code 3 instead of 90');
      }
      expect(out.forksSeen).to.equal(1); // the trial only
    });
  });
});
