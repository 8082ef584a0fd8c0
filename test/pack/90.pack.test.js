// The package as users get it: `npm pack`, the tarball installed into a
// fresh directory with PREBUILDS_ONLY=1 (no compiler may run), then a smoke
// script on every Node in .nodes/ and the running one: import, spawn, wait,
// Pipe, a fork child. Needs `npm run prebuild` first (CI runs it).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const root = fileURLToPath(new URL('../..', import.meta.url));
const nodesDir = join(root, '.nodes');
const nodes = [
  process.execPath,
  ...(existsSync(nodesDir) ? readdirSync(nodesDir).map((v) => join(nodesDir, v, 'bin', 'node')).filter((n) => existsSync(n)) : []),
];

const smoke = `
import { readFileSync } from 'node:fs';
import { Process, Pipe, posix, getAllStartMethods } from 'posix-process';
const out = { version: process.version, methods: getAllStartMethods() };
const child = posix.spawn('/bin/sh', ['sh', '-c', 'exit 3']);
out.spawn = posix.waitpid(child.pid).exitCode;
posix.close(child.sentinel);
const program = new Process({ executable: '/bin/sh', args: ['-c', 'kill -TERM $$'] });
program.start();
await program.join(20);
out.program = program.exitCode;
const [a, b] = Pipe();
a.send({ n: 1 });
out.pipe = await b.recv();
const p = new Process({ startMethod: 'fork', target: async () => { await new Promise((r) => setTimeout(r, 1)); process.exitCode = 7; } });
p.start();
await p.join(20);
out.fork = p.exitCode;
// The default start method: a forkserver child (the server loads the same prebuilds).
const q = new Process({ target: () => { process.exitCode = 9; } });
q.start();
await q.join(20);
out.forkserver = q.exitCode;
out.addons = [...new Set(readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/)[5]).filter((f) => f && f.endsWith('.node')))];
process.stdout.write(JSON.stringify(out));
`;

describe('90 the packed package on every Node', function () {
  let dir;
  let tarball;

  before(function () {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'posix-pack-')));
    const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8' }));
    tarball = { file: join(dir, packed[0].filename), files: packed[0].files.map((f) => f.path) };
  });

  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ships the Node-API prebuild, a fork prebuild per tested Node, the sources, and no build output', function () {
    const { files } = tarball;
    expect(files).to.include('prebuilds/linux-x64/posix-process.glibc.node');
    for (const abi of [115, 127, 137, 147]) expect(files).to.include(`prebuilds/linux-x64/fork/node.abi${abi}.glibc.node`);
    expect(files).to.include('native/fork/binding.gyp');
    expect(files).to.include('native/spawn.cc');
    expect(files).to.include('scripts/fork-addon.mjs');
    expect(files.filter((f) => f.includes('/build/') || f.startsWith('build/'))).to.deep.equal([]);
  });

  it('installs with PREBUILDS_ONLY=1 (no compiler) and works on every Node', function () {
    const app = join(dir, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    writeFileSync(join(app, 'smoke.js'), smoke);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--foreground-scripts', tarball.file], {
      cwd: app,
      env: { ...process.env, PREBUILDS_ONLY: '1' },
      stdio: 'pipe',
    });
    expect(existsSync(join(app, 'node_modules', 'posix-process', 'build'))).to.equal(false);
    expect(nodes.length).to.be.at.least(1);
    const seen = [];
    for (const node of nodes) {
      const r = spawnSync(node, ['--single-threaded', 'smoke.js'], {
        cwd: app,
        encoding: 'utf8',
        timeout: 60000,
        env: { ...process.env, PREBUILDS_ONLY: '1' },
      });
      expect(r.status, `${node}: ${r.stderr}`).to.equal(0);
      const out = JSON.parse(r.stdout);
      const abi = spawnSync(node, ['-p', 'process.versions.modules'], { encoding: 'utf8' }).stdout.trim();
      const prebuilds = join(app, 'node_modules', 'posix-process', 'prebuilds', 'linux-x64');
      expect(out, node).to.deep.include({ methods: ['forkserver', 'spawn', 'fork'], spawn: 3, program: -15, pipe: { n: 1 }, fork: 7, forkserver: 9 });
      expect(out.addons.sort(), node).to.deep.equal(
        [join(prebuilds, 'fork', `node.abi${abi}.glibc.node`), join(prebuilds, 'posix-process.glibc.node')].sort(),
      );
      seen.push(out.version.split('.')[0]);
    }
    // CI installs 22, 24 and 26 beside the system Node.
    if (process.env.CI) expect(new Set(seen)).to.deep.equal(new Set(['v20', 'v22', 'v24', 'v26']));
  });
});
