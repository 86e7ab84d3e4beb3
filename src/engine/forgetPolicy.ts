// restic's retention policy (`forget --keep-*`) as a pure function over one
// group of snapshots. It reproduces restic 0.14.0's ApplyPolicy
// (internal/restic/snapshot_policy.go) decision for decision, reasons and
// counters included; test/compat/forgetPolicy.test.ts proves it against the
// real restic. Where later restic releases behave differently it says so.
import { CairnError } from '../errors.js';
import type { Snapshot } from '../repo/snapshot.js';
import { formatDuration, instantBefore, isZeroDuration, parseSnapshotTime, processTimeZone, type Duration, type SnapshotTime } from './duration.js';
import { hasTags } from './snapshotFilter.js';

/** Which snapshots to keep: restic's `--keep-*` options. Unset or 0 means "not used". */
export interface ForgetPolicy {
  /** --keep-last n */
  last?: number;
  /** --keep-hourly n */
  hourly?: number;
  /** --keep-daily n */
  daily?: number;
  /** --keep-weekly n (ISO weeks, Monday to Sunday) */
  weekly?: number;
  /** --keep-monthly n */
  monthly?: number;
  /** --keep-yearly n */
  yearly?: number;
  /** --keep-within: everything newer than this before the newest snapshot */
  within?: Duration;
  /** --keep-within-hourly (restic ≥ 0.13) */
  withinHourly?: Duration;
  /** --keep-within-daily */
  withinDaily?: Duration;
  /** --keep-within-weekly */
  withinWeekly?: Duration;
  /** --keep-within-monthly */
  withinMonthly?: Duration;
  /** --keep-within-yearly */
  withinYearly?: Duration;
  /** --keep-tag, one tag list per option: a snapshot with all tags of any list is kept */
  tags?: readonly (readonly string[])[];
}

/** The `--keep-<n>` counters left after a kept snapshot was evaluated. */
export interface KeepCounters {
  last: number;
  hourly: number;
  daily: number;
  weekly: number;
  monthly: number;
  yearly: number;
}

/** Why one snapshot is kept: restic's reason texts ("daily snapshot", "within 1y2m", ...). */
export interface KeepReason {
  snapshot: Snapshot;
  matches: string[];
  counters: KeepCounters;
}

/** The outcome for one group: kept and removed snapshots newest first, and a reason per kept one. */
export interface PolicyDecision {
  keep: Snapshot[];
  remove: Snapshot[];
  reasons: KeepReason[];
}

/** The clock and zone a decision is made in (restic uses its process's `now` and local zone). */
export interface PolicyClock {
  /** Snapshots newer than this are never the "newest" for --keep-within*; default: now. */
  now?: Date | number;
  /** IANA zone that plays Go's time.Local; default: this process's zone. */
  timeZone?: string;
}

type CountKey = keyof KeepCounters;
const countKeys: readonly CountKey[] = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'];
const withinKeys = ['withinHourly', 'withinDaily', 'withinWeekly', 'withinMonthly', 'withinYearly'] as const;

/** True when the policy keeps nothing by itself; restic then refuses to remove anything. */
export function isEmptyPolicy(p: ForgetPolicy): boolean {
  if (p.tags !== undefined && p.tags.length > 0) return false;
  if (countKeys.some((k) => (p[k] ?? 0) !== 0)) return false;
  return isZeroDuration(p.within) && withinKeys.every((k) => isZeroDuration(p[k]));
}

/**
 * Refuses policies restic 0.14 would run destructively by accident: a
 * negative count or duration makes the policy non-empty while keeping
 * nothing, so 0.14 removes every snapshot of the group. (restic 0.17 reads
 * -1 as "keep all" and refuses other negatives; cairn follows 0.14 and
 * refuses them all.)
 */
export function validatePolicy(p: ForgetPolicy): void {
  for (const k of countKeys) {
    const v = p[k];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 0) {
      throw new CairnError('bad-policy', `--keep-${k} ${v} is not a count of snapshots`, `Give --keep-${k} a whole number ≥ 0 (restic 0.14 would remove every snapshot for a negative one).`);
    }
  }
  for (const k of ['within', ...withinKeys] as const) {
    const d = p[k];
    if (d === undefined) continue;
    const parts = [d.years, d.months, d.days, d.hours];
    if (parts.some((x) => !Number.isInteger(x) || x < 0)) {
      const flag = k === 'within' ? '--keep-within' : `--keep-within-${k.slice('within'.length).toLowerCase()}`;
      throw new CairnError('bad-policy', `${flag} ${formatDuration(d)} is negative`, `Give ${flag} a positive duration such as 7d or 1y2m (restic 0.14 would remove every snapshot for a negative one).`);
    }
  }
}

