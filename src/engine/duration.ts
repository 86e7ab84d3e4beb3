// restic's calendar durations ("1y2m3d4h") and the Go time arithmetic restic
// does with them, so `--keep-within*` decisions land on the same instant as
// restic's own. Semantics follow restic 0.14 (internal/restic/duration.go and
// Go's time.Parse / time.AddDate).
import { CairnError } from '../errors.js';

/** A calendar duration as restic's `--keep-within*` options take it. */
export interface Duration {
  years: number;
  months: number;
  days: number;
  hours: number;
}

/** The zero duration ("not set"). */
export const zeroDuration: Readonly<Duration> = Object.freeze({ years: 0, months: 0, days: 0, hours: 0 });

const durationRemedy = 'Write a duration as numbers with the units y, m, d or h, e.g. 1y2m3d4h (there is no unit for weeks: use 7d).';

/**
 * Parses restic's duration syntax: numbers followed by y (years), m (months),
 * d (days) or h (hours), in any order; a repeated unit overrides the earlier
 * one and surrounding whitespace is ignored, as in restic. A leading minus is
 * accepted like restic does; validatePolicy refuses negative durations.
 */
export function parseDuration(text: string): Duration {
  const d: Duration = { years: 0, months: 0, days: 0, hours: 0 };
  let rest = text.trim();
  while (rest !== '') {
    const m = /^(-?)([0-9]+)(.?)/.exec(rest);
    if (!m) throw new CairnError('bad-duration', `invalid duration "${text}": no number found at "${rest}"`, durationRemedy);
    const num = Number(m[2]) * (m[1] === '-' ? -1 : 1);
    if (!Number.isSafeInteger(num)) throw new CairnError('bad-duration', `invalid duration "${text}": ${m[2]} is too large`, durationRemedy);
    const unit = m[3];
    if (unit === '') throw new CairnError('bad-duration', `invalid duration "${text}": no unit found after number ${num}`, durationRemedy);
    switch (unit) {
      case 'y':
        d.years = num;
        break;
      case 'm':
        d.months = num;
        break;
      case 'd':
        d.days = num;
        break;
      case 'h':
        d.hours = num;
        break;
      default:
        throw new CairnError('bad-duration', `invalid duration "${text}": invalid unit '${unit}' found after number ${num}`, durationRemedy);
    }
    rest = rest.slice(m[0].length);
  }
  return d;
}

/** restic's text form of a duration ("1y2m", zero parts left out; "" for zero). */
export function formatDuration(d: Duration): string {
  let s = '';
  if (d.years !== 0) s += `${d.years}y`;
  if (d.months !== 0) s += `${d.months}m`;
  if (d.days !== 0) s += `${d.days}d`;
  if (d.hours !== 0) s += `${d.hours}h`;
  return s;
}

/** True when the duration is not set (all parts zero). */
export function isZeroDuration(d: Duration | undefined): boolean {
  return d === undefined || (d.years === 0 && d.months === 0 && d.days === 0 && d.hours === 0);
}

/**
 * A snapshot time parsed from its RFC 3339 text: the wall clock exactly as
 * written (restic buckets snapshots by these fields), the written offset, and
 * the instant in nanoseconds since the Unix epoch.
 */
export interface SnapshotTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  nanosecond: number;
  /** Offset east of UTC in seconds; 0 for "Z". */
  offsetSeconds: number;
  /** The text said "Z" (Go then uses UTC, never the local zone). */
  utc: boolean;
  epochNanos: bigint;
}

const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Parses a snapshot's RFC 3339 time; throws a CairnError when it is not one. */
export function parseSnapshotTime(text: string): SnapshotTime {
  const m = rfc3339.exec(text);
  if (!m) throw new CairnError('bad-snapshot-time', `snapshot time "${text}" is not an RFC 3339 time`, 'The snapshot file is damaged or was not written by restic/cairn; run `cairn check`.');
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  const nanosecond = m[7] ? Number(m[7].padEnd(9, '0')) : 0;
  const utc = m[8] !== undefined;
  const offsetSeconds = utc ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 3600 + Number(m[11]) * 60);
  const wallSeconds = wallClockSeconds(year, month, day, hour, minute, second);
  const epochNanos = BigInt(wallSeconds - offsetSeconds) * 1_000_000_000n + BigInt(nanosecond);
  return { year, month, day, hour, minute, second, nanosecond, offsetSeconds, utc, epochNanos };
}

/**
 * Seconds since the epoch of a wall clock read as UTC, with out-of-range
 * months, days and hours carried over like Go's time.Date does.
 */
function wallClockSeconds(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  const d = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  return d.getTime() / 1000;
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/** The UTC offset in seconds of an IANA time zone at an instant (seconds since the epoch). */
export function zoneOffsetAt(timeZone: string, epochSeconds: number): number {
  let fmt = zoneFormats.get(timeZone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', era: 'short' });
    zoneFormats.set(timeZone, fmt);
  }
  const parts: Record<string, string> = {};
  for (const p of fmt.formatToParts(new Date(epochSeconds * 1000))) parts[p.type] = p.value;
  let year = Number(parts.year);
  if (parts.era === 'BC' || parts.era === 'B') year = 1 - year;
  const wall = wallClockSeconds(year, Number(parts.month), Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  return wall - epochSeconds;
}

/** The local time zone of this process (what Go calls time.Local). */
export function processTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * The instant `duration` before `latest`, computed as restic does:
 * latest.AddDate(-y, -m, -d).Add(-h hours). Go keeps the parsed time in the
 * process's local zone when the written offset is that zone's offset at that
 * instant, and in a fixed offset otherwise; calendar steps then land on the
 * same wall clock in that zone, which across a DST change is an hour away
 * from a fixed-offset step. `timeZone` is the zone restic ran in.
 */
export function instantBefore(latest: SnapshotTime, duration: Duration, timeZone: string): bigint {
  const latestSeconds = Number((latest.epochNanos - BigInt(latest.nanosecond)) / 1_000_000_000n);
  const inLocalZone = !latest.utc && zoneOffsetAt(timeZone, latestSeconds) === latest.offsetSeconds;
  const wall = wallClockSeconds(latest.year - duration.years, latest.month - duration.months, latest.day - duration.days, latest.hour, latest.minute, latest.second);
  if (Number.isNaN(wall)) return BigInt(Number.MIN_SAFE_INTEGER) * 1_000_000_000n;
  let unix: number;
  if (inLocalZone) {
    // Go's time.Date: take the offset in effect at the wall clock read as
    // UTC; if the resulting instant lies outside that offset's period, use
    // the offset in effect at the resulting instant instead.
    let offset = zoneOffsetAt(timeZone, wall);
    const other = zoneOffsetAt(timeZone, wall - offset);
    if (other !== offset) offset = other;
    unix = wall - offset;
  } else {
    unix = wall - latest.offsetSeconds;
  }
  return BigInt(unix) * 1_000_000_000n + BigInt(latest.nanosecond) - BigInt(duration.hours) * 3_600_000_000_000n;
}
