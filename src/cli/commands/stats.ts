import type { Command } from 'commander';
import { matchesFilter } from './snapshots.js';
import { CairnError } from '../../errors.js';
import { computeStats, STATS_MODES, type ModeStats, type StatsMode, type StatsReport } from '../../engine/stats.js';
import type { Repository } from '../../repo/repository.js';
import type { Snapshot } from '../../repo/snapshot.js';
import { openRepository, type RepoOptions } from '../repoAccess.js';
import { formatBytes, printJson } from '../output.js';

const collect = (v: string, prev: string[]) => [...prev, v];

interface StatsOptions extends RepoOptions {
  mode: string;
  host: string[];
  tag: string[];
  path: string[];
}

export async function selectSnapshots(repo: Repository, ids: readonly string[], filter: { host?: string[]; tag?: string[]; path?: string[] }): Promise<Snapshot[]> {
  const matches = (s: Snapshot) => matchesFilter(s, filter);
  if (ids.length === 0) return (await repo.loadSnapshots()).filter(matches);
  const out: Snapshot[] = [];
  for (const id of ids) {
    const s = await repo.resolveSnapshot(id, matches);
    if (!out.some((o) => o.id === s.id)) out.push(s);
  }
  return out;
}

/** restic's text layout for one mode's figures. */
export function renderModeStats(mode: StatsMode, s: ModeStats): string {
  const lines = [`Stats in ${mode} mode:`, `     Snapshots processed:  ${s.snapshots_count}`];
  if (s.total_blob_count) lines.push(`        Total Blob Count:  ${s.total_blob_count}`);
  if (s.total_file_count) lines.push(`        Total File Count:  ${s.total_file_count}`);
  if (s.total_uncompressed_size) lines.push(` Total Uncompressed Size:  ${formatBytes(s.total_uncompressed_size)}`);
  lines.push(`              Total Size:  ${formatBytes(s.total_size)}`);
  if (s.compression_progress) lines.push(`    Compression Progress:  ${s.compression_progress.toFixed(2)}%`);
  if (s.compression_ratio) lines.push(`       Compression Ratio:  ${s.compression_ratio.toFixed(2)}x`);
  if (s.compression_space_saving) lines.push(`Compression Space Saving:  ${s.compression_space_saving.toFixed(2)}%`);
  return lines.join('\n');
}

/** cairn's storage view as text. */
export function renderStorage(r: StatsReport): string {
  const s = r.storage;
  return [
    'Storage:',
    `   Logical size (restore):  ${formatBytes(s.logical_size)}`,
    `  Unique data after dedup:  ${formatBytes(s.unique_size)}`,
    `   Stored (compr.+encr.):   ${formatBytes(s.stored_size)}`,
    `              Dedup ratio:  ${s.dedup_ratio.toFixed(2)}x`,
    `        Compression ratio:  ${s.compression_ratio.toFixed(2)}x`,
    `                    Blobs:  ${s.data_blob_count} data, ${s.tree_blob_count} tree`,
    `                    Packs:  ${s.pack_count} used of ${s.repository_pack_count} in the repository (${formatBytes(s.repository_pack_size)})`,
  ].join('\n');
}

/** `cairn stats`: sizes, counts, dedup and compression of the repository's snapshots. */
export function registerStats(program: Command): void {
  program
    .command('stats')
    .description('show sizes, dedup and compression of snapshots (restic stats modes)')
    .argument('[snapshots...]', 'snapshot ids, prefixes or "latest" (default: all snapshots matching the filters)')
    .option('--mode <mode>', `counting mode: ${STATS_MODES.join(', ')}`, 'restore-size')
    .option('--host <host>', 'only snapshots of this host (repeatable)', collect, [])
    .option('--tag <tags>', 'only snapshots with these tags ("a,b" = both; repeat for either)', collect, [])
    .option('--path <path>', 'only snapshots including this path (repeatable)', collect, [])
    .addHelpText(
      'after',
      `
Modes (as restic's):
  restore-size       size of the files as a restore would write them (default)
  raw-data           size of the unique blobs the snapshots reference, as stored
  files-by-contents  size of the unique file contents
  blobs-per-file     unique blobs per file

Every mode also shows cairn's storage view: logical size, stored size, dedup
and compression ratios, blob and pack counts. --json prints restic's fields
(total_size, total_file_count, ...) plus a "storage" object.
`,
    )
    .action(async (ids: string[], _o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<StatsOptions>();
      if (!(STATS_MODES as readonly string[]).includes(opts.mode)) {
        throw new CairnError('bad-mode', `unknown counting mode: ${opts.mode}`, `Use one of ${STATS_MODES.join(', ')}.`);
      }
      const mode = opts.mode as StatsMode;
      const repo = await openRepository(opts, (m) => process.stderr.write(m + '\n'));
      try {
        const snapshots = await selectSnapshots(repo, ids, opts);
        await repo.loadIndex();
        if (!opts.json && process.stderr.isTTY) process.stderr.write('scanning...\n');
        const report = await computeStats(repo, snapshots);
        if (opts.json) {
          printJson({ ...report.modes[mode], storage: report.storage });
          return;
        }
        process.stdout.write(`${renderModeStats(mode, report.modes[mode])}\n\n${renderStorage(report)}\n`);
      } finally {
        await repo.close();
      }
    });
}
