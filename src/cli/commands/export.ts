import path from 'node:path';
import type { Command } from 'commander';
import { CairnError } from '../../errors.js';
import { exportSnapshot, type ExportFormat, type ExportProgress } from '../../engine/export.js';
import { SplitWriter, writeSha256Sums, type WrittenFile } from '../../engine/splitWriter.js';
import { openRepository, type RepoOptions } from '../repoAccess.js';
import { formatBytes, printJson, ProgressReporter } from '../output.js';
import { splitSnapshotPath } from './ls.js';

interface ExportCliOptions extends RepoOptions {
  format?: string;
  output?: string;
  split?: string;
  checksum?: boolean;
  zipLevel?: string;
}

const units: Record<string, number> = { '': 1, b: 1, k: 1024, kib: 1024, kb: 1000, m: 1024 ** 2, mib: 1024 ** 2, mb: 1000 ** 2, g: 1024 ** 3, gib: 1024 ** 3, gb: 1000 ** 3, t: 1024 ** 4, tib: 1024 ** 4, tb: 1000 ** 4 };

/** Parses a size like split(1) does: `10M` and `10MiB` are 10·1024², `10MB` is 10·1000²; a plain number is bytes. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = units[(m?.[2] ?? '').toLowerCase()];
  const value = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new CairnError('bad-size', `"${text}" is not a size`, 'Give a size like 100M (MiB), 4G (GiB), 650MB (decimal) or a number of bytes.');
  }
  return value;
}

/** The archive format from --format, else from the output name (.zip), else tar. */
function chooseFormat(format: string | undefined, output: string | undefined): ExportFormat {
  if (format !== undefined) {
    if (format !== 'tar' && format !== 'zip') throw new CairnError('bad-format', `unknown archive format "${format}"`, 'Use --format tar or --format zip.');
    return format;
  }
  return output?.toLowerCase().endsWith('.zip') ? 'zip' : 'tar';
}

/** `cairn export SNAPSHOT[:/path]`: a snapshot as a tar or zip archive, optionally split and checksummed. */
export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write a snapshot (or a folder in it) as a tar or zip archive')
    .argument('<snapshot>', 'snapshot id, prefix or "latest", optionally with ":/path/inside"')
    .option('--format <format>', 'tar or zip (default: zip for an --output ending in .zip, else tar)')
    .option('-o, --output <file>', 'write the archive to this file (default: standard output)')
    .option('--split <size>', 'split into FILE.part001, FILE.part002, ... of at most SIZE (e.g. 100M, 4G); `cat` joins them')
    .option('--checksum', 'write SHA256SUMS next to the output, for `sha256sum -c SHA256SUMS`')
    .option('--zip-level <n>', 'zip: deflate level 0 (store) to 9', '6')
    .addHelpText(
      'after',
      `
The archive holds the snapshot's files with their paths below the snapshot root
(or below the given folder). tar keeps modes, owners, nanosecond mtimes, symlinks,
hard links, xattrs (pax headers; extract with GNU tar --xattrs), devices and fifos;
zip keeps modes, mtimes (to the second) and symlinks. Contents are streamed.

Examples:
  cairn export latest -o home.tar
  cairn export latest:/srv/photos --format zip -o photos.zip --split 4G --checksum
  cat photos.zip.part* > photos.zip && sha256sum -c SHA256SUMS
`,
    )
    .action(async (ref: string, _o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<ExportCliOptions>();
      const format = chooseFormat(opts.format, opts.output);
      const partSize = opts.split !== undefined ? parseSize(opts.split) : undefined;
      const zipLevel = Number(opts.zipLevel ?? '6');
      if (!Number.isInteger(zipLevel) || zipLevel < 0 || zipLevel > 9) throw new CairnError('bad-zip-level', `--zip-level ${opts.zipLevel} is not 0 to 9`, 'Give a deflate level from 0 (store) to 9 (smallest).');
      if (!opts.output && (partSize !== undefined || opts.checksum)) {
        throw new CairnError('output-needed', '--split and --checksum need an output file', 'Give the archive\'s file name with --output FILE.');
      }
      if (!opts.output && process.stdout.isTTY) {
        throw new CairnError('stdout-is-terminal', 'refusing to write an archive to the terminal', 'Give --output FILE, or redirect standard output: `cairn export latest > backup.tar`.');
      }
      const { snapshot: sref, subpath } = splitSnapshotPath(ref);
      const repo = await openRepository(opts, (m) => process.stderr.write(m + '\n'));
      const writer = opts.output ? new SplitWriter(opts.output, partSize !== undefined ? { partSize } : {}) : undefined;
      const report = (msg: Record<string, unknown>) => (writer ? printJson(msg) : process.stderr.write(JSON.stringify(msg) + '\n'));
      const progress = new ProgressReporter(!!opts.json && !!writer, 'export');
      try {
        await writer?.checkTargetFree();
        const snap = await repo.resolveSnapshot(sref);
        await repo.loadIndex();
        const out = writer ?? process.stdout;
        let result: ExportProgress;
        try {
          result = await exportSnapshot(repo, snap, out, {
            format,
            subpath,
            zipLevel,
            onProgress: (p) => progress.update(p.archiveBytes, 0, { entries: p.entries }),
            onSkip: (p, reason) => (opts.json ? report({ message_type: 'skipped', path: p, reason }) : process.stderr.write(`cairn: skipped /${p}: ${reason}\n`)),
          });
          await writer?.close();
        } catch (err) {
          writer?.destroy();
          throw err;
        } finally {
          progress.stop();
        }
        const files: WrittenFile[] = writer ? writer.files : [];
        let sums: string | undefined;
        if (writer && opts.checksum) {
          // every part when split, else the archive itself
          sums = await writeSha256Sums(path.dirname(path.resolve(opts.output!)), files);
        }
        if (opts.json) {
          report({ message_type: 'summary', snapshot_id: snap.id, format, entries: result.entries, file_bytes: result.fileBytes, archive_bytes: result.archiveBytes, skipped: result.skipped, sha256: writer?.sha256, files, checksum_file: sums });
          return;
        }
        if (!writer) return;
        const names = files.length === 1 ? files[0]!.path : `${files.length} parts ${path.basename(files[0]!.path)} … ${path.basename(files[files.length - 1]!.path)}`;
        process.stdout.write(`exported snapshot ${snap.id.slice(0, 8)}${subpath !== '/' ? `:${subpath}` : ''} as ${format}: ${result.entries} entries, ${formatBytes(result.archiveBytes)} → ${names}\n`);
        if (sums) process.stdout.write(`checksums in ${sums} (check with: cd ${path.dirname(sums)} && sha256sum -c SHA256SUMS)\n`);
      } finally {
        await repo.close();
      }
    });
}
