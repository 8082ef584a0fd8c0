// `posix-process run`: the real command (node dist/cli.js), real children,
// GNU timeout's exit statuses, process-group signalling, --json.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parseDuration, parseSignal } from './internals.js';
import { posix } from '../dist/index.js';
import { cli, procStat } from './helpers.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/** Runs the command; resolves with its exit code/signal, output and wall time in seconds. */

/** The --json line: the last line of stderr. */
function report(result) {
  const lines = result.stderr.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

/** Dead: no such process, or a zombie nobody has reaped yet. */
function isDead(pid) {
  try {
    return procStat(pid).state === 'Z';
  } catch {
    return true;
  }
}

async function deadWithin(pid, seconds) {
  const until = performance.now() + seconds * 1000;
  while (!isDead(pid) && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
  return isDead(pid);
}

function killQuietly(pid) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

let dir;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'pp-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('51 cli: run — exit statuses', () => {
  it('passes through 0 and the command status', async () => {
    expect((await cli(['run', '--', 'true'])).code).to.equal(0);
    expect((await cli(['run', '--', 'sh', '-c', 'exit 3'])).code).to.equal(3);
    // Without `--`, everything after CMD is the command's, options included.
    const r = await cli(['run', 'sh', '-c', 'exit 42', '--timeout', 'x']);
    expect(r.code).to.equal(42);
  });

  it('exits 124 when the timeout fires, after about the timeout', async () => {
    const r = await cli(['run', '--timeout', '0.3', '--', 'sleep', '5']);
    expect(r.code).to.equal(124);
    expect(r.elapsed).to.be.within(0.3, 3);
  });

  it('--preserve-status gives the status the command died with (128+SIGTERM)', async () => {
    const r = await cli(['run', '--timeout', '0.3', '--preserve-status', '--', 'sleep', '5']);
    expect(r.code).to.equal(143);
    const exit5 = await cli(['run', '--timeout', '0.3', '--preserve-status', '--', 'sh', '-c', 'trap "exit 5" TERM; sleep 5 & wait']);
    expect(exit5.code).to.equal(5);
  });

  it('exits 124 on timeout even when the command exits by itself on the signal', async () => {
    const r = await cli(['run', '--timeout', '0.3', '--', 'sh', '-c', 'trap "exit 5" TERM; sleep 5 & wait']);
    expect(r.code).to.equal(124);
  });

  for (const form of ['KILL', '9', 'SIGKILL', 'kill']) {
    it(`-s ${form} sends SIGKILL; like GNU timeout the status is 137, not 124`, async () => {
      const r = await cli(['run', '--timeout', '0.3', '-s', form, '--json', '--', 'sleep', '5']);
      expect(r.code).to.equal(137);
      const j = report(r);
      expect(j).to.include({ signal: 'SIGKILL', timedOut: true, killed: false, exitCode: null, status: 137 });
    });
  }

  it('--signal INT / -s 2 send SIGINT (124, and 130 with --preserve-status)', async () => {
    const r = await cli(['run', '--timeout', '0.3', '--signal', 'INT', '--json', '--', 'sleep', '5']);
    expect(r.code).to.equal(124);
    expect(report(r)).to.include({ signal: 'SIGINT', timedOut: true });
    const p = await cli(['run', '--timeout', '0.3', '-s', '2', '--preserve-status', '--', 'sleep', '5']);
    expect(p.code).to.equal(130);
  });

  it('--kill-after: a command that ignores TERM is SIGKILLed kill-after later', async () => {
    const r = await cli(['run', '--timeout', '0.3', '-k', '0.4', '--json', '--', 'sh', '-c', 'trap "" TERM; sleep 30']);
    expect(r.code).to.equal(137);
    expect(r.elapsed).to.be.within(0.7, 5);
    const j = report(r);
    expect(j).to.include({ signal: 'SIGKILL', timedOut: true, killed: true, status: 137 });
    expect(j.elapsed).to.be.within(0.7, 5);
  });

  it('--kill-after does not delay a command that dies on the first signal', async () => {
    const r = await cli(['run', '--timeout', '0.3', '--kill-after', '20', '--json', '--', 'sleep', '30']);
    expect(r.code).to.equal(124);
    expect(r.elapsed).to.be.below(5);
    expect(report(r)).to.include({ signal: 'SIGTERM', killed: false });
  });

  it('exits 126 for a file that is not executable', async () => {
    const file = join(dir, 'not-executable');
    writeFileSync(file, '#!/bin/sh\nexit 0\n');
    chmodSync(file, 0o644);
    const r = await cli(['run', '--', file]);
    expect(r.code).to.equal(126);
    expect(r.stderr).to.equal(`posix-process: failed to run command '${file}': Permission denied\n`);
    expect((await cli(['run', '--', dir])).code).to.equal(126);
  });

  it('exits 127 for a command that does not exist (in PATH or by path)', async () => {
    const r = await cli(['run', '--', 'no-such-command-posix-process']);
    expect(r.code).to.equal(127);
    expect(r.stderr).to.equal("posix-process: failed to run command 'no-such-command-posix-process': No such file or directory\n");
    expect((await cli(['run', join(dir, 'missing')])).code).to.equal(127);
    const empty = await cli(['run', '--', '']);
    expect(empty.code).to.equal(127);
    expect(empty.stderr).to.equal("posix-process: failed to run command '': No such file or directory\n");
  });

  it('searches PATH and runs an executable script', async () => {
    const file = join(dir, 'exits-six');
    writeFileSync(file, '#!/bin/sh\nexit 6\n');
    chmodSync(file, 0o755);
    expect((await cli(['run', '--', file])).code).to.equal(6);
  });

  it('exits 128+N when the command dies of signal N', async () => {
    expect((await cli(['run', '--', 'sh', '-c', 'kill -TERM $$'])).code).to.equal(143);
    const r = await cli(['run', '--json', '--', 'sh', '-c', 'kill -USR1 $$']);
    expect(r.code).to.equal(138);
    expect(report(r)).to.include({ signal: 'SIGUSR1', exitCode: null, timedOut: false, status: 138 });
  });
});

