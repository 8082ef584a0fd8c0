// Connection wire format and fd I/O: each message is a 4-byte big-endian
// length followed by the payload: a v8.serialize() payload for send(), the
// bytes themselves for sendBytes() (docs/design.md, "Connections: the wire
// format and its limits").
//
// Reads are exact (header, then exactly the body): a Connection's fd may be
// handed to a child at any time, and bytes read past the current message
// would be lost to it. Every blocking call tolerates O_NONBLOCK, which
// another user of the open file description (shared with children, or a
// libuv handle) may set: EAGAIN waits in poll(2) and retries, it never spins.
import { readSync, writeSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';
import { binding } from './binding.js';
import { outOfRange, ProcessError } from './errors.js';

const { POLLIN, POLLOUT } = binding.pollConstants;
const HEADER = 4;
/** The largest payload the 4-byte header can announce. */
export const MAX_PAYLOAD = 0xffffffff;
// Below this size header and payload go out in one write(2).
const COALESCE = 64 * 1024;
// fs.readSync/writeSync take an int32 length (and Linux moves at most ~2 GiB per call).
const MAX_IO = 1 << 30;

/** Lets wait() see a message or EOF a Connection already holds (not visible to poll(2)). */
export const kBufferedReady: unique symbol = Symbol('posix-process.bufferedReady');

interface NodeSystemError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
}

/** A Node fs error reshaped like the package's system errors: `'read EPIPE'`, code, errno, syscall. */
export function systemError(error: unknown): unknown {
  const e = error as NodeSystemError;
  if (!(error instanceof Error) || typeof e.code !== 'string' || typeof e.syscall !== 'string') return error;
  const out = new Error(`${e.syscall} ${e.code}`, { cause: error });
  return Object.assign(out, { code: e.code, errno: e.errno, syscall: e.syscall });
}

function wouldBlock(error: unknown): boolean {
  const code = (error as NodeSystemError).code;
  return code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR';
}

/** Blocks in poll(2) until `fd` has one of `events` (or is hung up / in error). */
function waitFor(fd: number, events: number): void {
  binding.poll([{ fd, events }], -1);
}

/** Whether a read of `fd` would not block right now (data, EOF or error). */
export function readableNow(fd: number): boolean {
  return binding.poll([{ fd, events: POLLIN }], 0)[0] !== 0;
}

/**
 * Serializes `value` into one frame (or header + payload for big ones).
 * A value that cannot be cloned throws a TypeError with code ERR_DATA_CLONE.
 */
export function encode(value: unknown): Uint8Array[] {
  let payload: Buffer;
  try {
    payload = serialize(value);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const out = new TypeError(message, { cause: error });
    throw Object.assign(out, { code: 'ERR_DATA_CLONE' });
  }
  return frame(payload, 'value');
}

/**
 * Header + `payload`, as one chunk below COALESCE bytes, else two (no copy
 * of a big payload). `name` is the argument a too long payload is blamed on.
 */
export function frame(payload: Uint8Array, name: string): Uint8Array[] {
  if (payload.length > MAX_PAYLOAD) throw outOfRange(name, `at most ${MAX_PAYLOAD} bytes long (the wire format's limit)`, payload.length);
  const header = Buffer.allocUnsafe(HEADER);
  header.writeUInt32BE(payload.length, 0);
  return payload.length < COALESCE ? [Buffer.concat([header, payload])] : [header, payload];
}

/** multiprocessing's 'bad message length': a message is longer than the receive accepts. */
export function messageTooLong(length: number, maxLength: number): ProcessError & { length: number; maxLength: number } {
  return Object.assign(new ProcessError('ERR_MESSAGE_TOO_LONG', 'bad message length'), { length, maxLength });
}

export function decode(payload: Buffer): unknown {
  return deserialize(payload);
}

/** Writes all of `buffer`, waiting in poll(2) while the pipe is full. */
export function writeAll(fd: number, buffer: Uint8Array): void {
  let offset = 0;
  while (offset < buffer.length) {
    try {
      offset += writeSync(fd, buffer, offset, Math.min(MAX_IO, buffer.length - offset));
    } catch (error) {
      if (!wouldBlock(error)) throw systemError(error);
      waitFor(fd, POLLOUT);
    }
  }
}

/**
 * Reassembles frames from exact reads; shared by the blocking and async paths.
 * Each read takes the largest payload the receive it serves accepts: a longer
 * one is refused at its header, before its body is allocated or read.
 */
export class FrameReader {
  readonly #header = Buffer.alloc(HEADER);
  #headerFilled = 0;
  #body: Buffer | null = null;
  #bodyFilled = 0;
  #broken: unknown = undefined;
  /** Complete payloads not yet handed out. */
  readonly messages: Buffer[] = [];
  /** The peer closed its end (read(2) returned 0). Permanent. */
  eof = false;
  /** EOF came in the middle of a message. */
  truncated = false;

  /** A message or EOF is waiting: a receive would not block. */
  get ready(): boolean {
    return this.messages.length > 0 || this.eof;
  }

  /**
   * A header was read whose body will not be (too long, or no memory for it):
   * the stream is out of step for good, every later read throws the same error.
   */
  get broken(): boolean {
    return this.#broken !== undefined;
  }

  /**
   * One read(2): bytes read, 0 at EOF, -1 if it would block. Throws system
   * errors, and ERR_MESSAGE_TOO_LONG for a payload over `limit` bytes.
   */
  readOnce(fd: number, limit = MAX_PAYLOAD): number {
    if (this.#broken !== undefined) throw this.#broken;
    const body = this.#body;
    // A body begun for a receive that accepted more (a fork parent's, before the fork).
    if (body !== null && body.length > limit) this.#break(messageTooLong(body.length, limit));
    let n: number;
    try {
      n = body === null
        ? readSync(fd, this.#header, this.#headerFilled, HEADER - this.#headerFilled, null)
        : readSync(fd, body, this.#bodyFilled, Math.min(MAX_IO, body.length - this.#bodyFilled), null);
    } catch (error) {
      if (wouldBlock(error)) return -1;
      throw systemError(error);
    }
    if (n === 0) {
      this.eof = true;
      this.truncated = this.#headerFilled > 0 || body !== null;
      return 0;
    }
    if (body === null) {
      this.#headerFilled += n;
      if (this.#headerFilled === HEADER) {
        const length = this.#header.readUInt32BE(0);
        if (length > limit) this.#break(messageTooLong(length, limit));
        try {
          this.#body = Buffer.allocUnsafe(length);
        } catch (error) {
          this.#break(error);
        }
        this.#bodyFilled = 0;
      }
    } else {
      this.#bodyFilled += n;
    }
    if (this.#body !== null && this.#bodyFilled === this.#body.length) {
      this.messages.push(this.#body);
      this.#body = null;
      this.#headerFilled = 0;
    }
    return n;
  }

  /** Reads (blocking) until one message or EOF is buffered. */
  fillSync(fd: number, limit = MAX_PAYLOAD): void {
    while (!this.ready) {
      if (this.readOnce(fd, limit) < 0) waitFor(fd, POLLIN);
    }
  }

  #break(error: unknown): never {
    this.#broken = error;
    throw error;
  }
}
