// A long-lived benchmark worker: loads one ops module, optionally holds
// memory, then times ops on command. Commands are read with blocking reads
// (no stdin handle in the event loop, so nothing of ours is inherited by a
// forked child or keeps the loop busy); replies go to stdout with a marker.
//
//   node node-worker.js --ops <spawn|process|fork> [--hold-buffers-mb N] [--hold-heap-mb N]
//   stdin:  "<op> <iterations> [argument]\n"
//   stdout: "@@BENCH {"samples":[ns,...],"cpuNs":[ns,...]}\n" (cpuNs: this process's user+system CPU per op)
//   "children 1" lists this worker's child processes still in /proc.
import fs from 'node:fs';
import { leftoverChildren } from '../harness.js';
import { holdBuffers, holdHeap } from './hold.js';
import { packageModule } from './package.js';

const MARKER = '@@BENCH ';

function argValue(name, fallback) {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
}

function reply(obj) {
  fs.writeSync(1, `${MARKER}${JSON.stringify(obj)}\n`);
}

const pending = [];
let buffered = '';
const chunk = Buffer.alloc(4096);
const nap = new Int32Array(new SharedArrayBuffer(4));

/** The next command line, or null at EOF. Blocks. */
function readLineSync() {
  for (;;) {
    const nl = buffered.indexOf('\n');
    if (nl >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      return line;
    }
    let n;
    try {
      n = fs.readSync(0, chunk, 0, chunk.length, null);
    } catch (err) {
      if (err.code === 'EAGAIN') {
        Atomics.wait(nap, 0, 0, 2);
        continue;
      }
      throw err;
    }
    if (n === 0) return null;
    buffered += chunk.toString('utf8', 0, n);
  }
}

async function main() {
  const { ops, setup, teardown } = await import(`./ops-${argValue('--ops', 'spawn')}.js`);
  if (setup) await setup();
  pending.push(holdBuffers(Number(argValue('--hold-buffers-mb', '0'))));
  pending.push(holdHeap(Number(argValue('--hold-heap-mb', '0'))));
  globalThis.benchHeld = pending; // kept alive for the worker's whole life
  // Let start-up work settle while the loop can still run: between commands
  // the loop is blocked in readLineSync().
  await new Promise((resolve) => setTimeout(resolve, 50));
  const mem = process.memoryUsage();
  reply({ ready: true, rssKb: Math.round(mem.rss / 1024), heapUsedKb: Math.round(mem.heapUsed / 1024) });

  for (let line = readLineSync(); line !== null; line = readLineSync()) {
    const [op, itersText, arg] = line.trim().split(/\s+/);
    const iters = Number(itersText);
    if (op === 'children') {
      // A forkserver lives as long as its creator: not a leftover.
      const server = await import(packageModule('forkserver/client.js')).then((m) => m.forkserverPid(), () => null);
      reply({ children: leftoverChildren().filter((c) => c.pid !== server) }); // what our ops left behind
      continue;
    }
    const fn = ops[op];
    if (typeof fn !== 'function' || !(iters > 0)) {
      reply({ error: `bad command: ${line}` });
      continue;
    }
    const samples = new Array(iters);
    const cpuNs = new Array(iters);
    try {
      for (let i = 0; i < iters; i++) {
        // This process's CPU, all its threads (GC helpers count), not its children's.
        const c0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        const r = fn(arg);
        if (r !== undefined && typeof r.then === 'function') await r;
        samples[i] = Number(process.hrtime.bigint() - t0);
        const c = process.cpuUsage(c0);
        cpuNs[i] = (c.user + c.system) * 1e3;
      }
      reply({ samples, cpuNs });
    } catch (err) {
      reply({ error: `${op}: ${err && err.stack ? err.stack : err}` });
    }
  }
  if (teardown) await teardown();
}

main().catch((err) => {
  reply({ error: String(err && err.stack ? err.stack : err) });
  process.exitCode = 1;
});
