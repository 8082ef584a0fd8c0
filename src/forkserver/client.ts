// The 'forkserver' start method, caller's side (docs/design.md,
// "forkserver"). The server (server.ts) is started at the first start(),
// never at import, with our own spawn: fd 3 its end of a SOCK_SEQPACKET
// socketpair (no name on disk: only this process holds the other end),
// fd 4 our liveness read end (it exits when we do). start() sends the
// payload, encoded as for 'spawn', with the child's fds attached
// (SCM_RIGHTS), and blocks until the server answers with the child's pid
// and sentinel (a pidfd it opened before it could reap the child: never a
// pid we would have to trust). The exit status comes later, as a message;
// each child is a Popen whose StatusSource is its Child here.
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { binding, type WaitStatus } from '../binding.js';
import { childExecArgv } from '../child/execargv.js';
import type { LaunchResult } from '../context.js';
import { ProcessError, withCode } from '../errors.js';
import { registerAtFork } from '../fork/atfork.js';
import { livenessReadEnd } from '../liveness.js';
import { Popen, type StatusSource } from '../popen.js';
import { encodePayload, type SpawnRequest } from '../popen-spawn.js';
import { devNullFd, openStreams, prepareStdio, releaseStdio } from '../popen-stdio.js';
import { tieFd, untieFd } from '../thread-ties.js';
import { deadlineIn, remainingMs, type Deadline } from '../timing.js';
import { validateArray, validateString } from '../validate.js';
import { closeWatched, whenReadable, type Subscription } from '../watch.js';
import { FIXED_FDS, MAX_FDS, requestBody, requestRecords, SERVER_FLAGS, signalRecord, type ServerMessage } from './protocol.js';

const SERVER_MAIN = fileURLToPath(new URL('./server.js', import.meta.url));
const { POLLIN, POLLOUT } = binding.pollConstants;
// After a server died: how long an exited child may stay unreaped by its
// new parent before its status is given up (PIDFD_INFO_EXIT only appears
// once it is reaped).
const ORPHAN_REAP_MS = 5000;
// How long start() waits for the server to take a request and answer it
// (the first one includes its start-up and preload imports): a server
// that is alive but stuck is killed then, so start() never hangs.
let replyTimeoutSec = 60;

