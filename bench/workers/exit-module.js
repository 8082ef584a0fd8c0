// The smallest child_process.fork() target: a module that does nothing, so
// the child exits as soon as Node has started and loaded it.
