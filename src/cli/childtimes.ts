// CPU time of reaped children, from /proc/self/stat (cutime, cstime): the
// same totals getrusage(RUSAGE_CHILDREN) reports, which Node does not expose.
// Linux only; null elsewhere. maxrss and the rest would need a native wait4.
import { readFileSync } from 'node:fs';

// Linux reports these in USER_HZ ticks, fixed at 100 on every architecture
// Node runs on (the kernel converts from its internal HZ).
const USER_HZ = 100;

export interface ChildTimes {
  /** Seconds of user CPU, 10 ms resolution. */
  user: number;
  /** Seconds of system CPU, 10 ms resolution. */
  system: number;
}

export function childTimes(): ChildTimes | null {
  let stat: string;
  try {
    stat = readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return null;
  }
  // Fields after "(comm)" start at field 3 (state); cutime is 16, cstime 17.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cutime = Number(fields[13]);
  const cstime = Number(fields[14]);
  if (!Number.isFinite(cutime) || !Number.isFinite(cstime)) return null;
  return { user: cutime / USER_HZ, system: cstime / USER_HZ };
}

/** The children's CPU time between two readings (null if either failed). */
export function childTimesSince(before: ChildTimes | null): ChildTimes | null {
  const now = childTimes();
  if (!before || !now) return null;
  const round = (s: number): number => Math.round(s * 100) / 100;
  return { user: round(now.user - before.user), system: round(now.system - before.system) };
}
