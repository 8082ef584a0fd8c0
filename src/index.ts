// posix-process: Python's multiprocessing.Process for Node.js, on real
// POSIX calls. The API is described in docs/api.md, the layers in
// docs/design.md, "Layers".
import { registerLaunchers } from './context.js';
import { launchers } from './launchers.js';

// Explicit, not an import side effect: the start methods become usable here.
registerLaunchers(launchers);

export * as posix from './posix.js';
export type { WaitStatus } from './binding.js';
export { BufferTooShort, ProcessError, type ProcessErrorCode } from './errors.js';
export { registerAtFork, type AtForkHooks } from './fork/atfork.js';
export { Pipe, Connection, wait, waitSync, type ConnectionOptions, type PipeOptions, type Waitable } from './connection.js';
export {
  Process,
  currentProcess,
  parentProcess,
  activeChildren,
  type ProcessOptions,
  type Target,
  type TargetRef,
} from './process.js';
export type { ParentProcess } from './parent.js';
export { setStartMethod, getStartMethod, getAllStartMethods, cpuCount, type StartMethod } from './context.js';
export { setForkserverPreload } from './forkserver/client.js';
