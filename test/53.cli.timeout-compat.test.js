// `posix-process run` against GNU timeout's own test suite: every case of
// coreutils' tests/timeout/*.sh and timeout-blocked.pl, run on the real
// command, with `timeout [OPTION]... DUR CMD` read as
// `posix-process run [OPTION]... --timeout=DUR -- CMD`. Where /usr/bin/timeout
// exists, the exit statuses are also compared with GNU's for the same case.
// Then SIGUSR1/SIGUSR2 (never Node's inspector) and the rusage.maxRSS label.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { posix } from '../dist/index.js';
import { cli } from './helpers.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const GNU = existsSync('/usr/bin/timeout') ? '/usr/bin/timeout' : null;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** GNU timeout's arguments as `posix-process run` arguments: the DURATION operand becomes --timeout. */
function asRun(gnuArgs) {
  const options = [];
  let i = 0;
  for (; i < gnuArgs.length; i++) {
    const arg = gnuArgs[i];
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    options.push(arg);
    if (arg === '-s' || arg === '-k') options.push(gnuArgs[++i]); // the option's value is the next word
  }
  return ['run', ...options, `--timeout=${gnuArgs[i]}`, '--', ...gnuArgs.slice(i + 1)];
}

/** `sh -c script`, bounded: { status, stdout, stderr }. */
function shell(script) {
  return spawnSync('sh', ['-c', script], { encoding: 'utf8', timeout: 30000 });
}

/** The command line that runs posix-process itself, for shell scripts. */
const RUN = `"${process.execPath}" "${CLI}" run`;

function gnuStatus(gnuArgs) {
  const r = spawnSync(GNU, gnuArgs, { stdio: 'ignore', timeout: 30000 });
  return r.status ?? 128 + posix.signals[r.signal];
}

/** Waits until `test()` holds (checked every 20 ms), at most `seconds`. */
async function until(test, seconds) {
  const deadline = performance.now() + seconds * 1000;
  while (!test()) {
    if (performance.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** TCP sockets in LISTEN state that process `pid` holds (its socket fds matched in its /proc/PID/net/tcp*). */
function listeningSockets(pid) {
  const inodes = new Set();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return []; // the process is gone: it listens on nothing
  }
  const found = [];
  for (const table of ['tcp', 'tcp6']) {
    let text;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.trim().split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && inodes.has(f[9])) found.push(f[1]);
    }
  }
  return found;
}

/** The --json line: the last line of stderr. */
const lastJson = (r) => JSON.parse(r.stderr.trim().split('\n').pop());

