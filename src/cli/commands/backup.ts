import { promises as fs } from 'node:fs';
import type { Command } from 'commander';
import { backupEntries, backupPaths, summaryCounters, type BackupResult } from '../../engine/backup.js';
import { ExcludeFilter } from '../../engine/excludeFilter.js';
import type { ArchiveProgress } from '../../engine/archiver.js';
import { CairnError, ExitCode } from '../../errors.js';
import { openRepository, type RepoOptions } from '../repoAccess.js';
import { formatBytes, printJson, ProgressReporter } from '../output.js';
import { parseTimeOption } from '../timeOption.js';
import { withConfigOptions, type ConfigOptions } from '../configAccess.js';

// Component backups (cairn.yaml) load the orchestrator on use: a backup of plain paths never needs it.
const components = () => import('./components.js');

interface BackupCliOptions extends RepoOptions, ConfigOptions {
  component: string[];
  reason?: string;
  copy?: boolean;
  tag: string[];
  host?: string;
  time?: string;
  exclude: string[];
  excludeFile: string[];
  excludeCaches?: boolean;
  oneFileSystem?: boolean;
  stdin?: boolean;
  stdinFilename: string;
  parent?: string;
  force?: boolean;
  dryRun?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** `cairn backup PATH...`: one snapshot of files (or stdin), like `restic backup`. */
export function registerBackup(program: Command): Command {
  return withConfigOptions(program
    .command('backup')
    .description('back up files and folders (or stdin), or the components of cairn.yaml')
    .argument('[paths...]', 'files and folders to back up; none: the components of cairn.yaml; `list` / `info ID`: component backups')
    .option('--component <name>', 'with cairn.yaml: only this component (repeatable)', collect, [])
    .option('--reason <why>', 'with cairn.yaml: why this backup is made (stored as a tag)')
    .option('--no-copy', 'with cairn.yaml: do not copy the new snapshots to the copy-target repositories')
    .option('--tag <tag>', 'add a tag (repeatable; "a,b" adds two)', collect, [])
    .option('--host <name>', 'hostname to record (default: this machine)')
    .option('--time <time>', 'time to record instead of now ("2024-01-15 10:20:30")')
    .option('-e, --exclude <pattern>', 'exclude paths matching the pattern (repeatable)', collect, [])
    .option('--exclude-file <file>', 'read exclude patterns from a file (repeatable)', collect, [])
    .option('--exclude-caches', 'skip the contents of folders with a CACHEDIR.TAG')
    .option('-x, --one-file-system', 'do not cross filesystem boundaries')
    .option('--stdin', 'read the content to back up from standard input')
    .option('--stdin-filename <name>', 'file name for --stdin', 'stdin')
    .option('--parent <snapshot>', 'compare against this snapshot instead of the latest one of the same host and paths')
    .option('-f, --force', 're-read every file, even unchanged ones')
    .option('-n, --dry-run', 'show what would be backed up, write nothing')
    .addHelpText('after', `
Unchanged files (same size, mtime, ctime and inode as in the parent snapshot) are not read again.
Exit codes: 0 done, 1 failed, 3 snapshot made but some files could not be read, 10 no repository, 11 locked, 12 wrong password.

Examples:
  cairn backup ~/Documents                     # the embedded default repository, created on first use
  cairn backup                                 # every component of cairn.yaml, in dependency order
  cairn backup --component db --env production
  cairn backup list                            # component backups: id, component, created, type, reason, size
  cairn backup info 1a2b3c4d
  cairn backup -r /mnt/nas/cairn --tag daily /etc /srv
  pg_dump -Fc app | cairn backup --stdin --stdin-filename app.pgdump
`))
    .action(async (paths: string[], _o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<BackupCliOptions>();
      const isPath = async (p: string) => fs.lstat(p).then(() => true, () => false);
      if (paths[0] === 'list' && !(await isPath('list'))) return (await components()).runBackupList(opts);
      if (paths[0] === 'info' && !(await isPath('info'))) {
        if (!paths[1]) throw new CairnError('usage', 'backup info needs a backup id', 'Run `cairn backup list` to see the ids.');
        return (await components()).runBackupInfo(paths[1], opts);
      }
      if (!opts.stdin && paths.length === 0 && (opts.component.length > 0 || (await hasConfig(opts)))) return (await components()).runComponentBackup(opts);
      if (!opts.stdin && paths.length === 0) throw new CairnError('no-paths', 'nothing to back up: no paths given', 'Name the files or folders to back up, e.g. `cairn backup ~/Documents`, or use --stdin.');
      if (opts.stdin && paths.length > 0) throw new CairnError('usage', '--stdin cannot be combined with paths', 'Give either paths or --stdin.');
      if (opts.stdinFilename.includes('/') || opts.stdinFilename === '..' || opts.stdinFilename === '.') throw new CairnError('usage', `--stdin-filename "${opts.stdinFilename}" must be a plain file name`, 'Use a name without "/", e.g. --stdin-filename dump.sql.');
      for (const p of paths) {
        try {
          await fs.lstat(p);
        } catch {
          throw new CairnError('no-such-path', `${p} does not exist`, 'Check the path; cairn backs up existing files and folders.');
        }
      }
      const tags = opts.tag.flatMap((t) => t.split(',')).filter(Boolean);
      const excludes = [...opts.exclude, ...ExcludeFilter.readPatternFiles(opts.excludeFile)];
      if (opts.dryRun) {
        process.stdout.write(`would back up: ${opts.stdin ? `stdin as /${opts.stdinFilename}` : paths.join(', ')}${excludes.length ? ` (excluding ${excludes.join(', ')})` : ''}\n`);
        return;
      }
      const repo = await openRepository(opts, (m) => process.stderr.write(m + '\n'), true);
      const progress = new ProgressReporter(!!opts.json, 'backup');
      const common = {
        tags,
        host: opts.host,
        time: opts.time ? parseTimeOption(opts.time) : undefined,
        excludes,
        excludeCaches: opts.excludeCaches,
        oneFileSystem: opts.oneFileSystem,
        parent: opts.parent,
        force: opts.force,
        // progress (and the scanner that counts ahead for it) only when someone sees it
        onProgress: !opts.json && !process.stderr.isTTY ? undefined : (p: ArchiveProgress) =>
          progress.update(p.bytesDone, p.totalBytes, { files_done: p.filesDone, bytes_done: p.bytesDone, total_files: p.totalFiles, total_bytes: p.totalBytes, current_files: p.currentFiles.slice(0, 2) }),
        onError: (p: string, err: Error) => {
          if (opts.json) printJson({ message_type: 'error', error: { message: err.message }, during: 'archival', item: p });
          else process.stderr.write(`error: ${p}: ${err.message}\n`);
        },
      };
      let result: BackupResult;
      try {
        result = opts.stdin
          ? await backupEntries(repo, [{ kind: 'stream', name: opts.stdinFilename, open: () => process.stdin }], [`/${opts.stdinFilename}`], common)
          : await backupPaths(repo, paths, common);
      } finally {
        progress.stop();
        await repo.close();
      }
      printSummary(result, !!opts.json);
      if (result.errors.length > 0) process.exitCode = ExitCode.partial;
    });
}

async function hasConfig(opts: ConfigOptions): Promise<boolean> {
  const { findConfigPath } = await import('../../orchestrator/loadConfig.js');
  try {
    findConfigPath({ explicit: opts.config });
    return true;
  } catch {
    return false;
  }
}

function printSummary(r: BackupResult, json: boolean): void {
  const s = r.stats;
  if (json) {
    printJson({
      message_type: 'summary',
      ...summaryCounters(s),
      total_duration: r.durationMs / 1000,
      snapshot_id: r.snapshot.id,
      parent: r.parent,
    });
    return;
  }
  const out = process.stdout;
  out.write(r.parent ? `using parent snapshot ${r.parent.slice(0, 8)}\n` : 'no parent snapshot found, will read all files\n');
  out.write(`\nFiles:  ${String(s.filesNew).padStart(6)} new, ${String(s.filesChanged).padStart(6)} changed, ${String(s.filesUnmodified).padStart(6)} unmodified\n`);
  out.write(`Dirs:   ${String(s.dirsNew).padStart(6)} new, ${String(s.dirsChanged).padStart(6)} changed, ${String(s.dirsUnmodified).padStart(6)} unmodified\n`);
  out.write(`Added to the repository: ${formatBytes(s.dataAdded)} (${formatBytes(s.dataAddedPacked)} stored)\n\n`);
  out.write(`processed ${s.totalFilesProcessed} files, ${formatBytes(s.totalBytesProcessed)} in ${(r.durationMs / 1000).toFixed(1)}s\n`);
  out.write(`snapshot ${r.snapshot.id.slice(0, 8)} saved\n`);
  if (r.errors.length) out.write(`\nWarning: ${r.errors.length} path(s) could not be read; the snapshot is incomplete (exit code 3).\n`);
}
