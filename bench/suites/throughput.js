// Suite "throughput" (issue 14): N children of `/bin/echo hi`, K in flight
// (K = 1, 16, 64), each one's stdout captured and read to the end, each
// joined. Side by side in the same rounds: Process (executable, stdout
// 'pipe'), the raw layer (posix.pipe + posix.spawn + the package's wait()),
// child_process.execFile and child_process.spawn, and a C floor
// (posix_spawn + pipes + one poll loop, workers/throughput.c); from a small
// parent and from one holding 1 GiB. One op is a batch of N children; rows
// are per child (batch time / N), children/s = 1e6 / median. Each row also
// has parentCpuUs: the parent's own CPU (user + system, not its children's)
// per child, steadier than children/s, which also depends on how the
// children (~0.85 ms of CPU each) share the cores with the parent.
import fs from 'node:fs';
import { addRatios, round, runCases, summarise, target } from '../harness.js';
import { closeAll, compileC, makeTempDir, nodeWorker, Worker } from '../workers.js';
import { processMissing } from './available.js';

export const name = 'throughput';

const GIB_MB = 1024;
const CONCURRENCY = [1, 16, 64];

// `worker`: the node worker a method runs in. Each has its own, as the
// previous version has: batches of one method warm the JIT and leave
// garbage that another's would pay for (interleaved in one process, the raw
// layer's batches made Process's ~20 % dearer), and once child_process has
// run, libuv's SIGCHLD handler wakes its process at every child's exit,
// ours included.
const METHODS = [
  { id: 'process', label: "Process (executable, stdout 'pipe') + join", node: 'processPipe', worker: 'process' },
  { id: 'raw', label: 'posix.spawn + posix.pipe + wait()', node: 'raw', worker: 'raw' },
  { id: 'execFile', label: 'child_process.execFile', node: 'cpExecFile', slowWhenBig: true, worker: 'cp' },
  { id: 'cpSpawn', label: "child_process.spawn (stdout 'pipe')", node: 'cpSpawn', slowWhenBig: true, worker: 'cp' },
  { id: 'c', label: 'C posix_spawn + pipe + poll loop', c: 'posix_spawn' },
];

const PARENTS = [
  { suffix: '', label: '' },
  { suffix: 'At1G', label: ' +1GiB' },
];

/**
 * Children per batch: enough for K = 64 to run at full concurrency for a
 * while; child_process from the 1 GiB parent takes ~40 ms a child (its
 * fork copies the page tables), so it gets a small batch (K capped at it).
 */
function batchSize(quick, slow) {
  if (slow) return quick ? 8 : 16;
  return quick ? 128 : 256;
}

/** Rounds: every case's op is a whole batch (~0.1-0.5 s), so fewer than the per-op suites. */
function roundsFor(rounds) {
  return Math.max(3, Math.ceil(rounds / 6));
}

function caseId(m, k, parent) {
  return `${m.id}K${k}${parent.suffix}`;
}

export async function plan({ previous, rounds }) {
  const missing = await processMissing();
  if (missing) return { skip: missing };
  // The C cases are dropped (with a note) when there is no cc; the count is an upper bound then.
  return { cases: METHODS.length * CONCURRENCY.length * PARENTS.length + (previous ? CONCURRENCY.length : 0), rounds: roundsFor(rounds) };
}

