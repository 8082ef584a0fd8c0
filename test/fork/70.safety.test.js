// The fork-safety gate: without --single-threaded (or with it switched off,
// on the command line or at run time, or from a worker thread) every fork
// path refuses with ERR_FORK_UNSAFE and says how to fork safely.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const fixture = fileURLToPath(new URL('../fixtures/fork-gate.js', import.meta.url));

function gate(flags, arg) {
  const result = spawnSync(process.execPath, [...flags, fixture, ...(arg ? [arg] : [])], {
    encoding: 'utf8',
    timeout: 30000,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  expect(result.status, result.stderr).to.equal(0);
  return JSON.parse(result.stdout.trim());
}

const FLAG_HINT =
  "Run node with --single-threaded (node --single-threaded app.js; NODE_OPTIONS cannot carry it), or use the 'spawn' start method.";

function expectRefused(out, reason, hint = FLAG_HINT) {
  for (const path of ['forkChild', 'posixFork']) {
    expect(out[path], path).to.deep.equal({
      code: 'ERR_FORK_UNSAFE',
      name: 'ProcessError',
      message: `cannot fork this Node.js process safely: ${reason}. ${hint}`,
    });
  }
  expect(out.process.code).to.equal('ERR_FORK_UNSAFE');
  expect(out.process.name).to.equal('ProcessError');
  expect(out.process.message).to.include(reason);
}

describe('70 fork safety gate', function () {
  this.timeout(60000);

  it('refuses in a node started without --single-threaded, on every fork path', () => {
    expectRefused(gate([]), 'V8 may be running worker threads, which a forked child would not have');
  });

  it('refuses when the command line switches the flag off again', () => {
    expectRefused(gate(['--single-threaded', '--no-single-threaded']), 'V8 may be running worker threads, which a forked child would not have');
  });

  it('refuses when the flag was switched off at run time (V8 asked, not just the command line)', () => {
    expectRefused(gate(['--single-threaded'], 'runtime-off'), "V8's --single-threaded flag was switched off at run time");
  });

  it('refuses in a worker thread', () => {
    expectRefused(
      gate(['--single-threaded'], 'worker'),
      'fork is only possible from the main thread, not from a worker thread',
      "Fork from the main thread, or use the 'spawn' start method.",
    );
  });

  it("forks with --single-threaded, in V8's spellings", () => {
    const forked = { forkChild: { forked: 3 }, posixFork: { forked: 4 }, process: { forked: 5 } };
    expect(gate(['--single-threaded'])).to.deep.equal(forked);
    expect(gate(['--single_threaded'])).to.deep.equal(forked);
    expect(gate(['--no-single-threaded', '--single-threaded'])).to.deep.equal(forked);
  });

  it('NODE_OPTIONS cannot carry the flag (node refuses to start), as the message says', () => {
    const result = spawnSync(process.execPath, ['-e', '0'], {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '--single-threaded' },
    });
    expect(result.status).to.not.equal(0);
    expect(result.stderr).to.include('--single-threaded is not allowed in NODE_OPTIONS');
  });
});
