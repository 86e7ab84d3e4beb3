import type { Command } from 'commander';
import { Repository } from '../../repo/repository.js';
import { backendFor, explicitPassword, initRepository, withBackendClosedOnFailure, type RepoOptions } from '../repoAccess.js';
import { printJson } from '../output.js';
import { CairnError } from '../../errors.js';

/** `cairn init`: create a repository. */
export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create a new repository (restic format v2)')
    .option('--copy-chunker-params-from <repo>', 'use the chunker polynomial of another repository, so both deduplicate alike (its password: --from-password-file or CAIRN_FROM_PASSWORD)')
    .option('--from-password-file <file>', 'password file of the repository given with --copy-chunker-params-from')
    .addHelpText('after', '\nExamples:\n  cairn init -r /srv/backup/cairn --password-file ~/.cairn-pass\n  cairn init            # the embedded default repository and a generated password\n')
    .action(async (_o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<RepoOptions & { copyChunkerParamsFrom?: string; fromPasswordFile?: string }>();
      let from: Repository | undefined;
      if (opts.copyChunkerParamsFrom) {
        const pw = await explicitPassword({ passwordFile: opts.fromPasswordFile }, { CAIRN_PASSWORD: process.env.CAIRN_FROM_PASSWORD, RESTIC_PASSWORD: process.env.RESTIC_FROM_PASSWORD });
        if (pw === undefined) throw new CairnError('no-password', 'no password for the repository given with --copy-chunker-params-from', 'Give it with --from-password-file FILE or CAIRN_FROM_PASSWORD.');
        const backend = await backendFor(opts.copyChunkerParamsFrom);
        from = await withBackendClosedOnFailure(backend, () => Repository.open(backend, pw));
      }
      const repo = await initRepository({ ...opts, copyChunkerParamsFrom: from }, (m) => process.stderr.write(m + '\n'));
      if (opts.json) printJson({ message_type: 'initialized', id: repo.config.id, repository: repo.backend.location });
      else process.stdout.write(`created cairn repository ${repo.config.id.slice(0, 10)} at ${repo.backend.location}\n\nPlease note that knowledge of your password is required to access\nthe repository. Losing your password means that your data is\nirrecoverably lost.\n`);
      await repo.close();
    });
}
