// Suite "forkserver" (issue 10): Process start+join with the 'forkserver'
// start method from a plain node (no flags), beside our 'spawn' start
// method and Python's multiprocessing 'forkserver' context, in the same
// run. Each server is started before the first sample (its start is a
// one-time cost, like Python's).
import { addRatios, runCases, summarise, target } from '../harness.js';
import { closeAll, nodeWorker, which, Worker, WORKERS_DIR } from '../workers.js';
import { processMissing } from './available.js';
import path from 'node:path';

export const name = 'forkserver';

export async function plan() {
  const missing = await processMissing('forkserver');
  if (missing) return { skip: missing };
  return { cases: 3 + (which('python3') ? 1 : 0) };
}

export async function run({ rounds, budgetMs, onTick }) {
  const notes = [];
  const workers = [];
  try {
    const node = nodeWorker('node', 'process');
    workers.push(node);
    notes.push(`node parent: RSS ${Math.round((await node.ready()).rssKb / 1024)} MiB, no flags`);
    await node.run('processForkserver', 1); // starts the server
    const python = which('python3');
    const py = python ? new Worker('python3', python, [path.join(WORKERS_DIR, 'py_fork_worker.py')]) : null;
    if (py) {
      workers.push(py);
      await py.ready();
    } else notes.push('Python case skipped: no python3 on PATH');
    const cases = [
      { id: 'forkserver', label: "Process 'forkserver' start + await join()", run: (n) => node.run('processForkserver', n) },
      { id: 'forkserverSync', label: "Process 'forkserver' start + joinSync()", run: (n) => node.run('processForkserverSync', n) },
      { id: 'spawn', label: "Process 'spawn' start + await join()", minIters: 1, run: (n) => node.run('processSpawnJs', n) },
    ];
    if (py) cases.push({ id: 'python', label: "Python multiprocessing 'forkserver' start+join", run: (n) => py.run('forkserver', n) });
    const samples = await runCases(cases, { rounds, budgetMs, onTick });
    const rows = summarise(cases, samples);
    addRatios(rows, [
      ['forkserver', 'vsSpawn', 'spawn'],
      ['forkserverSync', 'vsSpawn', 'spawn'],
      ['forkserver', 'vsPython', 'python'],
      ['forkserverSync', 'vsPython', 'python'],
    ]);
    const med = Object.fromEntries(rows.map((r) => [r.id, r.medianUs]));
    const targets = [target("'forkserver' speed-up over our 'spawn'", med.spawn / med.forkserver, '>=', 10)];
    if (py) targets.push(target("'forkserver' speed-up over Python's forkserver", med.python / med.forkserver, '>=', 1));
    return { rows, notes, targets };
  } finally {
    await closeAll(workers, notes);
  }
}
