// When may this Node process fork and run JS in the child? V8's worker
// threads do not exist in a fork child, and with default flags the child
// hangs in its first GC waiting for them (DESIGN.md, "Forking a Node
// process"). With `--single-threaded` V8 posts no work to other threads.
//
// What can be observed: /proc/self/task is no help (node starts the same 7
// threads with or without the flag: the platform's workers exist either
// way, they just get no tasks), and NODE_OPTIONS cannot carry the flag (node
// refuses to start: "--single-threaded is not allowed in NODE_OPTIONS"). So
// the gate reads the command line with V8's own flag syntax, then asks V8
// whether the flag is still on (it can be switched off at run time).
import { cachedDataVersionTag, setFlagsFromString } from 'node:v8';
import { isMainThread } from 'node:worker_threads';
import { binding } from './binding.js';
import { ProcessError } from './errors.js';

// V8 accepts `-` or `_` inside names and `--no-x`, `--nox` for false; the
// last occurrence wins. (`--single-threaded=true` is rejected by V8.)
const ON = /^--single[-_]threaded$/;
const OFF = /^--no-?single[-_]threaded$/;

function commandLineSingleThreaded(args: readonly string[]): boolean {
  let on = false;
  for (const arg of args) {
    if (ON.test(arg)) on = true;
    else if (OFF.test(arg)) on = false;
  }
  return on;
}

// V8 hashes its flag values into cachedDataVersionTag(). Setting a flag to
// the value it already has leaves the hash unchanged; so after
// `--single-threaded` is (re)asserted, an unchanged tag proves it was on.
// The probe costs ~11 us; the tag alone ~0.1 us, and any flag change alters
// it, so the probe is repeated only when the tag moved since it last passed.
let confirmedTag: number | null = null;

function v8SingleThreaded(): boolean {
  const before = cachedDataVersionTag();
  if (before === confirmedTag) return true;
  setFlagsFromString('--single-threaded');
  const after = cachedDataVersionTag();
  if (after === before) {
    confirmedTag = after;
    return true;
  }
  // It had been switched off at run time. Switching it back on would not
  // make a fork safe (V8 may have started concurrent work meanwhile), so
  // leave it as the program set it, and refuse.
  setFlagsFromString('--no-single-threaded');
  return false;
}

/** Why forking is unsafe here, or null when it is safe. */
export function forkUnsafeReason(): string | null {
  if (process.platform !== 'linux') return `the fork start method needs Linux (this is ${process.platform})`;
  if (!isMainThread) return 'fork is only possible from the main thread, not from a worker thread';
  if (!commandLineSingleThreaded(process.execArgv)) {
    return 'V8 may be running worker threads, which a forked child would not have';
  }
  if (!v8SingleThreaded()) return 'V8\'s --single-threaded flag was switched off at run time';
  // Even single-threaded, V8 posts some work to the platform's worker
  // threads; a child must be told it has none (docs/design.md, "Fork
  // children that never hang").
  return binding.forkPlatformProblem();
}

export function assertForkSafe(): void {
  const reason = forkUnsafeReason();
  if (reason === null) return;
  const hint = !isMainThread
    ? `Fork from the main thread, or use the 'spawn' start method.`
    : process.platform !== 'linux' || reason === binding.forkPlatformProblem()
      ? `Use the 'spawn' start method.`
      : `Run node with --single-threaded (node --single-threaded app.js; NODE_OPTIONS cannot carry it), ` +
        `or use the 'spawn' start method.`;
  throw new ProcessError('ERR_FORK_UNSAFE', `cannot fork this Node.js process safely: ${reason}. ${hint}`);
}
