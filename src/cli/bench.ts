// `posix-process bench`: runs the side-by-side benchmarks of bench/index.js
// (in the source checkout, not in the npm package) with a progress bar on
// stderr and prints the tables of figures and ratios on stdout.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EXIT_CANCELED } from './exitcodes.js';

export interface BenchRow {
  case: string;
  medianUs: number;
  p10Us: number;
  p90Us: number;
  /** Samples behind the figures. */
  n?: number;
  /** This case against others: a ratio, or ratios by the other case's name. */
  ratios?: number | string | Record<string, number | string | null> | null;
}

export interface BenchTarget {
  what: string;
  value: number;
  op: string;
  limit: number;
  unit?: string;
  met: boolean;
}

export interface BenchSuite {
  name: string;
  rows: BenchRow[];
  notes?: string | string[];
  /** The suite's performance targets (bench/suites/) and whether this run met them. */
  targets?: BenchTarget[];
}

export interface BenchResult {
  suites: BenchSuite[];
}

export interface BenchModule {
  runBenchmarks(options: {
    suites?: string[];
    rounds?: number;
    quick?: boolean;
    /** A built checkout of an earlier version, run beside this one. */
    previous?: string;
    onProgress?: (done: number, total: number, label: string) => void;
  }): Promise<BenchResult>;
}

export interface BenchOptions {
  suites: string[];
  rounds?: number;
  quick: boolean;
  json: boolean;
  previous?: string;
}

/** Progress on stderr: a redrawn bar on a terminal, plain lines otherwise. */
function progressReporter(): { update: (done: number, total: number, label: string) => void; end: () => void } {
  const tty = process.stderr.isTTY === true;
  let drawn = false;
  return {
    update(done, total, label) {
      if (!tty) {
        process.stderr.write(`bench: [${done}/${total}] ${label}\n`);
        return;
      }
      const width = 30;
      const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
      const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
      const columns = process.stderr.columns || 80; // 0: a terminal of unknown width
      const line = `[${bar}] ${done}/${total} ${label}`.slice(0, Math.max(columns - 1, 10));
      process.stderr.write(`\r\x1b[2K${line}`);
      drawn = true;
    },
    end() {
      if (drawn) process.stderr.write('\r\x1b[2K');
    },
  };
}

function figure(us: number): string {
  if (typeof us !== 'number' || !Number.isFinite(us)) return '-';
  return us >= 1000 ? us.toFixed(0) : us >= 10 ? us.toFixed(1) : us.toFixed(2);
}

function ratioText(ratios: BenchRow['ratios']): string {
  const one = (r: unknown): string => (typeof r === 'number' ? `${r.toFixed(2)}x` : r === null || r === undefined ? '-' : String(r));
  if (ratios === null || ratios === undefined) return '';
  if (typeof ratios !== 'object') return one(ratios);
  return Object.entries(ratios)
    .map(([other, r]) => `${one(r)} ${other}`)
    .join(', ');
}

function table(suite: BenchSuite): string {
  const header = ['case', 'median us', 'p10 us', 'p90 us', 'n', 'ratios (median / other median)'];
  const rows = suite.rows.map((r) => [
    String(r.case),
    figure(r.medianUs),
    figure(r.p10Us),
    figure(r.p90Us),
    typeof r.n === 'number' ? String(r.n) : '-',
    ratioText(r.ratios),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  // Text left, figures right.
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 || i === 5 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [`== ${suite.name}`];
  if (rows.length > 0) out.push(line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line));
  for (const t of suite.targets ?? []) {
    const unit = t.unit ?? '';
    out.push(`target ${t.met ? 'met   ' : 'MISSED'} ${t.what}: ${t.value}${unit} (want ${t.op} ${t.limit}${unit})`);
  }
  const notes = suite.notes === undefined ? [] : Array.isArray(suite.notes) ? suite.notes : [suite.notes];
  for (const note of notes) out.push(`note: ${note}`);
  return `${out.join('\n')}\n`;
}

export async function bench(options: BenchOptions): Promise<number> {
  // dist/cli/bench.js -> <package root>/bench/index.js
  const url = new URL('../../bench/index.js', import.meta.url);
  if (!existsSync(fileURLToPath(url))) {
    process.stderr.write(
      `posix-process: no benchmarks at ${fileURLToPath(url)} (they are in the source repository, not the npm package)\n`,
    );
    return EXIT_CANCELED;
  }
  const module = (await import(pathToFileURL(fileURLToPath(url)).href)) as Partial<BenchModule>;
  if (typeof module.runBenchmarks !== 'function') {
    process.stderr.write(`posix-process: ${fileURLToPath(url)} does not export runBenchmarks()\n`);
    return EXIT_CANCELED;
  }
  const progress = progressReporter();
  let result: BenchResult;
  try {
    result = await module.runBenchmarks({
      ...(options.suites.length > 0 ? { suites: options.suites } : {}),
      ...(options.rounds !== undefined ? { rounds: options.rounds } : {}),
      quick: options.quick,
      ...(options.previous !== undefined ? { previous: options.previous } : {}),
      onProgress: progress.update,
    });
  } finally {
    progress.end();
  }
  if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else process.stdout.write(`${result.suites.map(table).join('\n')}\nratios < 1 mean faster than the other case\n`);
  return 0;
}
