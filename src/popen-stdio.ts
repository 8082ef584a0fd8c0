// The `stdio` option: which fd each of the child's first fds gets.
// 'inherit' = the same fd of this process, 'ignore' = /dev/null, a number =
// that fd of this process, 'pipe' = one end of a pipe (fds 0-2) or of a
// socketpair (higher fds) whose other end becomes a Node stream on the
// Process (stdin writable, stdout/stderr readable, higher fds duplex).
import { openSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import { binding } from './binding.js';
import { invalidArgType, invalidArgValue } from './errors.js';
import { PipeReader } from './pipe-reader.js';
import { validateFd } from './validate.js';

export type StdioEntry = 'inherit' | 'ignore' | 'pipe' | number;
export type StdioOption = 'inherit' | 'ignore' | 'pipe' | StdioEntry[];

const WORDS = ['inherit', 'ignore', 'pipe'];

export function validateStdio(value: unknown, name: string): StdioEntry[] | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') {
    if (!WORDS.includes(value)) throw invalidArgValue(name, value, "must be 'inherit', 'ignore', 'pipe' or an array");
    const word = value as StdioEntry;
    return [word, word, word];
  }
  if (!Array.isArray(value)) throw invalidArgType(name, "one of type string or an instance of Array", value);
  if (value.length > 1024) throw invalidArgValue(name, value.length, 'must have at most 1024 entries');
  return value.map((entry: unknown, i) => {
    if (typeof entry === 'number') return validateFd(entry, `${name}[${i}]`);
    if (typeof entry === 'string' && WORDS.includes(entry)) return entry as StdioEntry;
    if (typeof entry === 'string') throw invalidArgValue(`${name}[${i}]`, entry, "must be 'inherit', 'ignore', 'pipe' or an fd");
    throw invalidArgType(`${name}[${i}]`, 'of type string or number', entry);
  });
}

// One /dev/null for every child (CLOEXEC, as libuv opens every file).
let devNull: number | null = null;

export function devNullFd(): number {
  devNull ??= openSync('/dev/null', 'r+');
  return devNull;
}

export interface PreparedStdio {
  /** Child fd i gets this process's fd fds[i]. */
  fds: number[];
  /** Our ends of 'pipe' entries, by child fd. */
  pipes: Map<number, number>;
  /** Fds to close in this process once the child has them (the child ends). */
  childEnds: number[];
}

// [ours, the child's] for a 'pipe' entry. fds 0-2 go one way, so a pipe:
// per child it is ~20 us cheaper than a socketpair (creating, closing,
// and node guessing its type for the net.Socket: one fstat, against fstat,
// getsockname and getsockopt); docs/design.md, "Throughput: the per-child
// path". Higher fds are read and written by both: a socketpair.
function pipeEnds(childFd: number): [number, number] {
  if (childFd > 2) return binding.socketpair();
  const [readEnd, writeEnd] = binding.pipe();
  return childFd === 0 ? [writeEnd, readEnd] : [readEnd, writeEnd];
}

/** Turns the entries into an fd map; `entries` null: stdin /dev/null, stdout/stderr inherited. */
export function prepareStdio(entries: StdioEntry[] | null): PreparedStdio {
  const list = entries ?? ['ignore', 'inherit', 'inherit'];
  const prepared: PreparedStdio = { fds: [], pipes: new Map(), childEnds: [] };
  try {
    list.forEach((entry, i) => {
      if (entry === 'inherit') prepared.fds.push(i);
      else if (entry === 'ignore') prepared.fds.push(devNullFd());
      else if (typeof entry === 'number') prepared.fds.push(entry);
      else {
        const [ours, theirs] = pipeEnds(i);
        prepared.pipes.set(i, ours);
        prepared.childEnds.push(theirs);
        prepared.fds.push(theirs);
      }
    });
  } catch (error) {
    releaseStdio(prepared, true);
    throw error;
  }
  return prepared;
}

/** Closes the child ends (after spawn) and, on failure, our ends too. */
export function releaseStdio(prepared: PreparedStdio, failed: boolean): void {
  for (const fd of prepared.childEnds) binding.close(fd);
  prepared.childEnds = [];
  if (failed) {
    for (const fd of prepared.pipes.values()) binding.close(fd);
    prepared.pipes.clear();
  }
}

// node:net's Socket, loaded on first use (a spawn child's start-up stays
// lean) and kept: a require per child is garbage on the per-child path.
let SocketClass: typeof import('node:net').Socket | null = null;

/**
 * Streams over our ends: index 0 a writable net.Socket, 1 and 2 readers
 * (pipe-reader.ts: read by the reactor, no libuv stream), others duplex
 * net.Sockets.
 */
export function openStreams(prepared: PreparedStdio): Array<Duplex | null> {
  const streams: Array<Duplex | null> = prepared.fds.map(() => null);
  if (prepared.pipes.size === 0) return streams;
  for (const [i, fd] of prepared.pipes) {
    if (i === 1 || i === 2) {
      streams[i] = new PipeReader(fd);
      continue;
    }
    SocketClass ??= (createRequire(import.meta.url)('node:net') as typeof import('node:net')).Socket;
    streams[i] = new SocketClass({ fd, readable: i !== 0, writable: true });
  }
  prepared.pipes.clear();
  return streams;
}
