// Entry point of a 'spawn' child: `node [execArgv] spawn-main.js`. Reads
// the payload from fd 3 (see popen-spawn.ts), becomes the Process it
// describes (currentProcess(), parentProcess(), identity, daemon, authkey),
// rebuilds the Connections handed down in args, runs the target, and then
// lets Node finish the child's own pending work, like any Node script.
//
// Start-up cost is the point of this file: a plain target (a function or a
// module export) runs without loading the package at all. The child's
// record waits in child/record.js until the target imports the package and
// asks for currentProcess(). A Process subclass, which needs the class
// itself, loads process.js and context.js up front.
//
// Exit codes: the target returns -> 0 once the loop drains; process.exit(n)
// or process.exitCode = n -> n & 0xff; an exception or rejection -> 1 with
// `Process <name>:` and the stack on stderr; signal N -> -N (no SIGTERM or
// SIGINT handler is installed here).
import type { SelfRecord } from '../context.js';
import type { SpawnPayload } from '../popen-spawn.js';
import type { Process } from '../process.js';
import { leaveSpawnRecord } from './record.js';
import { invokeTarget, reportFailure, runAndReport, type AnyTarget } from './runtarget.js';
import { restoreConnections } from './transfer.js';

const PAYLOAD_FD = 3;

// Built-ins through getBuiltinModule, not `import`: an ESM import of a
// built-in builds a namespace of all its exports, which runs lazy getters
// (node:fs loads its promises API and streams): ~2 ms of a child's start.
const { closeSync, readFileSync, writeSync } = process.getBuiltinModule('node:fs');
const { deserialize } = process.getBuiltinModule('node:v8');

function readPayload(): SpawnPayload {
  const bytes = readFileSync(PAYLOAD_FD);
  closeSync(PAYLOAD_FD);
  return deserialize(bytes) as SpawnPayload;
}

function resolveTarget(payload: SpawnPayload): AnyTarget | null {
  const target = payload.target;
  if (target.kind === 'none') return null;
  if (target.kind === 'module') return { module: target.module, export: target.export };
  // Indirect eval: global scope, no access to this module's bindings. The
  // function must not close over variables of its original scope.
  const fn: unknown = (0, eval)(`(${target.source}\n)`);
  if (typeof fn !== 'function') throw new TypeError('the target source did not evaluate to a function');
  return fn as AnyTarget;
}

// A subclass: import it, then become an instance of it (Process's
// constructor only, then the parent's own properties, as unpickling does).
async function becomeSubclass(payload: SpawnPayload, record: SelfRecord, args: unknown[], kwargs: Record<string, unknown> | null, props: Record<string, unknown> | null): Promise<Process> {
  const { Process, restoreProcess } = await import('../process.js');
  const { becomeChild, replaceCurrent } = await import('../context.js');
  // The record is in place before the subclass's module is imported: code
  // that runs at import time already sees this child's identity.
  becomeChild(restoreProcess(Process, record, null, [], null), record);
  const cls: unknown = payload.cls === null ? Process : ((await import(payload.cls.module)) as Record<string, unknown>)[payload.cls.export];
  if (typeof cls !== 'function' || !(cls.prototype instanceof Process)) {
    throw new TypeError(`export '${payload.cls?.export}' of ${payload.cls?.module} is not a Process subclass`);
  }
  const target = resolveTarget(payload);
  const proc = restoreProcess(cls as typeof Process, record, target, args, kwargs);
  if (props !== null) Object.assign(proc, props);
  replaceCurrent(proc);
  return proc;
}

async function main(): Promise<void> {
  const payload = readPayload();
  const name = payload.name;
  // Uncaught errors outside the target (a timer, an event handler) still
  // end the child with 1 through Node's own handler; say which process.
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
    const { binding } = await import('../binding.js');
    binding.dup(payload.exitSentinelFd);
    binding.close(payload.exitSentinelFd);
  }
  let run: () => unknown;
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
    if (payload.cls !== null || props !== null) {
      const proc = await becomeSubclass(payload, record, args, kwargs, props);
      run = () => proc.run();
    } else {
      leaveSpawnRecord(record);
      const target = resolveTarget(payload);
      run = () => (target === null ? undefined : invokeTarget(target, args, kwargs));
    }
  } catch (error) {
    reportFailure(name, error);
    process.exitCode = 1;
    return;
  }
  const code = await runAndReport(name, run);
  if (code !== 0) process.exitCode = code;
}

// Not a top-level await: a target whose promise never settles, with
// nothing else pending, ends like any Node program whose loop drained
// (exit 0 or process.exitCode), not with the unsettled-TLA exit code 13.
main().catch((error: unknown) => {
  reportFailure('(bootstrap)', error);
  process.exitCode = 1;
});
