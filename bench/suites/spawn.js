// Suite "spawn" (issue 2): spawn+reap of /bin/true by posix.spawn+waitpid,
// child_process.spawnSync, child_process.spawn and a C floor (vfork and
// posix_spawn loops), each from a small parent and from one holding 1 GiB.
// Every variant runs in its own worker process, all interleaved.
import { addRatios, summarise, target, runCases } from '../harness.js';
import { compileC, nodeWorker, Worker, which } from '../workers.js';

const GIB_MB = 1024;

const METHODS = [
  { id: 'posix', label: 'posix.spawn + waitpid', node: 'posix' },
  { id: 'spawnSync', label: 'child_process.spawnSync', node: 'spawnSync' },
  { id: 'cpSpawn', label: "child_process.spawn (await 'exit')", node: 'cpSpawn' },
  { id: 'cVfork', label: 'C vfork + execve + waitpid', c: 'vfork' },
  { id: 'cPosixSpawn', label: 'C posix_spawn + waitpid', c: 'posix_spawn' },
];

export const name = 'spawn';

export async function plan() {
  return { cases: which('cc') ? METHODS.length * 2 : (METHODS.length - 2) * 2 };
}

export async function run({ rounds, budgetMs, onTick }) {
  const notes = [];
  const workers = [];
  const floor = compileC('spawn-floor.c');
  try {
    const start = (w) => (workers.push(w), w);
    const small = { node: start(nodeWorker('node', 'spawn')) };
    const big = { node: start(nodeWorker('node+1GiB', 'spawn', { holdBuffersMb: GIB_MB })) };
    if (floor.skip) {
      notes.push(`C floor skipped: ${floor.skip}`);
    } else {
      small.c = start(new Worker('C', floor.file, []));
      big.c = start(new Worker('C+1GiB', floor.file, ['--hold-mb', String(GIB_MB)]));
    }
    for (const [w, what] of [[small.node, 'node parent'], [big.node, 'node parent with 1 GiB of Buffers'], [small.c, 'C parent'], [big.c, 'C parent with 1 GiB malloc']]) {
      if (w) notes.push(`${what}: RSS ${Math.round((await w.ready()).rssKb / 1024)} MiB`);
    }

    const cases = [];
    for (const [set, suffix, labelSuffix] of [[small, '', ''], [big, 'At1G', ' [parent +1 GiB]']]) {
      for (const m of METHODS) {
        const w = m.c ? set.c : set.node;
        if (!w) continue;
        const op = m.c ?? m.node;
        cases.push({ id: m.id + suffix, label: m.label + labelSuffix, run: (n) => w.run(op, n) });
      }
    }
    const samples = await runCases(cases, { rounds, budgetMs, onTick });
    const rows = summarise(cases, samples);

    const ratioSpecs = [];
    for (const sfx of ['', 'At1G']) {
      ratioSpecs.push(
        ['posix' + sfx, 'vsCVfork', 'cVfork' + sfx],
        ['posix' + sfx, 'vsCPosixSpawn', 'cPosixSpawn' + sfx],
        ['posix' + sfx, 'vsSpawnSync', 'spawnSync' + sfx],
        ['posix' + sfx, 'vsCpSpawn', 'cpSpawn' + sfx],
      );
    }
    for (const m of METHODS) ratioSpecs.push([m.id + 'At1G', 'vsSmallParent', m.id]);
    addRatios(rows, ratioSpecs);

    const med = Object.fromEntries(rows.map((r) => [r.id, r.medianUs]));
    const targets = [];
    if (med.cVfork !== undefined) {
      const best = Math.min(med.cVfork, med.cPosixSpawn);
      targets.push(target('posix.spawn vs fastest C loop (time ratio)', med.posix / best, '<=', 1.15));
    }
    targets.push(target('posix.spawn speed-up over child_process.spawnSync', med.spawnSync / med.posix, '>=', 2.5));
    targets.push(target('posix.spawn speed-up over child_process.spawn', med.cpSpawn / med.posix, '>=', 2.5));
    targets.push(target('posix.spawn growth with 1 GiB in the parent', (med.posixAt1G / med.posix - 1) * 100, '<', 10, '%'));
    for (const m of METHODS.filter((x) => x.id !== 'posix' && med[x.id] !== undefined)) {
      notes.push(`${m.label}: ${(med[m.id + 'At1G'] / med[m.id]).toFixed(2)}x with 1 GiB in the parent`);
    }
    return { rows, notes, targets };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    floor.cleanup?.();
  }
}
