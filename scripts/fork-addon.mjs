// Builds the fork addon (native/fork/), which is compiled per Node ABI
// (docs/design.md, "Node versions and internals").
//
//   node scripts/fork-addon.mjs install    npm install: for the running Node, unless a prebuild for
//                                          its ABI is there or PREBUILDS_ONLY=1; a failed build leaves
//                                          the fork start method unavailable, never the install failed
//   node scripts/fork-addon.mjs build      for the running Node; fails loudly
//   node scripts/fork-addon.mjs prebuild [NODE...]
//                                          prebuilds/<platform>-<arch>/fork/node.abi<N>.<libc>.node for
//                                          each node binary given (default: .nodes/*/bin/node) and the
//                                          running one (built last, so native/fork/build matches it)
//
// Each build compiles against the headers of the Node it is for (the
// include/node of its install, passed as --nodedir and as npm_config_nodedir,
// which would otherwise win: a machine-wide npm `nodedir` setting silently
// points every build at one version).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const forkDir = join(root, 'native', 'fork');
const libc = existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
const prebuildDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'fork');

function nodeGyp() {
  // npm names its own node-gyp for lifecycle scripts; in a checkout, the devDependency.
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
}

function abiOf(node) {
  return execFileSync(node, ['-p', 'process.versions.modules'], { encoding: 'utf8' }).trim();
}

// Builds native/fork for `node`; returns whether it worked.
function build(node, { quiet = false } = {}) {
  const install = dirname(dirname(realpathSync(node)));
  const hasHeaders = existsSync(join(install, 'include', 'node', 'node_version.h'));
  const args = [nodeGyp(), 'rebuild'];
  const env = { ...process.env };
  if (hasHeaders) {
    args.push(`--nodedir=${install}`);
    env.npm_config_nodedir = install;
  }
  if (process.env.POSIX_PROCESS_ASAN === '1') args.push('--asan=1');
  // node-gyp and the gyp file's own `node -p` run on the Node the addon is for.
  env.PATH = `${dirname(realpathSync(node))}:${env.PATH}`;
  const result = spawnSync(node, args, { cwd: forkDir, env, stdio: quiet ? 'pipe' : 'inherit', encoding: 'utf8' });
  if (result.status !== 0 && quiet) process.stderr.write(result.stdout + result.stderr);
  return result.status === 0;
}

const command = process.argv[2];
if (process.platform !== 'linux') {
  // The fork start method is Linux only; nothing to build elsewhere.
  process.exit(0);
} else if (command === 'install') {
  const prebuilt = join(prebuildDir, `node.abi${process.versions.modules}.${libc}.node`);
  if (process.env.PREBUILDS_ONLY || existsSync(prebuilt)) process.exit(0);
  if (!build(process.execPath, { quiet: true })) {
    process.stderr.write(
      `posix-process: the fork addon did not build for Node.js ${process.version}; ` +
        `the 'fork' start method is unavailable, everything else works.\n`,
    );
  }
} else if (command === 'build') {
  process.exit(build(process.execPath) ? 0 : 1);
} else if (command === 'prebuild') {
  let nodes = process.argv.slice(3);
  if (nodes.length === 0) {
    const dir = join(root, '.nodes');
    nodes = existsSync(dir) ? readdirSync(dir).map((v) => join(dir, v, 'bin', 'node')).filter((n) => existsSync(n)) : [];
  }
  const running = realpathSync(process.execPath);
  nodes = [...nodes.filter((n) => realpathSync(n) !== running), process.execPath];
  mkdirSync(prebuildDir, { recursive: true });
  for (const node of nodes) {
    const abi = abiOf(node);
    if (!build(node)) process.exit(1);
    const out = join(prebuildDir, `node.abi${abi}.${libc}.node`);
    copyFileSync(join(forkDir, 'build', 'Release', 'posix_process_fork.node'), out);
    execFileSync('strip', ['--strip-all', out]);
    console.log(`fork addon for ABI ${abi} (${node}): ${out}`);
  }
} else {
  process.stderr.write('usage: node scripts/fork-addon.mjs install | build | prebuild [node ...]\n');
  process.exit(2);
}
