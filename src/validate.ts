// Argument checks shared by the public API. They throw Node-shaped errors
// naming the argument (see errors.ts).
import { binding } from './binding.js';
import { invalidArgType, invalidArgValue, outOfRange, unknownSignal, withCode } from './errors.js';

/** The largest fd, pid or process group number the kernel's int can hold. */
export const INT32_MAX = 2 ** 31 - 1;

export function validateInteger(value: unknown, name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw outOfRange(name, `an integer >= ${min} and <= ${max}`, value);
  }
  return value;
}

/** A file descriptor: an integer 0..INT32_MAX. */
export function validateFd(value: unknown, name: string): number {
  return validateInteger(value, name, 0, INT32_MAX);
}

/** A process (or group) id: an integer 1..INT32_MAX (never 0 or a negative "group" form). */
export function validatePid(value: unknown, name: string): number {
  return validateInteger(value, name, 1, INT32_MAX);
}

export function validateString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  return value;
}

/**
 * A string the kernel reads as a C string, where a NUL byte would end it
 * early; `label` names it (for an array's items, the array). The addon
 * refuses one too, as a backstop, in the same words.
 */
export function validateCString(value: string, label: string): string {
  if (value.includes('\0')) {
    throw withCode(new RangeError(`The "${label}" argument must not contain null bytes`), 'ERR_INVALID_ARG_VALUE');
  }
  return value;
}

/** An array of at most `max` entries (a bound the addon keeps too). */
export function validateMaxLength<T>(value: T[], name: string, max: number): T[] {
  if (value.length > max) throw withCode(new RangeError(`The "${name}" array must have at most ${max} entries`), 'ERR_OUT_OF_RANGE');
  return value;
}

export function validateBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
  return value;
}

export function validateObject(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgType(name, 'of type object', value);
  }
  return value as Record<string, unknown>;
}

/** A child's whole environment: string values, keys neither empty nor containing '='. A copy. */
export function validateEnv(value: unknown, name: string): Record<string, string> {
  const env = validateObject(value, name);
  for (const [key, entry] of Object.entries(env)) {
    validateString(entry, `${name}.${key}`);
    if (key === '' || key.includes('=')) throw invalidArgValue(name, key, 'must not have keys that are empty or contain "="');
  }
  return { ...(env as Record<string, string>) };
}

export function validateArray(value: unknown, name: string): unknown[] {
  if (!Array.isArray(value)) throw invalidArgType(name, 'an instance of Array', value);
  return value;
}

export function validateStringArray(value: unknown, name: string): string[] {
  validateArray(value, name);
  // A plain loop, not forEach: holes must fail at the first one, not be skipped.
  const array = value as unknown[];
  for (let i = 0; i < array.length; i++) validateString(array[i], `${name}[${i}]`);
  return array as string[];
}

/**
 * A timeout in seconds, multiprocessing-style: null/undefined = forever
 * (returned as null), <= 0 = poll (returned as 0). NaN is rejected.
 */
export function validateTimeout(value: unknown, name = 'timeout'): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (Number.isNaN(value)) throw outOfRange(name, 'a number of seconds, not NaN', value);
  return value <= 0 ? 0 : value;
}

/** A signal given as a number or a name (`'SIGTERM'`), as its number. */
export function toSignalNumber(signal: unknown, name = 'signal', allowZero = true): number {
  if (typeof signal === 'string') {
    if (Object.hasOwn(binding.signals, signal)) return binding.signals[signal];
    const n = realTimeSignalNumber(signal);
    if (n === null) throw unknownSignal(signal);
    return n;
  }
  if (typeof signal !== 'number') throw invalidArgType(name, 'of type number or string', signal);
  return validateInteger(signal, name, allowZero ? 0 : 1, 64);
}

let rtRange: { min: number; max: number } | null | undefined;

/** The C library's real-time signal range (glibc's SIGRTMIN is 34, not the kernel's 32), from signalName()'s names. */
export function realTimeSignals(): { min: number; max: number } | null {
  if (rtRange === undefined) {
    let min = 0;
    let max = 0;
    for (let n = 1; n <= 64; n++) {
      const sig = binding.signalName(n);
      if (sig === 'SIGRTMIN') min = n;
      if (min > 0 && sig?.startsWith('SIGRTMIN')) max = n;
    }
    rtRange = min > 0 ? { min, max } : null;
  }
  return rtRange;
}

/** `SIGRTMIN`, `SIGRTMIN+n` (as signalName() writes them), `SIGRTMAX`, `SIGRTMAX-n`: the number, or null. */
function realTimeSignalNumber(text: string): number | null {
  const match = /^SIGRT(MIN|MAX)(?:([+-])(0|[1-9]\d?))?$/.exec(text);
  const rt = realTimeSignals();
  if (match === null || rt === null) return null;
  const offset = match[2] === undefined ? 0 : Number(match[3]);
  if (match[1] === 'MIN' && match[2] !== '-' && offset <= rt.max - rt.min) return rt.min + offset;
  if (match[1] === 'MAX' && match[2] !== '+' && offset <= rt.max - rt.min) return rt.max - offset;
  return null;
}

/** Bytes to send or receive into: a Buffer, TypedArray, DataView or ArrayBuffer. */
export type BytesLike = ArrayBufferView | ArrayBufferLike;

/** A byte view over the same memory as `value` (offsets count bytes, whatever the element size). */
export function validateBytes(value: unknown, name: string): Uint8Array {
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return new Uint8Array(value);
  throw invalidArgType(name, 'an instance of ArrayBuffer, Buffer, TypedArray, or DataView', value);
}
