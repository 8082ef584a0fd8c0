// Suite "fork" (issue 4): Process start+join with the 'fork' start method,
// from a ~50 MB parent and from one with a 1 GiB JS heap, beside Python's
// multiprocessing 'fork' context (same two sizes), child_process.fork, and a
// C floor: fork + _exit + waitpid from a C parent with the same RSS as each
// Node parent (fork cost grows with the pages mapped, so compare like with
// like).
// The forking workers run under `node --single-threaded` (the fork start
// method refuses otherwise); the benchmark process itself need not.
import { addRatios, runCases, summarise, target } from '../harness.js';
import { closeAll, compileC, makeTempDir, nodeWorker, which, Worker, WORKERS_DIR } from '../workers.js';
import { processMissing } from './available.js';
import fs from 'node:fs';
import path from 'node:path';

export const name = 'fork';

function transparentHugePages() {
  try {
    return fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

const HEAP_MB = 1024;

export async function plan({ previous }) {
  const missing = await processMissing('fork', ['--single-threaded']);
  if (missing) return { skip: missing };
  return { cases: 6 + (previous ? 1 : 0) + (which('python3') ? 2 : 0) + (which('cc') ? 2 : 0) };
}

export async function run({ rounds, budgetMs, onTick, previous }) {
  const notes = [];
  const workers = [];
  const start = (w) => (workers.push(w), w);
  const dir = makeTempDir();
  try {
    const small = start(nodeWorker('node --single-threaded', 'fork', { nodeFlags: ['--single-threaded'] }));
    const big = start(
      nodeWorker('node --single-threaded +1GiB heap', 'fork', {
        nodeFlags: ['--single-threaded', `--max-old-space-size=${HEAP_MB * 4}`],
        holdHeapMb: HEAP_MB,
      }),
    );
    // Node can move its own code onto transparent huge pages at start-up: a
    // fork then copies a few huge-page entries for it, and the child takes
    // no page fault for each code page it runs (~140 fewer per child).
    const largePages = start(
      nodeWorker('node --single-threaded --use-largepages=on', 'fork', { nodeFlags: ['--single-threaded', '--use-largepages=on'] }),
    );
    const plain = start(nodeWorker('node', 'process'));
    const before = previous
      ? start(nodeWorker('node --single-threaded (previous version)', 'fork', { nodeFlags: ['--single-threaded'], packageDir: previous }))
      : null;
    if (before) notes.push(`previous version: ${previous}`);
    const python = which('python3');
    const pySmall = python && start(new Worker('python3', python, [path.join(WORKERS_DIR, 'py_fork_worker.py')]));
    const pyBig = python && start(new Worker('python3 +1GiB', python, [path.join(WORKERS_DIR, 'py_fork_worker.py'), '--hold-mb', String(HEAP_MB)]));
    if (!python) notes.push('Python cases skipped: no python3 on PATH');
    for (const [w, what] of [[small, 'node --single-threaded parent'], [big, 'node --single-threaded parent with 1 GiB JS heap'], [plain, 'node parent (child_process.fork)'], [pySmall, 'python3 parent'], [pyBig, 'python3 parent with 1 GiB of objects']]) {
      if (!w) continue;
      const info = await w.ready();
      notes.push(`${what}: RSS ${Math.round(info.rssKb / 1024)} MiB${info.heapUsedKb ? `, JS heap used ${Math.round(info.heapUsedKb / 1024)} MiB` : ''}`);
    }

    const cases = [
      { id: 'fork', label: "Process (startMethod 'fork') start + await join()", run: (n) => small.run('processFork', n) },
      { id: 'forkSync', label: "Process (startMethod 'fork') start + joinSync()", run: (n) => small.run('processForkSync', n) },
      ...(before ? [{ id: 'forkPrevious', label: "Process 'fork' start + await join() [previous version]", run: (n) => before.run('processFork', n) }] : []),
      { id: 'forkLargePages', label: "Process 'fork' start + await join() [--use-largepages=on]", run: (n) => largePages.run('processFork', n) },
      { id: 'forkAt1G', label: "Process 'fork' start + await join() [1 GiB heap]", run: (n) => big.run('processFork', n) },
      { id: 'forkSyncAt1G', label: "Process 'fork' start + joinSync() [1 GiB heap]", run: (n) => big.run('processForkSync', n) },
      { id: 'cpFork', label: "child_process.fork(empty module) (await 'exit')", minIters: 1, run: (n) => plain.run('cpForkTiny', n) },
    ];
    if (python) {
      cases.push(
        { id: 'python', label: "Python multiprocessing 'fork' start+join", run: (n) => pySmall.run('fork', n) },
        { id: 'pythonAt1G', label: "Python multiprocessing 'fork' start+join [1 GiB]", run: (n) => pyBig.run('fork', n) },
      );
    }
    const floor = compileC('floor.c', dir);
    if (floor.skip) notes.push(`C fork floor skipped: ${floor.skip}`);
    else {
      // Size each C parent to the RSS its Node counterpart has now.
      const mb = async (w) => Math.round((await w.ready()).rssKb / 1024);
      const cSmall = start(new Worker('C fork', floor.file, ['--hold-mb', String(await mb(small))]));
      const cBig = start(new Worker('C fork +1GiB', floor.file, ['--hold-mb', String(await mb(big))]));
      for (const [w, what] of [[cSmall, 'C parent'], [cBig, 'C parent (1 GiB case)']]) {
        notes.push(`${what}: RSS ${Math.round((await w.ready()).rssKb / 1024)} MiB`);
      }
      cases.push(
        { id: 'cFork', label: 'C fork + _exit + waitpid [same RSS]', run: (n) => cSmall.run('fork', n) },
        { id: 'cForkAt1G', label: 'C fork + _exit + waitpid [same RSS as 1 GiB heap]', run: (n) => cBig.run('fork', n) },
      );
    }
    const samples = await runCases(cases, { rounds, budgetMs, onTick });
    const rows = summarise(cases, samples);
    addRatios(rows, [
      ['fork', 'vsPython', 'python'],
      ['fork', 'vsCpFork', 'cpFork'],
      ['fork', 'vsCFork', 'cFork'],
      ['forkSync', 'vsCFork', 'cFork'],
      ['fork', 'vsPrevious', 'forkPrevious'],
      ['forkLargePages', 'vsDefault', 'fork'],
      ['forkLargePages', 'vsPython', 'python'],
      ['forkAt1G', 'vsCForkAt1G', 'cForkAt1G'],
      ['python', 'vsCFork', 'cFork'],
      ['forkSync', 'vsPython', 'python'],
      ['forkAt1G', 'vsPythonAt1G', 'pythonAt1G'],
      ['forkAt1G', 'vsSmallParent', 'fork'],
      ['forkSyncAt1G', 'vsSmallParent', 'forkSync'],
      ['pythonAt1G', 'vsSmallParent', 'python'],
    ]);

    const med = Object.fromEntries(rows.map((r) => [r.id, r.medianUs]));
    const targets = [target("'fork' start+join median (await join)", med.fork / 1000, '<', 1, ' ms')];
    if (python) targets.push(target("'fork' speed-up over Python's multiprocessing fork", med.python / med.fork, '>=', 2));
    notes.push(`'fork' with joinSync(): ${(med.forkSync / 1000).toFixed(3)} ms median`);
    notes.push(
      `'fork' from node --use-largepages=on: ${(med.forkLargePages / 1000).toFixed(3)} ms median ` +
        `(transparent huge pages here: ${transparentHugePages()})`,
    );
    notes.push(
      `growth with a 1 GiB heap: 'fork' ${(med.forkAt1G / med.fork).toFixed(2)}x (${(med.forkAt1G / 1000).toFixed(2)} ms)` +
        (python ? `, Python ${(med.pythonAt1G / med.python).toFixed(2)}x (${(med.pythonAt1G / 1000).toFixed(2)} ms)` : ''),
    );
    if (med.cFork !== undefined) {
      notes.push(
        `C floor (bare fork + _exit of a parent with the same RSS): ${(med.cFork / 1000).toFixed(3)} ms, ` +
          `${(med.cForkAt1G / 1000).toFixed(2)} ms at the 1 GiB size; 'fork' is ${(med.fork / med.cFork).toFixed(2)}x / ` +
          `${(med.forkAt1G / med.cForkAt1G).toFixed(2)}x of it`,
      );
    }
    notes.push(`child_process.fork is ${(med.cpFork / med.fork).toFixed(0)}x the 'fork' start method's time`);
    return { rows, notes, targets };
  } finally {
    await closeAll(workers, notes);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
