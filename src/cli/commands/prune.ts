import type { Command } from 'commander';
import type { PruneOptions, PruneOutcome, PruneStep } from '../../engine/prune.js';
import { parseMaxUnused, parseSize, type PruneStats } from '../../engine/prunePlan.js';
import { CairnError } from '../../errors.js';
import type { Repository } from '../../repo/repository.js';
import { openRepository, type RepoOptions } from '../repoAccess.js';
import { formatBytes, printJson, ProgressReporter } from '../output.js';

/** The prune flags as commander parses them (shared by prune, forget --prune and cleanup). */
export interface PruneCliOptions {
  maxUnused: string;
  maxRepackSize?: string;
  packSize?: string;
  repackCacheableOnly?: boolean;
  repackSmall?: boolean;
  repackUncompressed?: boolean;
}

/** Adds restic's prune flags to a command. */
export function addPruneOptions(cmd: Command): Command {
  return cmd
    .option('--max-unused <limit>', 'tolerate this much unused space: a percentage, a size (k/m/g/t) or "unlimited"', '5%')
    .option('--max-repack-size <size>', 'repack at most this much (k/m/g/t suffixes)')
    .option('--pack-size <MiB>', 'target size of repacked packs in MiB (env CAIRN_PACK_SIZE or RESTIC_PACK_SIZE; default 16)')
    .option('--repack-cacheable-only', 'only repack packs of trees')
    .option('--repack-small', 'also repack packs below 80% of the target pack size')
    .option('--repack-uncompressed', 'compress uncompressed data while repacking');
}

/** Turns the parsed flags into library options (a CairnError for malformed values). */
export function pruneOptionsFrom(o: PruneCliOptions, env = process.env): PruneOptions {
  const out: PruneOptions = { maxUnused: parseMaxUnused(o.maxUnused) };
  if (o.maxRepackSize !== undefined) out.maxRepackBytes = parseSize(o.maxRepackSize, '--max-repack-size');
  const mib = o.packSize ?? env.CAIRN_PACK_SIZE ?? env.RESTIC_PACK_SIZE;
  if (mib !== undefined && mib !== '') {
    const n = Number(mib);
    if (!Number.isFinite(n) || n <= 0 || n > 128) throw new CairnError('bad-pack-size', `invalid pack size "${mib}"`, 'Give the target pack size in MiB, e.g. --pack-size 16 (at most 128).');
    out.packSize = Math.round(n * 1024 * 1024);
  }
  if (o.repackCacheableOnly) out.repackCacheableOnly = true;
  if (o.repackSmall) out.repackSmall = true;
  if (o.repackUncompressed) out.repackUncompressed = true;
  return out;
}

/**
 * A hook for the crash tests: with CAIRN_TEST_PRUNE_PAUSE=N the run stops
 * (and waits to be killed) just before its N-th change to the repository,
 * after printing one line naming the step on stderr.
 */
export function testPauseHook(env = process.env): ((step: PruneStep) => Promise<void>) | undefined {
  const at = Number(env.CAIRN_TEST_PRUNE_PAUSE);
  if (!env.CAIRN_TEST_PRUNE_PAUSE || !Number.isInteger(at) || at < 1) return undefined;
  let announced = false;
  return async (step) => {
    if (step.n < at) return;
    if (!announced) {
      announced = true;
      process.stderr.write(`cairn-test: paused before step ${step.n} (${step.action}${step.id ? ' ' + step.id.slice(0, 8) : ''})\n`);
    }
    await new Promise(() => setInterval(() => {}, 60_000));
  };
}

function percent(part: number, whole: number): string {
  return whole === 0 ? '0.000%' : `${((100 * part) / whole).toFixed(3)}%`;
}

