import { applyPolicy, type ForgetPolicy } from '../engine/forgetPolicy.js';
import { parseDuration } from '../engine/duration.js';
import { RepositoryLock } from '../repo/lock.js';
import { componentRetention } from './config.js';
import { listComponentSnapshots } from './componentSnapshots.js';
import type { OrchestratorContext } from './context.js';

/** What retention decided for one component. */
export interface RetentionResult {
  component: string;
  kept: string[];
  removed: string[];
}

/**
 * Applies a component's retention: manual snapshots keep the newest
 * `keep_manual`; automatic ones (schedules, safety snapshots) are counted
 * separately with `keep_automatic` plus the calendar rules and `keep_within`.
 * A rule of 0 is off; when every rule of a kind is off, that kind keeps
 * everything. Only snapshot files are removed; `cairn prune` frees the data.
 */
export async function applyComponentRetention(ctx: OrchestratorContext, component: string, opts: { dryRun?: boolean } = {}): Promise<RetentionResult> {
  const r = componentRetention(ctx.loaded.config, component);
  const infos = await listComponentSnapshots(ctx.repo, component);
  const manual = infos.filter((i) => i.kind === 'manual').map((i) => i.snapshot);
  const automatic = infos.filter((i) => i.kind === 'automatic').map((i) => i.snapshot);
  const manualPolicy: ForgetPolicy = { last: r.keep_manual };
  const automaticPolicy: ForgetPolicy = { last: r.keep_automatic, hourly: r.keep_hourly, daily: r.keep_daily, weekly: r.keep_weekly, monthly: r.keep_monthly, yearly: r.keep_yearly };
  if (r.keep_within) automaticPolicy.within = parseDuration(r.keep_within);
  const decide = (list: typeof manual, policy: ForgetPolicy) => applyPolicy(list, policy);
  const m = decide(manual, manualPolicy);
  const a = decide(automatic, automaticPolicy);
  const removed = [...m.remove, ...a.remove].map((s) => s.id);
  const kept = [...m.keep, ...a.keep].map((s) => s.id);
  if (removed.length && !opts.dryRun) {
    const lock = await RepositoryLock.acquire(ctx.repo, true);
    try {
      for (const id of removed) await ctx.repo.backend.remove({ type: 'snapshot', name: id });
    } finally {
      await lock.release();
    }
    ctx.log(`${component}: retention removed ${removed.length} old snapshot(s); run \`cairn prune\` to free their data`);
  }
  return { component, kept, removed };
}
