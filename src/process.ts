// Process: multiprocessing.Process (3.8+ semantics) for Node.js, and this
// process's own record, as CPython's multiprocessing/process.py:
// currentProcess(), parentProcess(), activeChildren(). Policy lives here
// (checks, names, bookkeeping, repr); options are checked in
// process-options.ts, launching is per start method (context.ts), and the
// running child is a Popen (reaping, waiting, signals). The user's guide to
// all of it (targets, stdio, subclasses, start methods) is docs/api.md.
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import { inspect } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import { binding, type Launched } from './binding.js';
import { takeSpawnRecord, type SelfRecord } from './child/record.js';
import { invokeTarget, runProcessTarget } from './child/runtarget.js';
import { addChild, forgetChildren, liveChildren, reapAtStart, removeChild } from './children.js';
import { assertStartMethod, getLaunchers, getStartMethod, type StartMethod } from './context.js';
import { invalidArgType, ProcessError } from './errors.js';
import { dropInheritedLiveness, livenessReadEnd } from './liveness.js';
import { ParentProcess } from './parent.js';
import { kSentinel, Popen, type StatusSource } from './popen.js';
import type { StdioEntry } from './popen-stdio.js';
import {
  checkProcessOptions,
  classRef,
  moduleSpecifier,
  targetSpec,
  type ProcessOptions,
  type ProgramTarget,
  type Target,
  type TargetRef,
} from './process-options.js';
import { validateBoolean, validateString, validateTimeout } from './validate.js';

export type { ProcessOptions, Target, TargetRef } from './process-options.js';
export type { SelfRecord } from './child/record.js';

/** How a Process object came to be, besides `new Process()`. */
interface InternalInit {
  name: string;
  identity: number[];
  daemon: boolean;
  authkey: Buffer;
  parentPid: number | null;
  main: boolean;
}

let internalInit: InternalInit | null = null;
// Set by Process's static block: module-private access to its private fields.
let makeMainProcessImpl: () => Process;
let restoreProcessImpl: (
  cls: typeof Process,
  record: SelfRecord,
  target: Target | TargetRef | null,
  args: unknown[],
  kwargs: Record<string, unknown> | null,
) => Process;

const SIGNALS = { SIGTERM: binding.signals.SIGTERM!, SIGKILL: binding.signals.SIGKILL!, SIGINT: binding.signals.SIGINT! };

function closedError(): ProcessError {
  return new ProcessError('ERR_PROCESS_CLOSED', 'process object is closed');
}

function notStartedError(): ProcessError {
  return new ProcessError('ERR_PROCESS_NOT_STARTED', 'process not started');
}

