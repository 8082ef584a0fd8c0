// Node children started with posix.spawn that run an ES module body with
// the package imported: the way tests put a Connection end (or a raw fd) in
// another process without going through Process.
import { expect } from 'chai';
import { posix, wait } from '../dist/index.js';

const INDEX = new URL('../dist/index.js', import.meta.url).href;

/** Starts `node` running `body` (Connection, Pipe and posix imported) with `fds` as its fds 3, 4, ... */
export function spawnNode(body, fds = []) {
  const code = `import { Connection, Pipe, posix } from ${JSON.stringify(INDEX)};\n${body}`;
  return posix.spawn(process.execPath, [process.execPath, '--input-type=module', '-e', code], { fds: [0, 1, 2, ...fds] });
}

/** Waits (without blocking the loop) for the child to end; its exit code. */
export async function reap(child, timeout = 30) {
  const ready = await wait([child.sentinel], timeout);
  expect(ready, 'child did not exit in time').to.deep.equal([child.sentinel]);
  const status = posix.waitpid(child.pid);
  posix.close(child.sentinel);
  return status.exitCode;
}