/** restic's one-line description of a policy ("keep 2 latest, 3 daily snapshots, ..."). */
export function describePolicy(p: ForgetPolicy): string {
  const keeps: string[] = [];
  const names: Record<CountKey, string> = { last: 'latest', hourly: 'hourly', daily: 'daily', weekly: 'weekly', monthly: 'monthly', yearly: 'yearly' };
  for (const k of countKeys) if ((p[k] ?? 0) > 0) keeps.push(`${p[k]} ${names[k]}`);
  const keepw: string[] = [];
  for (const k of withinKeys) {
    const d = p[k];
    if (d && !isZeroDuration(d)) keepw.push(`${k.slice('within'.length).toLowerCase()} snapshots within ${formatDuration(d)}`);
  }
  let s = keeps.length > 0 ? `${keeps.join(', ')} snapshots` : '';
  if (keepw.length > 0) s += (s !== '' ? ', ' : '') + keepw.join(', ');
  if (p.tags && p.tags.length > 0) s += (s !== '' ? ' and ' : '') + `all snapshots with tags [${p.tags.map(tagListText).join(' ')}]`;
  if (p.within && !isZeroDuration(p.within)) s += (s !== '' ? ' and ' : '') + `all snapshots within ${formatDuration(p.within)} of the newest`;
  return `keep ${s}`;
}

/** restic's text for a tag list: "[a, b]"; the empty tag "" gives "[]". */
function tagListText(l: readonly string[]): string {
  return `[${l.join(', ')}]`;
}

/** A calendar bucket: snapshots with the same number share the bucket. */
type Bucketer = (t: SnapshotTime, nr: number) => number;

// Buckets use the wall clock as written in the snapshot's time, i.e. in the
// zone of the machine that made it; restic does the same (Go keeps the
// parsed offset), so a backup at 23:30+01:00 counts for that day wherever
// forget runs.
const always: Bucketer = (_t, nr) => nr;
const ymdh: Bucketer = (t) => t.year * 1_000_000 + t.month * 10_000 + t.day * 100 + t.hour;
const ymd: Bucketer = (t) => t.year * 10_000 + t.month * 100 + t.day;
const yw: Bucketer = (t) => {
  const [year, week] = isoWeek(t.year, t.month, t.day);
  return year * 100 + week;
};
const ym: Bucketer = (t) => t.year * 100 + t.month;
const y: Bucketer = (t) => t.year;

/** ISO 8601 year and week of a calendar date (Go's time.ISOWeek). */
export function isoWeek(year: number, month: number, day: number): [number, number] {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  const weekday = (d.getUTCDay() + 6) % 7; // Monday = 0
  // The week belongs to the year of its Thursday.
  d.setUTCDate(d.getUTCDate() - weekday + 3);
  const isoYear = d.getUTCFullYear();
  const jan1 = new Date(0);
  jan1.setUTCFullYear(isoYear, 0, 1);
  const dayOfYear = Math.round((d.getTime() - jan1.getTime()) / 86_400_000);
  return [isoYear, Math.floor(dayOfYear / 7) + 1];
}

const countBuckets: readonly { key: CountKey; bucket: Bucketer; reason: string }[] = [
  { key: 'last', bucket: always, reason: 'last snapshot' },
  { key: 'hourly', bucket: ymdh, reason: 'hourly snapshot' },
  { key: 'daily', bucket: ymd, reason: 'daily snapshot' },
  { key: 'weekly', bucket: yw, reason: 'weekly snapshot' },
  { key: 'monthly', bucket: ym, reason: 'monthly snapshot' },
  { key: 'yearly', bucket: y, reason: 'yearly snapshot' },
];

const withinBuckets: readonly { key: (typeof withinKeys)[number]; bucket: Bucketer; reason: string }[] = [
  { key: 'withinHourly', bucket: ymdh, reason: 'hourly within' },
  { key: 'withinDaily', bucket: ymd, reason: 'daily within' },
  { key: 'withinWeekly', bucket: yw, reason: 'weekly within' },
  { key: 'withinMonthly', bucket: ym, reason: 'monthly within' },
  { key: 'withinYearly', bucket: y, reason: 'yearly within' },
];

