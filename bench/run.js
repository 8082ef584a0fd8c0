#!/usr/bin/env node
// npm run bench [-- suite... --rounds N --quick --json --previous DIR]
import { formatSuite } from './harness.js';
import { runBenchmarks, SUITES } from './index.js';

function usage(msg) {
  if (msg) process.stderr.write(`${msg}\n`);
  process.stderr.write(`usage: node bench/run.js [${SUITES.map((s) => s.name).join('|')} ...] [--rounds N] [--quick] [--json] [--previous DIR]\n`);
  process.exit(2);
}

const suites = [];
let rounds;
let quick = false;
let json = false;
let previous;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--quick') quick = true;
  else if (a === '--json') json = true;
  else if (a === '--rounds') {
    rounds = Number(argv[++i]);
    if (!Number.isInteger(rounds) || rounds < 1) usage(`--rounds needs an integer >= 1`);
  } else if (a === '--previous') {
    previous = argv[++i];
    if (!previous) usage('--previous needs a directory');
  } else if (a === '--help' || a === '-h') usage();
  else if (a.startsWith('-')) usage(`unknown option ${a}`);
  else suites.push(a);
}

const tty = process.stderr.isTTY;
const onProgress = (done, total, label) => {
  if (tty) process.stderr.write(`\r\x1b[K[${done}/${total}] ${label}`);
};
const started = Date.now();
try {
  const result = await runBenchmarks({ suites: suites.length ? suites : undefined, rounds, quick, previous, onProgress });
  if (tty) process.stderr.write('\r\x1b[K');
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    process.stdout.write(`${result.suites.map(formatSuite).join('\n\n')}\n`);
    process.stdout.write(`\n(${((Date.now() - started) / 1000).toFixed(1)} s; ratios are median / baseline median, < 1 is faster)\n`);
  }
} catch (err) {
  if (tty) process.stderr.write('\r\x1b[K');
  if (err instanceof RangeError) usage(err.message);
  throw err;
}
