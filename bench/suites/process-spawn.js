// Suite "process-spawn" (issue 3): Process start+join with the 'spawn'
// start method (a fresh node running a JS target) against `node -e 0` and
// child_process.fork of an empty module; and a program target (executable
// /bin/true, and a static no-libc exit0) against child_process.spawn.
import fs from 'node:fs';
import { addRatios, runCases, summarise, target } from '../harness.js';
import { closeAll, compileC, makeTempDir, nodeWorker } from '../workers.js';
import { processMissing } from './available.js';

export const name = 'process-spawn';

const JS_CASES = [
  { id: 'processSpawnJs', label: "Process (startMethod 'spawn', JS target) start+join", op: 'processSpawnJs' },
  { id: 'nodeE0', label: 'spawnSync(node -e 0)', op: 'nodeE0' },
  { id: 'cpForkTiny', label: "child_process.fork(empty module) (await 'exit')", op: 'cpForkTiny' },
];
const PROGRAM_CASES = [
  { id: 'processProgram', label: 'Process (executable) start + await join()', op: 'processProgram' },
  { id: 'processProgramSync', label: 'Process (executable) start + joinSync()', op: 'processProgramSync' },
  { id: 'cpSpawn', label: "child_process.spawn (await 'exit')", op: 'cpSpawn' },
];

// Run on the previous version too, when one is given.
const PREVIOUS_CASES = [
  { id: 'processSpawnJsPrevious', label: "Process 'spawn' JS target start+join [previous version]", op: 'processSpawnJs', minIters: 1 },
  { id: 'processProgramPrevious', label: 'Process (executable) start + await join() [/bin/true, previous version]', op: 'processProgram' },
];

export async function plan({ previous }) {
  const missing = await processMissing();
  if (missing) return { skip: missing };
  return { cases: JS_CASES.length + PROGRAM_CASES.length * 2 + (previous ? PREVIOUS_CASES.length : 0) };
}

export async function run({ rounds, budgetMs, onTick, previous }) {
  const notes = [];
  const dir = makeTempDir();
  const worker = nodeWorker('node', 'process');
  const before = previous ? nodeWorker('node (previous version)', 'process', { packageDir: previous }) : null;
  try {
    notes.push(`node parent: RSS ${Math.round((await worker.ready()).rssKb / 1024)} MiB`);
    if (before) {
      await before.ready();
      notes.push(`previous version: ${previous}`);
    }
    const exit0 = compileC('exit0.c', dir, ['-O2', '-static', '-nostdlib']);
    if (exit0.skip) notes.push(`static exit0 cases skipped: ${exit0.skip}`);

    const cases = JS_CASES.map((c) => ({ ...c, minIters: 1, run: (n) => worker.run(c.op, n) }));
    for (const c of PROGRAM_CASES) cases.push({ ...c, label: `${c.label} [/bin/true]`, run: (n) => worker.run(c.op, n) });
    if (exit0.file) {
      for (const c of PROGRAM_CASES) {
        cases.push({ ...c, id: `${c.id}Exit0`, label: `${c.label} [static exit0]`, run: (n) => worker.run(c.op, `${n} ${exit0.file}`) });
      }
    }
    if (before) for (const c of PREVIOUS_CASES) cases.push({ ...c, run: (n) => before.run(c.op, n) });
    const samples = await runCases(cases, { rounds, budgetMs, onTick });
    const rows = summarise(cases, samples);
    const specs = [
      ['processSpawnJs', 'vsPrevious', 'processSpawnJsPrevious'],
      ['processProgram', 'vsPrevious', 'processProgramPrevious'],
      ['processSpawnJs', 'vsNodeE0', 'nodeE0'],
      ['processSpawnJs', 'vsCpForkTiny', 'cpForkTiny'],
      ['cpForkTiny', 'vsNodeE0', 'nodeE0'],
    ];
    for (const sfx of ['', 'Exit0']) {
      specs.push(['processProgram' + sfx, 'vsCpSpawn', 'cpSpawn' + sfx], ['processProgramSync' + sfx, 'vsCpSpawn', 'cpSpawn' + sfx]);
    }
    addRatios(rows, specs);

    const med = Object.fromEntries(rows.map((r) => [r.id, r.medianUs]));
    const targets = [
      target("'spawn' start+join vs node -e 0 (time ratio)", med.processSpawnJs / med.nodeE0, '<=', 1.1),
      target('/bin/true: program target (await join) speed-up over child_process.spawn', med.cpSpawn / med.processProgram, '>=', 2.5),
    ];
    notes.push(`/bin/true: program target with joinSync(): ${(med.cpSpawn / med.processProgramSync).toFixed(2)}x faster than child_process.spawn`);
    if (med.processProgramExit0 !== undefined) {
      notes.push(
        `static exit0: program target ${(med.cpSpawnExit0 / med.processProgramExit0).toFixed(2)}x (await join) / ` +
          `${(med.cpSpawnExit0 / med.processProgramSyncExit0).toFixed(2)}x (joinSync) faster than child_process.spawn`,
      );
    }
    return { rows, notes, targets };
  } finally {
    await closeAll(before ? [worker, before] : [worker], notes);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
