// The forkserver: `node --single-threaded server.js <preload JSON>`, started
// by its creator (client.ts) with fd 3 = its end of a SOCK_SEQPACKET
// socketpair and fd 4 = the creator's liveness read end. It imports the
// preload modules, then forks one child per request with the fork start
// method's machinery, and reports each child's pid, sentinel and exit
// status back over the socket (docs/design.md, "forkserver"). It exits
// when its creator does (EOF on fd 4 or on the socket); children still
// running then live on, orphaned, like CPython's.
import { createRequire } from 'node:module';
import { writeSync } from 'node:fs';
import { binding, forkBinding, type ForkBinding, type Launched } from '../binding.js';
import { launchFork } from '../fork/gate.js';
import { Popen } from '../popen.js';
import { resetCurrent } from '../process.js';
import { whenReadable } from '../watch.js';
import type * as SpawnMain from '../child/spawn-main.cjs';
import type * as Wire from '../child/wire.cjs';
import { FIXED_FDS, KIND_BEGIN, KIND_MORE, MAX_FDS, MAX_RECORD, parseRecord, parseRequestBody, SERVER_FLAGS, type ChildSetup, type ServerMessage } from './protocol.js';

const SOCKET = 3;
const CREATOR = 4;
const SERVER_PID = process.pid;
const { POLLIN, POLLOUT, POLLHUP } = binding.pollConstants;
const require = createRequire(import.meta.url);
const wire = require('../child/wire.cjs') as typeof Wire;
const spawnMain = require('../child/spawn-main.cjs') as typeof SpawnMain;

function errorCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

// Blocking in effect: the socket is non-blocking (the creator's end must
// be), so a full socket is waited out here. The creator reads while it
// sends, so this never deadlocks.
function send(message: ServerMessage, fds: number[] = []): void {
  const data = Buffer.from(JSON.stringify(message));
  for (;;) {
    try {
      binding.sendFds(SOCKET, data, fds);
      return;
    } catch (error) {
      if (errorCode(error, 'EAGAIN')) {
        binding.poll([{ fd: SOCKET, events: POLLOUT }], -1);
        continue;
      }
      // EPIPE, ECONNRESET: the creator is gone, and so is our reason to be.
      process.exit(0);
    }
  }
}

function closeAll(fds: number[]): void {
  for (const fd of fds) binding.close(fd);
}

function replyError(id: number, error: unknown): void {
  const e = error as NodeJS.ErrnoException;
  send({
    t: 'error',
    id,
    message: error instanceof Error ? error.message : String(error),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    ...(typeof e?.errno === 'number' ? { errno: e.errno } : {}),
    ...(typeof e?.syscall === 'string' ? { syscall: e.syscall } : {}),
    ...(typeof e?.path === 'string' ? { path: e.path } : {}),
  });
}

interface PartialRequest {
  id: number;
  total: number;
  chunks: Buffer[];
  got: number;
  fds: number[];
}

let partial: PartialRequest | null = null;
// Running children by request id: their fds are the server's, not theirs.
const running = new Map<number, { popen: Popen; fds: number[] }>();

function dropPartial(reason: string): void {
  if (partial === null) return;
  closeAll(partial.fds);
  replyError(partial.id, new Error(`request ${partial.id} was cut short: ${reason}`));
  partial = null;
}

// In the fork child: the server's fds go (they would keep the socket and
// other children's sentinels open), the request's fds become its own, and
// it becomes the Process its payload describes.
async function childMain(body: Buffer, setup: ChildSetup, fds: number[]): Promise<number> {
  // First, before the server may die unseen. The server dies right after
  // its creator (its liveness pipe), so the signal follows the creator.
  if (setup.deathSignal !== 0) binding.setParentDeathSignal(setup.deathSignal, SERVER_PID);
  const { env } = setup;
  // What a spawn child of the caller shows (and passes on): not the server's flags.
  process.execArgv.splice(0, SERVER_FLAGS.length);
  const own = new Set(fds);
  const inherited = [SOCKET, CREATOR, ...[...running.values()].flatMap((c) => c.fds)];
  for (const fd of inherited) if (!own.has(fd)) binding.close(fd);
  for (let i = 0; i < 3; i++) binding.dup2(fds[i]!, i);
  for (let i = 0; i < 3; i++) if (fds[i]! > 2) binding.close(fds[i]!);
  // The environment a spawn child would get from execve: the real environ
  // too, for the programs it starts.
  for (const key of Object.keys(process.env)) if (!Object.hasOwn(env, key)) delete process.env[key];
  Object.assign(process.env, env);
  const payload = wire.decodePayload(body);
  const connections = fds.slice(FIXED_FDS);
  if (payload.connections.length !== connections.length) {
    throw new Error(`the request names ${payload.connections.length} Connections but carries ${connections.length} fds`);
  }
  payload.parentSentinel = fds[3]!;
  payload.connections = payload.connections.map((slot, i) => ({ ...slot, fd: connections[i]! }));
  // Fork children hold their exit-sentinel pipe themselves (fork/state.ts).
  payload.exitSentinelFd = null;
  // A preload may have asked for currentProcess(): that was the server's.
  resetCurrent();
  // Like a spawn child, it ends when its loop drains: the server has no
  // timers or handles of its own left in the child to keep it alive.
  process.once('beforeExit', () => process.exit());
  (forkBinding() as ForkBinding).forkLetLoopEnd();
  await spawnMain.runPayload(payload);
  return new Promise<number>(() => {});
}

