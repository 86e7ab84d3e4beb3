import type { Command } from 'commander';
import { parseSnapshotTime } from '../../engine/duration.js';
import { forgetPlanJson, snapshotsToRemove, type ForgetGroup } from '../../engine/forgetPlan.js';
import { applyPolicy, sortNewestFirst, type KeepReason } from '../../engine/forgetPolicy.js';
import { filterSnapshots, parseTagList, type SnapshotFilter } from '../../engine/snapshotFilter.js';
import { groupSnapshots, parseGroupBy, type GroupBy } from '../../engine/snapshotGroup.js';
import { CairnError } from '../../errors.js';
import { RepositoryLock } from '../../repo/lock.js';
import type { Snapshot } from '../../repo/snapshot.js';
import { openRepository, type RepoOptions } from '../repoAccess.js';
import { printJson } from '../output.js';
import { displayTime } from './snapshots.js';
import { forgetPlanText, removeSnapshots } from './forget.js';
import { addPruneOptions, pruneOptionsFrom, pruneReportJson, pruneReportText, testPauseHook, type PruneCliOptions } from './prune.js';

/** What `cairn cleanup` keeps: everything newer than `olderThanDays`, and at least the `keepMin` newest of each group. */
export interface CleanupRule {
  olderThanDays: number;
  keepMin: number;
}

/**
 * The cleanup rule as a forget plan (same shape as `forget`, so the same
 * output): per group, the keepMin newest are kept by restic's --keep-last
 * policy, and every snapshot taken less than olderThanDays before `now` is
 * kept too ("newer than N days"); the rest is removed.
 */
export function planCleanup(snapshots: readonly Snapshot[], rule: CleanupRule, groupBy: GroupBy, filter: SnapshotFilter = {}, now = Date.now()): ForgetGroup[] {
  const cutoffNanos = BigInt(Math.floor(now - rule.olderThanDays * 86_400_000)) * 1_000_000n;
  const recentText = `newer than ${rule.olderThanDays} days`;
  const isRecent = (sn: Snapshot) => parseSnapshotTime(sn.time).epochNanos >= cutoffNanos;
  const zero = { last: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0 };
  return groupSnapshots(filterSnapshots(snapshots, filter), groupBy).map(({ key, snapshots: members }) => {
    const decision = rule.keepMin > 0 ? applyPolicy(members, { last: rule.keepMin }) : { keep: [], remove: sortNewestFirst(members), reasons: [] as KeepReason[] };
    const reasons = new Map<string, KeepReason>(decision.reasons.map((r) => [r.snapshot.id, { ...r, matches: [...r.matches] }]));
    for (const sn of decision.keep) if (isRecent(sn)) reasons.get(sn.id)!.matches.push(recentText);
    const keep = [...decision.keep];
    const remove: Snapshot[] = [];
    for (const sn of decision.remove) {
      if (isRecent(sn)) {
        keep.push(sn);
        reasons.set(sn.id, { snapshot: sn, matches: [recentText], counters: { ...zero } });
      } else remove.push(sn);
    }
    const kept = sortNewestFirst(keep);
    return { tags: key.tags, host: key.hostname, paths: key.paths, keep: kept, remove, reasons: kept.map((sn) => reasons.get(sn.id)!) };
  });
}

interface CleanupCliOptions extends RepoOptions, PruneCliOptions {
  olderThan?: string;
  keepMin: string;
  host: string[];
  tag: string[];
  groupBy: string;
  dryRun?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function wholeNumber(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 0) throw new CairnError('usage', `${flag} "${text}" is not a whole number ≥ 0`, `Example: cairn cleanup --older-than 30 --keep-min 3`);
  return n;
}

