// The 'fork' start method's launch: fork this Node process and run
// `childMain` in the copy (docs/design.md, "Forking a Node process").
// Callers ask gate.ts first.
//
// Parent: returns { pid, pidfd, sentinel } right after the fork.
// Child: never returns to the caller. It makes the parent's I/O handles
// inert (native), runs the at-fork hooks (pid, Math.random, randomUUID,
// the user's), then runs childMain() from a clean stack and leaves through
// its own exit path: 'exit' listeners, stdout/stderr flushed, _exit(code).
// Node's normal teardown must never run in a fork child: it crashes there.
import { AsyncResource, createHook, executionAsyncResource } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import { binding, forkBinding, type ForkBinding, type Launched } from '../binding.js';
import { invalidArgType } from '../errors.js';
import { runAfterForkInChild, runAfterForkInParent, runBeforeFork } from './atfork.js';
import { forkGeneration, holdSentinel } from './state.js';

// The fork addon, once gate.ts has found it usable.
let native: ForkBinding;

/**
 * Forks this process. In the parent: the child's pid and sentinel. In the
 * child: runs `childMain` and exits with the code it resolves to (when 0,
 * `process.exitCode` is honoured, as at a normal Node exit); never returns.
 * The caller has asked gate.ts whether this process may fork.
 */
export function forkChild(childMain: () => Promise<number>): Launched {
  if (typeof childMain !== 'function') throw invalidArgType('childMain', 'of type function', childMain);
  prepareParent();
  runBeforeFork();
  let result: Launched | number;
  try {
    result = native.forkChild();
  } catch (error) {
    // As CPython: the parent's after-hooks run whether or not fork worked.
    runAfterForkInParent();
    throw error;
  }
  if (typeof result === 'number') return enterChild(result < 0 ? -result - 1 : null, childMain);
  runAfterForkInParent();
  return { pid: result.pid, pidfd: result.pidfd, sentinel: result.sentinel };
}

// Everything the child runs and the parent never did is compiled in the
// child, in every child: parsing, bytecode and feedback written to fresh
// heap pages, each a copy-on-write fault. V8 compiles a function expression
// in parentheses eagerly, with its module, so the child's own path below is
// written `const f = (function f() {...});` and is ready in the parent.

// The childMain of the fork in progress, for runChildMain.
let pendingMain: (() => Promise<number>) | null = null;

const enterChild = (function enterChild(sentinelWrite: number | null, childMain: () => Promise<number>): never {
  inForkChild = true;
  dropParentErrorListeners();
  runAfterForkInChild();
  holdSentinel(sentinelWrite);
  silenceInheritedCallbacks();
  clearAsyncIdStack();
  unwinding = true;
  pendingMain = childMain;
  native.forkContinue(runChildMain);
  // The termination requested above is delivered at the next interrupt
  // check; this loop's back edge is one. No frame of the caller resumes.
  for (;;) {
    // spin until terminated
  }
});

const runChildMain = (function runChildMain(): void {
  unwinding = false;
  const mine = forkGeneration();
  const childMain = pendingMain as () => Promise<number>;
  pendingMain = null;
  let main: Promise<number>;
  try {
    main = Promise.resolve(childMain());
  } catch (error) {
    main = Promise.reject(error);
  }
  main.then(
    (function settled(code: number) {
      if (forkGeneration() !== mine) return;
      // A code from childMain wins; 0 leaves process.exitCode in charge.
      if (typeof code === 'number' && code !== 0) process.exit(code);
      process.exit();
    }),
    (function failed(error: unknown) {
      if (forkGeneration() === mine) strayError(error);
    }),
  );
});

// The parent's timers, intervals and immediates are copied into the child
// (Node keeps them in internal lists nobody else can reach), and would run
// the parent's logic there: a server's heartbeat, a test runner's next
// test. Every one of them was created before the fork, so its async id is
// below any id the child hands out; and Node reads the callback of a
// Timeout (_onTimeout) or an Immediate (_onImmediate) only after the async
// hooks' `before` has run for it. So a `before` hook replaces the callback
// of each inherited one with a no-op as it comes due (and stops an
// inherited interval from re-arming). Pending nextTicks are left alone:
// they are mostly the bookkeeping of objects the child may go on using
// (process.stdin's resume, a stream's end), and skipping them hangs those.
// Cost: async hooks stay enabled in the child, which makes each promise
// job a little slower (~70 ns).
function noop(): void {}