/** The prune report as a JSON object (snake_case, byte counts as numbers). */
export function pruneReportJson(outcome: PruneOutcome, dryRun: boolean): Record<string, unknown> {
  const { stats: s, prediction: p } = outcome.plan;
  const out: Record<string, unknown> = {
    message_type: 'prune_summary',
    dry_run: dryRun,
    snapshots: outcome.snapshots,
    blobs: { used: s.blobs.used, duplicate: s.blobs.duplicate, unused: s.blobs.unused, remove: s.blobs.remove, repack: s.blobs.repack, repack_removed: s.blobs.repackrm },
    bytes: { used: s.size.used, duplicate: s.size.duplicate, unused: s.size.unused, unreferenced: s.size.unref, remove: s.size.remove, repack: s.size.repack, repack_removed: s.size.repackrm },
    packs: { used: s.packs.used, partly_used: s.packs.partlyUsed, unused: s.packs.unused, unreferenced: s.packs.unref, keep: s.packs.keep, repack: s.packs.repack, remove: s.packs.remove },
    expected: {
      pack_files_before: p.packFilesBefore,
      pack_bytes_before: p.packBytesBefore,
      pack_files_deleted: p.packFilesDeleted,
      pack_bytes_deleted: p.packBytesDeleted,
      pack_files_written: p.packFilesWritten,
      pack_bytes_written: p.packBytesWritten,
      pack_files_after: p.packFilesAfter,
      pack_bytes_after: p.packBytesAfter,
      bytes_freed: p.packBytesBefore - p.packBytesAfter,
    },
  };
  const r = outcome.result;
  if (r) {
    out.done = {
      unreferenced_packs_deleted: r.unreferencedPacksDeleted,
      packs_written: r.packsWritten,
      pack_bytes_written: r.packBytesWritten,
      index_files_written: r.indexFilesWritten,
      index_files_deleted: r.indexFilesDeleted,
      packs_deleted: r.packsDeleted,
      pack_bytes_deleted: r.packBytesDeleted,
    };
  }
  return out;
}

/** The prune report for people, laid out like restic's. */
export function pruneReportText(outcome: PruneOutcome, dryRun: boolean): string {
  const s: PruneStats = outcome.plan.stats;
  const p = outcome.plan.prediction;
  const n = (x: number) => String(x).padStart(10);
  const lines: string[] = [];
  lines.push(`used:         ${n(s.blobs.used)} blobs / ${formatBytes(s.size.used)}`);
  if (s.blobs.duplicate > 0) lines.push(`duplicates:   ${n(s.blobs.duplicate)} blobs / ${formatBytes(s.size.duplicate)}`);
  lines.push(`unused:       ${n(s.blobs.unused)} blobs / ${formatBytes(s.size.unused)}`);
  if (s.size.unref > 0) lines.push(`unreferenced:                    ${formatBytes(s.size.unref)}`);
  const totalBlobs = s.blobs.used + s.blobs.unused + s.blobs.duplicate;
  const totalSize = s.size.used + s.size.duplicate + s.size.unused + s.size.unref;
  const unusedSize = s.size.duplicate + s.size.unused;
  lines.push(`total:        ${n(totalBlobs)} blobs / ${formatBytes(totalSize)}`);
  lines.push(`unused size: ${percent(unusedSize, totalSize)} of total size`, '');
  const pruneSize = s.size.remove + s.size.repackrm + s.size.unref;
  lines.push(`to repack:    ${n(s.blobs.repack)} blobs / ${formatBytes(s.size.repack)}`);
  lines.push(`this removes: ${n(s.blobs.repackrm)} blobs / ${formatBytes(s.size.repackrm)}`);
  lines.push(`to delete:    ${n(s.blobs.remove)} blobs / ${formatBytes(s.size.remove + s.size.unref)}`);
  lines.push(`total prune:  ${n(s.blobs.remove + s.blobs.repackrm)} blobs / ${formatBytes(pruneSize)}`);
  lines.push(`remaining:    ${n(totalBlobs - s.blobs.remove - s.blobs.repackrm)} blobs / ${formatBytes(totalSize - pruneSize)}`);
  const unusedAfter = Math.max(0, unusedSize - s.size.remove - s.size.repackrm);
  lines.push(`unused size after prune: ${formatBytes(unusedAfter)} (${percent(unusedAfter, totalSize - pruneSize)} of remaining size)`, '');
  lines.push(`totally used packs: ${n(s.packs.used)}`, `partly used packs:  ${n(s.packs.partlyUsed)}`, `unused packs:       ${n(s.packs.unused)}`, '');
  lines.push(`to keep:      ${n(s.packs.keep)} packs`, `to repack:    ${n(s.packs.repack)} packs`, `to delete:    ${n(s.packs.remove)} packs`);
  if (s.packs.unref > 0) lines.push(`to delete:    ${n(s.packs.unref)} unreferenced packs`);
  lines.push('');
  lines.push(
    `pack files: ${formatBytes(p.packBytesBefore)} in ${p.packFilesBefore} now; ${dryRun ? 'would delete' : 'deleting'} ${p.packFilesDeleted} (${formatBytes(p.packBytesDeleted)}) and write ${p.packFilesWritten} (${formatBytes(p.packBytesWritten)})`,
    `expected after prune: ${formatBytes(p.packBytesAfter)} in ${p.packFilesAfter} pack files, ${formatBytes(p.packBytesBefore - p.packBytesAfter)} (${p.packBytesBefore - p.packBytesAfter} bytes) freed`,
  );
  const r = outcome.result;
  if (dryRun) lines.push('', 'dry run: nothing was changed');
  else if (r) {
    lines.push('');
    if (r.unreferencedPacksDeleted > 0) lines.push(`deleted ${r.unreferencedPacksDeleted} unreferenced packs`);
    if (r.packsWritten > 0) lines.push(`repacked into ${r.packsWritten} new packs (${formatBytes(r.packBytesWritten)})`);
    if (r.indexFilesWritten > 0 || r.indexFilesDeleted > 0) lines.push(`rebuilt the index: ${r.indexFilesWritten} new index files, ${r.indexFilesDeleted} old ones removed`);
    if (r.packsDeleted > 0) lines.push(`removed ${r.packsDeleted} old packs`);
    lines.push(`done: ${formatBytes(r.packBytesDeleted - r.packBytesWritten)} freed`);
  }
  return lines.join('\n') + '\n';
}

