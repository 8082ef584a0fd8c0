// The package's errors: ProcessError for misuse (multiprocessing's messages,
// stable codes), and Node-shaped TypeError/RangeError for bad arguments.
import { getSystemErrorName, inspect } from 'node:util';

export type ProcessErrorCode =
  | 'ERR_PROCESS_CLOSED'
  | 'ERR_PROCESS_STARTED'
  | 'ERR_PROCESS_NOT_STARTED'
  | 'ERR_PROCESS_NOT_CHILD'
  | 'ERR_PROCESS_RUNNING'
  | 'ERR_DAEMON_CHILDREN'
  | 'ERR_FORK_UNSAFE'
  | 'ERR_START_METHOD_UNSUPPORTED'
  | 'ERR_START_METHOD_SET'
  | 'ERR_TARGET_NOT_TRANSFERABLE'
  | 'ERR_CONNECTION_CLOSED'
  | 'ERR_CONNECTION_READ_ONLY'
  | 'ERR_CONNECTION_WRITE_ONLY'
  | 'ERR_MESSAGE_TOO_LONG'
  | 'ERR_BUFFER_TOO_SHORT'
  | 'ERR_PARENT_DEATH_SIGNAL_THREAD'
  | 'ERR_FORKSERVER_DIED';

/** Misuse of a Process or of the library, with a stable `code`. */
export class ProcessError extends Error {
  readonly code: ProcessErrorCode;

  constructor(code: ProcessErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  override get name(): string {
    return 'ProcessError';
  }
}

/**
 * A received message does not fit the buffer given to recvBytesInto(); the
 * message was consumed and `data` holds all of it (multiprocessing's
 * BufferTooShort, whose argument is the message).
 */
export class BufferTooShort extends ProcessError {
  readonly data: Buffer;

  constructor(data: Buffer, message = `message of ${data.length} bytes does not fit in the buffer`) {
    super('ERR_BUFFER_TOO_SHORT', message);
    this.data = data;
  }

  override get name(): string {
    return 'BufferTooShort';
  }
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return ` Received ${value}`;
  if (typeof value === 'function') return ` Received function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const ctor = (value as object).constructor;
    return ctor?.name ? ` Received an instance of ${ctor.name}` : ` Received ${inspect(value, { depth: -1 })}`;
  }
  let shown = inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return ` Received type ${typeof value} (${shown})`;
}

export function withCode<E extends Error>(error: E, code: string): E {
  Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  return error;
}

/** `The "name" argument must be of type T. Received ...` (Node's wording). */
export function invalidArgType(name: string, expected: string, actual: unknown): TypeError {
  const what = name.includes('.') ? 'property' : 'argument';
  return withCode(new TypeError(`The "${name}" ${what} must be ${expected}.${describe(actual)}`), 'ERR_INVALID_ARG_TYPE');
}

export function outOfRange(name: string, range: string, actual: unknown): RangeError {
  return withCode(
    new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${inspect(actual)}`),
    'ERR_OUT_OF_RANGE',
  );
}

export function invalidArgValue(name: string, actual: unknown, reason = 'is invalid'): RangeError {
  const what = name.includes('.') ? 'property' : 'argument';
  return withCode(new RangeError(`The ${what} '${name}' ${reason}. Received ${inspect(actual)}`), 'ERR_INVALID_ARG_VALUE');
}

export function unknownSignal(signal: unknown): TypeError {
  return withCode(new TypeError(`Unknown signal: ${String(signal)}`), 'ERR_UNKNOWN_SIGNAL');
}

/** A Node-shaped system error (`read EIO`, code, errno, syscall) for a negative errno from the binding. */
export function systemError(errno: number, syscall: string): Error {
  const code = getSystemErrorName(errno);
  const error = new Error(`${syscall} ${code}`) as NodeJS.ErrnoException;
  error.errno = errno;
  error.code = code;
  error.syscall = syscall;
  return error;
}