/** `cairn cleanup`: remove old snapshots but keep a minimum, then free their space (forget + prune in plain words). */
export function registerCleanup(program: Command): Command {
  return addPruneOptions(
    program
      .command('cleanup')
      .description('remove snapshots older than some days (keeping at least a few per host and paths) and free their space')
      .option('--older-than <days>', 'remove snapshots taken more than this many days ago')
      .option('--keep-min <n>', 'but always keep the newest n snapshots of each host and paths', '1')
      .option('--host <host>', 'only clean up snapshots of this host (repeatable)', collect, [])
      .option('--tag <taglist>', 'only clean up snapshots with these tags ("a,b" = both; repeat for either)', collect, [])
      .option('-g, --group-by <group>', 'what "each" means for --keep-min: host, paths and/or tags', 'host,paths')
      .option('-n, --dry-run', 'show what would be removed and how much space it would free; change nothing'),
  )
    .addHelpText(
      'after',
      `
Same as \`cairn forget --keep-last N\` plus "keep everything newer than DAYS", followed by
\`cairn prune\`. --json prints one document: the forget groups (restic's shape), the removed
ids and the prune summary.

Examples:
  cairn cleanup --older-than 30 --keep-min 3 --dry-run
  cairn cleanup --older-than 90 --keep-min 1 --host nas
`,
    )
    .action(async (_o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<CleanupCliOptions>();
      if (opts.olderThan === undefined) throw new CairnError('usage', 'cleanup needs --older-than DAYS', 'Example: `cairn cleanup --older-than 30 --keep-min 3 --dry-run`.');
      const rule: CleanupRule = { olderThanDays: wholeNumber('--older-than', opts.olderThan), keepMin: wholeNumber('--keep-min', opts.keepMin) };
      const groupBy = parseGroupBy(opts.groupBy);
      const filter: SnapshotFilter = { hosts: opts.host, tags: opts.tag.map(parseTagList) };
      const pruneOpts = pruneOptionsFrom(opts);
      const json = !!opts.json;
      const dryRun = !!opts.dryRun;
      const now = Date.now();
      const repo = await openRepository(opts, (m) => process.stderr.write(m + '\n'));
      const lock = await RepositoryLock.acquire(repo, !dryRun).catch(async (err: unknown) => {
        await repo.close();
        throw err;
      });
      try {
        const plan = planCleanup(await repo.loadSnapshots(), rule, groupBy, filter, now);
        const remove = snapshotsToRemove(plan);
        const each = [groupBy.host && 'host', groupBy.paths && 'paths', groupBy.tags && 'tags'].filter(Boolean).join(' and ') || 'the whole repository';
        if (!json) {
          process.stdout.write(`Removing snapshots taken before ${displayTime(new Date(now - rule.olderThanDays * 86_400_000).toISOString())} (older than ${rule.olderThanDays} days), keeping at least the newest ${rule.keepMin} per ${each}.\n\n`);
          process.stdout.write(forgetPlanText(plan));
        }
        if (remove.length > 0 && !dryRun) {
          const n = await removeSnapshots(repo, remove);
          if (!json) process.stdout.write(`removed ${n} snapshots\n\n`);
        } else if (!json) process.stdout.write(remove.length > 0 ? `would remove ${remove.length} snapshots\n\n` : 'nothing to remove\n');
        let pruneJson: Record<string, unknown> | null = null;
        if (remove.length > 0) {
          const { pruneRepository } = await import('../../engine/prune.js');
          const pause = testPauseHook();
          const outcome = await pruneRepository(repo, { ...pruneOpts, dryRun, noLock: true, ignoreSnapshots: remove, ...(pause ? { onStep: pause } : {}) });
          if (json) pruneJson = pruneReportJson(outcome, dryRun);
          else process.stdout.write(pruneReportText(outcome, dryRun));
        }
        if (json) {
          printJson({ message_type: 'cleanup', dry_run: dryRun, older_than_days: rule.olderThanDays, keep_min: rule.keepMin, removed: remove, groups: forgetPlanJson(plan), prune: pruneJson });
        }
      } finally {
        await lock.release();
        await repo.close();
      }
    });
}
