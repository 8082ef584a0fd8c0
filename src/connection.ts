// Pipe() and Connection: multiprocessing.connection over a socketpair
// (duplex) or a pipe (one-way), carrying structured-clone messages
// (framing.ts). send() and recvSync() block like CPython's; recv() waits on
// the event loop (watch.ts) and never blocks it.
//
// Errors (API.md is silent on these; CPython's wording where it has one):
// - ProcessError ERR_CONNECTION_CLOSED 'handle is closed': any use after close()
//   (pending recv() promises reject with it when close() is called).
// - ProcessError ERR_CONNECTION_WRITE_ONLY 'connection is write-only': recv*/poll on a write end;
//   ERR_CONNECTION_READ_ONLY 'connection is read-only': send on a read end.
// - Error code 'EOF' (CPython's EOFError): receiving after the peer closed its end;
//   message 'got end of file during message' when the peer closed mid-message.
// - TypeError code ERR_DATA_CLONE from send(): the value cannot be structured-cloned.
// - System errors ('write EPIPE', code, errno, syscall) from the underlying read/write.
//
// After a fork (fork start method, posix.fork()) the child inherits the same
// Connection objects and fds. A readiness subscription made in the parent
// may be dead there (watch.ts drops inherited poll handles in the child) or
// still sit in the inherited registry: the child's copy forgets it without
// cancelling it, ignores its callbacks, and forgets the parent's pending
// recv() promises too (they belong to the parent's code and stay unsettled
// in the child). Bytes of a partly read message stay buffered. The only
// thing assumed of the fork side is that at-fork afterInChild hooks run.
import { inspect } from 'node:util';
import { registerAtFork } from './atfork.js';
import { binding } from './binding.js';
import { invalidArgValue, ProcessError } from './errors.js';
import { decode, encode, FrameReader, kBufferedReady, readableNow, writeAll } from './framing.js';
import { validateBoolean, validateInteger, validateObject, validateTimeout } from './validate.js';
import { waitSync } from './wait.js';
import { whenReadable, type Subscription } from './watch.js';

export { wait, waitSync, type Waitable } from './wait.js';

let forkGeneration = 0;
registerAtFork({
  // In parentheses: compiled with the module, not in every child (forkstart.ts).
  afterInChild: (function afterInChild() {
    forkGeneration++;
  }),
});

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

function eofError(truncated: boolean): Error {
  const message = truncated ? 'got end of file during message' : 'end of file: the other end of the connection is closed';
  return Object.assign(new Error(message), { code: 'EOF' });
}

export interface ConnectionOptions {
  readable?: boolean;
  writable?: boolean;
}

/** One end of a Pipe(): send/recv structured-clone messages over an fd. */
export class Connection {
  #fd: number;
  readonly #readable: boolean;
  readonly #writable: boolean;
  #closed = false;
  readonly #reader = new FrameReader();
  #pending: Pending[] = [];
  #subscription: Subscription | null = null;
  // Identifies the live subscription: a callback from an older one (made by
  // the parent before a fork, still in the inherited registry) is ignored.
  #token: object | null = null;
  #generation = forkGeneration;

  /**
   * Wraps an open fd (a stream socket or one end of a pipe); the Connection
   * owns it from now on and closes it in close(). Like CPython's
   * `Connection(handle, readable, writable)`; Pipe() is the usual way.
   */
  constructor(fd: number, options: ConnectionOptions = {}) {
    validateInteger(fd, 'fd', 0, 2 ** 31 - 1);
    validateObject(options, 'options');
    const readable = options.readable === undefined ? true : validateBoolean(options.readable, 'options.readable');
    const writable = options.writable === undefined ? true : validateBoolean(options.writable, 'options.writable');
    if (!readable && !writable) throw invalidArgValue('options', options, 'must be readable, writable or both');
    this.#fd = fd;
    this.#readable = readable;
    this.#writable = writable;
  }

