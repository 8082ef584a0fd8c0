// The raw layer: thin, typed access to the system calls. Arguments are
// checked here, once, with Node-shaped errors (the addon only backstops
// types and ranges, in the same words); every system failure is a
// Node-shaped system error from the addon (`kill ESRCH`, code, errno...).
import { binding, forkBinding, type ForkBinding, type NativeSpawnOptions, type Launched, type WaitStatus } from './binding.js';
import { runAfterForkInChild, runAfterForkInParent, runBeforeFork } from './fork/atfork.js';
import { envStrings, searchDirs } from './environ.js';
import { invalidArgType, invalidArgValue, withCode } from './errors.js';
import { assertForkSafe } from './fork/gate.js';
import { Popen } from './popen.js';
import { MAX_TIMER_MS } from './timing.js';
import {
  INT32_MAX,
  toSignalNumber,
  validateArray,
  validateBoolean,
  validateCString,
  validateEnv,
  validateFd,
  validateInteger,
  validateMaxLength,
  validatePid,
  validateObject,
  validateString,
  validateStringArray,
} from './validate.js';

export type { ResourceUsage, WaitStatus } from './binding.js';
export type Signal = number | string;

export interface SpawnOptions {
  /** The child's whole environment (default: this process's). */
  env?: Record<string, string>;
  cwd?: string;
  /** Child fd i gets this process's fd `fds[i]`; null closes it. Default [0, 1, 2]. */
  fds?: Array<number | null>;
  setsid?: boolean;
  /** Process group to join: 0 makes the child leader of a new group. */
  pgid?: number;
  umask?: number;
  /** Reset every signal disposition to default (default true, as libuv does). */
  resetSignals?: boolean;
  /** Signals blocked in the child (default none). */
  signalMask?: Signal[];
  /** Close every fd not in `fds` (default true). */
  closeFds?: boolean;
  /** Signal the child gets when this thread dies (Linux prctl). */
  parentDeathSignal?: Signal;
  /** Search PATH (of `env`, else this process) when `file` has no slash. */
  searchPath?: boolean;
}

export type SpawnResult = Launched;

export interface WaitpidOptions {
  nohang?: boolean;
  untraced?: boolean;
  continued?: boolean;
}

/** A validated environment as execve(2)'s `KEY=value` strings. */
function envArray(env: Record<string, string>, name: string): string[] {
  return envStrings(validateEnv(env, name));
}

/** fork+exec in native code; an exec failure throws the system error. */
export function spawn(file: string, argv: string[], options: SpawnOptions = {}): SpawnResult {
  validateCString(validateString(file, 'file'), 'file');
  if (file === '') throw withCode(new RangeError('The "file" argument must not be empty'), 'ERR_INVALID_ARG_VALUE');
  validateCStringArray(argv, 'argv');
  validateObject(options, 'options');
  const native: NativeSpawnOptions = {};
  if (options.env !== undefined) native.env = envArray(options.env, 'options.env').map((e) => validateCString(e, 'options.env'));
  if (options.cwd !== undefined) native.cwd = validateCString(validateString(options.cwd, 'options.cwd'), 'options.cwd');
  if (options.fds !== undefined) {
    validateArray(options.fds, 'options.fds');
    validateMaxLength(options.fds, 'options.fds', 1024);
    native.fds = options.fds.map((fd, i) => (fd === null ? null : validateFd(fd, `options.fds[${i}]`)));
  }
  if (options.setsid !== undefined) native.setsid = validateBoolean(options.setsid, 'options.setsid');
  if (options.pgid !== undefined) native.pgid = validateInteger(options.pgid, 'options.pgid', 0, INT32_MAX);
  if (options.umask !== undefined) native.umask = validateInteger(options.umask, 'options.umask', 0, 0o777);
  if (options.resetSignals !== undefined) native.resetSignals = validateBoolean(options.resetSignals, 'options.resetSignals');
  if (options.closeFds !== undefined) native.closeFds = validateBoolean(options.closeFds, 'options.closeFds');
  if (options.signalMask !== undefined) {
    validateArray(options.signalMask, 'options.signalMask');
    native.signalMask = options.signalMask.map((s) => toSignalNumber(s, 'options.signalMask', false));
  }
  if (options.parentDeathSignal !== undefined) {
    native.parentDeathSignal = toSignalNumber(options.parentDeathSignal, 'options.parentDeathSignal', false);
  }
  if (options.searchPath !== undefined && validateBoolean(options.searchPath, 'options.searchPath')) {
    native.path = searchDirs(options.env);
  }
  const child = binding.spawn(file, argv, native);
  Popen.launched(child.pid);
  return child;
}

