// The parent's liveness pipe: created once, the write end kept (CLOEXEC)
// for the life of this process, the read end handed to every child (as its
// parentProcess().sentinel). A child's read end reaches EOF when this
// process is gone, however it died.
import { binding } from './binding.js';
import { tieFd, untieFd } from './thread-ties.js';

let liveness: { readEnd: number; writeEnd: number } | null = null;

export function livenessReadEnd(): number {
  if (liveness === null) {
    const [readEnd, writeEnd] = binding.pipe();
    liveness = { readEnd, writeEnd };
    // A worker's pipe goes with the worker: its children, forkserver
    // included, see their parent end when it ends.
    tieFd(readEnd);
    tieFd(writeEnd);
  }
  return liveness.readEnd;
}

/**
 * In a fork child: closes the inherited write end (it would keep the parent
 * "alive") and returns the read end, now this child's parent sentinel.
 */
export function dropInheritedLiveness(): number | null {
  if (liveness === null) return null;
  untieFd(liveness.writeEnd);
  untieFd(liveness.readEnd);
  binding.close(liveness.writeEnd);
  const readEnd = liveness.readEnd;
  liveness = null;
  return readEnd;
}
