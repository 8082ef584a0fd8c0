// The forkserver's channel: one SOCK_SEQPACKET socketpair, so every record
// arrives whole or not at all and a bad one can be answered and skipped
// (docs/design.md, "forkserver").
//
// Caller -> server, a binary header then bytes:
//   magic u32 | kind u8 | id u32 | ...
//   BEGIN  (+ total u32, first chunk): a spawn request, its fds attached:
//          [stdin, stdout, stderr, caller's liveness read end, ...Connections]
//   MORE   (chunk): the rest of the request with that id, in order
//   SIGNAL (+ signal u32): signal that child (pipe-sentinel fallback only)
// The body: u32 length, the child's set-up as JSON (ChildSetup), then the
// spawn payload, encoded as for 'spawn' (child/wire.cts).
// Server -> caller, JSON records:
//   { t: 'started', id, pid }  + the child's sentinel fd (pidfd or pipe)
//   { t: 'exit', id, raw }     the wait status, once the server reaped it
//   { t: 'error', id, message, code?, errno?, syscall?, path? }

export const MAGIC = 0x50504653; // 'PPFS'
/**
 * The server's node flags, before the caller's execArgv (filtered as for
 * spawn). Code on huge pages where the kernel offers them: each child then
 * takes ~140 fewer page faults running it (~10% of a start+join).
 */
export const SERVER_FLAGS = ['--single-threaded', '--use-largepages=silent'];
export const KIND_BEGIN = 1;
export const KIND_MORE = 2;
export const KIND_SIGNAL = 3;
/** Bytes of header before a BEGIN record's first chunk. */
export const BEGIN_HEADER = 13;
export const MORE_HEADER = 9;
/** Largest record either side sends (well under the socket buffer). */
export const MAX_RECORD = 64 * 1024;
/** Fds of a request before its Connections. */
export const FIXED_FDS = 4;
/** SCM_MAX_FD. */
export const MAX_FDS = 253;

export type ServerMessage =
  | { t: 'started'; id: number; pid: number }
  | { t: 'exit'; id: number; raw: number }
  | { t: 'error'; id: number; message: string; code?: string; errno?: number; syscall?: string; path?: string };

/** What a spawn child gets from execve(2), chdir(2) and prctl(2): the caller's, or the Process options'. */
export interface ChildSetup {
  env: { [name: string]: string };
  cwd: string;
  /** The parentDeathSignal option (0: none). */
  deathSignal: number;
}

export function requestBody(setup: ChildSetup, payload: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(setup));
  const body = Buffer.allocUnsafe(4 + json.length + payload.length);
  body.writeUInt32BE(json.length, 0);
  json.copy(body, 4);
  body.set(payload, 4 + json.length);
  return body;
}

/** Throws on a body that does not hold a set-up (garbage on the channel). */
export function parseRequestBody(body: Buffer): { setup: ChildSetup; payload: Buffer } {
  const length = body.length >= 4 ? body.readUInt32BE(0) : -1;
  if (length < 0 || 4 + length > body.length) throw new Error(`request body of ${body.length} bytes has no set-up`);
  let setup: ChildSetup;
  try {
    setup = JSON.parse(body.subarray(4, 4 + length).toString()) as ChildSetup;
  } catch {
    throw new Error('request set-up is not JSON');
  }
  if (typeof setup?.cwd !== 'string' || typeof setup.env !== 'object' || setup.env === null || !Number.isInteger(setup.deathSignal)) {
    throw new Error('request set-up is not { env, cwd, deathSignal }');
  }
  return { setup, payload: body.subarray(4 + length) };
}

/** The records of one request: BEGIN (carrying the fds), then MORE as needed. */
export function requestRecords(id: number, body: Uint8Array): Buffer[] {
  const records: Buffer[] = [];
  const firstLen = Math.min(body.length, MAX_RECORD - BEGIN_HEADER);
  const begin = Buffer.allocUnsafe(BEGIN_HEADER + firstLen);
  begin.writeUInt32BE(MAGIC, 0);
  begin.writeUInt8(KIND_BEGIN, 4);
  begin.writeUInt32BE(id, 5);
  begin.writeUInt32BE(body.length, 9);
  begin.set(body.subarray(0, firstLen), BEGIN_HEADER);
  records.push(begin);
  for (let at = firstLen; at < body.length; at += MAX_RECORD - MORE_HEADER) {
    const chunk = body.subarray(at, Math.min(body.length, at + MAX_RECORD - MORE_HEADER));
    const more = Buffer.allocUnsafe(MORE_HEADER + chunk.length);
    more.writeUInt32BE(MAGIC, 0);
    more.writeUInt8(KIND_MORE, 4);
    more.writeUInt32BE(id, 5);
    more.set(chunk, MORE_HEADER);
    records.push(more);
  }
  return records;
}

export function signalRecord(id: number, signal: number): Buffer {
  const record = Buffer.allocUnsafe(13);
  record.writeUInt32BE(MAGIC, 0);
  record.writeUInt8(KIND_SIGNAL, 4);
  record.writeUInt32BE(id, 5);
  record.writeUInt32BE(signal, 9);
  return record;
}

export type Record =
  | { kind: typeof KIND_BEGIN; id: number; total: number; chunk: Buffer }
  | { kind: typeof KIND_MORE; id: number; chunk: Buffer }
  | { kind: typeof KIND_SIGNAL; id: number; signal: number };

/** A caller record, or the reason it is not one (with its id when readable). */
export function parseRecord(data: Buffer): Record | { error: string; id: number } {
  if (data.length < MORE_HEADER || data.readUInt32BE(0) !== MAGIC) {
    return { error: `malformed record (${data.length} bytes, no forkserver header)`, id: 0 };
  }
  const kind = data.readUInt8(4);
  const id = data.readUInt32BE(5);
  if (kind === KIND_MORE) return { kind, id, chunk: data.subarray(MORE_HEADER) };
  if (kind !== KIND_BEGIN && kind !== KIND_SIGNAL) return { error: `unknown record kind ${kind}`, id };
  if (data.length < BEGIN_HEADER) return { error: `truncated record header (${data.length} bytes)`, id };
  const value = data.readUInt32BE(9);
  if (kind === KIND_SIGNAL) return { kind, id, signal: value };
  if (value < data.length - BEGIN_HEADER) return { error: `request ${id} is longer than it says (${value} bytes)`, id };
  return { kind, id, total: value, chunk: data.subarray(BEGIN_HEADER) };
}
