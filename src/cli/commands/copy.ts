import type { Command } from 'commander';
import { parseTagList } from '../../engine/snapshotFilter.js';
import { CairnError, ExitCode } from '../../errors.js';
import { Repository } from '../../repo/repository.js';
import { backendFor, explicitPassword, openRepository, withBackendClosedOnFailure, type RepoOptions } from '../repoAccess.js';
import { formatBytes, printJson } from '../output.js';
import { displayTime } from './snapshots.js';

interface CopyCliOptions extends RepoOptions {
  fromRepo?: string;
  fromPasswordFile?: string;
  fromPasswordCommand?: string;
  host: string[];
  tag: string[];
  path: string[];
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** The environment with the source repository's variables (CAIRN_FROM_*, RESTIC_FROM_*) under the plain names explicitPassword reads. */
export function fromEnvironment(env = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const prefix of ['CAIRN', 'RESTIC']) {
    for (const name of ['PASSWORD', 'PASSWORD_FILE', 'PASSWORD_COMMAND']) {
      const v = env[`${prefix}_FROM_${name}`];
      if (v !== undefined) out[`${prefix}_${name}`] = v;
    }
  }
  return out;
}

/** Opens the source repository of `copy` from --from-repo / CAIRN_FROM_REPOSITORY and its password options. */
async function openSource(opts: CopyCliOptions): Promise<Repository> {
  const location = opts.fromRepo ?? process.env.CAIRN_FROM_REPOSITORY ?? process.env.RESTIC_FROM_REPOSITORY;
  if (!location) throw new CairnError('usage', 'copy needs the source repository', 'Give it with --from-repo LOCATION (or CAIRN_FROM_REPOSITORY); -r names the target.');
  const pwOpts: RepoOptions = {};
  if (opts.fromPasswordFile) pwOpts.passwordFile = opts.fromPasswordFile;
  if (opts.fromPasswordCommand) pwOpts.passwordCommand = opts.fromPasswordCommand;
  const password = await explicitPassword(pwOpts, fromEnvironment());
  if (password === undefined) {
    throw new CairnError('no-password', `no password for the source repository ${location}`, 'Give it with --from-password-file FILE, --from-password-command CMD or CAIRN_FROM_PASSWORD (RESTIC_FROM_PASSWORD works too).', ExitCode.wrongPassword);
  }
  const backend = await backendFor(location);
  return withBackendClosedOnFailure(backend, () => Repository.open(backend, password));
}

/** `cairn copy`: copy snapshots from another repository into this one. */
export function registerCopy(program: Command): Command {
  return program
    .command('copy')
    .description('copy snapshots from another repository (--from-repo) into this one (-r)')
    .argument('[ids...]', 'snapshots to copy (ids, prefixes or "latest"); default: all that match the filters')
    .option('--from-repo <location>', 'source repository (env CAIRN_FROM_REPOSITORY or RESTIC_FROM_REPOSITORY)')
    .option('--from-password-file <file>', 'password file of the source repository (env CAIRN_FROM_PASSWORD_FILE)')
    .option('--from-password-command <cmd>', 'command printing the source password (env CAIRN_FROM_PASSWORD_COMMAND)')
    .option('--host <host>', 'only snapshots of this host (repeatable)', collect, [])
    .option('--tag <taglist>', 'only snapshots with these tags ("a,b" = both; repeat for either)', collect, [])
    .option('--path <path>', 'only snapshots including this path (repeatable)', collect, [])
    .addHelpText(
      'after',
      `
Data is copied blob by blob from the source repository; the original files are not read.
When the two repositories use different chunker polynomials, file contents are cut again
with the target's, so later backups into the target deduplicate against the copies.
Snapshots copied before are skipped, so running the same copy twice copies nothing.

Examples:
  cairn copy -r /mnt/offsite --from-repo /srv/backup --from-password-file ~/.src-pass
  cairn copy -r sftp:nas:/cairn --from-repo /srv/backup --host web latest
`,
    )
    .action(async (ids: string[], _o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<CopyCliOptions>();
      const { copySnapshots } = await import('../../engine/copy.js');
      const src = await openSource(opts);
      let dst: Repository | undefined;
      try {
        dst = await openRepository(opts, (m) => process.stderr.write(m + '\n'));
        const result = await copySnapshots(src, dst, {
          ids,
          filter: { hosts: opts.host, tags: opts.tag.map(parseTagList), paths: opts.path },
          onSnapshot: (e) => {
            if (opts.json) return;
            const what = `snapshot ${e.source.id.slice(0, 8)} of [${e.source.paths.join(', ')}] at ${displayTime(e.source.time)}`;
            process.stdout.write(e.kind === 'copied' ? `${what}: copied as ${e.target.slice(0, 8)}\n` : `${what}: skipped, already copied as ${e.existing.slice(0, 8)}\n`);
          },
        });
        if (opts.json) {
          printJson({ message_type: 'summary', copied: result.copied, skipped: result.skipped, rechunked: result.rechunked, blobs_added: result.blobsAdded, bytes_added: result.bytesAdded, stored_bytes: result.storedBytes });
        } else {
          if (result.rechunked) process.stdout.write('the repositories use different chunker polynomials: file contents were cut again for the target\n');
          process.stdout.write(`copied ${result.copied.length} snapshots, skipped ${result.skipped.length}; added ${result.blobsAdded} blobs (${formatBytes(result.bytesAdded)} of file data, ${formatBytes(result.storedBytes)} stored)\n`);
        }
      } finally {
        await dst?.close();
        await src.close();
      }
    });
}
