import type { Command } from 'commander';
import { CairnError, ExitCode } from '../../errors.js';
import { openRepository, type RepoOptions } from '../repoAccess.js';
import { formatBytes, printJson, ProgressReporter } from '../output.js';
import { splitSnapshotPath } from './ls.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** `cairn restore SNAPSHOT[:/path] --target DIR`. */
export function registerRestore(program: Command): Command {
  return program
    .command('restore')
    .description('restore a snapshot (or a folder inside it) into a target folder')
    .argument('<snapshot>', 'snapshot id, prefix or "latest", optionally with ":/path/inside"')
    .requiredOption('-t, --target <dir>', 'folder to restore into (created if missing)')
    .option('-i, --include <pattern>', 'restore only matching paths (repeatable)', collect, [])
    .option('-e, --exclude <pattern>', 'skip matching paths (repeatable)', collect, [])
    .addHelpText('after', '\nExamples:\n  cairn restore latest --target /tmp/restore\n  cairn restore 1a2b3c4d:/home/me/docs --target ~/docs-back --include "*.odt"\n')
    .action(async (ref: string, _o, cmd: Command) => {
      // loaded on use: keeps `cairn --help` and other commands fast
      const { restoreSnapshot } = await import('../../engine/restorer.js');
      const opts = cmd.optsWithGlobals<RepoOptions & { target: string; include: string[]; exclude: string[] }>();
      const { snapshot: sref, subpath } = splitSnapshotPath(ref);
      const repo = await openRepository(opts, (m) => process.stderr.write(m + '\n'));
      const progress = new ProgressReporter(!!opts.json, 'restore');
      try {
        const snap = await repo.resolveSnapshot(sref);
        await repo.loadIndex();
        if (!opts.json) process.stdout.write(`restoring snapshot ${snap.id.slice(0, 8)} of ${JSON.stringify(snap.paths)} to ${opts.target}\n`);
        const result = await restoreSnapshot(repo, snap, {
          target: opts.target,
          subpath: subpath === '/' ? undefined : subpath,
          include: opts.include,
          exclude: opts.exclude,
          onProgress: (p) => progress.update(p.bytesDone, p.bytesTotal ?? 0),
          onError: (p, err) => {
            if (opts.json) printJson({ message_type: 'error', error: { message: err.message }, during: 'restore', item: p });
            else process.stderr.write(`error: ${p}: ${err.message}\n`);
          },
        });
        progress.stop();
        if (opts.json) printJson({ message_type: 'summary', files_restored: result.files, dirs_restored: result.dirs, bytes_restored: result.bytes, errors: result.errors.length });
        else process.stdout.write(`restored ${result.files} files, ${result.dirs} folders, ${formatBytes(result.bytes)}${result.errors.length ? `; ${result.errors.length} error(s)` : ''}\n`);
        if (result.errors.length) {
          throw new CairnError('restore-incomplete', `${result.errors.length} item(s) could not be restored (listed above)`, 'Run `cairn check --read-data` to find damaged packs; the other files were restored.', ExitCode.failure);
        }
      } finally {
        progress.stop();
        await repo.close();
      }
    });
}
