import type { Command } from 'commander';
import { parseDuration } from '../../engine/duration.js';
import { forgetPlanJson, planForget, snapshotsToRemove, type ForgetGroup } from '../../engine/forgetPlan.js';
import { describePolicy, isEmptyPolicy, type ForgetPolicy } from '../../engine/forgetPolicy.js';
import { parseTagList, type SnapshotFilter } from '../../engine/snapshotFilter.js';
import { parseGroupBy } from '../../engine/snapshotGroup.js';
import { CairnError } from '../../errors.js';
import { RepositoryLock } from '../../repo/lock.js';
import { mapLimit, type Repository } from '../../repo/repository.js';
import type { Snapshot } from '../../repo/snapshot.js';
import { openRepository, type RepoOptions } from '../repoAccess.js';
import { printJson, renderTable } from '../output.js';
import { displayTime } from './snapshots.js';
import { addPruneOptions, pruneOptionsFrom, runPrune, type PruneCliOptions } from './prune.js';

interface ForgetCliOptions extends RepoOptions, PruneCliOptions {
  keepLast?: string;
  keepHourly?: string;
  keepDaily?: string;
  keepWeekly?: string;
  keepMonthly?: string;
  keepYearly?: string;
  keepWithin?: string;
  keepWithinHourly?: string;
  keepWithinDaily?: string;
  keepWithinWeekly?: string;
  keepWithinMonthly?: string;
  keepWithinYearly?: string;
  keepTag: string[];
  host: string[];
  tag: string[];
  path: string[];
  groupBy: string;
  dryRun?: boolean;
  prune?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function count(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n)) throw new CairnError('bad-policy', `${flag} "${text}" is not a whole number`, `Give ${flag} a count of snapshots, e.g. ${flag} 7.`);
  return n;
}

/** The retention policy the --keep-* flags describe. */
export function policyFromOptions(o: Omit<ForgetCliOptions, keyof RepoOptions | keyof PruneCliOptions | 'host' | 'tag' | 'path' | 'groupBy'>): ForgetPolicy {
  const p: ForgetPolicy = {};
  const counts = { last: ['--keep-last', o.keepLast], hourly: ['--keep-hourly', o.keepHourly], daily: ['--keep-daily', o.keepDaily], weekly: ['--keep-weekly', o.keepWeekly], monthly: ['--keep-monthly', o.keepMonthly], yearly: ['--keep-yearly', o.keepYearly] } as const;
  for (const [k, [flag, text]] of Object.entries(counts) as [keyof typeof counts, readonly [string, string | undefined]][]) {
    const n = count(flag, text);
    if (n !== undefined) p[k] = n;
  }
  if (o.keepWithin) p.within = parseDuration(o.keepWithin);
  if (o.keepWithinHourly) p.withinHourly = parseDuration(o.keepWithinHourly);
  if (o.keepWithinDaily) p.withinDaily = parseDuration(o.keepWithinDaily);
  if (o.keepWithinWeekly) p.withinWeekly = parseDuration(o.keepWithinWeekly);
  if (o.keepWithinMonthly) p.withinMonthly = parseDuration(o.keepWithinMonthly);
  if (o.keepWithinYearly) p.withinYearly = parseDuration(o.keepWithinYearly);
  if (o.keepTag.length > 0) p.tags = o.keepTag.map(parseTagList);
  return p;
}

/** restic's heading of a group: "snapshots for (tags [a], host [h], paths [/x]):". */
export function groupHeading(g: ForgetGroup): string | undefined {
  const parts: string[] = [];
  if (g.tags) parts.push(`tags [${g.tags.join(', ')}]`);
  if (g.host) parts.push(`host [${g.host}]`);
  if (g.paths) parts.push(`paths [${g.paths.join(', ')}]`);
  return parts.length > 0 ? `snapshots for (${parts.join(', ')}):` : undefined;
}

/** A keep or remove table as restic prints it; `reasons` adds the Reasons column. */
export function snapshotTable(list: readonly Snapshot[], reasons?: ReadonlyMap<string, string[]>): string {
  const head = reasons ? ['ID', 'Time', 'Host', 'Tags', 'Reasons', 'Paths'] : ['ID', 'Time', 'Host', 'Tags', 'Paths'];
  const rows = list.map((s) => {
    const row = [s.id.slice(0, 8), displayTime(s.time), s.hostname ?? '', (s.tags ?? []).join(',')];
    if (reasons) row.push((reasons.get(s.id) ?? []).join('\n'));
    row.push(s.paths.join('\n'));
    return row;
  });
  return `${renderTable(head, rows)}\n${list.length} snapshots\n`;
}

/** Prints a forget plan for people: per group, what is kept (and why) and what is removed. */
export function forgetPlanText(plan: readonly ForgetGroup[]): string {
  let out = '';
  for (const g of plan) {
    const heading = groupHeading(g);
    if (heading) out += heading + '\n';
    if (g.keep.length > 0) {
      const reasons = new Map(g.reasons.map((r) => [r.snapshot.id, r.matches]));
      out += `keep ${g.keep.length} snapshots:\n${snapshotTable(g.keep, reasons)}\n`;
    }
    if (g.remove.length > 0) out += `remove ${g.remove.length} snapshots:\n${snapshotTable(g.remove)}\n`;
  }
  return out;
}

/** Deletes snapshot files (a few at a time); returns how many were removed. */
export async function removeSnapshots(repo: Repository, ids: readonly string[]): Promise<number> {
  let removed = 0;
  await mapLimit(ids, 4, async (id) => {
    await repo.backend.remove({ type: 'snapshot', name: id });
    removed++;
  });
  return removed;
}

