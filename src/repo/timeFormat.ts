// Go's RFC 3339 time text as restic writes it (format §10.5): nanoseconds
// with trailing zeros trimmed, `Z` for a zero offset, the local offset of the
// backing-up machine otherwise. JS Date keeps only milliseconds, so times are
// carried as (epoch nanoseconds: bigint, offset) and formatted here.
import type { BigIntStats } from 'node:fs';

const NS_PER_SECOND = 1_000_000_000n;
const NS_PER_DAY = 86_400n * NS_PER_SECOND;

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const mp = (m + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The proleptic Gregorian [year, month, day] of a day count since 1970-01-01. */
function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(y: number, m: number): number {
  return m === 2 && isLeap(y) ? 29 : MONTH_DAYS[m - 1]!;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function formatOffset(offsetSeconds: number): string {
  if (offsetSeconds === 0) return 'Z';
  // Go prints whole minutes, truncating toward zero (historical LMT zones have seconds).
  let zone = Math.trunc(offsetSeconds / 60);
  let sign = '+';
  if (zone < 0) {
    sign = '-';
    zone = -zone;
  }
  return sign + pad(Math.floor(zone / 60), 2) + ':' + pad(zone % 60, 2);
}

/**
 * Go's RFC 3339 text (time.RFC3339Nano) of an instant seen at a UTC offset:
 * `YYYY-MM-DDTHH:MM:SS[.fraction]±HH:MM`, fraction without trailing zeros,
 * `Z` for offset 0. Years outside 0000–9999 are clamped the way restic does
 * before writing. `offsetMinutes` may be fractional (local mean time zones).
 */
export function formatGoTime(epochNs: bigint, offsetMinutes: number): string {
  if (!Number.isFinite(offsetMinutes) || Math.abs(offsetMinutes) >= 24 * 60) throw new RangeError(`bad UTC offset ${offsetMinutes} minutes`);
  // Two bigint operations, then plain numbers (seconds stay far below 2^53).
  const seconds = floorDiv(epochNs, NS_PER_SECOND);
  return formatParts(Number(seconds), Number(epochNs - seconds * NS_PER_SECOND), Math.round(offsetMinutes * 60));
}

/** The date part `YYYY-MM-DD` of a day count, or undefined when the year is outside 0000–9999. */
function datePart(days: number): string | undefined {
  const [y, m, d] = civilFromDays(days);
  if (y < 0 || y > 9999) return undefined;
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
}

/** formatGoTime on plain numbers: whole seconds since the epoch, nanoseconds 0–999,999,999, offset in seconds. */
function formatParts(seconds: number, nanos: number, offsetSeconds: number, dates?: Map<number, string | undefined>): string {
  const local = seconds + offsetSeconds;
  const days = Math.floor(local / 86400);
  const secOfDay = local - days * 86400;
  const zone = formatOffset(offsetSeconds);
  let date = dates?.get(days);
  if (date === undefined) {
    date = datePart(days);
    if (date !== undefined && dates) {
      if (dates.size >= 4096) dates.clear();
      dates.set(days, date);
    }
  }
  if (date === undefined) return days < 0 ? '0000-01-01T00:00:00' + zone : '9999-12-31T23:59:59.999999999' + zone;
  let text = `${date}T${pad(Math.floor(secOfDay / 3600), 2)}:${pad(Math.floor(secOfDay / 60) % 60, 2)}:${pad(secOfDay % 60, 2)}`;
  if (nanos !== 0) text += '.' + pad(nanos, 9).replace(/0+$/, '');
  return text + zone;
}

/**
 * This machine's UTC offset in minutes (east positive) at an instant, as Go's
 * time.Local would use it: fractional for zones with second offsets (LMT).
 */
export function localOffsetMinutes(epochMs: number): number {
  const clamped = Math.max(-8.64e15, Math.min(8.64e15, epochMs));
  const instant = new Date(Math.floor(clamped / 1000) * 1000);
  // getTimezoneOffset rounds to minutes; the local calendar fields do not.
  const asUtc = new Date(0);
  asUtc.setUTCFullYear(instant.getFullYear(), instant.getMonth(), instant.getDate());
  asUtc.setUTCHours(instant.getHours(), instant.getMinutes(), instant.getSeconds(), 0);
  const diff = asUtc.getTime() - instant.getTime();
  return Number.isFinite(diff) ? diff / 60_000 : -instant.getTimezoneOffset();
}

/** Go's RFC 3339 text of an instant in this machine's local zone (what restic writes). */
export function formatLocalGoTime(epochNs: bigint): string {
  return formatGoTime(epochNs, localOffsetMinutes(Number(floorDiv(epochNs, 1_000_000n))));
}

/** One hour in seconds: the granule of LocalTimeFormatter's offset cache. */
const HOUR = 3600;

/**
 * formatLocalGoTime for the many times of one backup: the local offset is
 * looked up once per hour of time (when it is the same at both ends of that
 * hour, which zone rules never break by two changes within one hour), and
 * date texts are kept per day. Make one per run: it does not follow changes
 * of the TZ variable.
 */
export class LocalTimeFormatter {
  /** Offset in seconds per hour number; NaN when the offset changes within that hour. */
  private readonly offsets = new Map<number, number>();
  private readonly dates = new Map<number, string | undefined>();

  /** The same text as formatLocalGoTime(epochNs). */
  format(epochNs: bigint): string {
    let seconds = epochNs / NS_PER_SECOND;
    let nanos = epochNs - seconds * NS_PER_SECOND;
    if (nanos < 0n) {
      seconds -= 1n;
      nanos += NS_PER_SECOND;
    }
    const sec = Number(seconds);
    return formatParts(sec, Number(nanos), this.offsetSeconds(sec), this.dates);
  }

  private offsetSeconds(sec: number): number {
    const hour = Math.floor(sec / HOUR);
    let offset = this.offsets.get(hour);
    if (offset === undefined) {
      const start = localOffsetMinutes(hour * HOUR * 1000);
      const end = localOffsetMinutes((hour * HOUR + HOUR - 1) * 1000);
      offset = start === end ? Math.round(start * 60) : NaN;
      if (this.offsets.size >= 4096) this.offsets.clear();
      this.offsets.set(hour, offset);
    }
    return Number.isNaN(offset) ? Math.round(localOffsetMinutes(sec * 1000) * 60) : offset;
  }
}

/** The current time as epoch nanoseconds (millisecond resolution). */
export function nowEpochNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** Fields of an RFC 3339 text, range-checked. */
interface TimeFields {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
  /** Fraction digits (at most 9 kept, as Go does). */
  frac: string;
  offsetSeconds: number;
  canonical: boolean;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:([.,])(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

function parseFields(s: string): TimeFields | undefined {
  const m = RFC3339.exec(s);
  if (m === null) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const sec = Number(m[6]);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || sec > 59) return undefined;
  let offsetSeconds = 0;
  if (m[9] === undefined) {
    const oh = Number(m[11]);
    const om = Number(m[12]);
    if (oh > 23 || om > 59) return undefined;
    offsetSeconds = (m[10] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const rawFrac = m[8] ?? '';
  const frac = rawFrac.slice(0, 9);
  const canonical =
    (m[7] === undefined || m[7] === '.') && rawFrac.length <= 9 && !rawFrac.endsWith('0') && (m[9] !== undefined || offsetSeconds !== 0);
  return { y, mo, d, h, mi, s: sec, frac, offsetSeconds, canonical };
}

/**
 * Parses Go/RFC 3339 time text losslessly: the instant in epoch nanoseconds
 * and the offset it was written with. Throws a RangeError for text Go's
 * time parser would reject.
 */
export function parseGoTime(s: string): { epochNs: bigint; offsetMinutes: number } {
  const f = parseFields(s);
  if (f === undefined) throw new RangeError(`not an RFC 3339 time: ${JSON.stringify(s)}`);
  const days = BigInt(daysFromCivil(f.y, f.mo, f.d));
  const secs = BigInt(f.h * 3600 + f.mi * 60 + f.s - f.offsetSeconds);
  const nanos = f.frac === '' ? 0n : BigInt(f.frac.padEnd(9, '0'));
  return { epochNs: days * NS_PER_DAY + secs * NS_PER_SECOND + nanos, offsetMinutes: f.offsetSeconds / 60 };
}

/** Exactly the texts Go writes (fields in range, trimmed fraction, Z for zero offset); days 29–31 are checked separately. */
const CANONICAL =
  /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{0,8}[1-9])?(?:Z|[+-](?:(?:[01]\d|2[0-3]):[0-5]\d))$/;

/** A cheap test for text formatGoTime could have written; the common case when reading restic's trees. */
function isCanonical(s: string): boolean {
  if (!CANONICAL.test(s)) return false;
  if (s.endsWith('+00:00') || s.endsWith('-00:00')) return false;
  // Days up to 28 exist in every month; only later days need the calendar.
  return s.charCodeAt(8) < 0x32 || (s.charCodeAt(8) === 0x32 && s.charCodeAt(9) < 0x39) || parseFields(s) !== undefined;
}

/** True when `s` is a valid RFC 3339 time (as Go parses it). */
export function isGoTime(s: string): boolean {
  return isCanonical(s) || parseFields(s) !== undefined;
}

/**
 * The text Go would write after parsing `s` (e.g. `.500` → `.5`, `+00:00` →
 * `Z`); returns `s` itself when it is already canonical. Throws a RangeError
 * for invalid text.
 */
export function canonicalGoTime(s: string): string {
  if (isCanonical(s)) return s;
  const f = parseFields(s);
  if (f === undefined) throw new RangeError(`not an RFC 3339 time: ${JSON.stringify(s)}`);
  if (f.canonical) return s;
  const { epochNs, offsetMinutes } = parseGoTime(s);
  return formatGoTime(epochNs, offsetMinutes);
}

/** Milliseconds since the epoch of Go time text (for Date and sorting). */
export function goTimeToEpochMs(s: string): number {
  return Number(floorDiv(parseGoTime(s).epochNs, 1_000_000n));
}

/** A file time from `fs.stat(..., { bigint: true })` in epoch nanoseconds. */
export function statTimeNs(stats: BigIntStats, which: 'mtime' | 'atime' | 'ctime'): bigint {
  switch (which) {
    case 'mtime': return stats.mtimeNs;
    case 'atime': return stats.atimeNs;
    case 'ctime': return stats.ctimeNs;
  }
}