interface InheritedCallbacks {
  _onTimeout?: unknown;
  _repeat?: unknown;
  _onImmediate?: unknown;
}

// Made in the parent, enabled in the child: every page the child writes
// costs it a copy-on-write fault, so it does as little as it can.
let firstOwnId = Infinity;
const silencer = createHook({
  before: (function before(asyncId: number) {
    if (asyncId >= firstOwnId) return;
    const resource = executionAsyncResource() as InheritedCallbacks;
    if (typeof resource._onTimeout === 'function') {
      resource._onTimeout = noop;
      resource._repeat = null;
    } else if (typeof resource._onImmediate === 'function') {
      resource._onImmediate = noop;
    }
  }),
});

const silenceInheritedCallbacks = (function silenceInheritedCallbacks(): void {
  // Async ids come from one counter, and a new resource takes the next one:
  // this one is the child's first.
  firstOwnId = new AsyncResource('posix-process:fork-child', { requireManualDestroy: true }).asyncId();
  silencer.enable();
});

// The termination skips the JS code that pops async contexts (a timer's,
// a promise's), and Node's native callback scope below would then find the
// async id stack corrupted and abort. Node empties that stack itself at the
// end of its handler for an uncaught exception that a listener handled
// (lib/internal/process/execution.js; the same on 20-26); no public API
// does it otherwise. So the child runs that handler with a marker error and
// a listener of its own that handles it. The parent's listeners, capture
// callback and monitors are not there to see it (dropParentErrorListeners
// ran first; monitors are held aside).
const unwindMarker = new Error('posix-process: fork child unwinding');

const clearAsyncIdStack = (function clearAsyncIdStack(): void {
  const monitors =
    process.listenerCount('uncaughtExceptionMonitor') > 0 ? process.rawListeners('uncaughtExceptionMonitor') : null;
  if (monitors !== null) process.removeAllListeners('uncaughtExceptionMonitor');
  process.on('uncaughtException', noop);
  try {
    nodeFatalException.call(process, unwindMarker, false);
  } finally {
    process.removeListener('uncaughtException', noop);
    if (monitors !== null) for (const monitor of monitors) process.on('uncaughtExceptionMonitor', monitor as () => void);
  }
});

// --- The child's exit path -------------------------------------------------
//
// Installed in the parent at its first fork and dormant there (each hook
// passes straight to Node's own while `inForkChild` is false): a child that
// installed it would write to the process object, each page a copy-on-write
// fault. A child only flips the flag.

let inForkChild = false;

// While the termination unwinds the caller's frames, native code below
// them may report the failed call as an uncaught exception (an addon's
// callback wrapper does): that is the unwinding itself, not an error.
let unwinding = false;

interface ExitInternals {
  reallyExit(code: unknown): never;
  _fatalException(error: unknown, fromPromise: boolean): boolean;
}

// Node's handler for uncaught exceptions, as it was at the first fork.
let nodeFatalException: ExitInternals['_fatalException'];

