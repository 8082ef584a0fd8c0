// Shared machinery: run every case of a suite side by side, round-robin, in
// one run (so machine noise hits all of them alike), then summarise per-op
// samples as median / p10 / p90 and ratios against named baselines.
import fs from 'node:fs';

/**
 * @typedef {{ id: string, label: string,
 *             run: (iters: number) => Promise<number[] | { samples: number[], cpuNs: number[] | null }>,
 *             minIters?: number, maxIters?: number }} Case
 *   run(iters) times `iters` operations and returns per-op nanoseconds, or
 *   those and the parent's own CPU nanoseconds per op (Worker.measure()).
 */

/**
 * Calibrates each case (two discarded warm-up batches, the second of which
 * sizes its batch so a batch takes about `budgetMs`), then runs `rounds` rounds; each round runs
 * every case once, starting at a different case and alternating direction,
 * so no case always runs first or after the same neighbour.
 * `cpu`, if given, is filled with case id -> per-op parent CPU ns of the
 * rounds, for the cases that report it.
 * @returns {Promise<Map<string, number[]>>} case id -> samples (ns)
 */
export async function runCases(cases, { rounds, budgetMs, minIters = 2, maxIters = 500, onTick = () => {}, cpu = null }) {
  const timed = async (c, n) => {
    const result = await c.run(n);
    return Array.isArray(result) ? { samples: result, cpuNs: null } : result;
  };
  const iters = new Map();
  for (const c of cases) {
    const lo = c.minIters ?? minIters;
    // The first batch pays one-time costs (JIT, first page faults): size the
    // batches from a second one.
    await c.run(lo);
    // Its fastest op, so a noisy moment does not shrink the batches for good.
    const perOp = Math.max(Math.min(...(await timed(c, lo)).samples), 1);
    const hi = c.maxIters ?? maxIters;
    iters.set(c.id, Math.min(hi, Math.max(lo, Math.round((budgetMs * 1e6) / perOp))));
    onTick(`warm-up ${c.label}`);
  }
  const samples = new Map(cases.map((c) => [c.id, []]));
  for (let r = 0; r < rounds; r++) {
    const order = cases.slice(r % cases.length).concat(cases.slice(0, r % cases.length));
    if (r % 2 === 1) order.reverse();
    for (const c of order) {
      const got = await timed(c, iters.get(c.id));
      samples.get(c.id).push(...got.samples);
      if (cpu && got.cpuNs) {
        if (!cpu.has(c.id)) cpu.set(c.id, []);
        cpu.get(c.id).push(...got.cpuNs);
      }
      onTick(`round ${r + 1}/${rounds} ${c.label}`);
    }
  }
  return samples;
}

export function sorted(values) {
  return Float64Array.from(values).sort();
}

/** Linear-interpolated quantile of an ascending array. */
export function quantile(asc, q) {
  if (asc.length === 0) return NaN;
  const pos = (asc.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return asc[lo] + (asc[hi] - asc[lo]) * (pos - lo);
}

/**
 * A row per case: medianUs, p10Us, p90Us, n; and parentCpuUs (the median of
 * the parent's own CPU per op) for the cases `cpu` (from runCases) has.
 */
export function summarise(cases, samples, cpu = null) {
  return cases.map((c) => {
    const asc = sorted(samples.get(c.id));
    const row = {
      id: c.id,
      case: c.label,
      medianUs: round(quantile(asc, 0.5) / 1e3),
      p10Us: round(quantile(asc, 0.1) / 1e3),
      p90Us: round(quantile(asc, 0.9) / 1e3),
      n: asc.length,
      ratios: {},
    };
    const cpuNs = cpu?.get(c.id);
    if (cpuNs?.length > 0) row.parentCpuUs = round(quantile(sorted(cpuNs), 0.5) / 1e3);
    return row;
  });
}

/**
 * Adds ratios (this case's median / the baseline's median: < 1 is faster).
 * @param {Array<[string, string, string]>} specs [caseId, key, baselineId]
 */
export function addRatios(rows, specs) {
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const [id, key, baseline] of specs) {
    const row = byId.get(id);
    const base = byId.get(baseline);
    if (row && base) row.ratios[key] = round(row.medianUs / base.medianUs, 3);
  }
}

/**
 * A target check for the report: `value` against `limit` with `op`.
 * @param {string} what @param {number} value @param {'<='|'>='|'<'} op @param {number} limit @param {string} unit
 */
export function target(what, value, op, limit, unit = 'x') {
  const met = Number.isFinite(value) && (op === '<=' ? value <= limit : op === '<' ? value < limit : value >= limit);
  return { what, value: round(value, 3), op, limit, unit, met };
}

export function round(x, digits = 1) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Direct children of `parent` still in /proc (a zombie or a stray child is a defect). */
export function leftoverChildren(parent = process.pid) {
  const mine = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === parent) mine.push({ pid: Number(entry), state: fields[0] });
    } catch {} // gone meanwhile
  }
  return mine;
}

/** A plain-text table of one suite's result. */
export function formatSuite(suite) {
  const lines = [`== ${suite.name} ==`];
  if (suite.rows.length > 0) {
    const head = ['case', 'median us', 'p10 us', 'p90 us', 'n', 'ratios (median / baseline)'];
    const body = suite.rows.map((r) => [
      r.case,
      fmt(r.medianUs),
      fmt(r.p10Us),
      fmt(r.p90Us),
      String(r.n),
      Object.entries(r.ratios).map(([k, v]) => `${k}=${v.toFixed(3)}`).join('  '),
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
    const line = (cells) =>
      cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
    lines.push(line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line));
  }
  for (const t of suite.targets ?? []) {
    lines.push(`target ${t.met ? 'MET   ' : 'MISSED'} ${t.what}: ${t.value}${t.unit} (want ${t.op} ${t.limit}${t.unit})`);
  }
  for (const note of suite.notes) lines.push(`note: ${note}`);
  return lines.join('\n');
}

function fmt(x) {
  return Number.isFinite(x) ? x.toFixed(1) : '-';
}