/**
 * fork(2) of this Node process: 0 in the child, the child's pid in the
 * parent. Refuses with ERR_FORK_UNSAFE unless V8 runs single-threaded.
 * The child must leave with posix.exit() (Node's own teardown crashes there).
 */
export function fork(): number {
  assertForkSafe();
  runBeforeFork();
  let pid: number;
  try {
    pid = (forkBinding() as ForkBinding).fork();
  } catch (error) {
    runAfterForkInParent(); // as CPython: the parent's after-hooks run even when fork fails
    throw error;
  }
  if (pid === 0) {
    runAfterForkInChild();
  } else {
    Popen.launched(pid);
    runAfterForkInParent();
  }
  return pid;
}

/** _exit(2): ends the process at once, without Node's exit path. */
export function exit(code: number): never {
  return binding.exit(validateInteger(code, 'code', -INT32_MAX - 1, INT32_MAX));
}

export function execve(path: string, argv: string[], env?: Record<string, string>): never {
  validateCString(validateString(path, 'path'), 'path');
  validateCStringArray(argv, 'argv');
  const envp = env === undefined ? undefined : envArray(env, 'env').map((e) => validateCString(e, 'env'));
  return binding.execve(path, argv, envp);
}

function validateCStringArray(value: unknown, name: string): string[] {
  return validateStringArray(value, name).map((s) => validateCString(s, name));
}

function validateWaitOptions(options: WaitpidOptions): WaitpidOptions {
  validateObject(options, 'options');
  for (const key of ['nohang', 'untraced', 'continued'] as const) {
    const value: unknown = options[key];
    if (value !== undefined && value !== null && typeof value !== 'boolean') {
      throw withCode(new TypeError(`The "options.${key}" property must be of type boolean`), 'ERR_INVALID_ARG_TYPE');
    }
  }
  return options;
}

/** Waits for one child (pid > 0 only: never any child). null: WNOHANG and nothing to report. */
export function waitpid(pid: number, options: WaitpidOptions = {}): WaitStatus | null {
  validatePid(pid, 'pid');
  return binding.waitpid(pid, validateWaitOptions(options));
}

/**
 * waitpid for the child `pidfd` refers to (waitid(P_PIDFD), Linux 5.4):
 * never another process that got its pid after someone else reaped it
 * (that is `waitid ECHILD`). null: nohang and nothing to report.
 */
export function pidfdWait(pidfd: number, options: WaitpidOptions = {}): WaitStatus | null {
  validateFd(pidfd, 'pidfd');
  return binding.pidfdWait(pidfd, validateWaitOptions(options));
}

/** Waits up to `timeoutSec` seconds (undefined/null: forever) for the child to exit; null on timeout. */
export function waitpidTimeout(pid: number, timeoutSec?: number | null): WaitStatus | null {
  validatePid(pid, 'pid');
  if (timeoutSec !== undefined && timeoutSec !== null) {
    if (typeof timeoutSec !== 'number') throw withCode(new TypeError('The "timeout" argument must be of type number'), 'ERR_INVALID_ARG_TYPE');
    if (Number.isNaN(timeoutSec)) throw withCode(new RangeError('The value of "timeout" must not be NaN'), 'ERR_OUT_OF_RANGE');
  }
  return binding.waitpidTimeout(pid, timeoutSec ?? null);
}

export function decodeWaitStatus(raw: number): WaitStatus {
  return binding.decodeWaitStatus(validateInteger(raw, 'raw', 0, 0xffff));
}

/** kill(2) to one process (pid > 0); use killpg for groups. */
export function kill(pid: number, signal: Signal = 'SIGTERM'): void {
  validatePid(pid, 'pid');
  binding.kill(pid, toSignalNumber(signal));
}

export function killpg(pgid: number, signal: Signal = 'SIGTERM'): void {
  validatePid(pgid, 'pgid');
  binding.killpg(pgid, toSignalNumber(signal));
}

