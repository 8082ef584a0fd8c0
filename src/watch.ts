// Async readiness of fds (sentinels, pipes, sockets) on this thread's event
// loop, through the native reactor (native/poll.cc): one epoll set per
// thread, watched by one libuv handle. This registry keeps each fd's
// one-shot subscribers, so a Process reaping its child and a wait() over the
// same sentinel can both listen, and the data readers of captured output
// (popen-stdio.ts). No thread, no threadpool work, no polling loop.
import { binding } from './binding.js';
import { invalidArgValue } from './errors.js';

/** An fd watched for readiness: its subscribers, each called once. */
interface Entry {
  // Most fds have one subscriber (a child's reaper): an array, not a Set.
  subscribers: Subscriber[];
  /** How many subscribers keep the loop alive. */
  refs: number;
}

/** An fd whose data the reactor reads: one consumer. */
export interface DataSink {
  /** A chunk, null at EOF, or a negative errno; after EOF or an error the fd is no longer watched. */
  onData(chunk: Buffer | null | number): void;
}

const entries = new Map<number, Entry>();
const sinks = new Map<number, Reading>();
// Watched fds (entries and reading sinks) that keep the loop alive.
let refCount = 0;
// Deliveries so far: tells a caller whether the reactor has handed out
// readiness since it last looked (children.ts, reapAtStart()).
let deliveries = 0;

function addRefs(delta: number): void {
  const before = refCount;
  refCount += delta;
  if ((before === 0) !== (refCount === 0)) binding.reactorRef(refCount > 0);
}

function dispatch(fd: number, chunk?: Buffer | null | number): void {
  deliveries++;
  if (chunk !== undefined) {
    sinks.get(fd)?.onData(chunk);
    return;
  }
  const entry = entries.get(fd);
  if (entry === undefined) return;
  // Level-triggered: every current subscriber is called once and dropped,
  // so a readiness nobody consumes (an exited child) cannot spin.
  drop(fd, entry);
  for (const s of entry.subscribers) s.callback();
}

binding.reactorInit(dispatch);

function drop(fd: number, entry: Entry): void {
  entries.delete(fd);
  binding.reactorUnwatch(fd);
  if (entry.refs > 0) addRefs(-1);
}

function setEntryRefs(entry: Entry, refs: number): void {
  if ((entry.refs > 0) !== (refs > 0)) addRefs(refs > 0 ? 1 : -1);
  entry.refs = refs;
}

export interface Subscription {
  /** Stops listening; no-op after the callback ran. */
  cancel(): void;
  /** Whether this subscription keeps the event loop alive. */
  setRef(ref: boolean): void;
}

// One whenReadable() call: its own handle (one object per subscription).
class Subscriber implements Subscription {
  constructor(
    readonly fd: number,
    readonly callback: () => void,
    public ref: boolean,
  ) {}

  cancel(): void {
    const entry = entries.get(this.fd);
    const i = entry?.subscribers.indexOf(this) ?? -1;
    if (entry === undefined || i < 0) return;
    entry.subscribers.splice(i, 1);
    if (this.ref) setEntryRefs(entry, entry.refs - 1);
    if (entry.subscribers.length === 0) drop(this.fd, entry);
  }

  setRef(ref: boolean): void {
    if (this.ref === ref) return;
    this.ref = ref;
    const entry = entries.get(this.fd);
    if (entry === undefined || !entry.subscribers.includes(this)) return;
    setEntryRefs(entry, entry.refs + (ref ? 1 : -1));
  }
}

/**
 * Calls `callback` once, the first time `fd` is readable or hung up.
 * `ref: false` lets the process exit while waiting. Cancel every
 * subscription on an fd before closing the fd.
 */
