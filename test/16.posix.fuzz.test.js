// Property-based fuzzing of every export of `posix` and of the raw binding
// (fast-check). Each group runs in its own node process
// (fixtures/fuzz-group.js): an abort or a crash there is that process's
// wait status, a failure here, not the end of this runner. The constraints
// that keep the real calls harmless are documented in the fixture.
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { binding, forkBinding } from './internals.js';
import { posix } from '../dist/index.js';
import { readAll, release } from './fixtures/posix-util.js';
import { describeHang } from './helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/fuzz-group.js', import.meta.url));
const RUNS = Number(process.env.POSIX_FUZZ_RUNS ?? 300);
const SEED = Number(process.env.POSIX_FUZZ_SEED ?? (Date.now() % 2 ** 31));

// Never called by the fuzzer, and why.
const NOT_CALLED = {
  'posix.fork': 'a successful fork would duplicate the fuzzer (it takes no arguments to fuzz)',
  'binding.setParentDeathSignal':
    "sets the fuzzer's own parent-death signal, and a valid signal with any pid but its parent's ends the fuzzer",
  'fork.fork': 'same as posix.fork',
  'fork.forkChild': 'forks; takes no arguments',
  'fork.forkLetLoopEnd': 'takes no arguments; in a process that never forked it does nothing, after a fork it lets the loop end (test/39)',
  'fork.abi': 'data: the ABI it was built for (checked below)',
  'fork.layoutProblem': 'data: null where the running libuv is known (checked below)',
};
// Data, not functions: checked for shape instead.
const DATA = ['posix.signals', 'binding.signals', 'binding.pollConstants', 'posix.POLLIN', 'posix.POLLPRI', 'posix.POLLOUT',
  'posix.POLLERR', 'posix.POLLHUP', 'posix.POLLNVAL', 'posix.MAX_PASSED_FDS'];

function runGroup(group) {
  const [r, w] = posix.pipe();
  const [er, ew] = posix.pipe();
  let child;
  try {
    child = posix.spawn(process.execPath, [process.execPath, fixture, group, String(RUNS), String(SEED)], { fds: [0, w, ew] });
  } finally {
    posix.close(w);
    posix.close(ew);
  }
  try {
    const status = posix.waitpidTimeout(child.pid, 100);
    if (status === null) {
      const doing = describeHang(child.pid);
      posix.kill(child.pid, 'SIGKILL');
      posix.waitpid(child.pid);
      throw new Error(`fuzz group ${group} hung (seed ${SEED}); ${doing}`);
    }
    const out = readAll(r, 1000);
    const err = readAll(er, 1000);
    expect(status.signaled, `fuzz group ${group} died by signal ${status.termSignal} (seed ${SEED})\n${err}`).to.equal(false);
    expect(status.exitCode, `fuzz group ${group} failed (seed ${SEED})\n${err}`).to.equal(0);
    return JSON.parse(out);
  } finally {
    posix.close(r);
    posix.close(er);
    release(child);
  }
}

const fork = forkBinding();

describe('16 posix fuzz (fast-check, one process per group)', function () {
  this.timeout(120000);
  let groups;
  before(function () {
    groups = runGroup('list');
  });

  for (const group of ['spawn', 'exec', 'wait', 'signal', 'fd']) {
    it(`group ${group}: only TypeError, RangeError or system errors come out`, function () {
      const report = runGroup(group);
      expect(report).to.deep.equal({ group, covered: groups[group], runs: RUNS, seed: SEED });
    });
  }

  it('the groups cover every export (or say why not)', function () {
    const covered = new Set(Object.values(groups).flat());
    const exports = [
      ...Object.keys(posix).map((k) => [`posix.${k}`, posix[k]]),
      ...Object.keys(binding).map((k) => [`binding.${k}`, binding[k]]),
      ...Object.keys(fork).map((k) => [`fork.${k}`, fork[k]]),
    ];
    expect(fork.abi).to.equal(Number(process.versions.modules));
    expect(fork.layoutProblem).to.equal(null);
    for (const [name, value] of exports) {
      if (DATA.includes(name)) {
        expect(typeof value === 'number' || (typeof value === 'object' && value !== null), name).to.equal(true);
        continue;
      }
      if (name in NOT_CALLED) continue;
      expect(covered.has(name), `no fuzz policy for ${name}: add one to fixtures/fuzz-group.js`).to.equal(true);
    }
  });

  it('the signal table is data: frozen, name -> small integer', function () {
    for (const [name, n] of Object.entries(posix.signals)) {
      expect(name).to.match(/^SIG[A-Z0-9]+$/);
      expect(Number.isInteger(n) && n > 0 && n < 65, name).to.equal(true);
    }
    expect(() => {
      posix.signals.SIGTERM = 1;
    }).to.throw(TypeError);
  });
});
