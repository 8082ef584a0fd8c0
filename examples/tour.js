// `npm start`: a two-minute tour of posix-process on this machine.
// Starts children with every available start method (spawn, fork,
// forkserver) and a program target,
// shows their reprs and exact exit codes, waits on sentinels mixed with a
// Pipe, and ends with a small timing table against child_process.
import { fork as cpFork, spawnSync, spawn as cpSpawn } from 'node:child_process';
import { once } from 'node:events';
import {
  Process,
  Pipe,
  wait,
  posix,
  getAllStartMethods,
  currentProcess,
} from '../dist/index.js';

// The fork start method needs a single-threaded V8 (see README): re-run
// this tour under `node --single-threaded` unless asked not to.
if (!process.execArgv.includes('--single-threaded') && !process.env.TOUR_NO_REEXEC) {
  const r = spawnSync(process.execPath, ['--single-threaded', ...process.execArgv, new URL(import.meta.url).pathname], {
    stdio: 'inherit',
    env: { ...process.env, TOUR_NO_REEXEC: '1' },
  });
  process.exit(r.status ?? 1);
}

const heading = (text) => console.log(`\n\x1b[1m${text}\x1b[0m`);

heading(`posix-process tour — ${currentProcess()} (pid ${process.pid}), pidfd sentinels: ${posix.pidfdSupported()}`);
console.log(`start methods here: ${getAllStartMethods().join(', ')}`);

const targetsModule = new URL('./targets.js', import.meta.url).href;
const local = await import(targetsModule);
const targets = {
  normal: 'returns',
  exits: 'process.exit(3)',
  throws: 'throws',
  sleeps: 'sleeps, gets SIGTERM',
  killed: 'sleeps, gets SIGKILL',
};

for (const method of getAllStartMethods()) {
  heading(`start method '${method}'`);
  for (const [name, what] of Object.entries(targets)) {
    const exportName = name === 'killed' ? 'sleeps' : name;
    // fork children are copies of this process: any function works there;
    // spawn and forkserver children get the target by reference.
    const target = method === 'fork' ? local[exportName] : { module: targetsModule, export: exportName };
    const p = new Process({ target, startMethod: method, name: `${method}-${name}` });
    p.start();
    if (name === 'sleeps') p.terminate();
    if (name === 'killed') p.kill();
    await p.join();
    console.log(`  ${what.padEnd(24)} exitCode=${String(p.exitCode).padStart(3)}  ${p}`);
    p.close();
  }
}

heading('a program target (executable), exec failure reported synchronously');
{
  const p = new Process({ executable: '/bin/sh', args: ['-c', 'exit 7'] });
  p.start();
  await p.join();
  console.log(`  sh -c 'exit 7'           exitCode=${p.exitCode}  ${p}`);
  try {
    new Process({ executable: '/no/such/program' }).start();
  } catch (error) {
    console.log(`  /no/such/program         throws ${error.code} (${error.message}), syscall=${error.syscall}`);
  }
}

heading('wait() on sentinels mixed with a Pipe');
{
  const [reader, writer] = Pipe(false);
  const quick = new Process({ executable: '/bin/sleep', args: ['0.2'] });
  const slow = new Process({ executable: '/bin/sleep', args: ['0.6'] });
  quick.start();
  slow.start();
  setTimeout(() => writer.send({ hello: 'from a timer' }), 400);
  const pending = new Set([quick, slow, reader]);
  const t0 = performance.now();
  while (pending.size > 0) {
    for (const ready of await wait([...pending], 5)) {
      const label = ready === reader ? `pipe message ${JSON.stringify(await reader.recv())}` : `child ${ready.pid} exited ${ready.exitCode}`;
      console.log(`  +${((performance.now() - t0) / 1000).toFixed(2)}s ${label}`);
      if (ready !== reader) await ready.join();
      pending.delete(ready);
    }
  }
  reader.close();
  writer.close();
}

heading('timing: spawn + reap of /bin/true (median of 200)');
async function median(fn, n = 200) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[n >> 1] * 1000;
}
const rows = [
  ['posix.spawn + waitpid', await median(() => posix.waitpid(posix.spawn('/bin/true', ['true']).pid))],
  ['Process (executable) start + join', await median(async () => {
    const p = new Process({ executable: '/bin/true' });
    p.start();
    await p.join();
    p.close();
  })],
  ['child_process.spawnSync', await median(() => spawnSync('/bin/true'))],
  ['child_process.spawn', await median(() => once(cpSpawn('/bin/true'), 'exit'))],
];
const base = rows[0][1];
for (const [name, us] of rows) console.log(`  ${name.padEnd(36)} ${us.toFixed(0).padStart(6)} us  ${(us / base).toFixed(2)}x`);

heading('timing: a JS child that returns at once, start + join (median)');
const jsRows = [];
if (getAllStartMethods().includes('fork')) {
  jsRows.push(['Process, fork start method', await median(async () => {
    const p = new Process({ startMethod: 'fork', target: local.normal });
    p.start();
    await p.join();
    p.close();
  }, 100)]);
}
if (getAllStartMethods().includes('forkserver')) {
  // Its server (started by the tour's first forkserver child above) forks
  // each child; the caller itself needs no flags for this one.
  jsRows.push(['Process, forkserver start method', await median(async () => {
    const p = new Process({ startMethod: 'forkserver', target: { module: targetsModule, export: 'normal' } });
    p.start();
    await p.join();
    p.close();
  }, 100)]);
}
jsRows.push(['Process, spawn start method', await median(async () => {
  const p = new Process({ startMethod: 'spawn', target: { module: targetsModule, export: 'normal' } });
  p.start();
  await p.join();
  p.close();
}, 9)]);
jsRows.push(['node -e 0 (spawnSync)', await median(() => spawnSync(process.execPath, ['-e', '0']), 9)]);
jsRows.push(['child_process.fork', await median(() => once(cpFork(new URL('./targets.js', import.meta.url).pathname), 'exit'), 9)]);
const jsBase = jsRows[0][1];
for (const [name, us] of jsRows) console.log(`  ${name.padEnd(36)} ${(us / 1000).toFixed(2).padStart(7)} ms  ${(us / jsBase).toFixed(2)}x`);
console.log('\nFull side-by-side benchmarks: npm run bench');