/** Internal (tests): the start() reply deadline, in seconds. */
export function setForkserverReplyTimeout(seconds: number): void {
  replyTimeoutSec = seconds;
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function serverDied(what: string): ProcessError {
  return new ProcessError('ERR_FORKSERVER_DIED', `the forkserver died ${what}`);
}

let preload: string[] = [];

/**
 * The modules the forkserver imports before it forks any child (CPython's
 * set_forkserver_preload): absolute paths, file: URLs or package names.
 * Applies to the next server start.
 */
export function setForkserverPreload(modules: string[]): void {
  validateArray(modules, 'modules');
  preload = modules.map((m, i) => {
    validateString(m, `modules[${i}]`);
    return isAbsolute(m) ? pathToFileURL(m).href : m;
  });
}

/** One child of the server, seen from here: what Popen asks for its status. */
class Child implements StatusSource {
  pid = 0;
  /** The sentinel the server sent: the child's pidfd, or a pipe's read end. */
  fd = -1;
  status: WaitStatus | null = null;
  error: Error | null = null;
  orphaned = false;
  #exitSeenAt = -1;
  notify: (() => void) | null = null;

  constructor(
    readonly server: Server,
    readonly id: number,
  ) {}

  settle(status: WaitStatus | null, error: Error | null): void {
    this.status = status;
    this.error = error;
    this.notify?.();
  }

  poll(): WaitStatus | Error | null {
    this.server.pump();
    if (this.status !== null) return this.status;
    if (this.error !== null) return this.error;
    if (!this.orphaned) return null;
    // The server is gone. Where the kernel keeps exit statuses for pidfd
    // holders (PIDFD_INFO_EXIT), it is read once the new parent reaps it.
    if (binding.pidfdSupported()) {
      const kept = binding.pidfdExitStatus(this.fd, this.pid);
      if (kept !== null) {
        this.status = kept;
        return kept;
      }
      if (binding.poll([{ fd: this.fd, events: POLLIN }], 0)[0] === 0) return null; // still running
      if (this.#exitSeenAt < 0) this.#exitSeenAt = performance.now();
      if (performance.now() - this.#exitSeenAt < ORPHAN_REAP_MS) return null;
    }
    this.error = serverDied(`before child ${this.pid} ended; its exit status is unknown`);
    return this.error;
  }

  waitSync(timeoutSec: number | null): WaitStatus | Error | null {
    const deadline = deadlineIn(timeoutSec);
    for (;;) {
      const result = this.poll();
      if (result !== null) return result;
      const ms = remainingMs(deadline);
      if (ms === 0) return null;
      if (!this.server.dead) {
        // Blocks on the server's socket; other children's news is kept.
        binding.poll([{ fd: this.server.socket, events: POLLIN }], ms);
      } else if (binding.poll([{ fd: this.fd, events: POLLIN }], ms)[0] !== 0) {
        binding.poll([], ms < 0 ? 10 : Math.min(ms, 10)); // exited, not yet reaped by its new parent
      }
    }
  }

  // Pipe-sentinel fallback only (a pidfd is signalled directly): the server
  // signals its child while it still owns the pid.
  signal(signal: number): void {
    if (this.server.dead || this.status !== null) return;
    this.server.send([signalRecord(this.id, signal)], []);
  }
}

let current: Server | null = null;
let forkHookInstalled = false;

class Server {
  readonly socket: number;
  dead = false;
  readonly #process: Popen;
  readonly #children = new Map<number, Child>();
  #nextId = 1;
  #pumping = false;
  #watch: Subscription | null = null;

  constructor() {
    // Non-blocking: a full socket is waited out while reading (send()).
    const [ours, theirs] = binding.socketpair(true, true);
    let launched;
    try {
      launched = binding.spawn(
        process.execPath,
        [process.execPath, ...SERVER_FLAGS, ...childExecArgv(), SERVER_MAIN, JSON.stringify(preload)],
        { fds: [devNullFd(), 1, 2, theirs, livenessReadEnd()] },
      );
    } catch (error) {
      binding.close(ours);
      binding.close(theirs);
      throw error;
    }
    binding.close(theirs);
    this.socket = ours;
    // A worker's server ends with its thread: at its teardown the socket is
    // closed (EOF: the server exits) and the server reaped (thread-ties.ts;
    // its Popen ties it, 'end').
    tieFd(ours);
    // Reaped when it ends (a non-refed watcher); not one of our Processes.
    // Its fds stay until close().
    this.#process = new Popen(launched, null, 'end');
    this.#process.exposeSentinel();
    this.#process.onExit = () => {
      this.#process.close();
    };
    this.#arm();
  }

  get pid(): number {
    return this.#process.pid;
  }

  /** Sends a request and blocks until the server has forked its child. */
  request(body: Uint8Array, fds: number[]): Child {
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1;
    const child = new Child(this, id);
    this.#children.set(id, child);
    const deadline = deadlineIn(replyTimeoutSec);
    try {
      this.send(requestRecords(id, body), fds, deadline);
      while (child.pid === 0 && child.error === null) {
        this.pump();
        if (child.pid !== 0 || child.error !== null || this.dead) break;
        this.#waitOrGiveUp(POLLIN, deadline);
      }
      if (child.pid === 0) throw child.error ?? serverDied('before it started the child');
    } catch (error) {
      this.#children.delete(id);
      throw error;
    }
    return child;
  }

  // One wait for the socket; past the deadline the stuck server is killed
  // (and replaced at the next start()).
  #waitOrGiveUp(events: number, deadline: Deadline): void {
    const ms = remainingMs(deadline);
    if (ms === 0) {
      this.die();
      throw new ProcessError('ERR_FORKSERVER_DIED', `the forkserver was killed: it did not answer within ${replyTimeoutSec} s`);
    }
    binding.poll([{ fd: this.socket, events }], ms);
  }

  send(records: Buffer[], fds: number[], deadline: Deadline = null): void {
    records.forEach((record, i) => {
      for (;;) {
        if (this.dead) throw serverDied('while a request was being sent');
        try {
          binding.sendFds(this.socket, record, i === 0 ? fds : []);
          return;
        } catch (error) {
          if (!isCode(error, 'EAGAIN')) {
            this.die();
            throw serverDied(`while a request was being sent (${(error as Error).message})`);
          }
        }
        // Full: read what the server says meanwhile (it may be waiting for us).
        this.pump();
        if (!this.dead) this.#waitOrGiveUp(POLLIN | POLLOUT, deadline);
      }
    });
  }

  /** Reads every message waiting, without blocking. */
  pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (!this.dead) {
        let message: { data: Buffer; fds: number[] };
        try {
          message = binding.recvFds(this.socket, 4096, 4);
        } catch (error) {
          if (!isCode(error, 'EAGAIN')) this.die();
          return;
        }
        // The server never sends an empty record: this is EOF.
        if (message.data.length === 0 && message.fds.length === 0) {
          this.die();
          return;
        }
        this.#dispatch(message.data, message.fds);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #dispatch(data: Buffer, fds: number[]): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(data.toString()) as ServerMessage;
    } catch {
      for (const fd of fds) binding.close(fd);
      return;
    }
    const child = this.#children.get(message.id);
    if (message.t === 'started' && child !== undefined && fds.length === 1) {
      child.pid = message.pid;
      child.fd = fds[0]!;
      tieFd(child.fd); // its Popen unties it when it closes it
      return;
    }
    for (const fd of fds) binding.close(fd);
    if (child === undefined) return; // an answer to no request of ours
    this.#children.delete(message.id);
    if (message.t === 'exit') child.settle(binding.decodeWaitStatus(message.raw, child.pid), null);
    else if (message.t === 'error') child.settle(null, serverError(message));
    else child.settle(null, serverDied(`or misbehaved: a second 'started' for child ${child.pid}`));
  }

  #arm(): void {
    this.#watch = whenReadable(
      this.socket,
      () => {
        this.#watch = null;
        this.pump();
        if (!this.dead) this.#arm();
      },
      { ref: false },
    );
  }

  /** The server is gone (or talks nonsense): replaced at the next start(). */
  die(): void {
    if (this.dead) return;
    this.dead = true;
    this.#watch?.cancel();
    this.#watch = null;
    untieFd(this.socket);
    closeWatched(this.socket);
    if (current === this) current = null;
    try {
      this.#process.sendSignal(binding.signals.SIGKILL!);
    } catch {
      // already gone
    }
    const orphans = [...this.#children.values()];
    this.#children.clear();
    for (const child of orphans) {
      child.orphaned = true;
      if (child.pid === 0) child.error = serverDied('before it started the child');
      child.notify?.();
    }
  }

  /** In a fork child of ours: the server is the parent's; say nothing to it. */
  forget(): void {
    this.dead = true;
    untieFd(this.socket);
    binding.close(this.socket);
  }
}

