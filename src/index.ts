// posix-process: Python's multiprocessing.Process for Node.js, on real
// POSIX calls. See API.md for the contract.
import './forkstate.js';
import './launchers.js';

export * as posix from './posix.js';
export type { WaitStatus } from './binding.js';
export { BufferTooShort, ProcessError, type ProcessErrorCode } from './errors.js';
export { registerAtFork, type AtForkHooks } from './atfork.js';
export { Pipe, Connection, wait, waitSync, type ConnectionOptions, type PipeOptions, type Waitable } from './connection.js';
export { Process, type ProcessOptions, type Target, type TargetRef } from './process.js';
export {
  currentProcess,
  parentProcess,
  activeChildren,
  setStartMethod,
  getStartMethod,
  getAllStartMethods,
  cpuCount,
  type ParentProcess,
  type StartMethod,
} from './context.js';
