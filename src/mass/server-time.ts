// Where a MASS time without a zone sits on the time line: it is the MASS server's wall clock, in
// the zone MASS_TIME_ZONE names (UTC by default), whatever zone the daemon itself runs in.
import type { MassTime } from './schemas';

/** True when `zone` is an IANA time zone name (or UTC) this Node.js knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Milliseconds since the epoch of a MASS time, a time without a zone read in `zone`. */
export function serverTime(zone: string): (time: MassTime) => number {
  // Stryker disable next-line ConditionalExpression,MethodExpression,StringLiteral: Intl gives UTC offset 0 too
  if (zone.toUpperCase() === 'UTC') return (time) => time.ms;
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  /** How far the zone's wall clock is ahead of UTC at the instant `ms`. */
  const offsetAt = (ms: number): number => {
    const part: Record<string, number> = {};
    for (const p of format.formatToParts(new Date(ms))) part[p.type] = Number(p.value);
    const wall = Date.UTC(part.year!, part.month! - 1, part.day!, part.hour! % 24, part.minute!, part.second!);
    return wall - (ms - (((ms % 1000) + 1000) % 1000));
  };
  return (time) => {
    if (time.zoned) return time.ms;
    // The offset at the wall-clock reading, then at the instant that gives: right across a DST change.
    const guess = time.ms - offsetAt(time.ms);
    return time.ms - offsetAt(guess);
  };
}
