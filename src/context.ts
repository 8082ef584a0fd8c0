// The start methods, like CPython's multiprocessing.context: which ones
// this process can use, the default one, and the launch of each (registered
// by launchers.ts). This process's own record, its parent and its children
// live with Process (process.ts, parent.ts, children.ts).
import { availableParallelism } from 'node:os';
import type { Duplex } from 'node:stream';
import type { Launched } from './binding.js';
import { invalidArgValue, ProcessError } from './errors.js';
import type { ProgramRequest } from './popen-exec.js';
import type { StatusSource } from './popen.js';
import type { SpawnRequest } from './popen-spawn.js';
import { validateBoolean, validateObject, validateString } from './validate.js';

export type StartMethod = 'spawn' | 'fork' | 'forkserver';
const METHODS: readonly StartMethod[] = ['spawn', 'fork', 'forkserver'];

let startMethod: StartMethod | null = null;

export interface LaunchResult {
  launched: Launched;
  streams: Array<Duplex | null>;
  /** Where the status comes from when the child is not ours to wait for (forkserver). */
  source?: StatusSource;
}

/** The launch of each start method (launchers.ts; index.ts registers them). */
export interface Launchers {
  spawn(request: SpawnRequest): LaunchResult;
  forkserver(request: SpawnRequest): LaunchResult;
  /** Why the forkserver cannot be used here, or null. */
  forkserverUnavailable(): string | null;
  program(request: ProgramRequest): LaunchResult;
  fork(childMain: () => Promise<number>): Launched;
  /** Why fork cannot be used here, or null (the fork gate decides). */
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
  if (method === 'forkserver') return launchers.forkserverUnavailable();
  return launchers.forkUnavailable();
}

export function assertStartMethod(method: StartMethod): void {
  const reason = startMethodUnavailable(method);
  if (reason === null) return;
  // The fork gate's own error says why and how to fix it.
  if (method === 'fork' && launchers !== null) launchers.assertForkSafe();
  throw new ProcessError('ERR_START_METHOD_UNSUPPORTED', `start method '${method}' is unavailable: ${reason}`);
}

export function validateStartMethod(value: unknown, name: string): StartMethod {
  validateString(value, name);
  if (!METHODS.includes(value as StartMethod)) {
    throw invalidArgValue(name, value, `must be one of ${METHODS.map((m) => `'${m}'`).join(', ')}`);
  }
  return value as StartMethod;
}

/**
 * The start method new Processes use unless set: 'forkserver' where it
 * works (Linux, as CPython 3.14), else 'spawn'.
 */
export function getStartMethod(): StartMethod {
  return startMethod ?? defaultStartMethod();
}

function defaultStartMethod(): StartMethod {
  return startMethodUnavailable('forkserver') === null ? 'forkserver' : 'spawn';
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
  const first = defaultStartMethod();
  return [first, ...METHODS.filter((m) => m !== first && startMethodUnavailable(m) === null)];
}

/** Number of CPUs this process may use (os.availableParallelism), at least 1. */
export function cpuCount(): number {
  return Math.max(1, availableParallelism());
}
