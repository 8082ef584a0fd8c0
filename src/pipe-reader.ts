// The readable end of a 'pipe' for a child's stdout or stderr: a Duplex
// whose data the reactor reads (watch.ts readData), with no libuv stream
// under it. A net.Socket over the same pipe costs a handle, its JS wrapper
// and libuv's read path per child; this costs one epoll registration
// (docs/design.md, "Throughput: the per-child path"). Readable only: the
// writable side is ended from the start, as for a net.Socket made with
// `writable: false`.
import { Duplex, type DuplexOptions } from 'node:stream';
import { binding } from './binding.js';
import { systemError } from './errors.js';
import { tieFd, untieFd } from './thread-ties.js';
import { readData, type DataWatch } from './watch.js';

// Node's Duplex takes `writable: false` (the writable side ends at once);
// @types/node does not list it.
const READ_ONLY: DuplexOptions & { writable: boolean } = { writable: false };

export class PipeReader extends Duplex {
  #fd: number;
  #watch: DataWatch | null = null;

  /** Takes `fd` over: it is read until EOF and closed when the stream is destroyed. */
  constructor(fd: number) {
    super(READ_ONLY);
    this.#fd = fd;
    // A worker thread that ends (even by terminate()) closes it, as node
    // closes a net.Socket's handle then.
    tieFd(fd);
    // Reading starts now, as a net.Socket's does: a child that writes is
    // drained into the buffer (up to the high-water mark) before anyone listens.
    try {
      this.#watch = readData(fd, this);
    } catch (error) {
      // epoll_ctl out of resources: the stream errors, as streams do, and
      // start() still returns (the child runs and must be joined).
      process.nextTick(() => this.destroy(error as Error));
    }
  }

  /** The fd being read; -1 once the stream is destroyed. */
  get fd(): number {
    return this.#fd;
  }

  /** From the reactor: a chunk, null at EOF, or a negative errno. */
  onData(chunk: Buffer | null | number): void {
    if (typeof chunk === 'number') {
      this.#watch = null;
      this.destroy(systemError(chunk, 'read'));
      return;
    }
    if (chunk === null) this.#watch = null;
    if (!this.push(chunk)) this.#watch?.pause();
  }

  override _read(): void {
    this.#watch?.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#watch?.stop();
    this.#watch = null;
    if (this.#fd >= 0) {
      untieFd(this.#fd);
      binding.close(this.#fd);
    }
    this.#fd = -1;
    callback(error);
  }

  /** Keeps the event loop alive while reading (the default), as net.Socket's ref(). */
  ref(): this {
    this.#watch?.setRef(true);
    return this;
  }

  /** Lets the process exit while this stream waits for data, as net.Socket's unref(). */
  unref(): this {
    this.#watch?.setRef(false);
    return this;
  }
}