const home = process.cwd();

// Forks with `cwd` as the child's directory: the server moves there for the
// fork and back (it runs nothing else meanwhile), so a bad directory fails
// here, with chdir's own error, before there is a child.
function forkIn(cwd: string, childMain: () => Promise<number>): Launched {
  if (cwd === home) return launchFork(childMain);
  try {
    process.chdir(cwd);
  } catch (error) {
    // Node's error names the directory it left as `path`; the caller's
    // (client.ts serverError) names the one asked for.
    throw Object.assign(error as Error, { path: cwd });
  }
  try {
    return launchFork(childMain);
  } finally {
    process.chdir(home);
  }
}

function launch(id: number, body: Buffer, fds: number[]): void {
  if (fds.length < FIXED_FDS) {
    closeAll(fds);
    replyError(id, new Error(`request ${id} carries ${fds.length} fds; at least ${FIXED_FDS} are needed`));
    return;
  }
  let launched: Launched;
  try {
    const { setup, payload } = parseRequestBody(body);
    launched = forkIn(setup.cwd, () => childMain(payload, setup, fds));
  } catch (error) {
    closeAll(fds);
    replyError(id, error);
    return;
  }
  closeAll(fds);
  const popen = new Popen(launched);
  const own = launched.pidfd !== null && launched.pidfd !== launched.sentinel ? [launched.pidfd, launched.sentinel] : [launched.sentinel];
  running.set(id, { popen, fds: own });
  popen.onExit = () => {
    running.delete(id);
    if (popen.status !== null) send({ t: 'exit', id, raw: popen.status.raw });
    else replyError(id, new Error(`the status of child ${launched.pid} was lost`));
    popen.close();
  };
  send({ t: 'started', id, pid: launched.pid }, [launched.sentinel]);
}

function onRecord(data: Buffer, fds: number[]): void {
  const record = parseRecord(data);
  if ('error' in record) {
    closeAll(fds);
    replyError(record.id, new Error(record.error));
    return;
  }
  if (record.kind === KIND_BEGIN) {
    dropPartial(`request ${record.id} began before it ended`);
    partial = { id: record.id, total: record.total, chunks: [record.chunk], got: record.chunk.length, fds };
  } else if (record.kind === KIND_MORE) {
    closeAll(fds); // fds belong on BEGIN only
    if (partial === null || partial.id !== record.id) {
      replyError(record.id, new Error(`a continuation of request ${record.id}, which is not in progress`));
      return;
    }
    partial.chunks.push(record.chunk);
    partial.got += record.chunk.length;
    if (partial.got > partial.total) {
      const id = partial.id;
      closeAll(partial.fds);
      partial = null;
      replyError(id, new Error(`request ${id} is longer than it says`));
      return;
    }
  } else {
    closeAll(fds);
    running.get(record.id)?.popen.sendSignal(record.signal);
    return;
  }
  if (partial.got === partial.total) {
    const { id, chunks, fds: requestFds } = partial;
    partial = null;
    launch(id, Buffer.concat(chunks), requestFds);
  }
}

function onSocket(): void {
  // The first receive cannot block (the socket is readable); the later ones
  // look first, in case the socket is blocking (the client makes it
  // non-blocking, a test or another creator need not).
  for (let first = true; ; first = false) {
    if (!first && binding.poll([{ fd: SOCKET, events: POLLIN }], 0)[0] === 0) break;
    let message: { data: Buffer; fds: number[] };
    try {
      message = binding.recvFds(SOCKET, MAX_RECORD, MAX_FDS);
    } catch (error) {
      if (errorCode(error, 'EAGAIN')) break;
      if (errorCode(error, 'EMSGSIZE')) {
        replyError(0, error);
        continue;
      }
      process.exit(0);
    }
    if (message.data.length === 0 && message.fds.length === 0) {
      // EOF (the creator's end is closed), or an empty record: garbage.
      if ((binding.poll([{ fd: SOCKET, events: 0 }], 0)[0]! & POLLHUP) !== 0) process.exit(0);
      replyError(0, new Error('empty record'));
      continue;
    }
    onRecord(message.data, message.fds);
  }
  whenReadable(SOCKET, onSocket);
}

async function main(): Promise<void> {
  const preload = JSON.parse(process.argv[2] ?? '[]') as string[];
  for (const specifier of preload) {
    try {
      await import(specifier);
    } catch (error) {
      // As CPython's forkserver: a preload that fails is skipped.
      try {
        writeSync(2, `posix-process forkserver: could not preload ${specifier}: ${(error as Error)?.message ?? error}\n`);
      } catch {
        // stderr closed
      }
    }
  }
  whenReadable(CREATOR, () => process.exit(0));
  whenReadable(SOCKET, onSocket);
}

void main();