describe('50 cli: run — process group and signals', () => {
  it('runs the command as leader of its own process group', async () => {
    const r = await cli(['run', '--', 'sh', '-c', 'echo $$ $(cut -d" " -f5 /proc/$$/stat)']);
    const [pid, pgrp] = r.stdout.trim().split(' ').map(Number);
    expect(r.code).to.equal(0);
    expect(pgrp).to.equal(pid);
  });

  it('--foreground keeps the command in the caller’s group', async () => {
    const r = await cli(['run', '--foreground', '--', 'sh', '-c', 'cut -d" " -f5 /proc/$$/stat']);
    expect(Number(r.stdout.trim())).to.equal(procStat(process.pid).pgrp);
  });

  it('the timeout signal reaches grandchildren (the whole group)', async () => {
    const pidFile = join(dir, 'grandchild-group');
    const r = await cli(['run', '--timeout', '0.3', '--', 'sh', '-c', `sleep 30 >/dev/null 2>&1 & echo $! > ${pidFile}; wait`]);
    expect(r.code).to.equal(124);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    try {
      expect(await deadWithin(grandchild, 1)).to.equal(true);
    } finally {
      killQuietly(grandchild);
    }
  });

  it('the --kill-after SIGKILL reaches grandchildren that ignore TERM', async () => {
    const pidFile = join(dir, 'grandchild-kill');
    const script = `trap "" TERM; sleep 30 >/dev/null 2>&1 & echo $! > ${pidFile}; wait`;
    const r = await cli(['run', '--timeout', '0.2', '-k', '0.2', '--', 'sh', '-c', script]);
    expect(r.code).to.equal(137);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    try {
      expect(await deadWithin(grandchild, 1)).to.equal(true);
    } finally {
      killQuietly(grandchild);
    }
  });

  it('--foreground signals only the command: its background grandchild lives on', async () => {
    const pidFile = join(dir, 'grandchild-fg');
    const r = await cli(['run', '--foreground', '--timeout', '0.3', '--', 'sh', '-c', `sleep 30 >/dev/null 2>&1 & echo $! > ${pidFile}; wait`]);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    try {
      expect(r.code).to.equal(124);
      expect(r.elapsed).to.be.below(5);
      expect(isDead(grandchild)).to.equal(false);
    } finally {
      killQuietly(grandchild);
    }
  });

  it('returns when the command exits, leaving a background grandchild alone (like timeout)', async () => {
    const pidFile = join(dir, 'grandchild-left');
    const r = await cli(['run', '--timeout', '20', '--', 'sh', '-c', `sleep 30 >/dev/null 2>&1 & echo $! > ${pidFile}; exit 4`]);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    try {
      expect(r.code).to.equal(4);
      expect(r.elapsed).to.be.below(5);
      expect(isDead(grandchild)).to.equal(false);
    } finally {
      killQuietly(grandchild);
    }
  });

  // Status null: posix-process died of the same signal after the command did (like GNU timeout).
  for (const [sig, status] of [['SIGTERM', null], ['SIGINT', null], ['SIGHUP', null], ['SIGQUIT', 131]]) {
    it(`forwards ${sig} it receives to the command's group (${status === null ? `then dies of ${sig}` : `status ${status}`})`, async () => {
      let grandchild = 0;
      const r = await cli(['run', '--json', '--', 'sh', '-c', 'sleep 30 >/dev/null 2>&1 & echo $!; wait'], {
        onStdout: (out, child) => {
          if (grandchild === 0 && out.includes('\n')) {
            grandchild = Number(out.trim());
            child.kill(sig);
          }
        },
      });
      try {
        expect(r.signal).to.equal(status === null ? sig : null);
        expect(r.code).to.equal(status);
        expect(report(r)).to.include({ signal: sig, timedOut: false, status: 128 + posix.signals[sig] });
        // sh starts `&` jobs with SIGINT and SIGQUIT ignored (POSIX), so only
        // TERM and HUP can show that the group got the signal.
        if (sig === 'SIGTERM' || sig === 'SIGHUP') expect(await deadWithin(grandchild, 1)).to.equal(true);
      } finally {
        killQuietly(grandchild);
      }
    });
  }

  it('a forwarded signal also arms --kill-after', async () => {
    const r = await cli(['run', '-k', '0.3', '--json', '--', 'sh', '-c', 'trap "" TERM; echo ready; sleep 30'], {
      onStdout: (out, child) => {
        if (out === 'ready\n') child.kill('SIGTERM');
      },
    });
    expect(r.code).to.equal(137);
    expect(report(r)).to.include({ signal: 'SIGKILL', timedOut: false, killed: true });
  });
});

