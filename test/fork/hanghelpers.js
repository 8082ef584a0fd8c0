// Helpers for the "children that never hang" scenarios (test/fork/8x.*):
// fork children one after another through Process, each joined on a
// deadline. A child still running at its deadline is a hang: it is killed,
// counted, and the run stops there (one hang fails the scenario; waiting
// out more deadlines would only make the failure slower).
import { closeSync, writeSync } from 'node:fs';
import { expect } from 'chai';
import { binding } from '../internals.js';
import { Process } from '../../dist/index.js';
import { readAll } from './forkhelpers.js';

/** Seconds a child may take before it counts as hung (children here take milliseconds). */
export const DEADLINE = 20;

/**
 * Forks `count` children running `target` (default: return at once), one at
 * a time. `start(p, i)` starts child i (default: p.start()); it may start it
 * from anywhere (inside an I/O callback) and resolve once started. Returns
 * { forks, hangs, exitCodes: { code: n }, hung: [pid] } (`name` labels the
 * FORK_HANG_REPORT=1 printout).
 */
export async function forkSequence(count, { name = '', target = () => {}, start = (p) => p.start(), deadline = DEADLINE } = {}) {
  const stats = { forks: 0, hangs: 0, exitCodes: {}, hung: [] };
  for (let i = 0; i < count; i++) {
    const p = new Process({ startMethod: 'fork', target, args: [i] });
    await start(p, i);
    stats.forks++;
    await p.join(deadline);
    if (p.exitCode === null) {
      stats.hangs++;
      stats.hung.push(p.pid);
      p.kill();
      await p.join();
      p.close();
      break;
    }
    stats.exitCodes[p.exitCode] = (stats.exitCodes[p.exitCode] ?? 0) + 1;
    p.close();
  }
  // FORK_HANG_REPORT=1 prints each scenario's counts.
  if (process.env.FORK_HANG_REPORT) console.log(`      ${name}: ${JSON.stringify(stats)}`);
  return stats;
}

/** Every child forked, none hung, every one exited with 0. */
export function expectAllClean(stats, count) {
  expect(stats, JSON.stringify(stats)).to.deep.equal({ forks: count, hangs: 0, exitCodes: { 0: count }, hung: [] });
}

/**
 * Starts `p` synchronously inside the next `event` of `emitter` for which
 * `when(...args)` holds (or inside a microtask queued there, which runs as
 * the callback that emitted the event returns). Resolves once started.
 */
export function startInside(emitter, event, p, { when = () => true, microtask = false } = {}) {
  return new Promise((resolve, reject) => {
    const listener = (...args) => {
      if (!when(...args)) return;
      emitter.off(event, listener);
      const go = () => {
        try {
          p.start();
          resolve();
        } catch (error) {
          reject(error);
        }
      };
      if (microtask) queueMicrotask(go);
      else go();
    };
    emitter.on(event, listener);
  });
}

/**
 * Wraps the parent's I/O callbacks: `spy.wrap(fn)` calls fn, and when it
 * runs in a fork child (where the parent's handles must stay silent) also
 * records its `label`. `spy.ranInChildren()` closes the record and returns
 * the labels seen, once every child has exited.
 */
export function childCallbackSpy() {
  const parentPid = process.pid;
  const [r, w] = binding.pipe();
  const recorded = new Set(); // each child records a label once
  return {
    wrap(label, fn) {
      return function spied(...args) {
        if (process.pid !== parentPid && !recorded.has(label)) {
          recorded.add(label);
          writeSync(w, `${label}\n`);
        }
        return fn.apply(this, args);
      };
    },
    ranInChildren() {
      closeSync(w);
      const text = readAll(r);
      closeSync(r);
      return [...new Set(text.split('\n').filter(Boolean))];
    },
  };
}
