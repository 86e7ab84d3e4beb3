// The whole of `forget` with a policy, short of deleting: filter, group,
// apply the policy per group. The result has the shape of restic's
// `forget --json` output, and forgetPlanJson renders it byte-for-byte the way
// restic 0.14 does, so scripts written against restic keep working.
import { snapshotToResticJson } from '../repo/snapshotCodec.js';
import type { Snapshot, SnapshotSummary } from '../repo/snapshot.js';
import { applyPolicy, isEmptyPolicy, validatePolicy, type ForgetPolicy, type KeepCounters, type KeepReason, type PolicyClock } from './forgetPolicy.js';
import { filterSnapshots, type SnapshotFilter } from './snapshotFilter.js';
import { defaultGroupBy, groupSnapshots, type GroupBy } from './snapshotGroup.js';

/** One group of a forget plan: its key fields and the policy's decision for it. */
export interface ForgetGroup {
  tags: string[] | null;
  host: string;
  paths: string[] | null;
  keep: Snapshot[];
  remove: Snapshot[];
  reasons: KeepReason[];
}

/**
 * Plans `forget` with a policy: the snapshots passing `filter`, grouped by
 * `groupBy`, each group decided by applyPolicy. An empty policy plans nothing
 * (an empty list), because restic refuses to remove anything without one.
 */
export function planForget(snapshots: readonly Snapshot[], policy: ForgetPolicy, groupBy: GroupBy = defaultGroupBy, filter: SnapshotFilter = {}, clock: PolicyClock = {}): ForgetGroup[] {
  validatePolicy(policy);
  if (isEmptyPolicy(policy)) return [];
  return groupSnapshots(filterSnapshots(snapshots, filter), groupBy).map(({ key, snapshots: members }) => {
    const { keep, remove, reasons } = applyPolicy(members, policy, clock);
    return { tags: key.tags, host: key.hostname, paths: key.paths, keep, remove, reasons };
  });
}

/** The ids of all snapshots a plan removes, each once, in plan order. */
export function snapshotsToRemove(plan: readonly ForgetGroup[]): string[] {
  return [...new Set(plan.flatMap((g) => g.remove.map((sn) => sn.id)))];
}

/** A snapshot as restic's JSON prints it: its fields, without empty optional ones. */
export interface SnapshotJson {
  time: string;
  parent?: string;
  tree: string;
  paths: string[];
  hostname?: string;
  username?: string;
  uid?: number;
  gid?: number;
  excludes?: string[];
  tags?: string[];
  original?: string;
  program_version?: string;
  summary?: SnapshotSummary;
}

/** A listed snapshot in restic's JSON: its fields plus id and short_id. */
export interface IdentifiedSnapshotJson extends SnapshotJson {
  id: string;
  short_id: string;
}

/** A reason in restic 0.14's forget JSON; counters leave out zeros. */
export interface KeepReasonJson {
  snapshot: SnapshotJson;
  matches: string[];
  counters: Partial<KeepCounters>;
}

/** One group of restic 0.14's `forget --json` output; empty lists are null, as Go prints them. */
export interface ForgetGroupJson {
  tags: string[] | null;
  host: string;
  paths: string[] | null;
  keep: IdentifiedSnapshotJson[] | null;
  remove: IdentifiedSnapshotJson[] | null;
  reasons: KeepReasonJson[] | null;
}

/** A snapshot in restic's JSON field order, leaving out what Go's omitempty leaves out (the snapshot file encoder's selection). */
export function snapshotJson(sn: Snapshot): SnapshotJson {
  const { id: _id, short_id: _short, ...fields } = snapshotToResticJson(sn) as unknown as IdentifiedSnapshotJson;
  return fields;
}

function identified(sn: Snapshot): IdentifiedSnapshotJson {
  return snapshotToResticJson(sn) as unknown as IdentifiedSnapshotJson;
}

function countersJson(c: KeepCounters): Partial<KeepCounters> {
  const out: Partial<KeepCounters> = {};
  for (const k of ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const) if (c[k] !== 0) out[k] = c[k];
  return out;
}

/** Renders a plan as restic 0.14's `forget --json` prints it (key order, nulls, short ids, counters). */
export function forgetPlanJson(plan: readonly ForgetGroup[]): ForgetGroupJson[] {
  const orNull = <T>(xs: T[]): T[] | null => (xs.length > 0 ? xs : null);
  return plan.map((g) => ({
    tags: g.tags,
    host: g.host,
    paths: g.paths,
    keep: orNull(g.keep.map(identified)),
    remove: orNull(g.remove.map(identified)),
    reasons: orNull(g.reasons.map((r) => ({ snapshot: snapshotJson(r.snapshot), matches: r.matches, counters: countersJson(r.counters) }))),
  }));
}
