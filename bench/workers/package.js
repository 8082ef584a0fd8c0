// The package under test, for the ops modules: this checkout's dist/, or a
// built checkout of another version named by POSIX_PROCESS_BENCH_PACKAGE
// (the "previous version" cases: `npm run bench -- --previous DIR`).
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = process.env.POSIX_PROCESS_BENCH_PACKAGE;

/** URL of dist/<file> in the package under test. */
export function packageModule(file) {
  return root ? pathToFileURL(path.join(root, 'dist', file)).href : new URL(`../../dist/${file}`, import.meta.url).href;
}

export const { Process, posix } = await import(packageModule('index.js'));
