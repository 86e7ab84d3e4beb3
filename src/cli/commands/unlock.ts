import type { Command } from 'commander';
import { removeLocks } from '../../repo/lock.js';
import { openRepository, type RepoOptions } from '../repoAccess.js';
import { printJson } from '../output.js';

/** `cairn unlock`: remove stale locks (or all with --remove-all). */
export function registerUnlock(program: Command): void {
  program
    .command('unlock')
    .description('remove stale locks (of processes that are gone, or older than 30 minutes)')
    .option('--remove-all', 'remove every lock, also of running processes (only if you are sure none is running)')
    .action(async (_o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<RepoOptions & { removeAll?: boolean }>();
      const repo = await openRepository(opts, (m) => process.stderr.write(m + '\n'));
      try {
        const removed = await removeLocks(repo, !!opts.removeAll);
        if (opts.json) printJson({ message_type: 'unlock', removed });
        else process.stdout.write(`successfully removed ${removed.length} lock${removed.length === 1 ? '' : 's'}\n`);
      } finally {
        await repo.close();
      }
    });
}
