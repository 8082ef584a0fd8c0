// Where the parent's CPU per child goes, layer by layer (issue 14): the
// throughput suite's op (K children in flight, stdout captured and read to
// the end, each reaped) built up from the bare binding to Process. Each
// layer prints the parent's CPU per child (all its threads), the median of
// three rounds, and children/s. Internal modules of dist/ are used on
// purpose: this measures them, it is not an example.
//
//   node bench/layers.js [layer ...]      (default: every layer)
//   env: K (16), N children per round (3000), CHILD (/bin/echo; a static
//        binary that only writes "hi\n" shows the parent's side best)
//
// Layers:
//   floor    binding.spawn + a pipe read by the reactor (watch.readData) +
//            the pidfd watched (whenReadable) + waitid: no stream, no Popen
//   reader   + the stdout pipe as a PipeReader stream, read to its end
//   popen    + launchProgram (stdio prepared) and a Popen, wait() and close()
//   process  + Process: new, start(), join(), exitCode, close()
// Run one layer per process (each layer is run in a child node of its own).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const LAYERS = ['floor', 'reader', 'popen', 'process'];
const K = Number(process.env.K ?? 16);
const N = Number(process.env.N ?? 3000);
const CHILD = process.env.CHILD ?? '/bin/echo';
const dist = (file) => new URL(`../dist/${file}`, import.meta.url).href;

async function measure(layer) {
  const { batch, readAll } = await import('./workers/ops-throughput.js');
  const { binding } = await import(dist('binding.js'));
  const { readData, whenReadable, closeWatched } = await import(dist('watch.js'));
  const { PipeReader } = await import(dist('pipe-reader.js'));
  const { Popen } = await import(dist('popen.js'));
  const { launchProgram } = await import(dist('popen-exec.js'));
  const { Process } = await import(dist('index.js'));
  const devNull = fs.openSync('/dev/null', 'r');
  const argv = [CHILD, 'hi'];
  const fds = [devNull, -1, 2];
  const reaped = (pidfd) =>
    new Promise((resolve) =>
      whenReadable(pidfd, () => {
        binding.pidfdWait(pidfd, { nohang: true });
        closeWatched(pidfd);
        resolve();
      }),
    );
  const check = (out) => {
    if (out !== 'hi\n') throw new Error(`${layer}: stdout ${JSON.stringify(out)}`);
  };
  const ops = {
    floor() {
      const [r, w] = binding.pipe();
      fds[1] = w;
      const child = binding.spawn(CHILD, argv, { fds });
      binding.close(w);
      const ended = new Promise((resolve) =>
        readData(r, {
          onData(chunk) {
            if (chunk === null || typeof chunk === 'number') {
              binding.close(r);
              resolve();
            }
          },
        }),
      );
      return Promise.all([ended, reaped(child.pidfd)]);
    },
    async reader() {
      const [r, w] = binding.pipe();
      fds[1] = w;
      const child = binding.spawn(CHILD, argv, { fds });
      binding.close(w);
      const stream = new PipeReader(r);
      const exited = reaped(child.pidfd);
      check(await readAll(stream));
      await exited;
      stream.destroy();
    },
    async popen() {
      const request = { executable: CHILD, args: ['hi'], env: null, cwd: null, stdio: ['ignore', 'pipe', 'inherit'], parentDeathSignal: 0 };
      const { launched, streams } = launchProgram(request);
      const popen = new Popen(launched);
      check(await readAll(streams[1]));
      await popen.wait(null);
      popen.close();
      streams[1].destroy();
    },
    async process() {
      const p = new Process({ executable: CHILD, args: ['hi'], stdio: ['ignore', 'pipe', 'inherit'] });
      p.start();
      check(await readAll(p.stdout));
      await p.join();
      if (p.exitCode !== 0) throw new Error(`${p}: exitCode ${p.exitCode}`);
      p.close();
    },
  };
  const op = ops[layer];
  const run = (n) => batch(`${K}:${n}`, op);
  await run(Math.min(N, 500)); // JIT warm-up
  const rounds = [];
  for (let i = 0; i < 3; i++) {
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    await run(N);
    const ms = performance.now() - t0;
    const used = process.cpuUsage(cpu);
    rounds.push({ cpuUs: (used.user + used.system) / N, perSec: (N / ms) * 1000 });
  }
  rounds.sort((a, b) => a.cpuUs - b.cpuUs);
  const mid = rounds[1];
  return `${layer.padEnd(8)} K=${K}  parent CPU ${mid.cpuUs.toFixed(0).padStart(4)} us/child  ${mid.perSec.toFixed(0)} children/s`;
}

if (process.env.POSIX_PROCESS_LAYER) {
  console.log(await measure(process.env.POSIX_PROCESS_LAYER));
} else {
  const wanted = process.argv.slice(2);
  for (const layer of wanted) if (!LAYERS.includes(layer)) throw new Error(`unknown layer '${layer}' (${LAYERS.join(', ')})`);
  console.log(`child ${CHILD}, ${N} children a round, K = ${K}; parent CPU: median of 3 rounds`);
  for (const layer of wanted.length ? wanted : LAYERS) {
    const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], {
      env: { ...process.env, POSIX_PROCESS_LAYER: layer },
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
    });
    if (run.status !== 0) throw new Error(`layer ${layer} failed (status ${run.status})`);
    process.stdout.write(run.stdout);
  }
}