// Python's repr() of a str, enough for names.
function pyRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  const escaped = text
    .replace(/\\/g, '\\\\')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t');
  return quote + (quote === "'" ? escaped.replace(/'/g, "\\'") : escaped) + quote;
}

function exitCodeName(code: number): string {
  if (code >= 0) return String(code);
  const name = binding.signalName(-code);
  return name === null ? String(code) : `-${name}`;
}

export class Process {
  #target: Target | TargetRef | null = null;
  #args: unknown[] = [];
  #kwargs: Record<string, unknown> | null = null;
  #name: string;
  #daemon: boolean;
  #authkey: Buffer;
  readonly #identity: number[];
  #parentPid: number | null;
  readonly #startMethod: StartMethod | null = null;
  #program: ProgramTarget | null = null;
  #env: Record<string, string> | null = null;
  #cwd: string | null = null;
  #stdio: StdioEntry[] | null = null;
  #parentDeathSignal = 0;
  #streams: Array<Duplex | null> = [];
  #popen: Popen | null = null;
  #closed = false;
  #current = false;
  #main = false;

  constructor(options: ProcessOptions = {}) {
    const init = internalInit;
    internalInit = null;
    if (init !== null) {
      // currentProcess() of the main process, or this process's own record in a child.
      this.#name = init.name;
      this.#identity = init.identity;
      this.#daemon = init.daemon;
      this.#authkey = init.authkey;
      this.#parentPid = init.parentPid;
      this.#current = true;
      this.#main = init.main;
      return;
    }
    const checked = checkProcessOptions(options);
    if (checked.startMethod !== null) this.#startMethod = checked.startMethod;
    this.#program = checked.program;
    this.#env = checked.env;
    this.#cwd = checked.cwd;
    this.#stdio = checked.stdio;
    this.#parentDeathSignal = checked.parentDeathSignal;

    const creator = currentProcess();
    const count = nextCount();
    this.#identity = [...creator.#identity, count];
    this.#parentPid = process.pid;
    this.#daemon = checked.daemon ?? creator.#daemon;
    this.#authkey = Buffer.from(creator.#authkey);
    this.#target = checked.target;
    this.#args = checked.args;
    this.#kwargs = checked.kwargs;
    this.#name = checked.name || `${new.target.name}-${this.#identity.join(':')}`;
  }

  static {
    makeMainProcessImpl = () => {
      internalInit = {
        name: 'MainProcess',
        identity: [],
        daemon: false,
        // node:crypto on first use only: a spawn child gets its key from the parent.
        authkey: (createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto')).randomBytes(32),
        parentPid: null,
        main: true,
      };
      return new Process();
    };
    restoreProcessImpl = (cls, record, target, args, kwargs) => {
      internalInit = {
        name: record.name,
        identity: record.identity,
        daemon: record.daemon,
        authkey: record.authkey,
        parentPid: record.parentPid,
        main: false,
      };
      // Only Process's constructor runs (new.target = the subclass): the
      // instance's own properties come from the parent, as unpickling does.
      const proc = Reflect.construct(Process, [], cls) as Process;
      proc.#target = target;
      proc.#args = args;
      proc.#kwargs = kwargs;
      return proc;
    };
  }

  /** Runs the target in this process; subclasses may override it. */
  run(): unknown {
    const target = this.#target;
    if (target === null) return undefined;
    const resolved = typeof target === 'function' ? target : { module: moduleSpecifier(target.module), export: target.export ?? 'default' };
    return invokeTarget(resolved, this.#args, this.#kwargs);
  }

  /** Launches the child. Synchronous; throws on failure (the object stays unstarted). */
  start(): void {
    this.#checkClosed();
    if (this.#popen !== null) throw new ProcessError('ERR_PROCESS_STARTED', 'cannot start a process twice');
    if (this.#parentPid !== process.pid || this.#current) {
      throw new ProcessError('ERR_PROCESS_NOT_CHILD', 'can only start a process object created by current process');
    }
    if (currentProcess().daemon) {
      throw new ProcessError('ERR_DAEMON_CHILDREN', 'daemonic processes are not allowed to have children');
    }
    if (this.#parentDeathSignal !== 0 && !isMainThread) {
      throw new ProcessError(
        'ERR_PARENT_DEATH_SIGNAL_THREAD',
        'parentDeathSignal needs a child started from the main thread: Linux sends it when the creating thread ' +
          'exits, so a worker thread\'s child would get it when the worker ends',
      );
    }
    reapAtStart();
    let launched: Launched;
    let source: StatusSource | null = null;
    if (this.#program !== null) {
      const program = this.#program;
      const result = getLaunchers().program({
        executable: program.executable,
        env: program.env,
        cwd: program.cwd,
        args: this.#args as string[],
        stdio: this.#stdio,
        parentDeathSignal: this.#parentDeathSignal,
      });
      launched = result.launched;
      this.#streams = result.streams;
    } else {
      const method = this.#startMethod ?? getStartMethod();
      assertStartMethod(method);
      if (method === 'fork') {
        launched = this.#launchFork();
      } else {
        const launch = method === 'forkserver' ? getLaunchers().forkserver : getLaunchers().spawn;
        const result = launch({
          target: targetSpec(this.#target),
          cls: this.constructor === Process ? null : classRef(this.constructor),
          props: this.constructor === Process ? null : Object.fromEntries(Object.entries(this)),
          args: this.#args,
          kwargs: this.#kwargs,
          name: this.#name,
          identity: this.#identity,
          daemon: this.#daemon,
          authkey: this.#authkey,
          parentName: currentProcess().name,
          env: this.#env,
          cwd: this.#cwd,
          stdio: this.#stdio,
          parentDeathSignal: this.#parentDeathSignal,
        });
        launched = result.launched;
        this.#streams = result.streams;
        source = result.source ?? null;
      }
    }
    // Tied to a worker thread that launches it, so that the worker's end
    // reaps it (Popen ties only its own children, not a forkserver's;
    // docs/design.md, "forkserver").
    const popen = new Popen(launched, source, this.#daemon ? 'terminate' : 'release');
    this.#popen = popen;
    // Like CPython (bpo-30775): the parent no longer needs these.
    this.#target = null;
    this.#args = [];
    this.#kwargs = null;
    addChild(this, popen);
  }

  /** Waits for the child to end, or `timeout` seconds; never rejects on timeout. */
  join(timeout?: number | null): Promise<void> {
    let popen: Popen;
    let seconds: number | null;
    try {
      popen = this.#checkJoin();
      seconds = validateTimeout(timeout);
    } catch (error) {
      return Promise.reject(error);
    }
    // A finished child has left the children set already (Popen.onExit).
    const waited = popen.wait(seconds);
    if (!popen.external) return waited;
    return waited.then(() => {
      // A forkserver child whose server died: its status is unknown.
      if (popen.failure !== null) throw popen.failure;
    });
  }

  /** Blocks the thread until the child ends, or `timeout` seconds. */
  joinSync(timeout?: number | null): void {
    const popen = this.#checkJoin();
    popen.waitSync(validateTimeout(timeout));
    if (popen.failure !== null) throw popen.failure;
  }

  isAlive(): boolean {
    this.#checkClosed();
    if (this.#current) return true;
    if (this.#parentPid !== process.pid) throw new ProcessError('ERR_PROCESS_NOT_CHILD', 'can only test a child process');
    if (this.#popen === null) return false;
    // A finished child has left the children set already (Popen.onExit).
    return this.#popen.poll() === null && !this.#popen.lost;
  }

  /** SIGTERM to the child; a no-op once it has exited. */
  terminate(): void {
    this.#signal(SIGNALS.SIGTERM);
  }

  /** SIGKILL to the child; a no-op once it has exited. */
  kill(): void {
    this.#signal(SIGNALS.SIGKILL);
  }

  /** SIGINT to the child; a no-op once it has exited. */
  interrupt(): void {
    this.#signal(SIGNALS.SIGINT);
  }

  /** Releases the sentinel and the stdio streams; a second call is a no-op. */
  close(): void {
    if (this.#closed || this.#current) return;
    const popen = this.#popen;
    if (popen !== null) {
      if (popen.poll() === null && !popen.lost) {
        throw new ProcessError(
          'ERR_PROCESS_RUNNING',
          'Cannot close a process while it is still running. You should first call join() or terminate().',
        );
      }
      popen.close();
      removeChild(this);
    }
    for (const stream of this.#streams) stream?.destroy();
    this.#streams = [];
    this.#popen = null;
    this.#target = null;
    this.#args = [];
    this.#kwargs = null;
    this.#closed = true;
  }

  get name(): string {
    return this.#name;
  }

  set name(value: string) {
    this.#name = validateString(value, 'name');
  }

  get daemon(): boolean {
    return this.#daemon;
  }

  set daemon(value: boolean) {
    if (this.#popen !== null) throw new ProcessError('ERR_PROCESS_STARTED', 'process has already started');
    this.#daemon = validateBoolean(value, 'daemon');
  }

  get authkey(): Buffer {
    return this.#authkey;
  }

  set authkey(value: Buffer | Uint8Array) {
    if (!(value instanceof Uint8Array)) throw invalidArgType('authkey', 'an instance of Buffer or Uint8Array', value);
    this.#authkey = Buffer.from(value);
  }

  get pid(): number | null {
    this.#checkClosed();
    if (this.#current) return process.pid;
    return this.#popen === null ? null : this.#popen.pid;
  }

  get ident(): number | null {
    return this.pid;
  }

  /** multiprocessing's exit code: null while running; reaps without blocking. */
  get exitCode(): number | null {
    this.#checkClosed();
    if (this.#popen === null) return null;
    return this.#popen.poll();
  }

  /** The signal's name when the child was killed by a signal, else null. */
  get signalCode(): string | null {
    const code = this.exitCode;
    if (code === null || code >= 0) return null;
    return binding.signalName(-code);
  }

  /**
   * An fd that becomes readable when the child ends and stays so until
   * close(). Read after the child was reaped (and never before), it is a
   * shared always-readable fd: a finished child keeps no fd of its own.
   */
  get sentinel(): number {
    return this.#sentinelPopen().exposeSentinel();
  }

  /** For wait(): the current sentinel, without handing its number out (it may change once the child is reaped). */
  [kSentinel](): number {
    return this.#sentinelPopen().sentinel;
  }

  /** With stdio 'pipe': a writable stream to the child's stdin, else null. */
  get stdin(): Duplex | null {
    return this.#streams[0] ?? null;
  }

  /** With stdio 'pipe': a readable stream of the child's stdout, else null. */
  get stdout(): Duplex | null {
    return this.#streams[1] ?? null;
  }

  /** With stdio 'pipe': a readable stream of the child's stderr, else null. */
  get stderr(): Duplex | null {
    return this.#streams[2] ?? null;
  }

  /** Every stdio stream by child fd (null where the entry was not 'pipe'). */
  get stdio(): Array<Duplex | null> {
    return [...this.#streams];
  }

  toString(): string {
    const info = [this.#main ? '_MainProcess' : this.constructor.name, `name=${pyRepr(this.#name)}`];
    if (this.#popen !== null) info.push(`pid=${this.#popen.pid}`);
    info.push(`parent=${this.#parentPid ?? 'None'}`);
    let exitCode: number | null = null;
    if (this.#current) info.push('started');
    else if (this.#closed) info.push('closed');
    else if (this.#parentPid !== process.pid) info.push('unknown');
    else if (this.#popen === null) info.push('initial');
    else {
      exitCode = this.#popen.poll();
      info.push(exitCode === null ? 'started' : 'stopped');
    }
    if (exitCode !== null) info.push(`exitcode=${exitCodeName(exitCode)}`);
    if (this.#daemon) info.push('daemon');
    return `<${info.join(' ')}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  #checkClosed(): void {
    if (this.#closed) throw closedError();
  }

  #sentinelPopen(): Popen {
    this.#checkClosed();
    if (this.#popen === null) throw notStartedError();
    return this.#popen;
  }

  #checkJoin(): Popen {
    this.#checkClosed();
    if (this.#current || this.#parentPid !== process.pid) {
      throw new ProcessError('ERR_PROCESS_NOT_CHILD', 'can only join a child process');
    }
    if (this.#popen === null) throw new ProcessError('ERR_PROCESS_NOT_STARTED', 'can only join a started process');
    return this.#popen;
  }

  #signal(signal: number): void {
    this.#checkClosed();
    if (this.#popen === null) throw notStartedError();
    this.#popen.sendSignal(signal);
  }

  // The fork child runs this Process object itself: any target, closure or
  // subclass works, and args need not be cloneable.
  #launchFork(): Launched {
    if (this.#env !== null || this.#cwd !== null || this.#stdio !== null) {
      throw new ProcessError('ERR_START_METHOD_UNSUPPORTED', "the 'fork' start method does not take env, cwd or stdio; use 'spawn'");
    }
    livenessReadEnd(); // the child keeps its read end as parentProcess().sentinel
    const parentName = currentProcess().name;
    const parentPid = process.pid;
    const deathSignal = this.#parentDeathSignal;
    return getLaunchers().fork(() => {
      // First, before the parent may die unseen.
      if (deathSignal !== 0) binding.setParentDeathSignal(deathSignal, parentPid);
      const parentSentinel = dropInheritedLiveness()!;
      const record: SelfRecord = {
        name: this.#name,
        identity: this.#identity,
        daemon: this.#daemon,
        authkey: this.#authkey,
        parentPid,
        parentName,
        parentSentinel,
      };
      this.#current = true;
      this.#popen = null;
      becomeChild(this, record);
      return runProcessTarget(this);
    });
  }
}

/** The main process's own record (name 'MainProcess', a fresh 32-byte authkey). */
export function makeMainProcess(): Process {
  return makeMainProcessImpl();
}

/** In a spawned child: this process's own Process object (maybe a subclass instance). */
export function restoreProcess(
  cls: typeof Process,
  record: SelfRecord,
  target: Target | TargetRef | null,
  args: unknown[],
  kwargs: Record<string, unknown> | null,
): Process {
  return restoreProcessImpl(cls, record, target, args, kwargs);
}

// ---------------------------------------------------------------------------
// This process's own record: its Process object, its parent, the counter
// for its children's default names and identities (advances at construction).

let current: Process | null = null;
let parent: ParentProcess | null = null;
let counter = 0;

function nextCount(): number {
  counter += 1;
  return counter;
}

/** The running process (`'MainProcess'` in the main process). */
export function currentProcess(): Process {
  if (current === null) {
    // A spawn child's bootstrap left its record without loading this module.
    const record = takeSpawnRecord();
    if (record !== null) becomeChild(restoreProcess(Process, record, null, [], null), record);
    else current = makeMainProcess();
  }
  return current!;
}

/** This process's parent, or null in the main process. */
export function parentProcess(): ParentProcess | null {
  currentProcess();
  return parent;
}

/** Started children that have not finished; reaps the finished ones. */
export function activeChildren(): Process[] {
  return liveChildren() as Process[];
}

/** Installs the child's own record (spawn bootstrap, fork child). */
export function becomeChild(self: Process, record: SelfRecord): void {
  current = self;
  parent = new ParentProcess(record.parentName, record.parentPid, record.parentSentinel);
  counter = 0;
  forgetChildren();
}

/** In a forkserver child: the server's own record (if a preload asked for it) is not this child's. */
export function resetCurrent(): void {
  current = null;
  parent = null;
  counter = 0;
  forgetChildren();
}

/** The same record, now held by its final object (a subclass instance imported later). */
export function replaceCurrent(self: Process): void {
  current = self;
}
