// Entry point of a 'spawn' child: `node [execArgv] spawn-main.js`. Reads
// the payload from fd 3 (see popen-spawn.ts), becomes the Process it
// describes (currentProcess(), parentProcess(), identity, daemon, authkey),
// rebuilds the Connections handed down in args, runs run(), and then lets
// Node finish the child's own pending work, like any Node script.
//
// Exit codes: run() returns -> 0 once the loop drains; process.exit(n) or
// process.exitCode = n -> n & 0xff; an exception or rejection -> 1 with
// `Process <name>:` and the stack on stderr; signal N -> -N (no SIGTERM or
// SIGINT handler is installed here).
import { closeSync, readFileSync, writeSync } from 'node:fs';
import { deserialize } from 'node:v8';
import { binding } from '../binding.js';
import { becomeChild, replaceCurrent, type SelfRecord } from '../context.js';
import { Process, restoreProcess, type Target, type TargetRef } from '../process.js';
import type { SpawnPayload } from '../popen-spawn.js';
import { reportFailure, runProcessTarget } from './runtarget.js';
import { restoreConnections } from './transfer.js';

const PAYLOAD_FD = 3;

function readPayload(): SpawnPayload {
  const bytes = readFileSync(PAYLOAD_FD);
  closeSync(PAYLOAD_FD);
  return deserialize(bytes) as SpawnPayload;
}

async function resolveClass(payload: SpawnPayload): Promise<typeof Process> {
  if (payload.cls === null) return Process;
  const mod = (await import(payload.cls.module)) as Record<string, unknown>;
  const cls = mod[payload.cls.export];
  if (typeof cls !== 'function' || !(cls.prototype instanceof Process)) {
    throw new TypeError(`export '${payload.cls.export}' of ${payload.cls.module} is not a Process subclass`);
  }
  return cls as typeof Process;
}

function resolveTarget(payload: SpawnPayload): Target | TargetRef | null {
  const target = payload.target;
  if (target.kind === 'none') return null;
  if (target.kind === 'module') return { module: target.module, export: target.export };
  // Indirect eval: global scope, no access to this module's bindings. The
  // function must not close over variables of its original scope.
  const fn: unknown = (0, eval)(`(${target.source}\n)`);
  if (typeof fn !== 'function') throw new TypeError('the target source did not evaluate to a function');
  return fn as Target;
}

async function main(): Promise<void> {
  const payload = readPayload();
  const name = payload.name;
  // Uncaught errors outside run() (a timer, an event handler) still end
  // the child with 1 through Node's own handler; say which process it was.
  process.on('uncaughtExceptionMonitor', () => {
    try {
      writeSync(2, `Process ${name}:\n`);
    } catch {
      // stderr closed
    }
  });
  if (payload.exitSentinelFd !== null) {
    // Pipe-sentinel fallback: our copy of the write end must not leak into
    // programs we start with child_process (it would keep our parent's
    // sentinel from seeing us end). Keep it open, but CLOEXEC.
    binding.dup(payload.exitSentinelFd);
    binding.close(payload.exitSentinelFd);
  }
  let proc: Process;
  try {
    // connection.js only when there are Connections: a leaner start otherwise.
    const { Connection } = payload.connections.length > 0 ? await import('../connection.js') : { Connection: null };
    const connections = payload.connections.map((slot) =>
      Connection!.fromFd(slot.fd, { readable: slot.readable, writable: slot.writable }),
    );
    const args = restoreConnections(payload.args, connections) as unknown[];
    const kwargs = restoreConnections(payload.kwargs, connections) as Record<string, unknown> | null;
    const props = restoreConnections(payload.props, connections) as Record<string, unknown> | null;
    const record: SelfRecord = {
      name,
      identity: payload.identity,
      daemon: payload.daemon,
      authkey: Buffer.from(payload.authkey),
      parentPid: payload.parentPid,
      parentName: payload.parentName,
      parentSentinel: payload.parentSentinel,
    };
    // The record is in place before any user module is imported: code
    // that runs at import time already sees this child's identity.
    becomeChild(restoreProcess(Process, record, null, [], null), record);
    const cls = await resolveClass(payload);
    proc = restoreProcess(cls, record, resolveTarget(payload), args, kwargs);
    if (props !== null) Object.assign(proc, props);
    replaceCurrent(proc);
  } catch (error) {
    reportFailure(name, error);
    process.exitCode = 1;
    return;
  }
  const code = await runProcessTarget(proc);
  if (code !== 0) process.exitCode = code;
}

// Not a top-level await: a target whose promise never settles, with
// nothing else pending, ends like any Node program whose loop drained
// (exit 0 or process.exitCode), not with the unsettled-TLA exit code 13.
main().catch((error: unknown) => {
  reportFailure('(bootstrap)', error);
  process.exitCode = 1;
});
