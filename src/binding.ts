// The only place that loads the native addons. Everything native is typed
// here; the rest of the package imports `binding`, and the fork machinery
// asks for `forkBinding()`.
//
// Two addons (docs/design.md, "Node versions and internals"):
//  - posix_process: Node-API and libuv's public calls only, ABI-stable,
//    loaded at import on every Node;
//  - posix_process_fork: V8's C++ API and libuv's private fields, built per
//    Node ABI, loaded at the first fork; if it is missing, was built for
//    another ABI or does not know the running libuv, fork is unavailable
//    (with that reason) and nothing else changes.
import { existsSync } from 'node:fs';
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
  /** The reaped child's resource usage (wait4/waitid); null when not reaped by this call or only decoded. */
  rusage: ResourceUsage | null;
}

/** wait4's rusage, with the names of Node's process.resourceUsage(). */
export interface ResourceUsage {
  /** Microseconds. */
  userCPUTime: number;
  /** Microseconds. */
  systemCPUTime: number;
  /**
   * KiB: the child's peak resident set size, but never less than the peak
   * of the process that spawned it, as it was at the child's exec. Linux
   * folds the outgoing memory's high-water mark into the process's maxrss
   * at every exec; after a vfork-style spawn (CLONE_VM) that memory is the
   * parent's, after fork() a copy of it. So for a child of a Node process
   * a small program reports Node's peak (about 50 MB, for /bin/true); the
   * figure is the child's own only when it is above
   * process.resourceUsage().maxRSS read just after the spawn (see
   * docs/design.md, "The posix-process command").
   */
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

/** A started child, from every launch path (spawn, exec, fork). */
export interface Launched {
  pid: number;
  /** The child's pidfd, or null on the pipe fallback (POSIX_PROCESS_NO_PIDFD=1, old kernels). */
  pidfd: number | null;
  /** Readable once the child has exited: the pidfd, or a pipe's read end. */
  sentinel: number;
}

export interface Binding {
  spawn(file: string, argv: string[], options?: NativeSpawnOptions): Launched;
  exit(code: number): never;
  execve(path: string, argv: string[], env?: string[]): never;
  waitpid(pid: number, options?: { nohang?: boolean; untraced?: boolean; continued?: boolean }): WaitStatus | null;
  waitpidTimeout(pid: number, timeoutSec?: number | null): WaitStatus | null;
  /** waitid(P_PIDFD): waits for the child the pidfd refers to, never a process that reused its pid. */
  pidfdWait(pidfd: number, options?: { nohang?: boolean; untraced?: boolean; continued?: boolean }): WaitStatus | null;
  /** The status of a child reaped by someone else (PIDFD_INFO_EXIT, Linux 6.15+), rusage null; null when unknown. */
  pidfdExitStatus(pidfd: number, pid: number): WaitStatus | null;
  decodeWaitStatus(raw: number, pid?: number): WaitStatus;
  pidfdSupported(): boolean;
  kill(pid: number, signal: number): void;
  killpg(pgid: number, signal: number): void;
  pidfdOpen(pid: number): number;
  pidfdSendSignal(fd: number, signal: number): void;
  /** Closed at this thread's Node-API teardown unless untied first (native/tie.cc). */
  tieFd(fd: number): void;
  untieFd(fd: number): void;
  /**
   * At this thread's teardown, by policy: 'end' given 2 s to exit, then
   * SIGKILL; 'release' left running; 'terminate' SIGTERM. Reaped once it
   * exits (a reaper thread); its fds closed. pidfd -1: none.
   */
  tieChild(pid: number, pidfd: number, sentinel: number, policy: 'end' | 'release' | 'terminate'): void;
  untieChild(pid: number, sentinel: number): void;
  signalName(signal: number): string | null;
  signals: Record<string, number>;
  /**
   * This thread's reactor (one epoll set on the loop): `callback(fd)` when a
   * watched fd is readable or hung up, `callback(fd, chunk)` for an fd
   * watched with `read` (a Buffer, null at EOF, -errno on a read error).
   */
  reactorInit(callback: (fd: number, chunk?: Buffer | null | number) => void): void;
  /** Level-triggered until reactorUnwatch(fd); `read`: O_NONBLOCK, and read by the reactor (until EOF or an error). */
  reactorWatch(fd: number, read: boolean): void;
  reactorUnwatch(fd: number): void;
  /** Whether the reactor keeps the event loop alive. */
  reactorRef(on: boolean): void;
  /** The watched fds readable right now (nothing called). */
  reactorReady(): number[];
  /** In a fork child: forget the parent's watches without touching its epoll set. */
  reactorReset(): void;
  poll(entries: Array<{ fd: number; events: number }>, timeoutMs: number): number[];
  pipe(): [number, number];
  close(fd: number): void;
  /** AF_UNIX, CLOEXEC; SOCK_STREAM unless `seqpacket`; O_NONBLOCK on both ends with `nonblock`. */
  socketpair(seqpacket?: boolean, nonblock?: boolean): [number, number];
  dup(fd: number): number;
  /** dup3(from, to, 0): `to` is inherited across exec (from === to: FD_CLOEXEC cleared). */
  dup2(from: number, to: number): void;
  /** sendmsg(2) of `data` with `fds` as SCM_RIGHTS, MSG_NOSIGNAL, EINTR retried; bytes sent. */
  sendFds(fd: number, data: Uint8Array, fds: number[]): number;
  /** recvmsg(2) with MSG_CMSG_CLOEXEC; EOF: empty data. Truncation: fds closed, `recvmsg EMSGSIZE`. */
  recvFds(fd: number, maxBytes: number, maxFds: number): { data: Buffer; fds: number[] };
  pollConstants: Record<'POLLIN' | 'POLLPRI' | 'POLLOUT' | 'POLLERR' | 'POLLHUP' | 'POLLNVAL', number>;
  getpid(): number;
  getppid(): number;
  /** PR_SET_PDEATHSIG for this process; signals itself at once if `parentPid` is no longer its parent. */
  setParentDeathSignal(signal: number, parentPid: number): void;
}

/** The fork addon (native/fork/). */
export interface ForkBinding {
  /** The NODE_MODULE_VERSION it was compiled for. */
  abi: number;
  /** Why it must not touch the running libuv's private fields, or null. */
  layoutProblem: string | null;
  /** Why a fork child's V8 platform cannot be kept off its absent worker threads (native/fork/fork.cc), or null. */
  forkPlatformProblem(): string | null;
  fork(): number;
  /**
   * fork with a sentinel (native/forkchild.cc). Parent: the child's pid and sentinel. Child (its
   * inherited I/O handles made inert): 0, or -(fd + 1) for the pipe sentinel's write end it holds.
   */
  forkChild(): Launched | number;
  /** Writes what libuv still queues for fds 1/2; returns the fds whose stream may buffer more. */
  forkFlushStdio(): number[];
  forkWriteAll(fd: number, data: Buffer): boolean;
  /** Runs `fn` as a fresh loop callback after terminating the current JS stack; never returns. */
  forkContinue(fn: () => void): void;
  /** In a fork child: its loop may end when empty ('beforeExit'), as a script's (the forkserver's children). */
  forkLetLoopEnd(): void;
}

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function load(): Binding {
  if (process.platform === 'win32') {
    const error = new Error(`posix-process does not support ${process.platform}: it needs POSIX fork/exec and wait`);
    Object.assign(error, { code: 'ERR_PLATFORM_UNSUPPORTED' });
    throw error;
  }
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

let forkLoaded: ForkBinding | string | undefined;

/**
 * The fork addon for the running Node, or the reason there is none. Loaded
 * at the first call, not at import: the one built from source
 * (native/fork/build/Release) if it was built for this Node's ABI, else the
 * prebuild for this ABI (prebuilds/<platform>-<arch>/fork/node.abi<N>.<libc>.node);
 * POSIX_PROCESS_FORK_PREBUILD=<file> names the one file to try instead.
 */
export function forkBinding(): ForkBinding | string {
  if (forkLoaded === undefined) forkLoaded = loadFork();
  return forkLoaded;
}

function loadFork(): ForkBinding | string {
  const abi = Number(process.versions.modules);
  const libc = existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
  const candidates = [
    join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'fork', `node.abi${abi}.${libc}.node`),
  ];
  if (!process.env.PREBUILDS_ONLY) candidates.unshift(join(root, 'native', 'fork', 'build', 'Release', 'posix_process_fork.node'));
  // A build to test instead (the ASan run's), like node-gyp-build's POSIX_PROCESS_PREBUILD.
  if (process.env.POSIX_PROCESS_FORK_PREBUILD) candidates.splice(0, candidates.length, process.env.POSIX_PROCESS_FORK_PREBUILD);
  const problems: string[] = [];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    let addon: ForkBinding;
    try {
      addon = require(file) as ForkBinding;
    } catch (error) {
      // A build for another Node may lack one of this V8's symbols.
      problems.push(`${file} does not load (${(error as Error).message.split('\n')[0]})`);
      continue;
    }
    if (addon.abi !== abi) {
      problems.push(`${file} was built for ABI ${addon.abi}`);
      continue;
    }
    return addon.layoutProblem ?? addon;
  }
  const found = problems.length > 0 ? `; ${problems.join('; ')}` : '';
  return `there is no fork addon built for this Node.js (ABI ${abi})${found}; build it with \`npm rebuild posix-process\``;
}
