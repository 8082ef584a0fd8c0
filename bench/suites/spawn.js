// Suite "spawn" (issue 2): spawn+reap of /bin/true by posix.spawn+waitpid,
// child_process.spawnSync, child_process.spawn and a C floor (vfork and
// posix_spawn loops), each from a small parent and from one holding 1 GiB.
// Then the same from the small parent with a static no-libc program
// ("exit0"), which shows the spawners' own cost without /bin/true's
// dynamic-loader start-up. Every variant runs in its own worker process,
// all interleaved round-robin.
import fs from 'node:fs';
import { addRatios, summarise, target, runCases } from '../harness.js';
import { closeAll, compileC, makeTempDir, nodeWorker, Worker, which } from '../workers.js';

const GIB_MB = 1024;

const METHODS = [
  { id: 'posix', label: 'posix.spawn + waitpid', node: 'posix' },
  { id: 'spawnSync', label: 'child_process.spawnSync', node: 'spawnSync' },
  { id: 'cpSpawn', label: "child_process.spawn (await 'exit')", node: 'cpSpawn' },
  { id: 'cVfork', label: 'C vfork + execve + waitpid', c: 'vfork' },
  { id: 'cPosixSpawn', label: 'C posix_spawn + waitpid', c: 'posix_spawn' },
];

export const name = 'spawn';

export async function plan({ previous }) {
  return { cases: (which('cc') ? METHODS.length * 3 : (METHODS.length - 2) * 2) + (previous ? 1 : 0) };
}

export async function run({ rounds, budgetMs, onTick, previous }) {
  const notes = [];
  const workers = [];
  const dir = makeTempDir();
  try {
    const floor = compileC('floor.c', dir);
    const exit0 = floor.skip ? floor : compileC('exit0.c', dir, ['-O2', '-static', '-nostdlib']);
    const start = (w) => (workers.push(w), w);
    const small = { node: start(nodeWorker('node', 'spawn')) };
    const big = { node: start(nodeWorker('node+1GiB', 'spawn', { holdBuffersMb: GIB_MB })) };
    const before = previous ? start(nodeWorker('node (previous version)', 'spawn', { packageDir: previous })) : null;
    if (floor.skip) {
      notes.push(`C floor skipped: ${floor.skip}`);
    } else {
      small.c = start(new Worker('C', floor.file, []));
      big.c = start(new Worker('C+1GiB', floor.file, ['--hold-mb', String(GIB_MB)]));
    }
    if (exit0.skip && !floor.skip) notes.push(`static exit0 cases skipped: ${exit0.skip}`);
    const described = [
      [small.node, 'node parent'],
      [big.node, 'node parent with 1 GiB of Buffers'],
      [small.c, 'C parent'],
      [big.c, 'C parent with 1 GiB malloc'],
    ];
    if (before) notes.push(`previous version: ${previous}`);
    for (const [w, what] of described) {
      if (w) notes.push(`${what}: RSS ${Math.round((await w.ready()).rssKb / 1024)} MiB`);
    }

    const sets = [
      { workers: small, suffix: '', label: '' },
      { workers: big, suffix: 'At1G', label: ' [parent +1 GiB]' },
    ];
    if (exit0.file) sets.push({ workers: small, suffix: 'Exit0', label: ' [static exit0]', arg: exit0.file });
    const cases = [];
    for (const set of sets) {
      for (const m of METHODS) {
        const w = m.c ? set.workers.c : set.workers.node;
        if (!w) continue;
        const op = m.c ?? m.node;
        cases.push({ id: m.id + set.suffix, label: m.label + set.label, run: (n) => w.run(op, set.arg ? `${n} ${set.arg}` : n) });
      }
    }
    if (before) cases.push({ id: 'posixPrevious', label: 'posix.spawn + waitpid [previous version]', run: (n) => before.run('posix', n) });
    const samples = await runCases(cases, { rounds, budgetMs, onTick });
    const rows = summarise(cases, samples);

    const ratioSpecs = [['posix', 'vsPrevious', 'posixPrevious']];
    for (const { suffix } of sets) {
      ratioSpecs.push(
        ['posix' + suffix, 'vsCVfork', 'cVfork' + suffix],
        ['posix' + suffix, 'vsCPosixSpawn', 'cPosixSpawn' + suffix],
        ['posix' + suffix, 'vsSpawnSync', 'spawnSync' + suffix],
        ['posix' + suffix, 'vsCpSpawn', 'cpSpawn' + suffix],
      );
    }
    for (const m of METHODS) ratioSpecs.push([m.id + 'At1G', 'vsSmallParent', m.id]);
    addRatios(rows, ratioSpecs);

    const med = Object.fromEntries(rows.map((r) => [r.id, r.medianUs]));
    const targets = [];
    if (med.cVfork !== undefined) {
      const best = Math.min(med.cVfork, med.cPosixSpawn);
      targets.push(target('/bin/true: posix.spawn vs fastest C loop (time ratio)', med.posix / best, '<=', 1.15));
    }
    targets.push(target('/bin/true: posix.spawn speed-up over child_process.spawnSync', med.spawnSync / med.posix, '>=', 2.5));
    targets.push(target('/bin/true: posix.spawn speed-up over child_process.spawn', med.cpSpawn / med.posix, '>=', 2.5));
    targets.push(target('/bin/true: posix.spawn growth with 1 GiB in the parent', (med.posixAt1G / med.posix - 1) * 100, '<', 10, '%'));
    for (const m of METHODS.filter((x) => x.id !== 'posix' && med[x.id] !== undefined)) {
      notes.push(`growth with 1 GiB in the parent: ${m.label} ${(med[m.id + 'At1G'] / med[m.id]).toFixed(2)}x`);
    }
    if (med.cVfork !== undefined) {
      notes.push(
        `/bin/true: even the C vfork loop is only ${(med.spawnSync / med.cVfork).toFixed(2)}x faster than spawnSync ` +
          `and ${(med.cpSpawn / med.cVfork).toFixed(2)}x faster than child_process.spawn here: the program's own ` +
          `exec + start-up is in every method's time (a 2.5x speed-up needs spawnSync >= 2.5x the floor)`,
      );
    }
    if (med.posixExit0 !== undefined) {
      const best = Math.min(med.cVforkExit0, med.cPosixSpawnExit0);
      notes.push(
        `static exit0 (spawner cost): posix.spawn ${(med.posixExit0 / best).toFixed(2)}x the fastest C loop, ` +
          `${(med.spawnSyncExit0 / med.posixExit0).toFixed(2)}x faster than spawnSync, ` +
          `${(med.cpSpawnExit0 / med.posixExit0).toFixed(2)}x faster than child_process.spawn`,
      );
    }
    return { rows, notes, targets };
  } finally {
    await closeAll(workers, notes);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