  /**
   * Rebuilds a Connection around an fd a child inherited (spawn start method).
   * @internal
   */
  static fromFd(fd: number, options: ConnectionOptions = {}): Connection {
    return new Connection(fd, options);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get readable(): boolean {
    return this.#readable;
  }

  get writable(): boolean {
    return this.#writable;
  }

  /** The underlying fd. Throws ERR_CONNECTION_CLOSED after close(). */
  fileno(): number {
    this.#checkClosed();
    return this.#fd;
  }

  /** Sends `value` (structured clone); blocks while the pipe is full. */
  send(value: unknown): void {
    this.#checkClosed();
    if (!this.#writable) throw new ProcessError('ERR_CONNECTION_READ_ONLY', 'connection is read-only');
    for (const chunk of encode(value)) writeAll(this.#fd, chunk);
  }

  /** Resolves with the next message; rejects with code 'EOF' once the peer closed. Calls resolve in order. */
  recv(): Promise<unknown> {
    return new Promise((resolve, reject) => {
      try {
        this.#checkReadable();
      } catch (error) {
        reject(error);
        return;
      }
      this.#pending.push({ resolve, reject });
      this.#pump();
    });
  }

  /**
   * Blocks until the next message arrives and returns it. Pending recv()
   * calls came first, so they get the messages before this one.
   */
  recvSync(): unknown {
    this.#checkReadable();
    for (;;) {
      this.#reader.fillSync(this.#fd);
      const payload = this.#reader.messages.shift();
      if (payload === undefined) {
        const error = eofError(this.#reader.truncated);
        this.#pump();
        throw error;
      }
      const waiter = this.#pending.shift();
      if (waiter === undefined) return decode(payload);
      settle(waiter, payload);
      this.#pump();
    }
  }

  /**
   * Whether a message (or EOF) can be received without blocking, waiting up
   * to `timeout` seconds: 0 (default) or negative returns at once, null waits forever.
   */
  poll(timeout: number | null = 0): boolean {
    this.#checkReadable();
    const seconds = validateTimeout(timeout);
    if (this.#reader.ready) return true;
    return waitSync([this.#fd], seconds).length > 0;
  }

  /** Closes the fd; pending recv() calls reject with ERR_CONNECTION_CLOSED. A second call is a no-op. */
  close(): void {
    if (this.#closed) return;
    this.#checkFork();
    this.#closed = true;
    this.#subscription?.cancel();
    this.#subscription = null;
    this.#token = null;
    const pending = this.#pending;
    this.#pending = [];
    for (const waiter of pending) waiter.reject(closedError());
    binding.close(this.#fd);
  }

  /** @internal */
  [kBufferedReady](): boolean {
    return !this.#closed && this.#reader.ready;
  }

  toString(): string {
    const mode = this.#readable && this.#writable ? 'duplex' : this.#readable ? 'read-only' : 'write-only';
    return this.#closed ? `<Connection closed>` : `<Connection fd=${this.#fd} ${mode}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  #checkClosed(): void {
    if (this.#closed) throw closedError();
    this.#checkFork();
  }

  #checkReadable(): void {
    this.#checkClosed();
    if (!this.#readable) throw new ProcessError('ERR_CONNECTION_WRITE_ONLY', 'connection is write-only');
  }

  // In a fork child: drop the parent's dead subscription and waiters (see the top comment).
  #checkFork(): void {
    if (this.#generation === forkGeneration) return;
    this.#generation = forkGeneration;
    this.#subscription = null;
    this.#token = null;
    this.#pending = [];
  }

  // Hands buffered messages / EOF to waiters, then (un)subscribes to match.
  #pump(): void {
    const reader = this.#reader;
    while (this.#pending.length > 0 && reader.messages.length > 0) settle(this.#pending.shift()!, reader.messages.shift()!);
    if (this.#pending.length > 0 && reader.eof) {
      const pending = this.#pending;
      this.#pending = [];
      for (const waiter of pending) waiter.reject(eofError(reader.truncated));
    }
    if (this.#pending.length > 0 && this.#subscription === null) {
      const token = {};
      try {
        this.#subscription = whenReadable(this.#fd, () => {
          if (this.#token === token) this.#onReadable();
        });
        this.#token = token;
      } catch (error) {
        const pending = this.#pending;
        this.#pending = [];
        for (const waiter of pending) waiter.reject(error);
      }
    } else if (this.#pending.length === 0 && this.#subscription !== null) {
      this.#subscription.cancel();
      this.#subscription = null;
      this.#token = null;
    }
  }

  // The fd is readable: read while data is there and someone waits. The
  // first read cannot block; later ones are checked with poll(2) first, in
  // case another process made the shared file description blocking again.
  #onReadable(): void {
    this.#subscription = null;
    this.#token = null;
    if (this.#closed) return;
    const reader = this.#reader;
    try {
      for (let first = true; this.#pending.length > 0 && !reader.eof; first = false) {
        if (!first && !readableNow(this.#fd)) break;
        if (reader.readOnce(this.#fd) < 0) break;
        while (this.#pending.length > 0 && reader.messages.length > 0) settle(this.#pending.shift()!, reader.messages.shift()!);
      }
    } catch (error) {
      this.#pending.shift()?.reject(error);
    }
    this.#pump();
  }
}

function closedError(): ProcessError {
  return new ProcessError('ERR_CONNECTION_CLOSED', 'handle is closed');
}

function settle(waiter: Pending, payload: Buffer): void {
  let value: unknown;
  try {
    value = decode(payload);
  } catch (error) {
    waiter.reject(error);
    return;
  }
  waiter.resolve(value);
}

/**
 * A pair of connected Connections. Duplex (default): a socketpair, both ends
 * read and write. `Pipe(false)`: a pipe, [readOnlyEnd, writeOnlyEnd].
 */
export function Pipe(duplex = true): [Connection, Connection] {
  validateBoolean(duplex, 'duplex');
  if (duplex) {
    const [a, b] = binding.socketpair();
    return [new Connection(a), new Connection(b)];
  }
  const [r, w] = binding.pipe();
  return [new Connection(r, { writable: false }), new Connection(w, { readable: false })];
}
