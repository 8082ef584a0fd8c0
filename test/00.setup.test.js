// First: is there a build to test, and what is this run? A missing or stale
// build fails here with the command that makes it, instead of as hundreds
// of import errors; the run's Node, libuv and sentinel mode go in the log.
import { existsSync } from 'node:fs';
import { expect } from 'chai';

const ENTRY = new URL('../dist/index.js', import.meta.url);

describe('00 setup', function () {
  it('the TypeScript build is present', function () {
    if (!existsSync(ENTRY)) {
      throw new Error('dist/index.js is missing: run `npm ci` (or `npm run build`: addons and TypeScript)');
    }
  });

  it('the package entry loads with its Node-API addon, and the run is recorded', async function () {
    let pkg;
    try {
      pkg = await import(ENTRY.href);
    } catch (error) {
      throw new Error(`dist/index.js does not load (${error.message}): run \`npm run build\``, { cause: error });
    }
    const noPidfd = process.env.POSIX_PROCESS_NO_PIDFD === '1';
    const mode = pkg.posix.pidfdSupported() ? 'pidfd' : 'pipe fallback';
    console.log(
      `      Node ${process.version} (ABI ${process.versions.modules}), libuv ${process.versions.uv}, ` +
        `sentinels: ${mode}${noPidfd ? ' (POSIX_PROCESS_NO_PIDFD=1)' : ''}, ` +
        `start methods here: ${pkg.getAllStartMethods().join(', ')}`,
    );
    if (noPidfd) expect(mode).to.equal('pipe fallback');
  });

  it("the fork addon for this Node's ABI loads", async function () {
    const { forkBinding } = await import('./internals.js');
    const loaded = forkBinding();
    if (typeof loaded === 'string') {
      throw new Error(
        `the fork addon does not load on Node ${process.version} (${loaded}): ` +
          'run `npm run build` (this Node) or `npm run prebuild` (every Node in .nodes/)',
      );
    }
  });
});