describe('50 cli: run — stdio, fds, --json', () => {
  it('inherits stdin, stdout and stderr', async () => {
    const r = await cli(['run', '--', 'sh', '-c', 'cat; echo err >&2'], { input: 'from stdin\n' });
    expect(r.code).to.equal(0);
    expect(r.stdout).to.equal('from stdin\n');
    expect(r.stderr).to.equal('err\n');
  });

  it('gives the command exactly stdin, stdout and stderr (no pidfd, no fd of Node, nor fd 3)', async () => {
    const r = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, 'run', '--', 'sh', '-c', 'ls /proc/$$/fd'], {
        stdio: ['ignore', 'pipe', 'inherit', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, fds: out.trim().split(/\s+/) }));
    });
    expect(r.code).to.equal(0);
    // Without pidfds the exit sentinel is a pipe whose write end the child holds.
    const expected = posix.pidfdSupported() ? ['0', '1', '2'] : ['0', '1', '2', r.fds[3]];
    expect(r.fds).to.deep.equal(expected);
  });

  it('--json writes the exact wait status as one line on stderr', async () => {
    const r = await cli(['run', '--json', '--', 'sh', '-c', 'exit 3']);
    expect(r.code).to.equal(3);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    const j = report(r);
    expect(Object.keys(j)).to.deep.equal([
      'command', 'pid', 'exitCode', 'signal', 'coreDumped', 'timedOut', 'killed', 'elapsed', 'rusage', 'maxRSSExact', 'raw', 'status',
    ]);
    expect(j).to.include({ exitCode: 3, signal: null, coreDumped: false, timedOut: false, killed: false, raw: 3 << 8, status: 3 });
    expect(j.command).to.deep.equal(['sh', '-c', 'exit 3']);
    expect(j.pid).to.be.a('number').above(1);
    expect(j.elapsed).to.be.within(0, 3);
    expect(j.rusage).to.have.all.keys(
      'userCPUTime', 'systemCPUTime', 'maxRSS', 'minorPageFault', 'majorPageFault',
      'fsRead', 'fsWrite', 'voluntaryContextSwitches', 'involuntaryContextSwitches',
    );
    expect(j.rusage.maxRSS).to.be.above(100); // KiB: sh really ran
  });

  it('--json rusage is the command’s own usage (wait4 of the reaped child)', async () => {
    const burn = 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done';
    const j = report(await cli(['run', '--json', '--', 'sh', '-c', burn]));
    const cpu = (j.rusage.userCPUTime + j.rusage.systemCPUTime) / 1e6;
    expect(cpu).to.be.above(0.03);
    expect(cpu).to.be.at.most(j.elapsed + 0.05);
    // A command that touches 64 MiB has a max RSS of at least that much.
    const big = report(await cli(['run', '--json', '--', process.execPath, '-e', 'Buffer.alloc(64 << 20, 1)']));
    expect(big.rusage.maxRSS).to.be.above(64 * 1024);
  });

  it('--json on a command that cannot start still writes one line', async () => {
    const r = await cli(['run', '--json', '--', 'no-such-command-posix-process']);
    expect(r.code).to.equal(127);
    const j = report(r);
    expect(j).to.include({ pid: null, status: 127 });
    expect(j.error).to.include({ code: 'ENOENT', syscall: 'execve' });
  });
});

