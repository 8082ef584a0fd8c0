// Targets for the tour's children. The spawn start method carries a target
// by reference ({ module, export }), so they live in a module of their own
// that a fresh `node` can import without side effects.
export function normal() {}

export function exits() {
  process.exit(3);
}

export function throws() {
  throw new Error('boom (this traceback is expected)');
}

export function sleeps() {
  return new Promise((resolve) => setTimeout(resolve, 30_000));
}
