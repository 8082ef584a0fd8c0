// Fork children never hang in their garbage collections: children that run
// full GCs, explicit (gc()) or natural (allocation until V8 marks and
// compacts on its own), forked while the parent's heap is idle, in the
// middle of incremental marking, or still sweeping after a full GC. Even
// under --single-threaded V8 posts some GC work to the platform's worker
// threads, which a child does not have (docs/design.md, "Fork children that
// never hang"). 200 children per parent phase, alternating the two kinds,
// each joined on a deadline; the parent's phase at each fork is checked
// with v8.GCProfiler, which records every GC as it happens.
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import { zombieChildren } from '../helpers.js';
import { expectAllClean, forkSequence } from './hanghelpers.js';

const COUNT = 200;

// gc() without --expose-gc on mocha's command line: V8 reads the flag when
// it makes a context.
v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
v8.setFlagsFromString('--no-expose-gc');

// Exit codes a child reports besides 0.
const NO_NATURAL_GC = 3;

function churn(objects) {
  const out = [];
  for (let k = 0; k < objects; k++) out.push({ k, s: `x${k}`, a: [k] });
  return out;
}

// Child kinds. Explicit: garbage, scavenges, then full GCs. Natural: keeps
// allocating until V8 itself has marked and compacted (stress-incremental-
// marking makes it start marking at once, so each child takes ~0.1 s).
function explicitGc() {
  let garbage = churn(20000);
  garbage = null;
  gc();
  gc({ type: 'minor' });
  gc();
  return garbage;
}

function naturalGc() {
  v8.setFlagsFromString('--stress-incremental-marking');
  const profiler = new v8.GCProfiler();
  profiler.start();
  const kept = [];
  let majors = 0;
  for (let round = 1; majors === 0 && round <= 4000; round++) {
    kept.push(churn(1000));
    if (round % 20 === 0) {
      majors += profiler.stop().statistics.filter((gcEvent) => gcEvent.gcType === 'MarkSweepCompact').length;
      profiler.start();
    }
  }
  profiler.stop();
  if (majors === 0) process.exit(NO_NATURAL_GC);
}

const child = (i) => (i % 2 === 0 ? explicitGc() : naturalGc());

// The parent's GC state, from the profiler's record of its collections:
// incremental marking runs from an IncrementalMarking event to the next
// MarkSweepCompact. `major`: whether either happened since the last poll.
class ParentHeap {
  marking = false;
  major = false;
  #profiler = new v8.GCProfiler();

  constructor() {
    this.#profiler.start();
  }

  poll() {
    this.major = false;
    for (const { gcType } of this.#profiler.stop().statistics) {
      if (gcType === 'IncrementalMarking') this.marking = true;
      else if (gcType === 'MarkSweepCompact') this.marking = false;
      this.major ||= gcType !== 'Scavenge';
    }
    this.#profiler.start();
    return this;
  }

  stop() {
    this.#profiler.stop();
  }
}

class Idle {}

describe('81 fork children never hang: full GCs in the child, the parent in every GC phase', function () {
  this.timeout(300000);
  // The parent's heap: a few hundred thousand live objects for the children
  // to mark, and garbage between forks.
  let hog;
  before(async () => {
    hog = churn(50000);
    // Its first call warns (on a nextTick, which a child would inherit).
    v8.queryObjects(Idle, { format: 'count' });
    await new Promise(setImmediate);
  });
  after(() => {
    hog = null;
    expect(zombieChildren()).to.deep.equal([]);
  });

  it('the parent idle: no marking, sweeping complete', async () => {
    const heap = new ParentHeap();
    const phases = { idle: 0 };
    let swept = false;
    const stats = await forkSequence(COUNT, {
      name: 'gc, parent idle',
      target: child,
      start: (p) => {
        // After a full GC or marking, a full GC whose heap walk finishes
        // all sweeping; scavenges in between leave old space swept.
        if (heap.poll().major || !swept) {
          v8.queryObjects(Idle, { format: 'count' });
          heap.poll();
          swept = true;
        }
        if (!heap.marking) phases.idle++;
        p.start();
      },
    });
    heap.stop();
    expectAllClean(stats, COUNT);
    expect(phases).to.deep.equal({ idle: COUNT });
  });

  it('the parent in the middle of incremental marking', async () => {
    const heap = new ParentHeap();
    const phases = { marking: 0 };
    // Marking starts as soon as allocation allows, instead of near the limit.
    v8.setFlagsFromString('--stress-incremental-marking');
    const kept = [];
    try {
      const stats = await forkSequence(COUNT, {
        name: 'gc, parent marking',
        target: child,
        start: (p) => {
          for (let step = 0; !heap.poll().marking && step < 10000; step++) {
            kept.push(churn(200));
            if (kept.length > 500) kept.splice(0, 250);
          }
          if (heap.marking) phases.marking++;
          p.start();
        },
      });
      expectAllClean(stats, COUNT);
      expect(phases).to.deep.equal({ marking: COUNT });
    } finally {
      v8.setFlagsFromString('--no-stress-incremental-marking');
      heap.stop();
    }
  });

  it('the parent sweeping lazily right after a full GC', async () => {
    const heap = new ParentHeap();
    const phases = { sweeping: 0 };
    const stats = await forkSequence(COUNT, {
      name: 'gc, parent sweeping',
      target: child,
      start: (p) => {
        churn(50000);
        // --single-threaded sweeps the freed pages on later allocations:
        // right after the GC most are still unswept.
        gc();
        if (!heap.poll().marking) phases.sweeping++;
        p.start();
      },
    });
    heap.stop();
    expectAllClean(stats, COUNT);
    expect(phases).to.deep.equal({ sweeping: COUNT });
  });
});
