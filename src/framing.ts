// Connection wire format and fd I/O: each message is a 4-byte big-endian
// length followed by a v8.serialize() payload (structured clone).
//
// Reads are exact (header, then exactly the body): a Connection's fd may be
// handed to a child at any time, and bytes read past the current message
// would be lost to it. Every blocking call tolerates O_NONBLOCK, which
// libuv's uv_poll_init sets on the open file description (shared with
// children): EAGAIN waits in poll(2) and retries, it never spins.
import { readSync, writeSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';
import { binding } from './binding.js';
import { outOfRange } from './errors.js';

const { POLLIN, POLLOUT } = binding.pollConstants;
const HEADER = 4;
const MAX_PAYLOAD = 0xffffffff;
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
export function encode(value: unknown): Buffer[] {
  let payload: Buffer;
  try {
    payload = serialize(value);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const out = new TypeError(message, { cause: error });
    throw Object.assign(out, { code: 'ERR_DATA_CLONE' });
  }
  if (payload.length > MAX_PAYLOAD) throw outOfRange('value', `at most ${MAX_PAYLOAD} bytes once serialized`, payload.length);
  const header = Buffer.allocUnsafe(HEADER);
  header.writeUInt32BE(payload.length, 0);
  return payload.length < COALESCE ? [Buffer.concat([header, payload])] : [header, payload];
}

export function decode(payload: Buffer): unknown {
  return deserialize(payload);
}

/** Writes all of `buffer`, waiting in poll(2) while the pipe is full. */
export function writeAll(fd: number, buffer: Buffer): void {
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

/** Reassembles frames from exact reads; shared by the blocking and async paths. */
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

  /** One read(2): bytes read, 0 at EOF, -1 if it would block. Throws system errors. */
  readOnce(fd: number): number {
    if (this.#broken !== undefined) throw this.#broken;
    const body = this.#body;
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
        // A length no Buffer can hold means a corrupt stream: report it on every later read too.
        try {
          this.#body = Buffer.allocUnsafe(this.#header.readUInt32BE(0));
        } catch (error) {
          this.#broken = error;
          throw error;
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
  fillSync(fd: number): void {
    while (!this.ready) {
      if (this.readOnce(fd) < 0) waitFor(fd, POLLIN);
    }
  }
}