/**
 * Sorts snapshots newest first. restic sorts stably on time alone, so for
 * equal times its order is the order it happened to load the files in, which
 * varies between runs; cairn orders equal times by id to decide the same way
 * every time.
 */
export function sortNewestFirst(snapshots: readonly Snapshot[]): Snapshot[] {
  const withTime = snapshots.map((sn) => ({ sn, t: parseSnapshotTime(sn.time).epochNanos }));
  withTime.sort((a, b) => (a.t > b.t ? -1 : a.t < b.t ? 1 : a.sn.id < b.sn.id ? -1 : a.sn.id > b.sn.id ? 1 : 0));
  return withTime.map((x) => x.sn);
}

/**
 * Decides which snapshots of one group to keep and which to remove, exactly
 * as restic 0.14's ApplyPolicy does: newest first, a snapshot is kept when any
 * rule wants it (the rules are ORed), and each `--keep-<n>` rule keeps the
 * newest snapshot of each of the n newest calendar buckets that have one.
 * `--keep-within*` are measured back from the newest snapshot that is not
 * in the future, not from now. An empty policy keeps everything, with the
 * reason "policy is empty" (restic's forget refuses to run such a policy).
 */
export function applyPolicy(snapshots: readonly Snapshot[], policy: ForgetPolicy, clock: PolicyClock = {}): PolicyDecision {
  validatePolicy(policy);
  const list = sortNewestFirst(snapshots);
  const zeroCounters = (): KeepCounters => ({ last: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0 });
  if (isEmptyPolicy(policy)) {
    return { keep: list, remove: [], reasons: list.map((snapshot) => ({ snapshot, matches: ['policy is empty'], counters: zeroCounters() })) };
  }
  const keep: Snapshot[] = [];
  const remove: Snapshot[] = [];
  const reasons: KeepReason[] = [];
  if (list.length === 0) return { keep, remove, reasons };

  const times = list.map((sn) => parseSnapshotTime(sn.time));
  const nowMs = clock.now === undefined ? Date.now() : typeof clock.now === 'number' ? clock.now : clock.now.getTime();
  const nowNanos = BigInt(Math.floor(nowMs)) * 1_000_000n;
  const timeZone = clock.timeZone ?? processTimeZone();

  // The newest snapshot that is not in the future; with none, restic uses
  // Go's zero time, so every snapshot counts as "within".
  let latest: SnapshotTime | undefined;
  for (const t of times) if (t.epochNanos < nowNanos && (latest === undefined || t.epochNanos > latest.epochNanos)) latest = t;
  const threshold = (d: Duration): bigint | undefined => (latest === undefined ? undefined : instantBefore(latest, d, timeZone));
  const isWithin = (t: SnapshotTime, limit: bigint | undefined): boolean => limit === undefined || t.epochNanos > limit;

  const counts = countBuckets.map((b) => ({ ...b, count: policy[b.key] ?? 0, last: -1 }));
  const withins = withinBuckets
    .filter((b) => !isZeroDuration(policy[b.key]))
    .map((b) => {
      const d = policy[b.key] as Duration;
      return { ...b, text: `${b.reason} ${formatDuration(d)}`, limit: threshold(d), last: -1 };
    });
  const within = policy.within && !isZeroDuration(policy.within) ? { text: `within ${formatDuration(policy.within)}`, limit: threshold(policy.within) } : undefined;

  list.forEach((sn, nr) => {
    const t = times[nr];
    const matches: string[] = [];
    // Tags are not counted: every snapshot carrying one of the lists is kept.
    for (const l of policy.tags ?? []) if (hasTags(sn, l)) matches.push(`has tags ${tagListText(l)}`);
    if (within && isWithin(t, within.limit)) matches.push(within.text);
    for (const b of counts) {
      // Later restic releases also keep the group's oldest snapshot while a
      // count is left, and 0.17 reads -1 as "all"; 0.14 does neither.
      if (b.count > 0) {
        const val = b.bucket(t, nr);
        if (val !== b.last) {
          b.last = val;
          b.count--;
          matches.push(b.reason);
        }
      }
    }
    for (const b of withins) {
      if (isWithin(t, b.limit)) {
        const val = b.bucket(t, nr);
        if (val !== b.last) {
          b.last = val;
          matches.push(b.text);
        }
      }
    }
    if (matches.length > 0) {
      keep.push(sn);
      const counters = zeroCounters();
      for (const b of counts) counters[b.key] = b.count;
      reasons.push({ snapshot: sn, matches, counters });
    } else {
      remove.push(sn);
    }
  });
  return { keep, remove, reasons };
}
