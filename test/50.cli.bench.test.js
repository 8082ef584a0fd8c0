// `posix-process bench`: argument handling, and one real quick run of the
// side-by-side benchmarks (bench/index.js) printed as tables / JSON.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { cli as runCli } from './helpers.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

const cli = (args) => runCli(args, { stdio: ['ignore', 'pipe', 'pipe'] });

describe('50 cli: bench', () => {
  it('--help exits 0', async () => {
    const r = await cli(['bench', '--help']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/^Usage: posix-process bench \[--quick\] \[--rounds N\] \[--json\] \[--previous DIR\] \[SUITE\.\.\.\]/);
  });

  for (const args of [['bench', '--rounds', '0'], ['bench', '--rounds', 'x'], ['bench', '--rounds', '1.5'], ['bench', '--slow']]) {
    it(`bad usage ${JSON.stringify(args)} exits 125 with the usage line`, async () => {
      const r = await cli(args);
      expect(r.code).to.equal(125);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.include('Usage: posix-process bench');
    });
  }

  it('an unknown suite exits 125 before running anything', async () => {
    const r = await cli(['bench', '--quick', 'no-such-suite']);
    expect(r.code).to.equal(125);
    expect(r.stderr).to.match(/^posix-process: unknown benchmark suite 'no-such-suite'/);
    expect(r.stdout).to.equal('');
  });

  it('--previous without a built package there exits 125 before running anything', async () => {
    const r = await cli(['bench', '--quick', '--previous', '/nonexistent/posix-process', 'spawn']);
    expect(r.code).to.equal(125);
    expect(r.stderr).to.match(/^posix-process: previous: no built package in \/nonexistent\/posix-process \(dist\/index\.js is missing/);
    expect(r.stdout).to.equal('');
  });

  it('--previous runs the main case on that checkout too (here: this one) and gives the ratio', async function () {
    this.timeout(120000);
    const root = fileURLToPath(new URL('..', import.meta.url));
    const r = await cli(['bench', '--quick', '--rounds', '1', '--json', '--previous', root, 'spawn']);
    expect(r.code).to.equal(0);
    const rows = JSON.parse(r.stdout).suites[0].rows;
    const previous = rows.find((row) => row.case === 'posix.spawn + waitpid [previous version]');
    expect(previous.medianUs).to.be.above(0);
    const ours = rows.find((row) => row.case === 'posix.spawn + waitpid');
    expect(ours.ratios.vsPrevious).to.be.above(0);
  });

  it('--quick prints progress lines on stderr (not a TTY) and a table per suite on stdout', async function () {
    this.timeout(120000);
    const r = await cli(['bench', '--quick', '--rounds', '1', 'spawn']);
    expect(r.code).to.equal(0);
    const progress = r.stderr.trim().split('\n');
    expect(progress[0]).to.match(/^bench: \[1\/\d+\] spawn: /);
    const [, done, total] = /^bench: \[(\d+)\/(\d+)\]/.exec(progress[progress.length - 1]);
    expect(done).to.equal(total);
    const lines = r.stdout.split('\n');
    expect(lines[0]).to.equal('== spawn');
    expect(lines[1]).to.match(/^case +median us +p10 us +p90 us +n +ratios/);
    const rows = lines.filter((l) => /^posix\.spawn \+ waitpid +\d/.test(l));
    expect(rows.length).to.be.at.least(1);
    expect(r.stdout).to.match(/\d\.\d\dx vs/);
  });

  // script(1) runs the command on a pseudo-terminal: stderr is a TTY there.
  (existsSync('/usr/bin/script') ? it : it.skip)('draws a redrawn progress bar when stderr is a terminal', async function () {
    this.timeout(120000);
    const command = `${process.execPath} ${CLI} bench --quick --rounds 1 spawn`;
    const r = await new Promise((resolve, reject) => {
      const child = spawn('/usr/bin/script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out }));
    });
    expect(r.code).to.equal(0);
    expect(r.out).to.match(/\r\x1b\[2K\[#-{29}\] 1\/\d+ spawn: /);
    expect(r.out).to.match(/\r\x1b\[2K\[#{30}\] (\d+)\/\1 spawn: /);
    expect(r.out).not.to.include('bench: [1/');
    expect(r.out).to.include('== spawn');
  });

  it('--json prints the results as JSON on stdout', async function () {
    this.timeout(120000);
    const r = await cli(['bench', '--quick', '--rounds', '1', '--json', 'spawn']);
    expect(r.code).to.equal(0);
    const result = JSON.parse(r.stdout);
    expect(result.suites.map((s) => s.name)).to.deep.equal(['spawn']);
    const row = result.suites[0].rows[0];
    expect(row).to.include.keys('case', 'medianUs', 'p10Us', 'p90Us', 'ratios');
    expect(row.medianUs).to.be.above(0);
    expect(row.p10Us).to.be.at.most(row.medianUs);
    expect(row.p90Us).to.be.at.least(row.medianUs);
  });
});
