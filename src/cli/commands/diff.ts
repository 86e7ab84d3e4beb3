import type { Command } from 'commander';
import { CairnError } from '../../errors.js';
import { diffTrees, type DiffChange, type DiffSummary } from '../../engine/diff.js';
import { findNode } from '../../engine/treeWalker.js';
import type { Repository } from '../../repo/repository.js';
import type { Snapshot } from '../../repo/snapshot.js';
import { openRepository, type RepoOptions } from '../repoAccess.js';
import { formatBytes, printJson } from '../output.js';
import { splitSnapshotPath } from './ls.js';

/** Resolves `SNAPSHOT[:/folder]` to the snapshot and the tree to compare. */
async function resolveSide(repo: Repository, ref: string): Promise<{ snapshot: Snapshot; tree: string }> {
  const { snapshot: sref, subpath } = splitSnapshotPath(ref);
  const snapshot = await repo.resolveSnapshot(sref);
  const found = await findNode(repo, snapshot.tree, subpath);
  if (!found?.treeId) {
    throw new CairnError('no-such-folder', `${subpath} is not a folder in snapshot ${snapshot.id.slice(0, 8)}`, 'Give a folder as `cairn ls SNAPSHOT` prints it, e.g. latest:/home/user.');
  }
  return { snapshot, tree: found.treeId };
}

/** restic's closing block of `diff` as text, plus the change in file bytes. */
export function renderDiffSummary(s: DiffSummary): string {
  const n = (v: number) => String(v).padStart(5);
  const net = s.logical_added - s.logical_removed;
  return [
    `Files:       ${n(s.added.files)} new, ${n(s.removed.files)} removed, ${n(s.changed_files)} changed`,
    `Dirs:        ${n(s.added.dirs)} new, ${n(s.removed.dirs)} removed`,
    `Others:      ${n(s.added.others)} new, ${n(s.removed.others)} removed`,
    `Data Blobs:  ${n(s.added.data_blobs)} new, ${n(s.removed.data_blobs)} removed`,
    `Tree Blobs:  ${n(s.added.tree_blobs)} new, ${n(s.removed.tree_blobs)} removed`,
    `  Added:   ${formatBytes(s.added.bytes)}`,
    `  Removed: ${formatBytes(s.removed.bytes)}`,
    `File size: ${formatBytes(s.logical_added)} in, ${formatBytes(s.logical_removed)} out (${net < 0 ? '-' : '+'}${formatBytes(Math.abs(net))})`,
  ].join('\n');
}

/** `cairn diff A B`: what changed between two snapshots. */
export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description('show what changed between two snapshots')
    .argument('<snapshot-a>', 'snapshot id, prefix or "latest", optionally with ":/folder"')
    .argument('<snapshot-b>', 'snapshot id, prefix or "latest", optionally with ":/folder"')
    .option('--metadata', 'also list entries whose metadata (mode, times, owner, ...) changed, marked U')
    .option('--exact-stats', 'also read unchanged folders, so blob counts equal restic\'s when data moved into or out of them')
    .addHelpText(
      'after',
      `
Each line starts with what happened to the entry (as in restic diff):
  +  added      -  removed      M  content modified
  U  metadata changed (with --metadata)      T  type changed (e.g. file -> symlink)
  ?  content changed but all metadata is equal (probable bitrot)
Folders whose content is identical in both snapshots are skipped without reading them.
--json prints restic's lines: {"message_type":"change",...} and one {"message_type":"statistics",...}.
`,
    )
    .action(async (a: string, b: string, _o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<RepoOptions & { metadata?: boolean; exactStats?: boolean }>();
      const repo = await openRepository(opts, (m) => process.stderr.write(m + '\n'));
      try {
        await repo.loadIndex();
        const left = await resolveSide(repo, a);
        const right = await resolveSide(repo, b);
        if (!opts.json) process.stdout.write(`comparing snapshot ${left.snapshot.id.slice(0, 8)} to ${right.snapshot.id.slice(0, 8)}:\n\n`);
        const onChange = opts.json
          ? (c: DiffChange) => printJson({ message_type: 'change', path: c.path, modifier: c.modifier })
          : (c: DiffChange) => process.stdout.write(`${c.modifier.padEnd(5)}${c.path}\n`);
        const summary = await diffTrees(repo, left.tree, right.tree, { metadata: !!opts.metadata, exactBlobStats: !!opts.exactStats, onChange });
        if (opts.json) {
          printJson({
            message_type: 'statistics',
            source_snapshot: a,
            target_snapshot: b,
            changed_files: summary.changed_files,
            added: summary.added,
            removed: summary.removed,
            logical_added: summary.logical_added,
            logical_removed: summary.logical_removed,
          });
          return;
        }
        process.stdout.write(`\n${renderDiffSummary(summary)}\n`);
      } finally {
        await repo.close();
      }
    });
}
