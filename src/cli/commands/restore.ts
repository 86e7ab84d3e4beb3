import type { Command } from 'commander';
import { CairnError, ExitCode } from '../../errors.js';
import { openRepository, type RepoOptions } from '../repoAccess.js';
import { formatBytes, printJson, ProgressReporter } from '../output.js';
import { splitSnapshotPath } from './ls.js';
import type { ConfigOptions } from '../configAccess.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** `cairn restore SNAPSHOT[:/path] --target DIR`. */
export function registerRestore(program: Command): Command {
  return program
    .command('restore')
    .description('restore a snapshot (or a folder inside it) into a target folder')
    .argument('[snapshot]', 'snapshot id, prefix or "latest", optionally with ":/path/inside"')
    .option('-t, --target <dir>', 'folder to restore into (created if missing)')
    .option('--component <name>', 'with cairn.yaml: restore this component (safety snapshot first, rollback on failure)')
    .option('--snapshot <id>', 'with --component: this snapshot instead of the newest')
    .option('--at <time>', 'with --component: the newest snapshot at or before this time')
    .option('--to <target>', 'with --component: restore into another place (folder, database name) instead of over the live data; SOURCE=TARGET for one source (repeatable)', collect, [])
    .option('--preview', 'with --component: show what would change, change nothing')
    .option('-f, --force', 'with --component: do not ask for confirmation')
    .option('-c, --config <file>', 'cairn.yaml to use')
    .option('--env <name>', 'environment of cairn.yaml to overlay')
    .option('-i, --include <pattern>', 'restore only matching paths (repeatable)', collect, [])
    .option('-e, --exclude <pattern>', 'skip matching paths (repeatable)', collect, [])
    .addHelpText('after', '\nExamples:\n  cairn restore latest --target /tmp/restore\n  cairn restore 1a2b3c4d:/home/me/docs --target ~/docs-back --include "*.odt"\n  cairn restore --component db --preview\n  cairn restore --component db --at "2026-11-20 03:00" --force\n  cairn restore --component db --to db=app_copy     # into another database, live one untouched\n')
    .action(async (ref: string | undefined, _o, cmd: Command) => {
      const all = cmd.optsWithGlobals<ConfigOptions & { component?: string; snapshot?: string; at?: string; to: string[]; preview?: boolean; force?: boolean; target?: string }>();
      if (all.component) return (await import('./components.js')).runComponentRestore({ ...all, component: all.component });
      if (!ref || !all.target) throw new CairnError('usage', 'restore needs a snapshot and --target DIR (or --component NAME with cairn.yaml)', 'Example: `cairn restore latest --target /tmp/restore`.');
      // loaded on use: keeps `cairn --help` and other commands fast
      const { restoreSnapshot } = await import('../../engine/restorer.js');
      const opts = cmd.optsWithGlobals<RepoOptions & { target: string; include: string[]; exclude: string[] }>();
      const target = all.target;
      const { snapshot: sref, subpath } = splitSnapshotPath(ref);
      const repo = await openRepository(opts, (m) => process.stderr.write(m + '\n'));
      const progress = new ProgressReporter(!!opts.json, 'restore');
      try {
        const snap = await repo.resolveSnapshot(sref);
        await repo.loadIndex();
        if (!opts.json) process.stdout.write(`restoring snapshot ${snap.id.slice(0, 8)} of ${JSON.stringify(snap.paths)} to ${target}\n`);
        const result = await restoreSnapshot(repo, snap, {
          target: target,
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
