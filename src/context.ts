// Per-process state of the library, like CPython's multiprocessing.process
// and context modules: the start method, this process's own record
// (currentProcess), its parent (parentProcess), the children it started and
// what happens to them when this process exits.
import { availableParallelism } from 'node:os';
import type { Duplex } from 'node:stream';
import { binding } from './binding.js';
import { invalidArgValue, ProcessError } from './errors.js';
import type { Launched, Popen } from './popen.js';
import type { ProgramRequest } from './popen-exec.js';
import type { SpawnRequest } from './popen-spawn.js';
import { takeSpawnRecord } from './child/record.js';
import { makeMainProcess, Process, restoreProcess } from './process.js';
import { validateBoolean, validateObject, validateString, validateTimeout } from './validate.js';
import { whenReadable } from './watch.js';

export type StartMethod = 'spawn' | 'fork' | 'forkserver';
const METHODS: readonly StartMethod[] = ['spawn', 'fork', 'forkserver'];

let startMethod: StartMethod | null = null;

export interface LaunchResult {
  launched: Launched;
  streams: Array<Duplex | null>;
}

/** The launch of each start method (launchers.ts, registered by index.ts). */
export interface Launchers {
  spawn(request: SpawnRequest): LaunchResult;
  program(request: ProgramRequest): LaunchResult;
  fork(childMain: () => Promise<number>): Launched;
  /** Why fork cannot be used here, or null. */
  forkUnavailable(): string | null;
  /** Throws the fork gate's ERR_FORK_UNSAFE, which says how to make forking safe. */
  assertForkSafe(): void;
}

let launchers: Launchers | null = null;

export function registerLaunchers(registered: Launchers): void {
  launchers = registered;
}

export function getLaunchers(): Launchers {
  if (launchers === null) {
    throw new ProcessError('ERR_START_METHOD_UNSUPPORTED', "no start method is loaded: import Process from 'posix-process'");
  }
  return launchers;
}

/** Why `method` cannot start processes here, or null when it can. */
export function startMethodUnavailable(method: StartMethod): string | null {
  if (launchers === null) return "no start method is loaded: import Process from 'posix-process'";
  if (method === 'spawn') return null;
  if (method === 'forkserver') return "the 'forkserver' start method is not implemented yet; use 'spawn' or 'fork'";
  return launchers.forkUnavailable();
}

export function assertStartMethod(method: StartMethod): void {
  const reason = startMethodUnavailable(method);
  if (reason === null) return;
  // Where fork exists but is unsafe, the gate's own error says how to fix it.
  if (method === 'fork' && process.platform === 'linux' && launchers !== null) launchers.assertForkSafe();
  throw new ProcessError('ERR_START_METHOD_UNSUPPORTED', `start method '${method}' is unavailable: ${reason}`);
}

export function validateStartMethod(value: unknown, name: string): StartMethod {
  validateString(value, name);
  if (!METHODS.includes(value as StartMethod)) {
    throw invalidArgValue(name, value, `must be one of ${METHODS.map((m) => `'${m}'`).join(', ')}`);
  }
  return value as StartMethod;
}

/** The start method new Processes use by default ('spawn' unless set). */
export function getStartMethod(): StartMethod {
  return startMethod ?? 'spawn';
}

/**
 * Sets the default start method. Like multiprocessing it may be set once;
 * `{ force: true }` changes it again (null resets to the default).
 */
export function setStartMethod(method: StartMethod | null, options: { force?: boolean } = {}): void {
  validateObject(options, 'options');
  const force = options.force === undefined ? false : validateBoolean(options.force, 'options.force');
  if (method === null && force) {
    startMethod = null;
    return;
  }
  const wanted = validateStartMethod(method, 'method');
  if (startMethod !== null && !force) {
    throw new ProcessError('ERR_START_METHOD_SET', 'context has already been set (pass { force: true } to change it)');
  }
  assertStartMethod(wanted);
  startMethod = wanted;
}

/** The start methods that can start processes in this process, default first. */
export function getAllStartMethods(): StartMethod[] {
  return METHODS.filter((m) => startMethodUnavailable(m) === null);
}

/** Number of CPUs this process may use (os.availableParallelism), at least 1. */
export function cpuCount(): number {
  return Math.max(1, availableParallelism());
}

// ---------------------------------------------------------------------------
// This process's own record.

/** What a child learns about itself and its parent from the bootstrap. */
export interface SelfRecord {
  name: string;
  identity: number[];
  daemon: boolean;
  authkey: Buffer;
  parentPid: number;
  parentName: string;
  /** Read end of the parent's liveness pipe: EOF once the parent is gone. */
  parentSentinel: number;
}

let current: Process | null = null;
let parent: ParentProcess | null = null;
// Counter for default names and identities: advances at construction.
let counter = 0;

