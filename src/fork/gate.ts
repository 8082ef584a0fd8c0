// Whether this Node process may fork and run JS in the child: the one place
// that decides it, platform included (docs/design.md, "Node versions and
// internals" and "Forking a Node process"). Every fork path (the fork start
// method, posix.fork()) and getAllStartMethods() ask here.
//
// Three kinds of reason, checked in this order:
//  1. where: Linux, the main thread;
//  2. this Node: the fork addon for its ABI loads and knows its libuv, and
//     the process hooks the child's exit path replaces are there; on a Node
//     major nobody tested, one trial fork must also pass (below);
//  3. how it runs: V8's worker threads do not exist in a fork child, and
//     with default flags the child hangs in its first GC waiting for them.
//     With `--single-threaded` V8 posts no work to other threads.
//
// What can be observed for 3: /proc/self/task is no help (node starts the
// same 7 threads with or without the flag: the platform's workers exist
// either way, they just get no tasks), and NODE_OPTIONS cannot carry the
// flag (node refuses to start: "--single-threaded is not allowed in
// NODE_OPTIONS"). So the gate reads the command line with V8's own flag
// syntax, then asks V8 whether the flag is still on (it can be switched off
// at run time).
import { cachedDataVersionTag, setFlagsFromString } from 'node:v8';
import { isMainThread } from 'node:worker_threads';
import { binding, forkBinding, type Launched } from '../binding.js';
import { ProcessError } from '../errors.js';
import { forkChild } from './child.js';

/** The Node majors whose fork suite runs in CI. */
export const TESTED_NODE_MAJORS: readonly number[] = [20, 22, 24, 26];

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

interface ExitInternals {
  reallyExit?: unknown;
  _fatalException?: unknown;
}

// Reason 2 without the trial: a fixed fact of this Node and this install.
let nodeProblem: string | null | undefined;

function thisNodeProblem(): string | null {
  if (nodeProblem === undefined) {
    const loaded = forkBinding();
    const internals = process as unknown as ExitInternals;
    if (typeof loaded === 'string') nodeProblem = loaded;
    // Even single-threaded, V8 posts some work to the platform's worker
    // threads: the child's platform must be told it has none, which needs
    // this Node's platform to be found (docs/design.md, "Fork children that
    // never hang").
    else if (loaded.forkPlatformProblem() !== null) nodeProblem = loaded.forkPlatformProblem();
    else if (typeof internals.reallyExit !== 'function' || typeof internals._fatalException !== 'function') {
      // child.ts installs the child's exit path on both.
      nodeProblem = 'this Node.js has no process.reallyExit/process._fatalException, which the fork child leaves through';
    } else nodeProblem = null;
  }
  return nodeProblem;
}

function untested(): boolean {
  if (process.env.POSIX_PROCESS_FORK_SELF_CHECK === '1') return true;
  return !TESTED_NODE_MAJORS.includes(Number(process.versions.node.split('.')[0]));
}

// On an untested Node, once: a real fork child that runs the path every
// child runs (unwinding, a timer, a promise job, the exit path) must end
// with the code it chose, within 10 s. Else fork is refused with what
// happened; the trial child never outlives the check.
const SELF_CHECK_CODE = 0x5a;
let selfCheck: string | null | undefined;

function selfCheckProblem(): string | null {
  if (selfCheck !== undefined) return selfCheck;
  selfCheck = 'its self-check is running'; // a fork from an at-fork hook of the trial
  let started;
  try {
    started = forkChild(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return SELF_CHECK_CODE;
    });
  } catch (error) {
    selfCheck = `its self-check fork failed (${(error as Error).message})`;
    return selfCheck;
  }
  let status = binding.waitpidTimeout(started.pid, 10);
  if (status === null) {
    binding.kill(started.pid, 9);
    status = binding.waitpid(started.pid);
  }
  binding.close(started.sentinel);
  const code = status === null ? null : status.exitCode;
  selfCheck =
    code === SELF_CHECK_CODE
      ? null
      : `its self-check fork child ${code === -9 ? 'hung' : `ended with exit code ${code}`} instead of ${SELF_CHECK_CODE}`;
  return selfCheck;
}

/** Why forking is unsafe here, or null when it is safe. */
export function forkUnsafeReason(): string | null {
  if (process.platform !== 'linux') return `the fork start method needs Linux (this is ${process.platform})`;
  if (!isMainThread) return 'fork is only possible from the main thread, not from a worker thread';
  const node = thisNodeProblem();
  if (node !== null) return `${node} (Node.js ${process.version})`;
  if (!commandLineSingleThreaded(process.execArgv)) {
    return 'V8 may be running worker threads, which a forked child would not have';
  }
  if (!v8SingleThreaded()) return 'V8\'s --single-threaded flag was switched off at run time';
  if (untested() && selfCheckProblem() !== null) {
    return `Node.js ${process.version} is not among the tested versions (${TESTED_NODE_MAJORS.join(', ')}) and ${selfCheck}`;
  }
  return null;
}

/**
 * Why a forkserver (a `--single-threaded` node of ours, forking with this
 * same Node and fork addon) cannot run here, or null: reasons 1 and 2
 * without the main-thread rule (the server forks from its own main thread).
 */
export function forkserverUnsafeReason(): string | null {
  if (process.platform !== 'linux') return `the forkserver start method needs Linux (this is ${process.platform})`;
  const node = thisNodeProblem();
  return node === null ? null : `${node} (Node.js ${process.version})`;
}

export function assertForkSafe(): void {
  const reason = forkUnsafeReason();
  if (reason === null) return;
  const hint = !isMainThread
    ? `Fork from the main thread, or use the 'spawn' start method.`
    : process.platform !== 'linux' || typeof nodeProblem === 'string' || selfCheck
      ? `Use the 'spawn' start method.`
      : `Run node with --single-threaded (node --single-threaded app.js; NODE_OPTIONS cannot carry it), ` +
        `or use the 'spawn' start method.`;
  throw new ProcessError('ERR_FORK_UNSAFE', `cannot fork this Node.js process safely: ${reason}. ${hint}`);
}

/** The 'fork' start method's launch: the gate, then the fork (child.ts). */
export function launchFork(childMain: () => Promise<number>): Launched {
  assertForkSafe();
  return forkChild(childMain);
}
