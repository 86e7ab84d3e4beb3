import type { Command } from 'commander';
import { RepositoryLock } from '../../repo/lock.js';
import { CairnError, ExitCode } from '../../errors.js';
import { openRepository, type RepoOptions } from '../repoAccess.js';
import { printJson, ProgressReporter } from '../output.js';

/** Parses --read-data-subset: "n/m" or "p%". */
export function parseSubset(s: string): { n: number; m: number } | { percent: number } {
  const frac = /^(\d+)\/(\d+)$/.exec(s);
  if (frac) {
    const n = Number(frac[1]);
    const m = Number(frac[2]);
    if (n >= 1 && m >= 1 && n <= m) return { n, m };
  }
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (pct && Number(pct[1]) > 0 && Number(pct[1]) <= 100) return { percent: Number(pct[1]) };
  throw new CairnError('usage', `invalid --read-data-subset "${s}"`, 'Use n/m (e.g. 1/5 reads the first fifth) or a percentage like 10%.');
}

/** `cairn check`: verify the repository's structure, and with --read-data all stored bytes. */
export function registerCheck(program: Command): Command {
  return program
    .command('check')
    .description('verify the repository: index, packs, snapshots and trees; --read-data also every stored byte')
    .option('--read-data', 'read, decrypt and hash every blob')
    .option('--read-data-subset <subset>', 'read only a subset of packs: n/m or p%')
    .action(async (_o, cmd: Command) => {
      // loaded on use: keeps `cairn --help` and other commands fast
      const { checkRepository } = await import('../../engine/checker.js');
      const opts = cmd.optsWithGlobals<RepoOptions & { readData?: boolean; readDataSubset?: string }>();
      const subset = opts.readDataSubset ? parseSubset(opts.readDataSubset) : undefined;
      const repo = await openRepository(opts, (m) => process.stderr.write(m + '\n'));
      const progress = new ProgressReporter(!!opts.json, 'check');
      let lock: RepositoryLock | undefined;
      try {
        lock = await RepositoryLock.acquire(repo, true);
        const result = await checkRepository(repo, {
          readData: !!opts.readData || !!subset,
          readDataSubset: subset,
          onProgress: (done, total) => progress.update(done, total),
        });
        progress.stop();
        if (opts.json) printJson({ message_type: 'summary', num_errors: result.errors.length, errors: result.errors, hints: result.hints });
        else {
          for (const h of result.hints) process.stdout.write(`${h}\n`);
          for (const e of result.errors) process.stdout.write(`error: ${e.message}\n`);
          if (result.errors.length === 0) process.stdout.write('no errors were found\n');
        }
        if (result.errors.length) throw new CairnError('check-failed', `check found ${result.errors.length} error(s)`, 'See the errors above; `restic repair index` / `restic repair packs` fix most damage, then run `cairn check` again.', ExitCode.failure);
      } finally {
        progress.stop();
        await lock?.release();
        await repo.close();
      }
    });
}
