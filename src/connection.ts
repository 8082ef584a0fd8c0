// Pipe() and Connection: multiprocessing.connection over a socketpair
// (duplex) or a pipe (one-way), carrying structured-clone messages and raw
// bytes in one framing (framing.ts). send*() and recv*Sync() block like
// CPython's; recv*() wait on the event loop (watch.ts) and never block it.
//
// Errors (docs/api.md, "Pipe() and Connection" and "Errors"; CPython's wording where it has one):
// - ProcessError ERR_CONNECTION_CLOSED 'handle is closed': any use after close()
//   (pending recv() promises reject with it when close() is called).
// - ProcessError ERR_CONNECTION_WRITE_ONLY 'connection is write-only': recv*/poll on a write end;
//   ERR_CONNECTION_READ_ONLY 'connection is read-only': send on a read end.
// - Error code 'EOF' (CPython's EOFError): receiving after the peer closed its end;
//   message 'got end of file during message' when the peer closed mid-message.
// - TypeError code ERR_DATA_CLONE from send(): the value cannot be structured-cloned.
// - ProcessError ERR_MESSAGE_TOO_LONG 'bad message length': a message longer
//   than recvBytes(maxLength) or the connection's maxMessageSize, refused at
//   its header; the connection then stops reading (see #stopReading).
// - BufferTooShort (ERR_BUFFER_TOO_SHORT) from recvBytesInto(): the message,
//   consumed, is its `data`; the connection goes on.
// - recv() of a sendBytes() message decodes the bytes as v8.serialize()
//   output (v8.deserialize's Error if they are not one; the connection goes
//   on); recvBytes() of a send() message gives its v8.serialize() bytes.
// - System errors ('write EPIPE', code, errno, syscall) from the underlying read/write.
//
// After a fork (fork start method, posix.fork()) the child inherits the same
// Connection objects and fds. A readiness subscription made in the parent
// may be dead there (watch.ts drops the inherited watches in the child) or
// still sit in the inherited registry: the child's copy forgets it without
// cancelling it, ignores its callbacks, and forgets the parent's pending
// recv() promises too (they belong to the parent's code and stay unsettled
// in the child). Bytes of a partly read message stay buffered. The only
// thing assumed of the fork side is that at-fork afterInChild hooks run.
import { inspect } from 'node:util';
import { forkGeneration } from './fork/state.js';
import { binding } from './binding.js';
import { BufferTooShort, invalidArgValue, ProcessError } from './errors.js';
import { decode, encode, frame, FrameReader, kBufferedReady, MAX_PAYLOAD, readableNow, writeAll } from './framing.js';
import { validateBoolean, validateBytes, validateFd, validateInteger, validateObject, validateTimeout, type BytesLike } from './validate.js';
import { waitSync } from './wait.js';
import { whenReadable, type Subscription } from './watch.js';

export { wait, waitSync, type Waitable } from './wait.js';


/** One receive: the largest payload it accepts and what it makes of the payload. */
interface Receiver<T = unknown> {
  limit: number;
  /** The result; may throw (an undecodable payload, BufferTooShort). */
  take(payload: Buffer): T;
}

interface Pending extends Receiver {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

function eofError(truncated: boolean): Error {
  const message = truncated ? 'got end of file during message' : 'end of file: the other end of the connection is closed';
  return Object.assign(new Error(message), { code: 'EOF' });
}

export interface PipeOptions {
  /**
   * The longest message (payload bytes) a receive accepts: a longer one is
   * refused at its header, before anything is allocated, with
   * ERR_MESSAGE_TOO_LONG. Default 4294967295, the wire format's own limit.
   */
  maxMessageSize?: number;
}

export interface ConnectionOptions extends PipeOptions {
  readable?: boolean;
  writable?: boolean;
}

function validateMaxMessageSize(options: PipeOptions): number {
  const maxMessageSize: unknown = options.maxMessageSize;
  return maxMessageSize === undefined ? MAX_PAYLOAD : validateInteger(maxMessageSize, 'options.maxMessageSize', 0, MAX_PAYLOAD);
}

/** One end of a Pipe(): structured-clone messages and raw bytes over an fd. */
export class Connection {
  #fd: number;
  #readable: boolean;
  readonly #writable: boolean;
  readonly #maxMessageSize: number;
  #closed = false;
  readonly #reader = new FrameReader();
  #pending: Pending[] = [];
  #subscription: Subscription | null = null;
  // Identifies the live subscription: a callback from an older one (made by
  // the parent before a fork, still in the inherited registry) is ignored.
  #token: object | null = null;
  #generation = forkGeneration();

