// The prebuild path of the loader: a package laid out as npm installs it
// (package.json, dist/, prebuilds/linux-x64/, no build/), loaded in a child
// node with PREBUILDS_ONLY=1 so node-gyp-build may not fall back to build/.
import { expect } from 'chai';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { arch, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { posix } from '../dist/index.js';
import { readAll, release } from './fixtures/posix-util.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** A temp package; `prebuild` is the file name under prebuilds/<platform>-<arch>/, or null for none. */
function layout(prebuild) {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'posix-loader-')));
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  if (prebuild !== null) {
    mkdirSync(join(dir, 'prebuilds', `${platform()}-${arch()}`), { recursive: true });
    copyFileSync(join(root, 'build', 'Release', 'posix_process.node'), join(dir, 'prebuilds', `${platform()}-${arch()}`, prebuild));
  }
  return dir;
}

// Loads the package, spawns /bin/true through it and reports which addon
// file is mapped into the process.
const probe = `
import { posix } from './dist/index.js';
import { readFileSync } from 'node:fs';
const child = posix.spawn('/bin/true', ['true']);
const status = posix.waitpid(child.pid);
posix.close(child.sentinel);
const addons = [...new Set(readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/)[5]).filter((p) => p && p.endsWith('.node')))];
process.stdout.write(JSON.stringify({ exitCode: status.exitCode, addons }));
`;

function withoutOverride(env) {
  const { POSIX_PROCESS_PREBUILD: _ignored, ...rest } = env;
  return rest;
}

function load(dir) {
  const [r, w] = posix.pipe();
  const [er, ew] = posix.pipe();
  let child;
  try {
    child = posix.spawn(process.execPath, [process.execPath, '--input-type=module', '-e', probe], {
      cwd: dir,
      fds: [0, w, ew],
      // Without node-gyp-build's POSIX_PROCESS_PREBUILD override (the ASan
      // run sets it): this test is about the package's own layout.
      env: { ...withoutOverride(process.env), PREBUILDS_ONLY: '1' },
    });
  } finally {
    posix.close(w);
    posix.close(ew);
  }
  try {
    const out = readAll(r, 20000);
    const err = readAll(er, 5000);
    return { status: posix.waitpid(child.pid), out, err };
  } finally {
    posix.close(r);
    posix.close(er);
    release(child);
  }
}

describe('18 loader (node-gyp-build prebuilds)', function () {
  this.timeout(30000);
  const dirs = [];
  after(function () {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  // prebuildify 6 names the file after the package; older ones node.napi.node.
  for (const name of ['posix-process.node', 'node.napi.node']) {
    it(`loads prebuilds/${platform()}-${arch()}/${name} with PREBUILDS_ONLY=1`, function () {
      const dir = layout(name);
      dirs.push(dir);
      const { status, out, err } = load(dir);
      expect(status.exitCode, err).to.equal(0);
      const result = JSON.parse(out);
      expect(result.exitCode).to.equal(0);
      expect(result.addons).to.deep.equal([join(dir, 'prebuilds', `${platform()}-${arch()}`, name)]);
    });
  }

  it('without a prebuild, PREBUILDS_ONLY=1 refuses build/ and says what it looked for', function () {
    const dir = layout(null);
    dirs.push(dir);
    mkdirSync(join(dir, 'build', 'Release'), { recursive: true });
    copyFileSync(join(root, 'build', 'Release', 'posix_process.node'), join(dir, 'build', 'Release', 'posix_process.node'));
    const { status, out, err } = load(dir);
    expect(out).to.equal('');
    expect(status.exitCode).to.equal(1);
    expect(err).to.include('No native build was found');
  });
});

describe('16 loader: platforms', function () {
  it('importing on Windows throws ERR_PLATFORM_UNSUPPORTED before touching the addon', async function () {
    // A real import in a child node whose process.platform reads 'win32'
    // (set by a preloaded module before the package is imported).
    const preload = 'data:text/javascript,Object.defineProperty(process, "platform", { value: "win32" })';
    const script = `
      try {
        await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
        process.stdout.write('imported');
      } catch (error) {
        process.stdout.write(JSON.stringify({ code: error.code, message: error.message }));
      }`;
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, ['--import', preload, '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    const seen = JSON.parse(r.stdout);
    expect(seen.code).to.equal('ERR_PLATFORM_UNSUPPORTED');
    expect(seen.message).to.include('win32');
  });
});
