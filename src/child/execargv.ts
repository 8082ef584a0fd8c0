// Which of this process's node options a spawned JS child gets. The child
// is a plain `node <bootstrap>`: it keeps what shapes the runtime (loaders,
// --import/--require, --single-threaded, V8 and memory flags, --conditions,
// --no-warnings...) and drops what belongs to this particular invocation:
//   - the program source: -e/--eval, -p/--print, --input-type, -c/--check,
//     -i/--interactive, --run (they would replace the bootstrap);
//   - the debugger: --inspect*, --debug-port (the port is taken by us);
//   - the test runner and watch mode: --test*, --experimental-test-*,
//     --watch* (the child is not a test file, and must not restart itself);
//   - --env-file*: the values are already in the environment it inherits.
// Options given through NODE_OPTIONS reach the child through its
// environment, as with child_process.

// Dropped options that take their value as the next argument.
const DROP_WITH_VALUE = new Set([
  '-e', '--eval', '-p', '--print', '--input-type', '--inspect-port', '--debug-port',
  '--inspect-publish-uid', '--run', '--env-file', '--env-file-if-exists', '--watch-path',
  '--test-name-pattern', '--test-skip-pattern', '--test-reporter', '--test-reporter-destination',
  '--test-concurrency', '--test-timeout', '--test-shard', '--test-coverage-include',
  '--test-coverage-exclude', '--test-coverage-branches', '--test-coverage-functions',
  '--test-coverage-lines', '--test-isolation',
]);

// Dropped options without a separate value (a `=value` form is dropped too).
const DROP_PREFIXES = ['--inspect', '--debug-port', '--test', '--experimental-test-', '--watch', '--env-file'];
const DROP_FLAGS = new Set(['-c', '--check', '-i', '--interactive', '-pe', '-ep']);

function dropped(arg: string): boolean {
  if (DROP_FLAGS.has(arg)) return true;
  const name = arg.split('=')[0]!;
  if (DROP_WITH_VALUE.has(name)) return true;
  return DROP_PREFIXES.some((prefix) => name === prefix || name.startsWith(prefix.endsWith('-') ? prefix : `${prefix}-`) || name === prefix);
}

/** The node options for a spawned child, from this process's `execArgv`. */
export function childExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    if (DROP_WITH_VALUE.has(arg) || arg === '-pe' || arg === '-ep') {
      i += 1; // its value is the next argument
      continue;
    }
    if (dropped(arg)) continue;
    out.push(arg);
  }
  return out;
}
