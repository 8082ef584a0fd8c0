// Command-line values, read as GNU timeout(1) reads them (see docs/design.md,
// "The posix-process command"): durations are C strtod() numbers with one
// unit letter (plus our `ms`), signals are timeout's operand2sig(). Bad
// values throw commander's InvalidArgumentError, which the CLI turns into
// exit 125.
import { InvalidArgumentError } from 'commander';
import { signalName, signals } from '../posix.js';
import { INT32_MAX, realTimeSignals } from '../validate.js';

const UNITS: Readonly<Record<string, number>> = { '': 1, s: 1, m: 60, h: 3600, d: 86400, ms: 0.001 };

// The C locale's strtod() prefixes: leading white space, a sign, then a
// hexadecimal or decimal number, an infinity or a NaN. The leading zero of
// `0x` alone is a decimal 0 (strtod stops before the `x`).
const SPACE = /^[ \t\n\v\f\r]*/;
const HEX = /^([+-]?)0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP]([+-]?\d+))?/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;
const INFINITY = /^[+-]?inf(?:inity)?/i;
const NAN = /^[+-]?nan(?:\([0-9A-Za-z_]*\))?/i;

interface Parsed {
  value: number;
  /** The characters strtod() consumed. */
  length: number;
  /** strtod()'s ERANGE with a zero result: digits that are not all zero gave 0. */
  underflow: boolean;
}

function hexValue(digits: string, exponent: string | undefined): number {
  const [whole, fraction = ''] = digits.split('.');
  // 32 significant hex digits (128 bits) are more than a double holds;
  // the dropped ones go to the exponent, so that no huge mantissa is Infinity.
  const significant = `${whole}${fraction}`.replace(/^0+/, '');
  const kept = significant.slice(0, 32);
  const mantissa = Number(BigInt(`0x0${kept}`));
  const e = Number(exponent ?? 0) - 4 * fraction.length + 4 * (significant.length - kept.length);
  // In two steps: 2 ** e alone may overflow or underflow where the product does not.
  const half = Math.trunc(e / 2);
  return mantissa * 2 ** half * 2 ** (e - half);
}

/** strtod() in the C locale: the number at the start of `text`, or null. */
function strtod(text: string): Parsed | null {
  const skipped = SPACE.exec(text)![0].length;
  const rest = text.slice(skipped);
  let match: RegExpExecArray | null;
  let value: number;
  let mantissa = '';
  if ((match = HEX.exec(rest))) {
    value = (match[1] === '-' ? -1 : 1) * hexValue(match[2], match[3]);
    mantissa = match[2];
  } else if ((match = DECIMAL.exec(rest))) {
    value = Number(match[0]);
    mantissa = match[0].replace(/[eE].*/, '');
  } else if ((match = INFINITY.exec(rest))) {
    value = match[0].startsWith('-') ? -Infinity : Infinity;
  } else if ((match = NAN.exec(rest))) {
    value = NaN;
  } else {
    return null;
  }
  return { value, length: skipped + match[0].length, underflow: value === 0 && /[1-9a-fA-F]/.test(mantissa) };
}

/**
 * `1.5`, `500ms`, `2s`, `1m`, `1h`, `1d`, `2.34e+5d`, `0x10`, `inf` as
 * seconds; 0 means "no timeout". As GNU timeout: a value too large for a
 * double is Infinity (forever), a positive one too small for it (`1e-5000`)
 * is the least positive double (time out at once), a negative one is an
 * error even when it rounds to -0 (`-1e-5000`).
 */
export function parseDuration(text: string): number {
  const parsed = strtod(text);
  const unit = parsed ? text.slice(parsed.length) : '';
  if (!parsed || Number.isNaN(parsed.value) || !Object.hasOwn(UNITS, unit)) {
    throw new InvalidArgumentError(`invalid duration '${text}' (a number with an optional unit: ms, s, m, h, d)`);
  }
  // Rounded away from zero as GNU's dtimespec_bound() does, so that an
  // underflow still times out (or, negative, is still refused).
  const value = parsed.underflow ? Math.sign(1 / parsed.value) * Number.MIN_VALUE : parsed.value;
  if (!(value >= 0)) throw new InvalidArgumentError(`invalid duration '${text}' (a duration cannot be negative)`);
  if (value === 0) return 0; // also -0
  return Math.max(value * UNITS[unit], Number.MIN_VALUE); // `1e-320ms` is still not "none"
}