describe('50 cli: durations and signals', () => {
  it('parses DUR: seconds, ms, s, m, h, d; 0 means none', () => {
    expect(parseDuration('1.5')).to.equal(1.5);
    expect(parseDuration('.25')).to.equal(0.25);
    expect(parseDuration('500ms')).to.equal(0.5);
    expect(parseDuration('2s')).to.equal(2);
    expect(parseDuration('1m')).to.equal(60);
    expect(parseDuration('1.5h')).to.equal(5400);
    expect(parseDuration('1d')).to.equal(86400);
    expect(parseDuration('0')).to.equal(0);
  });

  it("parses DUR as GNU timeout does (C strtod): exponents, hex, inf, overflow, underflow", () => {
    expect(parseDuration('2.34e+5d')).to.equal(2.34e5 * 86400);
    expect(parseDuration('0x10')).to.equal(16);
    expect(parseDuration(' 1.')).to.equal(1); // leading white space, as strtod
    expect(parseDuration('inf')).to.equal(Infinity);
    expect(parseDuration('1.18973e+4932')).to.equal(Infinity); // overflow: practically forever
    expect(parseDuration('1e-5000')).to.equal(Number.MIN_VALUE); // underflow: at once, not "none"
    expect(parseDuration('-0')).to.equal(0);
  });

  for (const bad of ['', 'abc', '-1', '1x', '5ms5', '1.2.3', 's', '1 s', '1 ', 'NaN', '-inf', '1e', '42D', ' -1e-5000']) {
    it(`rejects DUR ${JSON.stringify(bad)}`, () => {
      expect(() => parseDuration(bad)).to.throw(`invalid duration '${bad}'`).with.property('code', 'commander.invalidArgument');
    });
  }

  it('parses SIG as a number, a name, without SIG, any case', () => {
    for (const s of ['9', 'KILL', 'SIGKILL', 'kill', 'SigKill', 'SIG9', '137']) expect(parseSignal(s)).to.equal(9);
    expect(parseSignal('USR1')).to.equal(10);
    // As GNU timeout (its tests use -s0): 0 and EXIT are "no signal".
    expect(parseSignal('0')).to.equal(0);
    expect(parseSignal('EXIT')).to.equal(0);
    const rtmin = parseSignal('RTMIN');
    expect(posix.signalName(rtmin)).to.equal('SIGRTMIN');
    expect(parseSignal('sigrtmin+1')).to.equal(rtmin + 1);
    for (const bad of ['65', '-9', ' 9', '200', 'FOO', 'SIG', '']) expect(() => parseSignal(bad)).to.throw(`invalid signal '${bad}'`);
  });

  for (const dur of ['300ms', '0.3s', '.3', '0.005m']) {
    it(`--timeout ${dur} fires after about 0.3 s`, async () => {
      const r = await cli(['run', '--timeout', dur, '--', 'sleep', '5']);
      expect(r.code).to.equal(124);
      expect(r.elapsed).to.be.within(0.3, 3);
    });
  }

  it('long timeouts (1m, 1h, 30d beyond setTimeout’s range) and 0 do not fire or linger', async () => {
    for (const dur of ['1m', '1h', '30d', '0']) {
      const r = await cli(['run', '--timeout', dur, '--', 'sh', '-c', 'exit 4']);
      expect(r.code, dur).to.equal(4);
      expect(r.elapsed, dur).to.be.below(3);
      expect(r.stderr, dur).to.equal('');
    }
  });

  for (const [flag, bad] of [['--timeout', 'abc'], ['--timeout', '-1'], ['-k', '1x'], ['--kill-after', ''], ['-s', 'FOO'], ['--signal', '65']]) {
    it(`exits 125 with the usage line for ${flag} ${JSON.stringify(bad)}`, async () => {
      const r = await cli(['run', flag, bad, '--', 'true']);
      expect(r.code).to.equal(125);
      expect(r.stderr).to.match(/^posix-process: option '.*' argument '.*' is invalid\. invalid (duration|signal)/);
      expect(r.stderr).to.include('Usage: posix-process run [--timeout DUR]');
    });
  }
});

