// The 'spawn' start method: fork+exec of a fresh `node` running the child
// bootstrap (child/spawn-main.cjs). Everything the child needs travels as
// one payload (child/wire.cts: JSON or structured clone) through a pipe
// mapped to fd 3 (not argv or the environment: size, and the authkey is a
// secret). Child fd map:
//   0 stdin (/dev/null unless `stdio` says otherwise), 1 stdout, 2 stderr,
//   3 the payload pipe, 4 the parent's liveness pipe (parentProcess()),
//   5... the fds of Connections found in args/kwargs, in order.
import { write, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { serialize } from 'node:v8';
import { binding, type Launched } from './binding.js';
import { childExecArgv } from './child/execargv.js';
import { Connection } from './connection.js';
import { extractConnections, type ConnectionSlot } from './child/transfer.js';
import type * as Wire from './child/wire.cjs';
import type { SpawnPayload, TargetSpec } from './child/wire.cjs';
import { livenessReadEnd } from './liveness.js';
import { ProcessError } from './errors.js';
import { openStreams, prepareStdio, releaseStdio, type StdioEntry } from './popen-stdio.js';
import { envStrings } from './environ.js';

export type { TargetSpec } from './child/wire.cjs';

export interface SpawnRequest {
  target: TargetSpec;
  /** A Process subclass, by reference, and its instance's own properties. */
  cls: { module: string; export: string } | null;
  props: Record<string, unknown> | null;
  args: unknown[];
  kwargs: Record<string, unknown> | null;
  name: string;
  identity: number[];
  daemon: boolean;
  authkey: Buffer;
  parentName: string;
  env: Record<string, string> | null;
  cwd: string | null;
  stdio: StdioEntry[] | null;
  /** Sent to the child when this process dies (0: none). */
  parentDeathSignal: number;
}

const LIVENESS_FD = 4;
const FIRST_CONNECTION_FD = 5;
const MAIN = fileURLToPath(new URL('./child/spawn-main.cjs', import.meta.url));
let wireModule: typeof Wire | null = null;

// Through require (the ESM loader would scan the CommonJS file for its
// exports), at the first launch: importing the package stays ~0.2 ms leaner.
function wire(): typeof Wire {
  wireModule ??= createRequire(import.meta.url)('./child/wire.cjs') as typeof Wire;
  return wireModule;
}

function notTransferable(what: string, error: unknown, method: string): ProcessError {
  const reason = error instanceof Error ? error.message : String(error);
  return new ProcessError(
    'ERR_TARGET_NOT_TRANSFERABLE',
    `${what} cannot be carried to a '${method}' child (structured clone failed: ${reason}); ` +
      `pass cloneable values, or use the 'fork' start method`,
    { cause: error },
  );
}

/** The payload of `request` and the Connections it carries (also the forkserver's, forkserver/client.ts). */
export function encodePayload(request: SpawnRequest, fdCount: number, method = 'spawn'): { bytes: Buffer; slots: ConnectionSlot[] } {
  const slots: ConnectionSlot[] = [];
  // One slot per Connection, wherever (and however often) it appears.
  const index = new Map<Connection, number>();
  const args = extractConnections(request.args, slots, index, Connection);
  const kwargs = extractConnections(request.kwargs, slots, index, Connection);
  const props = extractConnections(request.props, slots, index, Connection);
  const payload: SpawnPayload = {
    target: request.target,
    cls: request.cls,
    props,
    args,
    kwargs,
    name: request.name,
    identity: request.identity,
    daemon: request.daemon,
    authkey: request.authkey.toString('hex'),
    parentPid: process.pid,
    parentName: request.parentName,
    parentSentinel: LIVENESS_FD,
    connections: slots.map((slot, i) => ({ ...slot, fd: FIRST_CONNECTION_FD + i })),
    exitSentinelFd: binding.pidfdSupported() ? null : fdCount + slots.length,
  };
  try {
    return { bytes: wire().encodePayload(payload), slots };
  } catch (error) {
    let what = 'the args, kwargs or instance properties';
    try {
      serialize(args);
      try {
        serialize(kwargs);
        what = 'the Process subclass instance properties';
      } catch {
        what = 'kwargs';
      }
    } catch {
      what = 'args';
    }
    throw notTransferable(what, error, method);
  }
}

// Small payloads fit in the pipe at once; a large one is written from the
// threadpool while the child reads, so start() never waits for the child.
function sendPayload(fd: number, bytes: Buffer): void {
  const first = Math.min(bytes.length, 4096);
  let done = writeSync(fd, bytes, 0, first);
  if (done === bytes.length) {
    binding.close(fd);
    return;
  }
  const next = (): void => {
    write(fd, bytes, done, bytes.length - done, null, (error, written) => {
      if (error) {
        // EPIPE: the child died before reading; its exit status says why.
        binding.close(fd);
        return;
      }
      done += written;
      if (done < bytes.length) next();
      else binding.close(fd);
    });
  };
  next();
}

export function launchSpawn(request: SpawnRequest): { launched: Launched; streams: Array<Duplex | null> } {
  if (request.stdio !== null && request.stdio.length > 3) {
    throw new ProcessError(
      'ERR_TARGET_NOT_TRANSFERABLE',
      `a 'spawn' JS child takes stdio for fds 0-2 only (got ${request.stdio.length} entries); fds 3 and up are the bootstrap's`,
    );
  }
  const fdCount = FIRST_CONNECTION_FD;
  const { bytes, slots } = encodePayload(request, fdCount);
  const env = request.env === null ? undefined : envStrings(request.env);
  const liveness = livenessReadEnd();
  const stdio = prepareStdio(request.stdio);
  let payloadPipe: [number, number] | null = null;
  let launched: Launched;
  try {
    payloadPipe = binding.pipe();
    // Fds 0-2 not named by a short `stdio` array are inherited.
    const std = [0, 1, 2].map((i) => stdio.fds[i] ?? i);
    const fds = [...std, payloadPipe[0], liveness, ...slots.map((slot) => slot.fd)];
    launched = binding.spawn(process.execPath, [process.execPath, ...childExecArgv(), MAIN], {
      fds,
      env,
      cwd: request.cwd ?? undefined,
      parentDeathSignal: request.parentDeathSignal,
    });
  } catch (error) {
    releaseStdio(stdio, true);
    if (payloadPipe !== null) {
      binding.close(payloadPipe[0]);
      binding.close(payloadPipe[1]);
    }
    throw error;
  }
  releaseStdio(stdio, false);
  binding.close(payloadPipe[0]);
  sendPayload(payloadPipe[1], bytes);
  return { launched, streams: openStreams(stdio) };
}
