// The command line: argument parsing (commander) and dispatch. Every usage
// error prints one message and the command's usage line on stderr and exits
// 125, like GNU timeout; --help and --version exit 0.
import { readFileSync } from 'node:fs';
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { signals } from '../posix.js';
import { bench } from './bench.js';
import { parseDuration, parseSignal } from './duration.js';
import { EXIT_CANCELED } from './exitcodes.js';
import { run } from './run.js';
import { watch } from './watch.js';
import { INT32_MAX } from '../validate.js';

const USAGE = {
  main: 'posix-process <run|watch|bench> [options] ...',
  run: '[--timeout DUR] [-s SIG] [-k DUR] [-p] [-f] [-v] [--json] [--] CMD [ARGS...]',
  watch: '[--timeout DUR] PID...',
  bench: '[--quick] [--rounds N] [--json] [--previous DIR] [SUITE...]',
};

const RUN_HELP = `
GNU timeout(1) with the duration as --timeout: 'timeout [OPTION]... DUR CMD' is
'posix-process run [OPTION]... --timeout DUR -- CMD', with the same exit statuses,
signals and values.

DUR is a number of seconds as C's strtod reads it (1.5, 2.34e+5, 0x10, inf) with an
optional unit: ms, s, m, h, d. 0 disables it; a value too large for a double means
forever, a positive one too small times out at once.
SIG is a name or number: TERM, SIGTERM, term, 15, RTMIN+1; 0 sends no signal (but
SIGCONT, and --kill-after's KILL); 128+N and 256+N stand for N, as in a shell's $?
(137 is KILL).

The command runs in its own process group (unless --foreground); the signal, and SIGKILL
after --kill-after, go to the command and its whole group, and so does any terminating
signal this process receives (INT, TERM, HUP, QUIT, PIPE, USR1, USR2 and the others
timeout passes on); a SIGALRM counts as the timeout firing. SIGUSR1 never leaves Node's
inspector open. If the command dies of a SIGINT, SIGTERM or SIGHUP it was passed, posix-process
dies of it too (after --json), so a calling shell sees the interrupt. Should posix-process
itself be killed, the command gets the timeout signal (Linux parent-death signal).
The command gets stdin, stdout and stderr, no other fds. Its exit is seen on a pidfd,
the timeouts are exact timers: nothing polls.

Exit status (GNU timeout's):
  124  the timeout fired (unless --preserve-status); but a command that died of SIGKILL
       after a timeout (-s KILL, or --kill-after) gives 137, as with GNU timeout
  125  posix-process itself failed (bad usage, internal error)
  126  the command was found but could not be executed
  127  the command was not found
  128+N  the command died of signal N
  else the command's own exit status

--json writes one line on stderr: {command, pid, exitCode, signal, coreDumped, timedOut,
killed, elapsed, rusage: {userCPUTime, systemCPUTime (microseconds), maxRSS (KiB),
minorPageFault, majorPageFault, fsRead, fsWrite, voluntaryContextSwitches,
involuntaryContextSwitches} (wait4's usage of the reaped command), maxRSSExact, raw,
status}. Linux counts the peak RSS of the process that started the command into the
command's maxRSS (at its exec): maxRSSExact is false when maxRSS is not above
posix-process's own peak, so that the command's real peak is unknown, at most maxRSS.
`;

const WATCH_HELP = `
Waits, without polling, until every PID has exited; the processes need not be children
of this one. Each gets a pidfd (pidfd_open), so a recycled pid is never mistaken for the
original. A PID with no process counts as already exited (like tail --pid); a zombie
counts as exited.

Exit status: 0 all have exited, 124 timeout, 125 bad usage or error, including a system
without pidfds (Linux < 5.3, or POSIX_PROCESS_NO_PIDFD=1): there is no exact way to see a
non-child exit there, and this command does not fall back to polling kill(pid, 0).
`;

function version(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg ? String(pkg.version) : 'unknown';
}

function parsePid(text: string, previous: number[] = []): number[] {
  const pid = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(pid >= 1 && pid <= INT32_MAX)) throw new InvalidArgumentError(`invalid process id '${text}'`);
  return [...previous, pid];
}

function parseCount(text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 1e9)) throw new InvalidArgumentError(`invalid count '${text}' (a whole number >= 1)`);
  return n;
}

function usageAfterError(name: keyof typeof USAGE): string {
  const usage = name === 'main' ? USAGE.main : `posix-process ${name} ${USAGE[name]}`;
  const help = name === 'main' ? 'posix-process --help' : `posix-process ${name} --help`;
  return `Usage: ${usage}\nTry '${help}' for more information.`;
}