/** Runs a prune (or its dry run) on an open repository and prints the report; the caller holds the lock when `noLock` is set. */
export async function runPrune(repo: Repository, opts: PruneOptions, json: boolean): Promise<PruneOutcome> {
  const { pruneRepository } = await import('../../engine/prune.js');
  const progress = new ProgressReporter(json, 'prune');
  let outcome: PruneOutcome;
  try {
    const pause = testPauseHook();
    outcome = await pruneRepository(repo, {
      ...opts,
      // JSON mode prints only the summary, so stdout stays one document per command.
      ...(json ? {} : { onProgress: (p: { done: number; total: number; phase: string }) => progress.update(p.done, p.total, { phase: p.phase }) }),
      ...(pause ? { onStep: pause } : {}),
    });
  } finally {
    progress.stop();
  }
  if (json) printJson(pruneReportJson(outcome, !!opts.dryRun));
  else process.stdout.write(pruneReportText(outcome, !!opts.dryRun));
  return outcome;
}

/** `cairn prune`: remove data no snapshot needs. */
export function registerPrune(program: Command): Command {
  return addPruneOptions(
    program
      .command('prune')
      .description('remove data no snapshot needs: delete unused packs, repack partly used ones')
      .option('-n, --dry-run', 'only report what would be deleted and repacked, and the size afterwards'),
  )
    .addHelpText(
      'after',
      `
The repository stays valid if prune is interrupted at any point (new packs and index are
written before anything is deleted); run \`cairn unlock\` and prune again to finish.

Examples:
  cairn prune --dry-run              # what would be freed
  cairn prune --max-unused 0%        # repack until nothing unused is left
  cairn forget --keep-daily 7 --prune
`,
    )
    .action(async (_o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<RepoOptions & PruneCliOptions & { dryRun?: boolean }>();
      const pruneOpts = pruneOptionsFrom(opts);
      const repo = await openRepository(opts, (m) => process.stderr.write(m + '\n'));
      try {
        await runPrune(repo, { ...pruneOpts, dryRun: !!opts.dryRun }, !!opts.json);
      } finally {
        await repo.close();
      }
    });
}