  /**
   * Wraps an open fd (a stream socket or one end of a pipe); the Connection
   * owns it from now on and closes it in close(). Like CPython's
   * `Connection(handle, readable, writable)`; Pipe() is the usual way.
   */
  constructor(fd: number, options: ConnectionOptions = {}) {
    validateFd(fd, 'fd');
    validateObject(options, 'options');
    const readable = options.readable === undefined ? true : validateBoolean(options.readable, 'options.readable');
    const writable = options.writable === undefined ? true : validateBoolean(options.writable, 'options.writable');
    if (!readable && !writable) throw invalidArgValue('options', options, 'must be readable, writable or both');
    this.#maxMessageSize = validateMaxMessageSize(options);
    this.#fd = fd;
    this.#readable = readable;
    this.#writable = writable;
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

  /** The longest message a receive accepts (options.maxMessageSize). */
  get maxMessageSize(): number {
    return this.#maxMessageSize;
  }

  /** The underlying fd. Throws ERR_CONNECTION_CLOSED after close(). */
  fileno(): number {
    this.#checkClosed();
    return this.#fd;
  }

  /** Sends `value` (structured clone); blocks while the pipe is full. */
  send(value: unknown): void {
    this.#checkWritable();
    for (const chunk of encode(value)) writeAll(this.#fd, chunk);
  }

  /**
   * Sends `size` bytes of `buf` from byte `offset` (default: all of it) as
   * one message; blocks while the pipe is full, like send().
   */
  sendBytes(buf: BytesLike, offset = 0, size: number | null = null): void {
    this.#checkWritable();
    const bytes = validateBytes(buf, 'buf');
    validateInteger(offset, 'offset', 0, bytes.length);
    const length = size === null || size === undefined ? bytes.length - offset : validateInteger(size, 'size', 0, bytes.length - offset);
    for (const chunk of frame(bytes.subarray(offset, offset + length), 'size')) writeAll(this.#fd, chunk);
  }

  /** Resolves with the next message; rejects with code 'EOF' once the peer closed. Calls resolve in order. */
  recv(): Promise<unknown> {
    return this.#receive(() => this.#valueReceiver());
  }

  /**
   * Blocks until the next message arrives and returns it. Pending recv()
   * calls came first, so they get the messages before this one.
   */
  recvSync(): unknown {
    return this.#receiveSync(() => this.#valueReceiver());
  }

  /**
   * Resolves with the next message's bytes. A message longer than
   * `maxLength` (default: no limit but maxMessageSize) rejects with
   * ERR_MESSAGE_TOO_LONG and the connection stops reading.
   */
  recvBytes(maxLength: number | null = null): Promise<Buffer> {
    return this.#receive(() => this.#bytesReceiver(maxLength));
  }

  /** recvBytes(), blocking. */
  recvBytesSync(maxLength: number | null = null): Buffer {
    return this.#receiveSync(() => this.#bytesReceiver(maxLength));
  }

  /**
   * Receives the next message into `buf` at byte `offset`; resolves with its
   * length. A message that does not fit rejects with BufferTooShort, whose
   * `data` is the whole message.
   */
  recvBytesInto(buf: BytesLike, offset = 0): Promise<number> {
    return this.#receive(() => this.#intoReceiver(buf, offset));
  }

  /** recvBytesInto(), blocking. */
  recvBytesIntoSync(buf: BytesLike, offset = 0): number {
    return this.#receiveSync(() => this.#intoReceiver(buf, offset));
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
    if (!this.#readable) throw writeOnlyError();
  }

  #checkWritable(): void {
    this.#checkClosed();
    if (!this.#writable) throw new ProcessError('ERR_CONNECTION_READ_ONLY', 'connection is read-only');
  }

  #valueReceiver(): Receiver {
    return { limit: this.#maxMessageSize, take: decode };
  }

  #bytesReceiver(maxLength: number | null | undefined): Receiver<Buffer> {
    const limit = maxLength === null || maxLength === undefined ? this.#maxMessageSize : validateInteger(maxLength, 'maxLength', 0);
    return { limit: Math.min(limit, this.#maxMessageSize), take: (payload) => payload };
  }

  #intoReceiver(buf: BytesLike, offset: number): Receiver<number> {
    const target = validateBytes(buf, 'buf');
    validateInteger(offset, 'offset', 0, target.length);
    return {
      // The whole message is read whatever its size (it goes into BufferTooShort's data if it does not fit).
      limit: this.#maxMessageSize,
      take: (payload) => {
        // Measured now: an async receive's buffer may have been detached meanwhile.
        const room = Math.max(0, target.length - offset);
        if (payload.length > room) {
          throw new BufferTooShort(payload, `message of ${payload.length} bytes does not fit in the buffer (${room} bytes from offset ${offset})`);
        }
        target.set(payload, offset);
        return payload.length;
      },
    };
  }

  // Async receives report everything, misuse and bad arguments too, by rejecting.
  #receive<T>(makeReceiver: () => Receiver<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      let receiver: Receiver<T>;
      try {
        this.#checkReadable();
        receiver = makeReceiver();
      } catch (error) {
        reject(error);
        return;
      }
      this.#pending.push({ ...receiver, resolve: resolve as (value: unknown) => void, reject });
      this.#pump();
    });
  }

  // Pending async receives were made first: they get the messages before this one.
  #receiveSync<T>(makeReceiver: () => Receiver<T>): T {
    this.#checkReadable();
    const receiver = makeReceiver();
    for (;;) {
      const waiter = this.#pending[0];
      try {
        this.#reader.fillSync(this.#fd, (waiter ?? receiver).limit);
      } catch (error) {
        if (!this.#reader.broken) throw error;
        // The refused message was the waiter's: it gets the error, this call what comes after.
        if (waiter !== undefined) this.#pending.shift()!.reject(error);
        this.#stopReading();
        throw waiter === undefined ? error : this.#closed ? closedError() : writeOnlyError();
      }
      const payload = this.#reader.messages.shift();
      if (payload === undefined) {
        const error = eofError(this.#reader.truncated);
        this.#pump();
        throw error;
      }
      if (waiter === undefined) return receiver.take(payload);
      settle(this.#pending.shift()!, payload);
      this.#pump();
    }
  }

  // The stream is out of step for good (a header was read, its body will
  // not be): as CPython's _bad_message_length, a duplex connection stops
  // reading (it is write-only from now on), a read-only one is closed.
  #stopReading(): void {
    if (!this.#writable) {
      this.close();
      return;
    }
    this.#readable = false;
    this.#subscription?.cancel();
    this.#subscription = null;
    this.#token = null;
    const pending = this.#pending;
    this.#pending = [];
    for (const waiter of pending) waiter.reject(writeOnlyError());
  }

  // In a fork child: drop the parent's dead subscription and waiters (see the top comment).
  #checkFork(): void {
    if (this.#generation === forkGeneration()) return;
    this.#generation = forkGeneration();
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
        if (reader.readOnce(this.#fd, this.#pending[0]!.limit) < 0) break;
        while (this.#pending.length > 0 && reader.messages.length > 0) settle(this.#pending.shift()!, reader.messages.shift()!);
      }
    } catch (error) {
      this.#pending.shift()?.reject(error);
      if (reader.broken) this.#stopReading();
    }
    this.#pump();
  }
}

function closedError(): ProcessError {
  return new ProcessError('ERR_CONNECTION_CLOSED', 'handle is closed');
}

function writeOnlyError(): ProcessError {
  return new ProcessError('ERR_CONNECTION_WRITE_ONLY', 'connection is write-only');
}

function settle(waiter: Pending, payload: Buffer): void {
  let value: unknown;
  try {
    value = waiter.take(payload);
  } catch (error) {
    waiter.reject(error);
    return;
  }
  waiter.resolve(value);
}

/**
 * A pair of connected Connections. Duplex (default): a socketpair, both ends
 * read and write. `Pipe(false)`: a pipe, [readOnlyEnd, writeOnlyEnd].
 * `options.maxMessageSize` applies to both ends.
 */
export function Pipe(duplex = true, options: PipeOptions = {}): [Connection, Connection] {
  validateBoolean(duplex, 'duplex');
  validateObject(options, 'options');
  const maxMessageSize = validateMaxMessageSize(options);
  if (duplex) {
    const [a, b] = binding.socketpair();
    return [new Connection(a, { maxMessageSize }), new Connection(b, { maxMessageSize })];
  }
  const [r, w] = binding.pipe();
  return [new Connection(r, { writable: false, maxMessageSize }), new Connection(w, { readable: false, maxMessageSize })];
}