function program(setStatus: (code: number) => void, writeOut: (text: string) => void): Command {
  const root = new Command('posix-process')
    .description("Run and watch processes on real POSIX calls (the posix-process package's command line).")
    .usage('<command> [options]')
    .version(version(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'print help')
    .helpCommand(false)
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut,
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, write) => write(`posix-process: ${s.replace(/^error: /, '')}`),
    })
    .showHelpAfterError(usageAfterError('main'))
    .addHelpText('after', "\nRun 'posix-process <command> --help' for a command's options and exit statuses.\n");

  root
    .command('run')
    .description('run CMD with a time limit, like GNU timeout(1)')
    .usage(USAGE.run)
    .argument('<CMD>', 'the command (searched in PATH)')
    .argument('[ARGS...]', 'its arguments')
    .addOption(new Option('--timeout <DUR>', 'send the signal after DUR').argParser(parseDuration).default(0, '0, none'))
    .addOption(
      new Option('-s, --signal <SIG>', 'the signal to send on timeout').argParser(parseSignal).default(signals.SIGTERM, 'TERM'),
    )
    .addOption(new Option('-k, --kill-after <DUR>', 'send KILL DUR after the first signal').argParser(parseDuration).default(0, '0, never'))
    .option('-p, --preserve-status', "exit with the command's status even when the timeout fired")
    .option('-f, --foreground', 'keep the command in this process group (it may read the terminal); signal only the command')
    .option('-v, --verbose', 'say on stderr which signal is sent to the command, and when')
    .option('--json', 'write the exact wait status as one JSON line on stderr')
    .passThroughOptions()
    .addHelpText('after', RUN_HELP)
    .showHelpAfterError(usageAfterError('run'))
    .action(async (cmd: string, args: string[], opts: Record<string, unknown>) => {
      setStatus(
        await run([cmd, ...args], {
          timeout: Number(opts.timeout),
          signal: Number(opts.signal),
          killAfter: Number(opts.killAfter),
          preserveStatus: opts.preserveStatus === true,
          foreground: opts.foreground === true,
          verbose: opts.verbose === true,
          json: opts.json === true,
        }),
      );
    });

  root
    .command('watch')
    .description('wait until processes that need not be our children have exited (exact, no polling)')
    .usage(USAGE.watch)
    .addArgument(new Argument('<PID...>', 'the processes').argParser(parsePid))
    .addOption(new Option('--timeout <DUR>', 'give up after DUR with status 124').argParser(parseDuration).default(0, '0, none'))
    .addHelpText('after', WATCH_HELP)
    .showHelpAfterError(usageAfterError('watch'))
    .action(async (pids: number[], opts: Record<string, unknown>) => {
      setStatus(await watch(pids, Number(opts.timeout)));
    });

  root
    .command('bench')
    .description('run the side-by-side benchmarks and print their figures and ratios')
    .usage(USAGE.bench)
    .argument('[SUITE...]', 'the suites to run (default: all)')
    .option('--quick', 'fewer rounds, for a quick look')
    .addOption(new Option('--rounds <N>', 'rounds per case').argParser(parseCount))
    .option('--json', 'print the results as JSON on stdout instead of tables')
    .option('--previous <DIR>', 'also run the main cases on a built checkout of an earlier version')
    .addHelpText('after', '\nProgress goes to stderr (a bar on a terminal), results to stdout.\n')
    .showHelpAfterError(usageAfterError('bench'))
    .action(async (suites: string[], opts: Record<string, unknown>) => {
      setStatus(
        await bench({
          suites,
          rounds: typeof opts.rounds === 'number' ? opts.rounds : undefined,
          quick: opts.quick === true,
          json: opts.json === true,
          previous: typeof opts.previous === 'string' ? opts.previous : undefined,
        }),
      );
    });

  return root;
}

/** Runs the command line `argv` (without node and script); resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0) {
    process.stderr.write(`${usageAfterError('main')}\n`);
    return EXIT_CANCELED;
  }
  let status = 0;
  // --help and --version in one write, as stdio's buffer gives coreutils:
  // `posix-process run --help | head -1` then finds its reader still there
  // (commander writes the help in pieces).
  let out = '';
  try {
    await program((code) => (status = code), (text) => (out += text)).parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_CANCELED;
    throw err;
  } finally {
    if (out !== '') process.stdout.write(out);
  }
  return status;
}
