// Per-process state that Node caches in JS and a fork child inherits stale
// (DESIGN.md, "Forking a Node process", item 5). Fixed by at-fork hooks the
// library registers itself, through the same registry users get.
import { binding } from './binding.js';
import { registerAtFork } from './atfork.js';

registerAtFork({
  afterInChild() {
    Object.defineProperty(process, 'pid', { value: binding.getpid(), writable: false, enumerable: true, configurable: true });
    Object.defineProperty(process, 'ppid', { get: () => binding.getppid(), enumerable: true, configurable: true });
  },
});
