// Command-line values: durations (GNU timeout's DURATION plus `ms`) and
// signals (GNU's forms: `KILL`, `SIGKILL`, `kill`, `9`). Bad values throw
// commander's InvalidArgumentError, which the CLI turns into exit 125.
import { InvalidArgumentError } from 'commander';
import { signalName, signals } from '../posix.js';

const UNITS: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
const DURATION = /^(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d)?$/;

/** `1.5`, `500ms`, `2s`, `1m`, `1h`, `1d` as seconds; 0 means "no timeout". */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (!match) {
    throw new InvalidArgumentError(`invalid duration '${text}' (a number with an optional unit: ms, s, m, h, d)`);
  }
  const seconds = Number(match[1]) * UNITS[match[2] ?? 's'];
  if (!Number.isFinite(seconds)) throw new InvalidArgumentError(`duration '${text}' is too large`);
  return seconds;
}

/** A signal as a number (1-64) or a name with or without `SIG`, any case. */
export function parseSignal(text: string): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const n = Number(trimmed);
    if (n >= 1 && n <= 64 && signalName(n) !== null) return n;
    throw new InvalidArgumentError(`invalid signal '${text}'`);
  }
  const upper = trimmed.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  if (Object.hasOwn(signals, name)) return signals[name];
  throw new InvalidArgumentError(`invalid signal '${text}'`);
}

/** The signal's name (`SIGTERM`), or `SIG<n>` for an unnamed real-time signal. */
export function nameOfSignal(n: number): string {
  return signalName(n) ?? `SIG${n}`;
}

/** Node's setTimeout caps at 2^31-1 ms (about 24.8 days); longer waits re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface Deadline {
  cancel(): void;
}

/** Calls `fn` once, `seconds` from now (an exact timer on the event loop, no polling). */
export function after(seconds: number, fn: () => void): Deadline {
  const due = performance.now() + seconds * 1000;
  let timer: NodeJS.Timeout;
  const arm = (): void => {
    const remaining = Math.ceil(due - performance.now());
    timer = remaining > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(fn, Math.max(remaining, 1));
  };
  arm();
  return { cancel: () => clearTimeout(timer) };
}