/** pidfd_open(2): a CLOEXEC fd that refers to this process, never to a recycled pid. */
export function pidfdOpen(pid: number): number {
  return binding.pidfdOpen(validatePid(pid, 'pid'));
}

export function pidfdSendSignal(fd: number, signal: Signal = 'SIGTERM'): void {
  validateFd(fd, 'fd');
  binding.pidfdSendSignal(fd, toSignalNumber(signal));
}

export interface PollEntry {
  fd: number;
  events: number;
}

/** poll(2) with `timeoutMs` milliseconds (-1: forever); returns each entry's revents. */
export function poll(entries: PollEntry[], timeoutMs: number): number[] {
  validateArray(entries, 'entries');
  validateMaxLength(entries, 'entries', 65536);
  entries.forEach((e, i) => {
    validateObject(e, `entries[${i}]`);
    validateInteger(e.fd, `entries[${i}].fd`, -1, INT32_MAX);
    validateInteger(e.events, `entries[${i}].events`, 0, 0xffff);
  });
  return binding.poll(entries, validateInteger(timeoutMs, 'timeoutMs', -1, MAX_TIMER_MS));
}

/** socketpair(AF_UNIX, SOCK_STREAM or SOCK_SEQPACKET, CLOEXEC): two connected ends. */
export function socketpair(type: 'stream' | 'seqpacket' = 'stream'): [number, number] {
  if (type !== 'stream' && type !== 'seqpacket') throw invalidArgValue('type', type, "must be 'stream' or 'seqpacket'");
  return binding.socketpair(type === 'seqpacket');
}

/** At most this many fds travel in one message (the kernel's SCM_MAX_FD). */
export const MAX_PASSED_FDS = 253;

/**
 * sendmsg(2): `data` with `fds` attached (SCM_RIGHTS), MSG_NOSIGNAL (a gone
 * peer is EPIPE, never SIGPIPE); EINTR retried. Returns the bytes sent: a
 * stream socket may take fewer, the fds travel with the first byte. With
 * fds, data must not be empty (a stream socket would drop them).
 */
export function sendFds(fd: number, data: Buffer | Uint8Array, fds: number[] = []): number {
  validateFd(fd, 'fd');
  if (!(data instanceof Uint8Array)) throw invalidArgType('data', 'an instance of Buffer or Uint8Array', data);
  validateArray(fds, 'fds');
  validateMaxLength(fds, 'fds', MAX_PASSED_FDS);
  fds.forEach((f, i) => validateFd(f, `fds[${i}]`));
  if (fds.length > 0 && data.byteLength === 0) {
    throw invalidArgValue('data', data, 'must not be empty when fds are sent');
  }
  return binding.sendFds(fd, data, fds);
}

/**
 * recvmsg(2) of at most `maxBytes` bytes and `maxFds` fds, made CLOEXEC
 * (MSG_CMSG_CLOEXEC); EINTR retried. End of stream: empty `data`, no fds.
 * More fds than `maxFds`, or a record longer than `maxBytes` (SOCK_SEQPACKET,
 * datagrams): `recvmsg EMSGSIZE`, with every fd that arrived closed.
 */
export function recvFds(fd: number, maxBytes: number, maxFds = MAX_PASSED_FDS): { data: Buffer; fds: number[] } {
  validateFd(fd, 'fd');
  validateInteger(maxBytes, 'maxBytes', 0, 2 ** 30);
  validateInteger(maxFds, 'maxFds', 0, MAX_PASSED_FDS);
  return binding.recvFds(fd, maxBytes, maxFds);
}

/** pipe2(O_CLOEXEC): [readEnd, writeEnd]. */
export function pipe(): [number, number] {
  return binding.pipe();
}

export function close(fd: number): void {
  binding.close(validateFd(fd, 'fd'));
}

/** This platform's signals, name -> number. */
export const signals: Readonly<Record<string, number>> = Object.freeze({ ...binding.signals });

/** The name of signal `n` ('SIGTERM'), or null if it has none. */
export function signalName(n: number): string | null {
  return binding.signalName(validateInteger(n, 'signal', 1, 64));
}

/** Whether child sentinels are pidfds (false: pipe fallback, or switched off). */
export function pidfdSupported(): boolean {
  return binding.pidfdSupported();
}

export const { POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL } = binding.pollConstants;