export async function run({ rounds, quick, onTick, previous }) {
  const notes = [];
  const workers = [];
  const dir = makeTempDir();
  try {
    const floor = compileC('throughput.c', dir);
    const start = (w) => (workers.push(w), w);
    const nodeSet = (label, options) =>
      Object.fromEntries(['process', 'raw', 'cp'].map((w) => [w, start(nodeWorker(`${label} (${w})`, 'throughput', options))]));
    const sets = [
      { node: nodeSet('node', {}), c: null },
      { node: nodeSet('node+1GiB', { holdBuffersMb: GIB_MB }), c: null },
    ];
    if (floor.skip) notes.push(`C floor skipped: ${floor.skip}`);
    else {
      sets[0].c = start(new Worker('C', floor.file, []));
      sets[1].c = start(new Worker('C+1GiB', floor.file, ['--hold-mb', String(GIB_MB)]));
    }
    let before = previous ? start(nodeWorker('node (previous version)', 'throughput', { packageDir: previous })) : null;
    for (const [i, set] of sets.entries()) {
      notes.push(`node parent${PARENTS[i].label}: RSS ${Math.round((await set.node.process.ready()).rssKb / 1024)} MiB`);
      await Promise.all([set.node.raw.ready(), set.node.cp.ready()]);
      if (set.c) notes.push(`C parent${PARENTS[i].label}: RSS ${Math.round((await set.c.ready()).rssKb / 1024)} MiB`);
    }
    if (before) {
      // An older checkout may lack what the op needs (stdio 'pipe', ...): its cases are then left out.
      try {
        await before.ready();
        await before.run('processPipe', '1 1:1');
        notes.push(`previous version: ${previous}`);
      } catch (err) {
        notes.push(`previous version left out (${previous}): ${err.message.split('\n')[0]}`);
        before = null;
      }
    }

    const perChild = ({ samples, cpuNs }, n) => ({ samples: samples.map((ns) => ns / n), cpuNs: cpuNs?.map((ns) => ns / n) ?? null });
    const cases = [];
    for (const [i, parent] of PARENTS.entries()) {
      for (const k of CONCURRENCY) {
        for (const m of METHODS) {
          const w = m.c ? sets[i].c : sets[i].node[m.worker];
          if (!w) continue;
          const op = m.c ?? m.node;
          const n = batchSize(quick, parent.suffix !== '' && m.slowWhenBig === true);
          cases.push({
            id: caseId(m, k, parent),
            label: `${m.label} [K=${k}${parent.label}]`,
            minIters: 1,
            maxIters: 1,
            run: async (iters) => perChild(await w.measure(op, `${iters} ${k}:${n}`), n),
          });
        }
      }
    }
    if (before) {
      const n = batchSize(quick, false);
      for (const k of CONCURRENCY) {
        cases.push({
          id: `processK${k}Previous`,
          label: `${METHODS[0].label} [K=${k}, previous version]`,
          minIters: 1,
          maxIters: 1,
          run: async (iters) => perChild(await before.measure('processPipe', `${iters} ${k}:${n}`), n),
        });
      }
    }
    const cpu = new Map();
    const samples = await runCases(cases, { rounds: roundsFor(rounds), budgetMs: 0, onTick, cpu });
    const rows = summarise(cases, samples, cpu);
    for (const row of rows) row.childrenPerSec = round(1e6 / row.medianUs, 0);

    const specs = [];
    for (const parent of PARENTS) {
      for (const k of CONCURRENCY) {
        for (const m of METHODS.filter((x) => !x.c)) specs.push([caseId(m, k, parent), 'vsC', `cK${k}${parent.suffix}`]);
        specs.push([`processK${k}${parent.suffix}`, 'vsExecFile', `execFileK${k}${parent.suffix}`]);
        if (parent.suffix === '') specs.push([`processK${k}`, 'vsPrevious', `processK${k}Previous`]);
      }
    }
    addRatios(rows, specs);

    const med = Object.fromEntries(rows.map((r) => [r.id, r.medianUs]));
    const targets = [];
    for (const parent of PARENTS) {
      for (const k of CONCURRENCY) {
        const c = med[`cK${k}${parent.suffix}`];
        if (c === undefined) continue;
        // Speed, not time: children/s of Process over children/s of the C floor.
        targets.push(target(`Process throughput vs the C floor, K=${k}${parent.label} (children/s ratio)`, c / med[`processK${k}${parent.suffix}`], '>=', 0.9));
      }
    }
    const perSec = (id) => (med[id] === undefined ? '-' : String(Math.round(1e6 / med[id])));
    for (const parent of PARENTS) {
      notes.push(
        `children/s${parent.label || ' (small parent)'}: ` +
          CONCURRENCY.map((k) => `K=${k}: ` + METHODS.map((m) => `${m.id} ${perSec(caseId(m, k, parent))}`).join(', ')).join('; '),
      );
    }
    const cpuUs = Object.fromEntries(rows.map((r) => [r.id, r.parentCpuUs]));
    const cpuText = (id) => (cpuUs[id] === undefined ? '-' : String(Math.round(cpuUs[id])));
    for (const parent of PARENTS) {
      const previousCase = (k) => (parent.suffix === '' && before ? `, previous ${cpuText(`processK${k}Previous`)}` : '');
      notes.push(
        `parent CPU µs/child${parent.label || ' (small parent)'}: ` +
          CONCURRENCY.map((k) => `K=${k}: ` + METHODS.map((m) => `${m.id} ${cpuText(caseId(m, k, parent))}`).join(', ') + previousCase(k)).join('; '),
      );
    }
    notes.push(
      'parent CPU µs/child: the parent process\'s own user + system CPU (all its threads, not its children\'s) per child, ' +
        'median over rounds (rows: parentCpuUs); steadier than children/s, which the children running on the same cores move by 20-30 %',
    );
    notes.push(
      `${batchSize(quick, false)} children per batch (child_process from the 1 GiB parent: ${batchSize(quick, true)}), ` +
        `${roundsFor(rounds)} rounds; rows are per child (batch time / batch size); machine noise: compare medians`,
    );
    return { rows, notes, targets };
  } finally {
    await closeAll(workers, notes);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