function installExitPath(): void {
  const internals = process as unknown as ExitInternals;
  const nodeReallyExit = internals.reallyExit;
  nodeFatalException = internals._fatalException;
  // process.exit() emits 'exit' (listeners may still set process.exitCode)
  // and then calls process.reallyExit(code); that is the last step before
  // Node's teardown, which must never run in a fork child, so the child
  // leaves from there. The same path serves an explicit process.exit(n) in
  // the target and the end of childMain.
  internals.reallyExit = (function reallyExit(code: unknown): never {
    return inForkChild ? leave(code) : nodeReallyExit.call(process, code);
  });
  // Node reports an uncaught exception (or an unhandled rejection, by
  // default) by calling process._fatalException, looked up on each report.
  // In a child: the unwinding is no error at all; otherwise the child's own
  // 'uncaughtException' listeners (or capture callback) decide, as in any
  // Node process, and without any the child ends with 1 through its exit
  // path (Node's handler would print and tear down).
  internals._fatalException = (function fatalException(error: unknown, fromPromise: boolean): boolean {
    if (!inForkChild) return nodeFatalException.call(process, error, fromPromise);
    if (unwinding) {
      // What Node's handler does last for a handled exception: the unwound
      // frames never popped their async contexts.
      clearAsyncIdStack();
      return true;
    }
    if (process.listenerCount('uncaughtException') > 0 || process.hasUncaughtExceptionCaptureCallback()) {
      return nodeFatalException.call(process, error, fromPromise);
    }
    const emit = process.emit as (event: string, ...args: unknown[]) => boolean;
    emit.call(process, 'uncaughtExceptionMonitor', error, fromPromise ? 'unhandledRejection' : 'uncaughtException');
    strayError(error);
    return true;
  });
}

// The parent's error handlers are the parent's business (a test runner's
// would go on running its tests here, a server's would report to it): the
// child drops them, when there are any.
const dropParentErrorListeners = (function dropParentErrorListeners(): void {
  if (process.listenerCount('uncaughtException') > 0) process.removeAllListeners('uncaughtException');
  if (process.listenerCount('unhandledRejection') > 0) process.removeAllListeners('unhandledRejection');
  if (process.hasUncaughtExceptionCaptureCallback()) {
    try {
      process.setUncaughtExceptionCaptureCallback(null);
    } catch {
      // node:domain owns it and refuses; its handler sees no active domain.
    }
  }
});

const strayError = (function strayError(error: unknown): void {
  flushStdio();
  const text = error instanceof Error && typeof error.stack === 'string' ? error.stack : `Uncaught ${inspect(error)}`;
  native.forkWriteAll(2, Buffer.from(`${text}\n`));
  process.exitCode = 1;
  process.exit(1);
});

const leave = (function leave(code: unknown): never {
  flushStdio();
  // reallyExit's native code takes ToInt32 of its argument; _exit keeps & 0xff.
  return binding.exit(Number(code) | 0);
});

// Whatever stdout/stderr still hold goes out before _exit: first what libuv
// queued (native), then what the JS stream buffered behind it.
const flushStdio = (function flushStdio(): void {
  for (const fd of native.forkFlushStdio()) {
    const stream = fd === 1 ? process.stdout : process.stderr;
    const pending = (stream as NodeJS.WriteStream & { writableBuffer?: Array<{ chunk: unknown; encoding: string }> })
      .writableBuffer;
    for (const { chunk, encoding } of pending ?? []) {
      const data = Buffer.isBuffer(chunk)
        ? chunk
        : typeof chunk === 'string'
          ? Buffer.from(chunk, encoding as BufferEncoding)
          : chunk instanceof Uint8Array
            ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
            : null;
      if (data !== null && !native.forkWriteAll(fd, data)) break;
    }
  }
});

// Once, at the first fork: the exit path goes in (dormant here), and
// Node's own functions that every child runs and a parent usually never has
// (the child enables an async hook and may drop process listeners) are
// compiled by running them on objects of no consequence: a hook with the
// silencer's shape around one empty async scope, and a private emitter.
// Saves ~0.3 ms per child. (V8 may flush the bytecode of functions unused
// for long; the child then compiles them, as before.)
let prepared = false;

function prepareParent(): void {
  if (prepared) return;
  prepared = true;
  native = forkBinding() as ForkBinding;
  installExitPath();
  const hook = createHook({ before: noop });
  hook.enable();
  try {
    new AsyncResource('posix-process:warm').runInAsyncScope(noop);
  } finally {
    hook.disable();
  }
  const emitter = new EventEmitter();
  emitter.on('warm', noop);
  emitter.removeAllListeners('warm');
  // process.exit() in the child drops a listener of process's own, which
  // runs Node's 'removeListener' listener there (signal bookkeeping).
  process.on('exit', noop);
  process.removeListener('exit', noop);
}
