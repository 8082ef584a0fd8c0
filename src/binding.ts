// The only place that loads the native addon. Everything native is typed
// here, in one interface; the rest of the package imports `binding`.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A decoded wait status, as the kernel reported it. */
export interface WaitStatus {
  pid: number;
  raw: number;
  exited: boolean;
  exitStatus: number | null;
  signaled: boolean;
  termSignal: number | null;
  coreDumped: boolean;
  stopped: boolean;
  stopSignal: number | null;
  continued: boolean;
  /** multiprocessing's exit code: the status, `-N` for signal N, else null. */
  exitCode: number | null;
  /** The reaped child's resource usage (wait4); null when not reaped or only decoded. */
  rusage: ResourceUsage | null;
}

/** wait4's rusage, with the names of Node's process.resourceUsage(). */
export interface ResourceUsage {
  /** Microseconds. */
  userCPUTime: number;
  /** Microseconds. */
  systemCPUTime: number;
  /** KiB. */
  maxRSS: number;
  minorPageFault: number;
  majorPageFault: number;
  fsRead: number;
  fsWrite: number;
  voluntaryContextSwitches: number;
  involuntaryContextSwitches: number;
}

export interface NativeSpawnOptions {
  env?: string[];
  cwd?: string;
  fds?: Array<number | null>;
  setsid?: boolean;
  pgid?: number;
  umask?: number;
  resetSignals?: boolean;
  signalMask?: number[];
  closeFds?: boolean;
  parentDeathSignal?: number;
  /** Directories to search when `file` has no slash. */
  path?: string[];
}

export interface NativeSpawnResult {
  pid: number;
  pidfd: number | null;
  /** Readable once the child has exited: the pidfd, or a pipe's read end. */
  sentinel: number;
}

/** A libuv poll handle calling back while an fd is readable or hung up. */
export interface NativeWatcher {
  close(): void;
  ref(): NativeWatcher;
  unref(): NativeWatcher;
}

export interface Binding {
  spawn(file: string, argv: string[], options?: NativeSpawnOptions): NativeSpawnResult;
  fork(): number;
  exit(code: number): never;
  execve(path: string, argv: string[], env?: string[]): never;
  waitpid(pid: number, options?: { nohang?: boolean; untraced?: boolean; continued?: boolean }): WaitStatus | null;
  waitpidTimeout(pid: number, timeoutSec?: number | null): WaitStatus | null;
  decodeWaitStatus(raw: number, pid?: number): WaitStatus;
  pidfdSupported(): boolean;
  kill(pid: number, signal: number): void;
  killpg(pgid: number, signal: number): void;
  pidfdOpen(pid: number): number;
  pidfdSendSignal(fd: number, signal: number): void;
  signalName(signal: number): string | null;
  signals: Record<string, number>;
  Watcher: new (fd: number, callback: (status: number, readable: number) => void) => NativeWatcher;
  poll(entries: Array<{ fd: number; events: number }>, timeoutMs: number): number[];
  pipe(): [number, number];
  close(fd: number): void;
  socketpair(): [number, number];
  dup(fd: number): number;
  pollConstants: Record<'POLLIN' | 'POLLPRI' | 'POLLOUT' | 'POLLERR' | 'POLLHUP' | 'POLLNVAL', number>;
  getpid(): number;
  getppid(): number;
  /** Why a fork child's V8 platform cannot be kept off its absent worker threads (native/fork.cc), or null. */
  forkPlatformProblem(): string | null;
  /**
   * fork with a sentinel (native/forkchild.cc). Parent: the child's pid and sentinel. Child (its
   * inherited I/O handles made inert): 0, or -(fd + 1) for the pipe sentinel's write end it holds.
   */
  forkChild(): NativeSpawnResult | number;
  /** Writes what libuv still queues for fds 1/2; returns the fds whose stream may buffer more. */
  forkFlushStdio(): number[];
  forkWriteAll(fd: number, data: Buffer): boolean;
  /** Runs `fn` as a fresh loop callback after terminating the current JS stack; never returns. */
  forkContinue(fn: () => void): void;
}

function load(): Binding {
  if (process.platform === 'win32') {
    const error = new Error(`posix-process does not support ${process.platform}: it needs POSIX fork/exec and wait`);
    Object.assign(error, { code: 'ERR_PLATFORM_UNSUPPORTED' });
    throw error;
  }
  const require = createRequire(import.meta.url);
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  // Fast path for the addon built from source, the place node-gyp-build
  // looks first anyway: it halves the load time (1 ms instead of 2.4 ms),
  // which every spawn child pays at start-up. node-gyp-build's own
  // overrides (PREBUILDS_ONLY, POSIX_PROCESS_PREBUILD=path) still win.
  if (!process.env.PREBUILDS_ONLY && !process.env.POSIX_PROCESS_PREBUILD) {
    try {
      return require(join(root, 'build', 'Release', 'posix_process.node')) as Binding;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    }
  }
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  return nodeGypBuild(root) as Binding;
}

export const binding: Binding = load();
