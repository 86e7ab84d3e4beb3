import { CairnError } from '../errors.js';

/** Parses a time given on the command line: "2024-01-15 10:20:30" (local time, as restic) or any ISO 8601 / RFC 3339 form. */
export function parseTimeOption(s: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(s.trim());
  let d: Date;
  if (m) d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0));
  else d = new Date(s);
  if (Number.isNaN(d.getTime())) throw new CairnError('bad-time', `cannot understand the time "${s}"`, 'Use "YYYY-MM-DD HH:MM:SS" (local time) or an RFC 3339 time like 2024-01-15T10:20:30+01:00.');
  return d;
}
