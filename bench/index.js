// Programmatic entry: runBenchmarks() runs the chosen suites and returns
// their rows; bench/run.js (npm run bench) and the CLI print them.
import fs from 'node:fs';
import path from 'node:path';
import { leftoverChildren } from './harness.js';
import * as forkSuite from './suites/fork.js';
import * as forkserverSuite from './suites/forkserver.js';
import * as processSpawnSuite from './suites/process-spawn.js';
import * as spawnSuite from './suites/spawn.js';
import * as throughputSuite from './suites/throughput.js';

export const SUITES = [spawnSuite, processSpawnSuite, forkSuite, forkserverSuite, throughputSuite];

const DEFAULTS = { rounds: 30, budgetMs: 40 };
const QUICK = { rounds: 4, budgetMs: 8 };

/**
 * `previous`: a built checkout of an earlier version (its dist/ and addon);
 * its main cases then run beside ours, as "vsPrevious" ratios.
 * @param {{ suites?: string[], rounds?: number, quick?: boolean, previous?: string,
 *           onProgress?: (done: number, total: number, label: string) => void }} [options]
 * @returns {Promise<{ suites: Array<{ name: string, rows: object[], notes: string[], targets: object[] }> }>}
 */
export async function runBenchmarks({ suites, rounds, quick = false, previous, onProgress = () => {} } = {}) {
  const known = new Map(SUITES.map((s) => [s.name, s]));
  for (const n of suites ?? []) {
    if (!known.has(n)) throw new RangeError(`unknown benchmark suite '${n}' (known: ${[...known.keys()].join(', ')})`);
  }
  const chosen = suites ? suites.map((n) => known.get(n)) : SUITES;
  const settings = { ...(quick ? QUICK : DEFAULTS) };
  if (rounds !== undefined) {
    if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`rounds must be an integer >= 1, got ${rounds}`);
    settings.rounds = rounds;
  }

  if (previous !== undefined) {
    previous = path.resolve(previous);
    if (!fs.existsSync(path.join(previous, 'dist', 'index.js'))) {
      throw new RangeError(`previous: no built package in ${previous} (dist/index.js is missing; run npm ci && npm run build there)`);
    }
  }
  settings.previous = previous ?? null;
  settings.quick = quick;

  const plans = [];
  for (const s of chosen) plans.push(await s.plan(settings));
  const total = plans.reduce((sum, p) => sum + (p.skip ? 0 : p.cases * ((p.rounds ?? settings.rounds) + 1)), 0);
  let done = 0;
  const results = [];
  for (const [i, s] of chosen.entries()) {
    if (plans[i].skip) {
      results.push({ name: s.name, rows: [], notes: [`skipped: ${plans[i].skip}`], targets: [] });
      continue;
    }
    const onTick = (label) => onProgress(++done, total, `${s.name}: ${label}`);
    let r;
    try {
      r = await s.run({ ...settings, onTick });
    } catch (err) {
      // One broken suite must not hide the others' figures.
      r = { rows: [], notes: [`FAILED: ${err && err.message ? err.message : err}`], targets: [] };
    }
    const left = leftoverChildren();
    if (left.length > 0) r.notes.push(`LEFTOVER children after the suite: ${JSON.stringify(left)}`);
    results.push({ name: s.name, rows: r.rows, notes: r.notes, targets: r.targets });
  }
  return { suites: results };
}