/** The largest signal number accepted (gnulib's SIGNUM_BOUND: NSIG - 1). */
const SIGNUM_BOUND = 64;

/** strtol() of text that starts with a digit, when it reads all of it: the number, or null. */
function wholeNumber(text: string): number | null {
  return /^\d+$/.test(text) ? Number(text) : null;
}

/** gnulib str2sig() of an upper-case name without `SIG`: the number, or -1. */
function str2sig(name: string): number {
  if (/^\d/.test(name)) {
    const n = wholeNumber(name);
    return n !== null && n <= SIGNUM_BOUND ? n : -1;
  }
  if (name === 'EXIT') return 0;
  if (name === 'CLD') return signals.SIGCHLD;
  const key = `SIG${name}`;
  if (Object.hasOwn(signals, key)) return signals[key];
  const rt = realTimeSignals();
  // `RTMIN`, `RTMIN+n`, `RTMAX`, `RTMAX-n`; strtol() reads the offset, so `RTMIN 1` and `RTMIN1` pass too.
  const offset = /^(RTMIN|RTMAX)(?:[ \t\n\v\f\r]*([+-]?\d+))?$/.exec(name);
  if (rt && offset) {
    const n = Number(offset[2] ?? 0);
    if (offset[1] === 'RTMIN' && n >= 0 && n <= rt.max - rt.min) return rt.min + n;
    if (offset[1] === 'RTMAX' && n <= 0 && n >= rt.min - rt.max) return rt.max + n;
  }
  return -1;
}

/**
 * A signal as GNU timeout's -s reads it (operand2sig): a name with or
 * without `SIG` in any case (`TERM`, `sigterm`, `RTMIN+1`, `EXIT` for 0), or
 * a number, 0 included; 128+N and 256+N stand for N, as in a shell's $?
 * (`137` is KILL), as `kill -l 137` reads it.
 */
export function parseSignal(text: string): number {
  let signal: number;
  if (/^\d/.test(text)) {
    const n = wholeNumber(text);
    // strtol() into a long, then an int: a number that does not fit is refused.
    signal = n === null || n > INT32_MAX ? -1 : n & (n >= 0xff ? 0xff : 0x7f);
  } else {
    const upper = text.replace(/[a-z]+/g, (s) => s.toUpperCase());
    signal = str2sig(upper);
    if (signal < 0 && upper.startsWith('SIG')) signal = str2sig(upper.slice(3));
  }
  if (signal < 0 || signal > SIGNUM_BOUND) throw new InvalidArgumentError(`invalid signal '${text}'`);
  return signal;
}

/** The signal's name (`SIGTERM`), or `SIG<n>` for an unnamed real-time signal. */
export function nameOfSignal(n: number): string {
  return signalName(n) ?? `SIG${n}`;
}

/** The name GNU timeout's --verbose prints (sig2str): `TERM`, `RTMAX-2`, or the number (always for 0). */
export function verboseSignalName(n: number): string {
  const rt = realTimeSignals();
  if (rt && n >= rt.min && n <= rt.max) {
    const [base, delta] = n <= rt.min + Math.trunc((rt.max - rt.min) / 2) ? ['RTMIN', n - rt.min] : ['RTMAX', n - rt.max];
    return delta === 0 ? base : `${base}${delta > 0 ? '+' : ''}${delta}`;
  }
  if (n === 0) return '0';
  // sig2str's table lists POLL before its alias IO.
  if (Object.hasOwn(signals, 'SIGPOLL') && n === signals.SIGPOLL) return 'POLL';
  return signalName(n)?.replace(/^SIG/, '') ?? String(n);
}