export function nextCount(): number {
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

/** Installs the child's own record (spawn bootstrap, fork child). */
export function becomeChild(self: Process, record: SelfRecord): void {
  current = self;
  parent = new ParentProcess(record.parentName, record.parentPid, record.parentSentinel);
  counter = 0;
  children.clear();
  liveness = null;
}

/** The same record, now held by its final object (a subclass instance imported later). */
export function replaceCurrent(self: Process): void {
  current = self;
}

// ---------------------------------------------------------------------------
// The parent's liveness pipe: created once, the write end kept (CLOEXEC)
// for the life of this process, the read end handed to every child. A
// child's read end reaches EOF when this process is gone, however it died.

let liveness: { readEnd: number; writeEnd: number } | null = null;

export function livenessReadEnd(): number {
  if (liveness === null) {
    const [readEnd, writeEnd] = binding.pipe();
    liveness = { readEnd, writeEnd };
  }
  return liveness.readEnd;
}

/** In a fork child: the inherited write end would keep the parent "alive". */
export function dropInheritedLiveness(): number | null {
  if (liveness === null) return null;
  binding.close(liveness.writeEnd);
  const readEnd = liveness.readEnd;
  liveness = null;
  return readEnd;
}

/** The parent as a child sees it: pid, name, and a sentinel that sees it die. */
export class ParentProcess {
  readonly #name: string;
  readonly #pid: number;
  readonly #sentinel: number;

  constructor(name: string, pid: number, sentinel: number) {
    this.#name = name;
    this.#pid = pid;
    this.#sentinel = sentinel;
  }

  get name(): string {
    return this.#name;
  }

  get pid(): number {
    return this.#pid;
  }

  get ident(): number {
    return this.#pid;
  }

  get sentinel(): number {
    return this.#sentinel;
  }

  get daemon(): boolean {
    return false;
  }

  isAlive(): boolean {
    return !this.#ended(0);
  }

  joinSync(timeout?: number | null): void {
    const seconds = validateTimeout(timeout);
    if (seconds === null) {
      while (!this.#ended(-1));
      return;
    }
    const deadline = performance.now() + seconds * 1000;
    while (!this.#ended(Math.min(2 ** 31 - 1, Math.max(0, Math.ceil(deadline - performance.now()))))) {
      if (performance.now() >= deadline) return;
    }
  }

  join(timeout?: number | null): Promise<void> {
    let seconds: number | null;
    try {
      seconds = validateTimeout(timeout);
    } catch (error) {
      return Promise.reject(error);
    }
    if (seconds === 0 || this.#ended(0)) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      const subscription = whenReadable(this.#sentinel, () => {
        if (timer !== null) clearTimeout(timer);
        resolve();
      });
      if (seconds !== null) {
        timer = setTimeout(() => {
          subscription.cancel();
          resolve();
        }, Math.min(2 ** 31 - 1, Math.ceil(seconds * 1000)));
      }
    });
  }

  toString(): string {
    return `<_ParentProcess name='${this.#name}' pid=${this.#pid} parent=None ${this.isAlive() ? 'started' : 'stopped'}>`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  #ended(ms: number): boolean {
    const [revents] = binding.poll([{ fd: this.#sentinel, events: binding.pollConstants.POLLIN }], ms);
    return revents !== 0;
  }
}

// ---------------------------------------------------------------------------
// Children: started, not known to have finished. A child leaves the set as
// soon as it is reaped (by its reaper, join, isAlive, exitCode, close).

const children = new Map<Process, Popen>();
let exitHooksInstalled = false;

export function addChild(proc: Process, popen: Popen): void {
  children.set(proc, popen);
  popen.onExit = () => {
    children.delete(proc);
  };
  installExitHooks();
}

export function removeChild(proc: Process): void {
  children.delete(proc);
}

// What a fork child runs on its way out and its parent may never have run
// (cleanup, terminateDaemons, the exit hooks) is written as parenthesized
// function expressions: V8 compiles those with the module, in the parent,
// instead of in every child (forkstart.ts explains the cost).

/** Reaps finished children (WNOHANG each) and drops them from the set. */
export const cleanup = (function cleanup(): void {
  for (const [proc, popen] of [...children]) {
    if (popen.poll() !== null || popen.closed || popen.lost) children.delete(proc);
  }
});

/** Started children that have not finished; reaps the finished ones. */
export function activeChildren(): Process[] {
  cleanup();
  return [...children.keys()];
}

const SIGTERM = binding.signals.SIGTERM!;

const terminateDaemons = (function terminateDaemons(): void {
  for (const [proc, popen] of children) {
    if (proc.daemon) popen.sendSignal(SIGTERM);
  }
});

// multiprocessing's _exit_function: daemon children get SIGTERM, then every
// child is joined. 'beforeExit' does it asynchronously (the event loop keeps
// running while waiting); 'exit' (also after process.exit()) can only block.
const joinChildrenAsync = (function joinChildrenAsync(): void {
  cleanup();
  if (children.size === 0) return;
  terminateDaemons();
  // Refed waits keep the loop alive; once they end 'beforeExit' comes again.
  for (const popen of children.values()) void popen.wait(null);
});

const joinChildrenSync = (function joinChildrenSync(): void {
  cleanup();
  terminateDaemons();
  for (const popen of [...children.values()]) popen.waitSync(null);
  children.clear();
});

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('beforeExit', joinChildrenAsync);
  process.on('exit', joinChildrenSync);
}