function killGroupQuietly(pgid) {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * For a command that prints `ready PID` (PID leading its own group): the
 * PID once the line is out, and a group SIGKILL `seconds` later, so that a
 * posix-process that failed (died, orphaning the command, which holds its
 * stdout) fails the test instead of hanging it.
 */
function readyPid(out, seconds) {
  const m = /^ready (\d+)\n/.exec(out);
  if (!m) return 0;
  backstops.add(setTimeout(() => killGroupQuietly(Number(m[1])), seconds * 1000));
  return Number(m[1]);
}
const backstops = new Set();
let dir;

describe('53 cli: posix-process run as GNU timeout', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pp-timeout-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => {
    for (const timer of backstops) clearTimeout(timer);
    backstops.clear();
  });

  describe('run — coreutils tests/timeout, case by case', () => {
    // [script, GNU timeout's arguments, the status GNU's test expects, and
    // whether GNU 9.1 (older than the tests) already agrees].
    const CASES = [
      ['timeout.sh: no timeout', ['10', 'true'], 0],
      ['timeout.sh: no timeout (suffix check)', ['1d', 'true'], 0],
      ['timeout.sh: disabled timeout', ['0', 'true'], 0],
      ['timeout.sh: exit status propagation', ['10', 'sh', '-c', 'exit 2'], 2],
      ['timeout.sh: timeout', ['.1', 'sleep', '10'], 124],
      // "returns_ 124 ... && fail=1": not 124, but 128+TERM.
      ['timeout.sh: --preserve-status on timeout', ['--preserve-status', '.1', 'sleep', '10'], 143],
      // Signal 0 sends nothing; the KILL a second later ends it: 128+KILL, not 124.
      ['timeout.sh: kill delay', ['-s0', '-k1', '.1', 'sleep', '10'], 137],
      ['timeout.sh: kill delay, --foreground', ['--foreground', '-s0', '-k1', '.1', 'sleep', '10'], 137],
      ['timeout-parameters.sh: invalid timeout', ['invalid', 'sleep', '0'], 125],
      ['timeout-parameters.sh: negative timeout', [' -0.1', 'sleep', '0'], 125],
      ['timeout-parameters.sh: negative underflow', [' -1e-10000', 'sleep', '0'], 125, false],
      ['timeout-parameters.sh: invalid kill delay', ['--kill-after=invalid', '1', 'sleep', '0'], 125],
      ['timeout-parameters.sh: invalid suffix', ['42D', 'sleep', '0'], 125],
      ['timeout-parameters.sh: floating point notation', ['10.34', 'sleep', '0'], 0],
      ['timeout-parameters.sh: nanoseconds', ['9.999999999', 'sleep', '0'], 0],
      ['timeout-parameters.sh: underflow rounds up to 1 ns', ['1e-10000', 'sleep', '10'], 124, false],
      ['timeout-parameters.sh: invalid signal', ['--signal=invalid', '1', 'sleep', '0'], 125],
      ['timeout-parameters.sh: invalid command', ['10', '.'], 126],
      ['timeout-parameters.sh: no such command', ['10', 'no_such'], 127],
      // TIME_T_OFLOW: must not time out at once (a kernel time_t overflow would).
      ['timeout-large-parameters.sh: TIME_T_OFLOW', ['9223372036854775808', 'sleep', '1'], 0],
      ['timeout-large-parameters.sh: UINT_OFLOW', ['4294967296', 'sleep', '0'], 0],
      ['timeout-large-parameters.sh: TIME_T_OFLOW days', ['9223372036854775808d', 'sleep', '0'], 0],
      ['timeout-large-parameters.sh: exponent notation', ['2.34e+5d', 'sleep', '0'], 0],
      ['timeout-large-parameters.sh: LDBL_MAX overflow', ['1.18973149535723176502e+4932', 'sleep', '0'], 0],
      ['timeout-large-parameters.sh: -LDBL_MAX', ['--', '-1.18973149535723176502e+4932', 'sleep', '0'], 125],
    ];

    for (const [name, gnuArgs, expected, gnuAgrees = true] of CASES) {
      it(`${name}: timeout ${gnuArgs.join(' ')} -> ${expected}`, async function () {
        const r = await cli(asRun(gnuArgs));
        expect(r.code, r.stderr).to.equal(expected);
        if (expected === 124) expect(r.elapsed).to.be.below(5);
        if (GNU && gnuAgrees) expect(gnuStatus(gnuArgs), 'GNU timeout').to.equal(expected);
      });
    }

    it('timeout.sh: --verbose / -v say which signal goes to the command', async () => {
      for (const opt of ['-v', '--verbose']) {
        const r = await cli(asRun([opt, '-s0', '-k', '.1', '.1', 'sleep', '10']));
        expect(r.code).to.equal(137);
        expect(r.stderr).to.equal("posix-process: sending signal 0 to command 'sleep'\nposix-process: sending signal KILL to command 'sleep'\n");
      }
    });

    it('timeout.sh: immune to a SIGCHLD the caller ignores', () => {
      expect(shell(`trap '' CHLD; exec ${RUN} --timeout 10 -- true`).status).to.equal(0);
    });

    it('timeout.sh: not confused by a child it inherited (Bug#9098)', () => {
      const r = shell(`setsid sleep .1 & exec ${RUN} --timeout .5 -- sh -c 'sleep 2; echo foo'`);
      expect(r.stdout).to.equal('');
      expect(r.status).to.equal(124);
    });

    it('timeout.sh: a SIGPIPE of its own (--verbose to a closed pipe) is passed on, not its end: 124', () => {
      const r = shell(`{ { ${RUN} -v --timeout .1 -- sleep 10 2>&1; echo $? >&3; } | :; } 3>&1`);
      expect(r.stdout).to.equal('124\n');
    });

    it('timeout.sh, ignored signals: differs, as documented: Node resets an ignored SIGPIPE, so `yes` dies of it', () => {
      // GNU leaves alone a signal its caller ignores: `yes` gets EPIPE, says
      // "Broken pipe" and exits 1. Node resets every disposition at start-up,
      // so the command starts with SIGPIPE at default and dies of it (141).
      const r = shell(`(trap '' PIPE && { ${RUN} --timeout 10 -- yes; echo $? >&3; } 3>&2 | :) 2>&1`);
      expect(r.stdout).to.equal('141\n');
      if (GNU) {
        const gnu = shell(`(trap '' PIPE && { ${GNU} 10 yes; echo $? >&3; } 3>&2 | :) 2>&1`);
        expect(gnu.stdout).to.match(/Broken pipe\n1\n$/);
      }
    });

    it('timeout-blocked.pl: a caller that blocks SIGALRM changes nothing (124; a SIGALRM still counts)', async () => {
      const ready = join(dir, 'blocked-alrm.ready');
      for (const alarm of [false, true]) {
        const args = alarm ? ['--', 'sh', '-c', `touch "${ready}"; exec sleep 10`] : ['--timeout', '.1', '--', 'sleep', '10'];
        const { pid, pidfd } = posix.spawn(process.execPath, [process.execPath, CLI, 'run', ...args], { signalMask: ['SIGALRM'] });
        if (pidfd !== null) posix.close(pidfd);
        if (alarm) {
          expect(await until(() => existsSync(ready), 10), 'command started').to.equal(true);
          process.kill(pid, 'SIGALRM');
        }
        const st = posix.waitpidTimeout(pid, 15);
        expect(st, 'exited').to.not.equal(null);
        expect(st.exitStatus).to.equal(124);
      }
    });

    it('init-parent.sh: works as pid 1 of a pid namespace (124)', function () {
      const probe = spawnSync('unshare', ['--pid', '--fork', '--map-root-user', 'true']);
      if (probe.status !== 0) this.skip(); // no user namespaces here
      const r = spawnSync('unshare', ['--pid', '--fork', '--map-root-user', process.execPath, CLI, 'run', '--timeout', '.1', '--', 'sleep', '10'], {
        timeout: 15000,
      });
      expect(r.status).to.equal(124);
    });
  });

  describe('run — coreutils timeout-group.sh (process groups, cascades, parent death)', () => {
    /** timeout-group.sh's timeout.cmd: touches `running`, and `received` on signal `sig`, then exits. */
    function timeoutCmd(name, sig) {
      const base = join(dir, name);
      const cmd = `${base}.cmd`;
      writeFileSync(
        cmd,
        `#!/bin/sh
  trap 'touch "${base}.received"; exit' ${sig}
  echo $$ > "${base}.running"
  count=$1
  until test -e "${base}.received" || test $count = 0; do
    sleep 1
    count=$(expr $count - 1)
  done
  `,
      );
      chmodSync(cmd, 0o755);
      return {
        cmd,
        running: () => existsSync(`${base}.running`) && readFileSync(`${base}.running`, 'utf8').endsWith('\n'),
        pid: () => Number(readFileSync(`${base}.running`, 'utf8')),
        received: () => existsSync(`${base}.received`),
      };
    }

    it('a signal to the whole (foreground) group ends the command at once', async () => {
      const t = timeoutCmd('group', 'USR1');
      const group = join(dir, 'group.sh');
      // As the original: the script ignores USR1 so that `wait` is not
      // interrupted (posix-process needs no env --default-signal: Node resets it).
      writeFileSync(group, `trap '' USR1\n"${process.execPath}" "${CLI}" run -v --foreground --timeout 25 -- "${t.cmd}" 20 &\nwait\n`);
      const started = performance.now();
      const sh = spawn('sh', [group], { detached: true, stdio: 'ignore' });
      const exited = new Promise((resolve) => sh.on('exit', resolve));
      try {
        expect(await until(t.running, 6.3), 'timeout.cmd started').to.equal(true);
        process.kill(-sh.pid, 'SIGUSR1');
        await exited;
        expect(t.received()).to.equal(true);
        expect((performance.now() - started) / 1000).to.be.below(15);
      } finally {
        killGroupQuietly(sh.pid);
      }
    });

    it('posix-process SIGKILLed: the command still gets the timeout signal (parent-death signal)', async () => {
      const t = timeoutCmd('pdeath', 'USR1');
      const r = cli(['run', '-s', 'USR1', '--timeout', '25', '--', t.cmd, '20'], {
        onSpawn: (child) => {
          until(t.running, 6.3).then(() => child.kill('SIGKILL'));
        },
      });
      try {
        expect((await r).signal).to.equal('SIGKILL');
        expect(await until(t.received, 6.3), 'timeout.cmd got USR1').to.equal(true);
      } finally {
        if (t.running()) killGroupQuietly(t.pid()); // the command leads its own group
      }
    });

    for (const sig of ['USR1', 'INT']) {
      it(`cascaded: run -s ALRM --timeout 30 run -s ${sig} --timeout 25 cmd; kill -ALRM reaches cmd (124)`, async () => {
        const t = timeoutCmd(`cascade-${sig}`, sig);
        const inner = [process.execPath, CLI, 'run', '-s', sig, '--timeout', '25', '--', t.cmd, '20'];
        const r = await cli(['run', '-s', 'ALRM', '--timeout', '30', '--', ...inner], {
          onSpawn: (child) => {
            until(t.running, 6.3).then(() => child.kill('SIGALRM'));
          },
        });
        expect(r.code).to.equal(124);
        expect(t.received()).to.equal(true);
        expect(r.elapsed).to.be.below(20);
      });
    }
  });

  describe('run — SIGALRM, --foreground and --kill-after as GNU timeout has them', () => {
    it('a SIGALRM is the timeout firing, also without --timeout (124, timedOut)', async () => {
      let pid = 0;
      const r = await cli(['run', '--json', '--', 'sh', '-c', 'echo ready $$; exec sleep 10'], {
        onStdout: (out, child) => {
          if (!pid && (pid = readyPid(out, 5))) child.kill('SIGALRM');
        },
      });
      expect(r.code).to.equal(124);
      expect(lastJson(r)).to.include({ signal: 'SIGTERM', timedOut: true, killed: false });
    });

    it('once --kill-after is armed, a SIGALRM means SIGKILL now', async () => {
      let step = 0;
      const r = await cli(['run', '-k', '20', '--json', '--', 'sh', '-c', 'trap "echo term" TERM; echo ready $$; while :; do sleep 0.05; done'], {
        onStdout: (out, child) => {
          if (step === 0 && readyPid(out, 8)) {
            step = 1;
            child.kill('SIGTERM'); // passed on; arms the 20 s KILL
          } else if (step === 1 && out.endsWith('\nterm\n')) {
            step = 2;
            child.kill('SIGALRM');
          }
        },
      });
      expect(r.code).to.equal(137);
      expect(r.elapsed).to.be.below(10);
      expect(lastJson(r)).to.include({ signal: 'SIGKILL', timedOut: false, killed: true });
    });

    it('the --signal is passed on when it arrives, also one no other rule covers (-s WINCH)', async () => {
      let pid = 0;
      const r = await cli(['run', '-s', 'WINCH', '--', 'sh', '-c', 'trap "exit 3" WINCH; echo ready $$; while :; do sleep 0.05; done'], {
        onStdout: (out, child) => {
          if (!pid && (pid = readyPid(out, 5))) child.kill('SIGWINCH');
        },
      });
      expect(r.code).to.equal(3);
    });

    for (const foreground of [false, true]) {
      it(`${foreground ? '--foreground sends no' : 'without --foreground, the signal is followed by a'} SIGCONT`, async () => {
        // The TERM passed on goes the way of the timeout's signal (and arms -k).
        const args = ['-k', '1.5', ...(foreground ? ['--foreground'] : [])];
        const script = 'trap "echo cont" CONT; trap "" TERM; echo ready $$; sleep 1; sleep 1';
        let pid = 0;
        const r = await cli(['run', ...args, '--', 'sh', '-c', script], {
          onStdout: (out, child) => {
            if (!pid && (pid = readyPid(out, 8))) child.kill('SIGTERM');
          },
        });
        expect(r.code).to.equal(137);
        expect(r.stdout).to.match(foreground ? /^ready \d+\n$/ : /^ready \d+\ncont\n$/);
      });
    }
  });

  describe('SIGUSR1 and SIGUSR2 never open an inspector', () => {
    const looping = (sig) => `trap "echo got ${sig}" ${sig}; echo ready $$; while :; do sleep 0.05; done`;

    for (const sig of ['SIGUSR1', 'SIGUSR2']) {
      it(`${sig} while the command runs goes to the command; no inspector, no listening socket`, async () => {
        let shPid = 0;
        let sockets = null;
        const r = await cli(['run', '--json', '--', 'sh', '-c', looping(sig.slice(3))], {
          onStdout: (out, child) => {
            if (shPid === 0 && (shPid = readyPid(out, 3))) {
              child.kill(sig);
              // Whatever happens, end it in 2 s: the command may never see the signal.
              setTimeout(() => {
                sockets ??= listeningSockets(child.pid);
                child.kill('SIGTERM');
              }, 2000);
            } else if (sockets === null && out.includes(`got ${sig.slice(3)}\n`)) {
              // Node's inspector would be listening 300 ms after the signal.
              setTimeout(() => {
                sockets = listeningSockets(child.pid);
                child.kill('SIGTERM');
              }, 300);
            }
          },
        });
        try {
          expect(r.stdout).to.match(new RegExp(`^ready \\d+\\ngot ${sig.slice(3)}\\n$`));
          expect(r.stderr).not.to.include('Debugger listening');
          expect(sockets).to.deep.equal([]);
          // The TERM that ended it went on to the command, which died of it.
          expect(r.signal).to.equal('SIGTERM');
        } finally {
          killGroupQuietly(shPid);
        }
      });
    }

    it('SIGUSR1 during start-up (Node’s inspector window) ends it as SIGUSR1 would; no inspector stays open', async () => {
      // Node installs its own SIGUSR1 handler tens of ms before the command's
      // first line runs; 0-40 ms after the spawn lands in that window or just
      // before it (where Node still dies of the signal).
      for (const delay of [10, 25, 40]) {
        let sockets = [];
        const r = await cli(['run', '--', 'sleep', '3'], {
          onSpawn: (child) => {
            child.on('spawn', () =>
              setTimeout(() => {
                child.kill('SIGUSR1');
                setTimeout(() => (sockets = listeningSockets(child.pid)), 800);
              }, delay),
            );
          },
        });
        expect(sockets, `${delay} ms`).to.deep.equal([]);
        // Died of it, or (a fast start-up) passed it on to `sleep`, which did.
        const status = r.signal === 'SIGUSR1' ? 'signal' : r.code === 128 + posix.signals.SIGUSR1 ? 'status' : r;
        expect(status, `${delay} ms: ${r.stderr}`).to.be.oneOf(['signal', 'status']);
        expect(r.elapsed, `${delay} ms`).to.be.below(2.5);
      }
    });

    // watch refuses at once without pidfds (see 52.cli.watch).
    (posix.pidfdSupported() ? it : it.skip)('watch: SIGUSR1 ends it as its default action would, without an inspector', async () => {
      const sleeper = spawn('sleep', ['10'], { stdio: 'ignore' });
      try {
        let sockets = [];
        const r = await cli(['watch', String(sleeper.pid)], {
          onSpawn: (child) => {
            setTimeout(() => child.kill('SIGUSR1'), 1000); // well after start-up
            setTimeout(() => {
              sockets = listeningSockets(child.pid);
              child.kill('SIGKILL');
            }, 1500);
          },
        });
        expect(r.signal).to.equal('SIGUSR1');
        expect(r.stderr).not.to.include('Debugger listening');
        expect(sockets).to.deep.equal([]);
      } finally {
        sleeper.kill('SIGKILL');
      }
    });
  });

  describe('--json rusage.maxRSS and the spawner’s peak', () => {
    const json = lastJson;

    it('a command that uses little: maxRSS is posix-process’s own peak (Linux folds it in at exec), labelled maxRSSExact: false', async () => {
      // sh reports the high-water mark of its own memory (VmHWM); wait4's
      // maxRSS is far above it: the exec took in the spawner's.
      const r = await cli(['run', '--json', '--', 'sh', '-c', 'grep VmHWM /proc/$$/status']);
      const own = Number(/VmHWM:\s+(\d+) kB/.exec(r.stdout)[1]);
      const j = json(r);
      expect(own).to.be.below(10 * 1024);
      expect(j.rusage.maxRSS).to.be.above(own + 10 * 1024);
      expect(j.maxRSSExact).to.equal(false);
      expect(json(await cli(['run', '--json', '--', '/bin/true'])).maxRSSExact).to.equal(false);
    });

    it('a command that allocates 100 MB: maxRSS is its own peak, maxRSSExact: true', async () => {
      const big = json(await cli(['run', '--json', '--', process.execPath, '-e', 'Buffer.alloc(100 << 20, 1)']));
      expect(big.rusage.maxRSS).to.be.above(100 * 1024);
      expect(big.maxRSSExact).to.equal(true);
      const small = json(await cli(['run', '--json', '--', '/bin/true']));
      expect(small.maxRSSExact).to.equal(false);
      expect(big.rusage.maxRSS - small.rusage.maxRSS).to.be.above(64 * 1024);
    });
  });
});