function serverError(message: Extract<ServerMessage, { t: 'error' }>): Error {
  const { code, errno, syscall, path } = message;
  if (code?.startsWith('ERR_')) return new ProcessError(code as never, `forkserver: ${message.message}`);
  if (code !== undefined && syscall !== undefined) {
    // A system error of the child's set-up (chdir) or the fork: shaped as spawn's own.
    const error = withCode(new Error(`${syscall} ${code}${path === undefined ? '' : ` ${path}`}`), code);
    return Object.assign(error, { errno, syscall }, path === undefined ? {} : { path });
  }
  return withCode(new Error(`forkserver: ${message.message}`), code ?? 'ERR_FORKSERVER_REQUEST');
}

function liveServer(): Server {
  current?.pump(); // a server that died since shows EOF now
  if (current === null || current.dead) {
    current = new Server();
    if (!forkHookInstalled) {
      forkHookInstalled = true;
      registerAtFork({
        afterInChild: () => {
          current?.forget();
          current = null;
        },
      });
    }
  }
  return current;
}

/** The pid of this process's forkserver, or null before the first start (tests, tools). */
export function forkserverPid(): number | null {
  return current === null || current.dead ? null : current.pid;
}

/** The 'forkserver' start method's launch. */
export function launchForkserver(request: SpawnRequest): LaunchResult {
  if (request.stdio !== null && request.stdio.length > 3) {
    throw new ProcessError('ERR_TARGET_NOT_TRANSFERABLE', `a 'forkserver' child takes stdio for fds 0-2 only (got ${request.stdio.length} entries)`);
  }
  const { bytes, slots } = encodePayload(request, FIXED_FDS, 'forkserver');
  if (FIXED_FDS + slots.length > MAX_FDS) {
    throw new ProcessError('ERR_TARGET_NOT_TRANSFERABLE', `a 'forkserver' child takes at most ${MAX_FDS - FIXED_FDS} Connections (got ${slots.length})`);
  }
  const liveness = livenessReadEnd();
  const stdio = prepareStdio(request.stdio);
  let child: Child;
  try {
    const std = [0, 1, 2].map((i) => stdio.fds[i] ?? i);
    // As a spawn child: this process's environment and directory now, unless given.
    const setup = {
      env: request.env ?? ({ ...process.env } as Record<string, string>),
      cwd: request.cwd ?? process.cwd(),
      deathSignal: request.parentDeathSignal,
    };
    child = liveServer().request(requestBody(setup, bytes), [...std, liveness, ...slots.map((slot) => slot.fd)]);
  } catch (error) {
    releaseStdio(stdio, true);
    throw error;
  }
  releaseStdio(stdio, false);
  const pidfd = binding.pidfdSupported() ? child.fd : null;
  return { launched: { pid: child.pid, pidfd, sentinel: child.fd }, streams: openStreams(stdio), source: child };
}
