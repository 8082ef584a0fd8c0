// Forking from every kind of place the event loop runs JS from. The child
// unwinds the caller's frames with a V8 termination, which must be lifted
// once they are gone; when it was not (fork from a microtask that Node ran
// after an immediate or an I/O callback, i.e. `await` resuming there),
// every child spun forever in Node's RunTimers as soon as a timer came due.
// A hang here fails on the join deadline, and the children left running
// are SIGKILLed, so the suite goes on.
import { closeSync, readFile } from 'node:fs';
import { expect } from 'chai';
import { binding } from '../internals.js';
import { forkChild } from '../internals.js';
import { Process } from '../../dist/index.js';
import { fdCount, zombieChildren } from '../helpers.js';

const COUNT = 25;
const JOIN_SECONDS = 20;

// Children not reaped yet: { pid, sentinel }.
const live = new Set();

function noop() {}
const parentPid = binding.getpid();

// Forks COUNT children whose childMain resolves to 7 (run only if the child
// reached its continuation; the caller's code never runs there). A timer
// due right away is what made a child with the termination still in force
// spin.
function forkAll() {
  setTimeout(noop, 0);
  const started = [];
  for (let k = 0; k < COUNT; k++) {
    const s = forkChild(async () => 7);
    live.add(s);
    started.push(s);
  }
  // The caller's code after fork is the parent's: a child here exits 99.
  if (binding.getpid() !== parentPid) binding.exit(99);
  return started;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reaps `started` until the deadline: { codes, running }. */
async function joinAll(started) {
  const deadline = Date.now() + JOIN_SECONDS * 1000;
  const codes = [];
  for (const s of started) {
    for (;;) {
      const status = binding.waitpid(s.pid, { nohang: true });
      if (status !== null) {
        closeSync(s.sentinel);
        live.delete(s);
        codes.push(status.exitCode);
        break;
      }
      if (Date.now() > deadline) break;
      await sleep(10);
    }
  }
  return { codes, running: started.filter((s) => live.has(s)).length };
}

// Each resolves to the children forkAll() made, from its context.
const CONTEXTS = {
  'a timer callback': () => new Promise((resolve) => setTimeout(() => resolve(forkAll()), 1)),
  'a microtask after await, in a timer': () =>
    new Promise((resolve) =>
      setTimeout(async () => {
        await null;
        resolve(forkAll());
      }, 1),
    ),
  'an immediate': () => new Promise((resolve) => setImmediate(() => resolve(forkAll()))),
  'a microtask after await, in the last immediate': () =>
    new Promise((resolve) =>
      setImmediate(async () => {
        await null;
        resolve(forkAll());
      }),
    ),
  'a nextTick in an immediate': () =>
    new Promise((resolve) => setImmediate(() => process.nextTick(() => resolve(forkAll())))),
  'a promise job run by processTicksAndRejections': () =>
    new Promise((resolve) =>
      setImmediate(() => process.nextTick(() => Promise.resolve().then(() => resolve(forkAll())))),
    ),
  'an I/O callback': () => new Promise((resolve) => readFile('/proc/self/stat', () => resolve(forkAll()))),
  'a microtask in an I/O callback': () =>
    new Promise((resolve) => readFile('/proc/self/stat', () => queueMicrotask(() => resolve(forkAll())))),
  'nested: timer, immediate, promise job, await': () =>
    new Promise((resolve) =>
      setTimeout(
        () =>
          setImmediate(() =>
            Promise.resolve().then(async () => {
              await null;
              resolve(forkAll());
            }),
          ),
        1,
      ),
    ),
};

describe('37 fork from every event-loop context', function () {
  this.timeout(JOIN_SECONDS * 1000 + 30000);

  afterEach(() => {
    // A failed test leaves spinning children: kill and reap them.
    for (const s of live) {
      try {
        process.kill(s.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      binding.waitpid(s.pid);
      closeSync(s.sentinel);
    }
    live.clear();
  });

  for (const [name, from] of Object.entries(CONTEXTS)) {
    it(`${COUNT} children forked from ${name} all run childMain and exit`, async () => {
      const fdsBefore = fdCount();
      const started = await from();
      const { codes, running } = await joinAll(started);
      expect(running, 'children still running at the deadline').to.equal(0);
      expect(codes).to.deep.equal(new Array(COUNT).fill(7));
      expect(zombieChildren()).to.deep.equal([]);
      expect(fdCount()).to.equal(fdsBefore);
    });
  }

  it(`${COUNT} Process fork children started after an await in an immediate, joined together`, async () => {
    await new Promise((resolve) => setImmediate(resolve));
    await null;
    setTimeout(noop, 0);
    const procs = [];
    for (let k = 0; k < COUNT; k++) {
      const p = new Process({ startMethod: 'fork', target: (n) => process.exit(n + 1), args: [k] });
      p.start();
      procs.push(p);
    }
    try {
      await Promise.all(procs.map((p) => p.join(JOIN_SECONDS)));
      expect(procs.map((p) => p.exitCode)).to.deep.equal(procs.map((_, k) => k + 1));
    } finally {
      // A child still spinning is killed, so the suite goes on.
      for (const p of procs) {
        if (p.exitCode === null) p.kill();
      }
      await Promise.all(procs.map((p) => p.join(JOIN_SECONDS)));
      procs.forEach((p) => p.close());
    }
    expect(zombieChildren()).to.deep.equal([]);
  });
});