/** `cairn forget`: remove snapshots by a retention policy (or by id), optionally pruning afterwards. */
export function registerForget(program: Command): Command {
  return addPruneOptions(
    program
      .command('forget')
      .description('remove snapshots by a retention policy (or by id); --prune also frees their data')
      .argument('[ids...]', 'remove exactly these snapshots (ids or unique prefixes) instead of applying a policy')
      .option('-l, --keep-last <n>', 'keep the last n snapshots')
      .option('-H, --keep-hourly <n>', 'keep the last n hourly snapshots')
      .option('-d, --keep-daily <n>', 'keep the last n daily snapshots')
      .option('-w, --keep-weekly <n>', 'keep the last n weekly snapshots')
      .option('-m, --keep-monthly <n>', 'keep the last n monthly snapshots')
      .option('-y, --keep-yearly <n>', 'keep the last n yearly snapshots')
      .option('--keep-within <duration>', 'keep snapshots newer than duration (e.g. 1y5m7d2h) before the newest snapshot')
      .option('--keep-within-hourly <duration>', 'keep hourly snapshots newer than duration before the newest snapshot')
      .option('--keep-within-daily <duration>', 'keep daily snapshots newer than duration before the newest snapshot')
      .option('--keep-within-weekly <duration>', 'keep weekly snapshots newer than duration before the newest snapshot')
      .option('--keep-within-monthly <duration>', 'keep monthly snapshots newer than duration before the newest snapshot')
      .option('--keep-within-yearly <duration>', 'keep yearly snapshots newer than duration before the newest snapshot')
      .option('--keep-tag <taglist>', 'keep snapshots with this taglist ("a,b" = both; repeatable)', collect, [])
      .option('--host <host>', 'only consider snapshots of this host (repeatable)', collect, [])
      .option('--tag <taglist>', 'only consider snapshots with these tags ("a,b" = both; repeat for either)', collect, [])
      .option('--path <path>', 'only consider snapshots including this path (repeatable)', collect, [])
      .option('-g, --group-by <group>', 'group snapshots by host, paths and/or tags, comma-separated ("" for no grouping)', 'host,paths')
      .option('-n, --dry-run', 'only show what would be removed (and with --prune, what would be freed)')
      .option('--prune', 'run prune afterwards when snapshots were removed'),
  )
    .addHelpText(
      'after',
      `
The policy applies per group (default: same host and paths). A snapshot is kept when any
rule wants it; --dry-run shows which rule kept each one.
--json prints restic's \`forget --json\` array (groups with keep, remove and reasons) on one
line; with --prune a second line carries the prune summary.

Examples:
  cairn forget --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --dry-run
  cairn forget --keep-last 3 --host nas --tag auto --prune
  cairn forget 1a2b3c4d
`,
    )
    .action(async (ids: string[], _o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<ForgetCliOptions>();
      const json = !!opts.json;
      const dryRun = !!opts.dryRun;
      const policy = policyFromOptions(opts);
      const groupBy = parseGroupBy(opts.groupBy);
      const filter: SnapshotFilter = { hosts: opts.host, tags: opts.tag.map(parseTagList), paths: opts.path };
      const pruneOpts = opts.prune ? pruneOptionsFrom(opts) : undefined;
      if (ids.length > 0 && !isEmptyPolicy(policy)) throw new CairnError('usage', 'give either snapshot ids or --keep-* options, not both', 'Run `cairn forget ID...` to remove given snapshots, or `cairn forget --keep-...` to apply a policy.');
      const repo = await openRepository(opts, (m) => process.stderr.write(m + '\n'));
      // Writing commands exclude everyone else; a dry run only reads.
      const lock = await RepositoryLock.acquire(repo, !dryRun).catch(async (err: unknown) => {
        await repo.close();
        throw err;
      });
      try {
        const snapshots = await repo.loadSnapshots();
        let plan: ForgetGroup[] = [];
        let remove: string[];
        if (ids.length > 0) {
          const found = new Map<string, Snapshot>();
          for (const ref of ids) {
            const sn = await repo.resolveSnapshot(ref);
            found.set(sn.id, sn);
          }
          remove = [...found.keys()];
          if (!json) process.stdout.write(`${dryRun ? 'would remove' : 'removing'} ${remove.length} snapshots:\n${snapshotTable([...found.values()])}\n`);
        } else {
          if (isEmptyPolicy(policy)) {
            if (!json) process.stdout.write('no policy was specified, no snapshots will be removed\n');
          } else if (!json) process.stdout.write(`Applying Policy: ${describePolicy(policy)}\n`);
          plan = planForget(snapshots, policy, groupBy, filter);
          remove = snapshotsToRemove(plan);
          if (!json) process.stdout.write(forgetPlanText(plan));
        }
        if (remove.length > 0) {
          if (dryRun) {
            if (!json) process.stdout.write(`would have removed ${remove.length} snapshots: ${remove.map((id) => id.slice(0, 8)).join(' ')}\n`);
          } else {
            const n = await removeSnapshots(repo, remove);
            if (!json) process.stdout.write(`removed ${n} snapshots\n`);
          }
        }
        if (json) printJson(forgetPlanJson(plan));
        if (pruneOpts && remove.length > 0) {
          if (!json) process.stdout.write(`\n${remove.length} snapshots ${dryRun ? 'would be' : 'have been'} removed, ${dryRun ? 'planning' : 'running'} prune\n`);
          await runPrune(repo, { ...pruneOpts, dryRun, noLock: true, ignoreSnapshots: remove }, json);
        }
      } finally {
        await lock.release();
        await repo.close();
      }
    });
}
