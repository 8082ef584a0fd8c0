// parentDeathSignal: children of every kind die with a parent that is
// SIGKILLed (no exit hook of ours runs then); without the option they live
// on. Linux sends the signal when the creating thread exits, so the option
// is refused in worker threads.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { expect } from 'chai';
import { Process } from '../dist/index.js';

const fixture = fileURLToPath(new URL('./fixtures/pdeath-process.js', import.meta.url));

/** Running (not gone, not a zombie awaiting its new parent's wait). */
function running(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function until(condition, ms) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/** Starts the fixture, returns the pids of its five children once they run. */
async function parentWithChildren(signal) {
  const parent = spawn(process.execPath, ['--single-threaded', fixture, signal], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  let exited = false;
  parent.stdout.on('data', (chunk) => (text += chunk));
  parent.once('exit', () => (exited = true));
  const reported = await until(() => text.includes('\n') || exited, 30000);
  const pids = reported && text.includes('\n') ? JSON.parse(text) : null;
  if (pids === null || pids.error !== undefined) {
    // Never leave the fixture (and the children it holds) behind.
    if (!exited) await killParent(parent);
    expect.fail(`the fixture did not report its children: ${pids?.error ?? (exited ? 'it exited' : 'no answer in 30 s')}`);
  }
  return { parent, pids };
}

async function killParent(parent) {
  const gone = new Promise((resolve) => parent.on('exit', resolve));
  parent.kill('SIGKILL');
  await gone;
}

describe('38 parentDeathSignal', function () {
  this.timeout(90000);

  for (const signal of ['SIGKILL', 'SIGTERM']) {
    it(`${signal}: spawn (daemon or not), fork, forkserver and program children end with a SIGKILLed parent`, async function () {
      const { parent, pids } = await parentWithChildren(signal);
      expect(Object.keys(pids)).to.deep.equal(['spawnDaemon', 'spawn', 'fork', 'forkserver', 'program']);
      for (const [kind, pid] of Object.entries(pids)) expect(running(pid), kind).to.equal(true);
      await killParent(parent);
      const alive = () => Object.entries(pids).filter(([, pid]) => running(pid)).map(([kind]) => kind);
      await until(() => alive().length === 0, 20000);
      expect(alive()).to.deep.equal([]);
    });
  }

  it('without it, every kind outlives the SIGKILLed parent (what the option is for)', async function () {
    const { parent, pids } = await parentWithChildren('none');
    await killParent(parent);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    try {
      for (const [kind, pid] of Object.entries(pids)) expect(running(pid), kind).to.equal(true);
    } finally {
      for (const pid of Object.values(pids)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });

  it('is checked like any signal', function () {
    expect(() => new Process({ executable: '/bin/true', parentDeathSignal: 'SIGNOPE' }))
      .to.throw(TypeError)
      .with.property('code', 'ERR_UNKNOWN_SIGNAL');
    expect(() => new Process({ executable: '/bin/true', parentDeathSignal: 0 }))
      .to.throw(RangeError)
      .with.property('code', 'ERR_OUT_OF_RANGE');
    expect(() => new Process({ executable: '/bin/true', parentDeathSignal: {} }))
      .to.throw(TypeError)
      .with.property('code', 'ERR_INVALID_ARG_TYPE');
  });

  it('is refused in a worker thread, whose exit would send it; without it a worker starts children', async function () {
    const source = `
      const { parentPort } = require('node:worker_threads');
      import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)}).then(async ({ Process }) => {
        const out = {};
        try {
          new Process({ executable: '/bin/true', parentDeathSignal: 'SIGTERM' }).start();
          out.withOption = 'started';
        } catch (error) {
          out.withOption = { name: error.name, code: error.code, message: error.message };
        }
        const p = new Process({ executable: '/bin/sh', args: ['-c', 'exit 4'] });
        p.start();
        await p.join(20);
        out.without = p.exitCode;
        parentPort.postMessage(out);
      });`;
    const worker = new Worker(source, { eval: true });
    const out = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(out.withOption.name).to.equal('ProcessError');
    expect(out.withOption.code).to.equal('ERR_PARENT_DEATH_SIGNAL_THREAD');
    expect(out.withOption.message).to.include('main thread');
    expect(out.without).to.equal(4);
  });
});
