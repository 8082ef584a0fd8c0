// The rest of a 'spawn' child's start, for what the CommonJS bootstrap
// (spawn-main.cjs) does not do itself: the pipe-sentinel fallback,
// Connections in args/kwargs, and a Process subclass. The bootstrap has
// already read the payload, installed the uncaught-exception note and, for
// a plain target, left the child's record for currentProcess().
import type { SelfRecord } from './record.js';
import type { Process } from '../process.js';
import { invokeTarget, resolveTarget, runAsChild } from './runtarget.js';
import { restoreConnections } from './transfer.js';
import type { SpawnPayload } from './wire.cjs';

// A subclass: import it, then become an instance of it (Process's
// constructor only, then the parent's own properties, as unpickling does).
async function becomeSubclass(payload: SpawnPayload, record: SelfRecord, args: unknown[], kwargs: Record<string, unknown> | null, props: Record<string, unknown> | null): Promise<Process> {
  const { Process, becomeChild, replaceCurrent, restoreProcess } = await import('../process.js');
  // The record is in place before the subclass's module is imported: code
  // that runs at import time already sees this child's identity.
  becomeChild(restoreProcess(Process, record, null, [], null), record);
  const cls: unknown = payload.cls === null ? Process : ((await import(payload.cls.module)) as Record<string, unknown>)[payload.cls.export];
  if (typeof cls !== 'function' || !(cls.prototype instanceof Process)) {
    throw new TypeError(`export '${payload.cls?.export}' of ${payload.cls?.module} is not a Process subclass`);
  }
  const target = resolveTarget(payload.target);
  const proc = restoreProcess(cls as typeof Process, record, target, args, kwargs);
  if (props !== null) Object.assign(proc, props);
  replaceCurrent(proc);
  return proc;
}

export async function runFull(payload: SpawnPayload, record: SelfRecord): Promise<void> {
  if (payload.exitSentinelFd !== null) {
    // Pipe-sentinel fallback: our copy of the write end must not leak into
    // programs we start with child_process (it would keep our parent's
    // sentinel from seeing us end). Keep it open, but CLOEXEC.
    const { binding } = await import('../binding.js');
    binding.dup(payload.exitSentinelFd);
    binding.close(payload.exitSentinelFd);
  }
  return runAsChild(payload.name, async () => {
    // connection.js only when there are Connections: a leaner start otherwise.
    const { Connection } = payload.connections.length > 0 ? await import('../connection.js') : { Connection: null };
    const connections = payload.connections.map((slot) =>
      new Connection!(slot.fd, { readable: slot.readable, writable: slot.writable, maxMessageSize: slot.maxMessageSize }),
    );
    const args = restoreConnections(payload.args, connections) as unknown[];
    const kwargs = restoreConnections(payload.kwargs, connections) as Record<string, unknown> | null;
    const props = restoreConnections(payload.props, connections) as Record<string, unknown> | null;
    if (payload.cls !== null || props !== null) {
      const proc = await becomeSubclass(payload, record, args, kwargs, props);
      return () => proc.run();
    }
    const target = resolveTarget(payload.target);
    return () => (target === null ? undefined : invokeTarget(target, args, kwargs));
  });
}
