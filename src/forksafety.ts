// When may this Node process fork and run JS in the child? V8's worker
// threads do not exist in a fork child, and with default flags the child
// hangs in its first GC waiting for them (DESIGN.md, "Forking a Node
// process"). With `--single-threaded` V8 posts no work to other threads.
import { isMainThread } from 'node:worker_threads';
import { ProcessError } from './errors.js';

const FLAG = '--single-threaded';

function hasFlag(args: readonly string[]): boolean {
  return args.some((arg) => arg === FLAG || arg === `${FLAG}=true`);
}

/** Why forking is unsafe here, or null when it is safe. */
export function forkUnsafeReason(): string | null {
  if (process.platform !== 'linux') return `the fork start method needs Linux (this is ${process.platform})`;
  if (!isMainThread) return 'fork is only possible from the main thread, not from a worker thread';
  const nodeOptions = (process.env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean);
  if (hasFlag(process.execArgv) || hasFlag(nodeOptions)) return null;
  return 'V8 may be running worker threads, which a forked child would not have';
}

export function assertForkSafe(): void {
  const reason = forkUnsafeReason();
  if (reason !== null) {
    throw new ProcessError(
      'ERR_FORK_UNSAFE',
      `cannot fork this Node.js process safely: ${reason}. ` +
        `Run node with --single-threaded (node --single-threaded app.js, or NODE_OPTIONS=--single-threaded), ` +
        `or use the 'spawn' start method.`,
    );
  }
}
