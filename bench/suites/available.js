// Whether the built package (dist/) has what a suite needs yet.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

const DIST_INDEX = new URL('../../dist/index.js', import.meta.url);

/**
 * null when dist exports Process and, if `startMethod` is given,
 * getAllStartMethods() lists it in a node run with `nodeFlags` (the fork
 * method is only offered under --single-threaded); else why not.
 */
export async function processMissing(startMethod, nodeFlags = []) {
  if (!fs.existsSync(DIST_INDEX)) return 'dist/index.js is missing (run npx tsc -p .)';
  const pkg = await import(DIST_INDEX.href);
  if (typeof pkg.Process !== 'function') return 'dist/index.js does not export Process yet';
  if (!startMethod) return null;
  if (typeof pkg.getAllStartMethods !== 'function') return 'dist/index.js does not export getAllStartMethods yet';
  // The fork start method's module is loaded asynchronously (popen-fork.js):
  // let it settle before asking.
  const probe = `import { getAllStartMethods } from ${JSON.stringify(DIST_INDEX.href)};
    await import(${JSON.stringify(new URL('popen-fork.js', DIST_INDEX).href)}).then((m) => m.forkReady?.(), () => {});
    await new Promise((resolve) => setTimeout(resolve, 50));
    process.stdout.write(JSON.stringify(getAllStartMethods()));`;
  const r = spawnSync(process.execPath, [...nodeFlags, '--input-type=module', '-e', probe], { encoding: 'utf8' });
  let methods = [];
  try {
    methods = JSON.parse(r.stdout);
  } catch {
    return `could not list start methods under node ${nodeFlags.join(' ')}: ${(r.stderr || '').trim().split('\n')[0]}`;
  }
  return methods.includes(startMethod) ? null : `getAllStartMethods() under node ${nodeFlags.join(' ')} does not list '${startMethod}'`;
}
