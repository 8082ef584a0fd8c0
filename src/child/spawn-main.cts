// Entry point of a 'spawn' child: `node [execArgv] spawn-main.cjs`. Reads
// the payload from fd 3 (see popen-spawn.ts and wire.cts), becomes the
// Process it describes (currentProcess(), parentProcess(), identity,
// daemon, authkey), runs the target, and then lets Node finish the child's
// own pending work, like any Node script.
//
// Start-up cost is the point of this file. It is CommonJS: an ES module
// entry alone costs Node's ESM loader (~2.5 ms of a ~55 ms start). The
// common case, a plain target (a function or a module export) with no
// Connections in its args and a pidfd sentinel, runs from here without
// loading the package: the child's record waits in a global slot until the
// target imports the package and asks for currentProcess(). Connections,
// a Process subclass and the pipe-sentinel fallback continue in
// spawn-full.js, an ES module like the rest of the package.
//
// Exit codes: the target returns -> 0 once the loop drains; process.exit(n)
// or process.exitCode = n -> n & 0xff; an exception or rejection -> 1 with
// `Process <name>:` and the stack on stderr; signal N -> -N (no SIGTERM or
// SIGINT handler is installed here).
import { closeSync, readFileSync, writeSync } from 'node:fs';
import type { SelfRecord } from './record.js' with { 'resolution-mode': 'import' };
import type * as Full from './spawn-full.js' with { 'resolution-mode': 'import' };
import { invokeTarget, reportFailure, resolveTarget, runAsChild } from './target.cjs';
import { decodePayload, type SpawnPayload } from './wire.cjs';

const PAYLOAD_FD = 3;

// Where process.ts's currentProcess() finds this child's record (read and
// cleared by child/record.ts's takeSpawnRecord). A global slot, not a
// module variable: this file cannot share ES module state without loading
// the ESM loader.
const RECORD_SLOT = Symbol.for('posix-process.spawnRecord');

function readPayload(): SpawnPayload {
  const bytes = readFileSync(PAYLOAD_FD);
  closeSync(PAYLOAD_FD);
  return decodePayload(bytes);
}

/**
 * Becomes the Process `payload` describes and runs its target; the process
 * then ends when its loop drains. Also the forkserver child's way in
 * (forkserver/server.ts), with the payload's fds renumbered to its own.
 */
export async function runPayload(payload: SpawnPayload): Promise<void> {
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
  const record: SelfRecord = {
    name,
    identity: payload.identity,
    daemon: payload.daemon,
    authkey: Buffer.from(payload.authkey, 'hex'),
    parentPid: payload.parentPid,
    parentName: payload.parentName,
    parentSentinel: payload.parentSentinel,
  };
  const subclass = payload.cls !== null || payload.props !== null;
  // A subclass instance becomes currentProcess() in spawn-full.js instead.
  if (!subclass) Object.defineProperty(globalThis, RECORD_SLOT, { value: record, configurable: true });
  if (subclass || payload.connections.length > 0 || payload.exitSentinelFd !== null) {
    const { runFull } = (await import('./spawn-full.js')) as typeof Full;
    return runFull(payload, record);
  }
  return runAsChild(name, () => {
    const target = resolveTarget(payload.target);
    const args = payload.args as unknown[];
    const kwargs = payload.kwargs as Record<string, unknown> | null;
    return () => (target === null ? undefined : invokeTarget(target, args, kwargs));
  });
}

// Not a top-level await (nor an ES module's): a target whose promise never
// settles, with nothing else pending, ends like any Node program whose loop
// drained (exit 0 or process.exitCode).
// Only as the entry point: the forkserver loads this file for runPayload.
if (require.main === module) {
  runPayload(readPayload()).catch((error: unknown) => {
    reportFailure('(bootstrap)', error);
    process.exitCode = 1;
  });
}