describe('50 cli: usage, --help, --version', () => {
  it('--help prints help on stdout and exits 0', async () => {
    const r = await cli(['--help']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/^Usage: posix-process <command> \[options\]/);
    expect(r.stdout).to.include('run [options] <CMD> [ARGS...]');
    const run = await cli(['run', '--help']);
    expect(run.code).to.equal(0);
    expect(run.stdout).to.match(/^Usage: posix-process run \[--timeout DUR\]/);
    expect(run.stdout).to.include('124  the timeout fired');
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    for (const flag of ['--version', '-V']) {
      const r = await cli([flag]);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.equal(`${version}\n`);
    }
  });

  for (const args of [[], ['frobnicate'], ['run'], ['run', '--json'], ['run', '--no-such-option', 'true'], ['--bogus']]) {
    it(`bad usage ${JSON.stringify(args)} exits 125 with a short usage on stderr`, async () => {
      const r = await cli(args);
      expect(r.code).to.equal(125);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.match(/Usage: posix-process /);
      expect(r.stderr.split('\n').length).to.be.below(5);
    });
  }

  it('has a shebang so that npm can install it as the posix-process bin', () => {
    expect(readFileSync(CLI, 'utf8').startsWith('#!/usr/bin/env node\n')).to.equal(true);
    expect(existsSync(CLI)).to.equal(true);
  });
});