export function whenReadable(fd: number, callback: () => void, options: { ref?: boolean } = {}): Subscription {
  // The reactor holds one registration per fd, and the stream's data would be ours to take.
  if (sinks.has(fd)) throw invalidArgValue('fd', fd, "is being read by a Process's stdout/stderr stream: wait for the stream's data instead");
  let entry = entries.get(fd);
  if (entry === undefined) {
    binding.reactorWatch(fd, false);
    entry = { subscribers: [], refs: 0 };
    entries.set(fd, entry);
  }
  const subscriber = new Subscriber(fd, callback, options.ref ?? true);
  entry.subscribers.push(subscriber);
  if (subscriber.ref) setEntryRefs(entry, entry.refs + 1);
  return subscriber;
}

/** A reading sink's handle: pause (stop reading), resume, ref/unref, stop. */
export interface DataWatch {
  pause(): void;
  resume(): void;
  setRef(ref: boolean): void;
  /** No longer read (the fd stays open: the caller closes it). */
  stop(): void;
}

// One readData() call: the watch handed to the caller, and the sink the
// reactor's chunks go through.
class Reading implements DataWatch {
  #reading = false;
  #ref = true;
  #stopped = false;

  constructor(
    readonly fd: number,
    readonly sink: DataSink,
  ) {}

  onData(chunk: Buffer | null | number): void {
    if (chunk === null || typeof chunk === 'number') this.#halt();
    this.sink.onData(chunk);
  }

  pause(): void {
    if (!this.#reading) return;
    binding.reactorUnwatch(this.fd);
    this.#halt();
  }

  resume(): void {
    if (this.#reading || this.#stopped) return;
    binding.reactorWatch(this.fd, true);
    this.#reading = true;
    sinks.set(this.fd, this);
    if (this.#ref) addRefs(1);
  }

  setRef(on: boolean): void {
    if (on === this.#ref) return;
    this.#ref = on;
    if (this.#reading) addRefs(on ? 1 : -1);
  }

  stop(): void {
    this.pause();
    this.#stopped = true;
  }

  // The reactor no longer reads it (EOF, an error, or pause()).
  #halt(): void {
    if (!this.#reading) return;
    this.#reading = false;
    sinks.delete(this.fd);
    if (this.#ref) addRefs(-1);
  }
}

/**
 * Reads `fd` (made non-blocking) as data arrives and hands each chunk to
 * `sink`, until EOF, an error or stop(). While reading it keeps the loop
 * alive unless setRef(false), as a reading net.Socket does.
 */
export function readData(fd: number, sink: DataSink): DataWatch {
  if (entries.has(fd) || sinks.has(fd)) throw new Error(`fd ${fd} is already watched`);
  const reading = new Reading(fd, sink);
  reading.resume();
  return reading;
}

/**
 * Closes `fd` that may be watched: it leaves the reactor first (the set
 * must never hold a closed fd), then its subscribers are called once, as on
 * readiness, so that they look again at what they wait for (a Process whose
 * sentinel this was reports another fd now).
 */
export function closeWatched(fd: number): void {
  const entry = entries.get(fd);
  if (entry) drop(fd, entry);
  binding.close(fd);
  if (entry) for (const s of entry.subscribers) s.callback();
}

/** The watched fds (readiness subscribers) that are readable right now: one epoll_wait, nothing called. */
export function readableNow(): Set<number> {
  return entries.size === 0 ? new Set() : new Set(binding.reactorReady());
}

/** How many times the reactor has called back so far (any fd). */
export function deliveryCount(): number {
  return deliveries;
}

/** Number of fds with an active watch (for leak tests). */
export function watchedFdCount(): number {
  return entries.size + sinks.size;
}

// A fork child inherits the parent's watches (its children's sentinels, its
// pending recv()s, its readers); their subscribers are the parent's business
// and must not fire here, and the epoll set is the parent's own kernel
// object. Drop them all (fork/atfork.ts runs this in the child); the
// child's own whenReadable() calls start afresh on a new set.
export const dropInheritedWatchers = (function dropInheritedWatchers(): void {
  binding.reactorReset(); // unreferenced, a new set
  entries.clear();
  sinks.clear();
  refCount = 0;
});
