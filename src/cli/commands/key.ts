import { promises as fs } from 'node:fs';
import type { Command } from 'commander';
import { CairnError } from '../../errors.js';
import { RepositoryLock } from '../../repo/lock.js';
import type { Repository } from '../../repo/repository.js';
import { defaultLocations, explicitLocation, explicitPassword, openRepository, type RepoOptions } from '../repoAccess.js';
import { printJson, renderTable } from '../output.js';
import { displayTime } from './snapshots.js';

/** One key file as `cairn key list` shows it (restic's JSON field names). */
export interface KeyInfo {
  current: boolean;
  id: string;
  userName: string;
  hostName: string;
  created: string;
}

/** Lists the repository's keys; key files that cannot be read are reported through `warn` and skipped. */
export async function listKeys(repo: Repository, warn: (msg: string) => void = () => {}): Promise<KeyInfo[]> {
  const out: KeyInfo[] = [];
  for (const id of await repo.listIds('key')) {
    try {
      const k = await repo.loadKeyFile(id);
      out.push({ current: id === repo.keyId, id, userName: k.username ?? '', hostName: k.hostname ?? '', created: k.created ?? '' });
    } catch (err) {
      warn(`cannot read key file ${id.slice(0, 8)}: ${(err as Error).message}`);
    }
  }
  return out.sort((a, b) => Date.parse(a.created) - Date.parse(b.created) || a.id.localeCompare(b.id));
}

/** The full id of the key whose id starts with `prefix`. */
export async function findKeyId(repo: Repository, prefix: string): Promise<string> {
  if (!/^[0-9a-f]{1,64}$/.test(prefix)) throw new CairnError('bad-key-id', `"${prefix}" is not a key id`, 'Give an id (or unique prefix) as `cairn key list` prints it.');
  const matches = (await repo.listIds('key')).filter((id) => id.startsWith(prefix));
  if (matches.length === 0) throw new CairnError('no-key', `no key with id ${prefix}`, 'List the keys with `cairn key list`.');
  if (matches.length > 1) throw new CairnError('ambiguous-key', `key id prefix ${prefix} is ambiguous (${matches.length} matches)`, 'Give more characters of the id.');
  return matches[0]!;
}

/**
 * Removes key `id`, refusing to remove the last key (the repository would be
 * lost) and the key this session opened the repository with. Call it under an
 * exclusive lock.
 */
export async function removeKey(repo: Repository, id: string, opts: { allowCurrent?: boolean } = {}): Promise<void> {
  const all = await repo.listIds('key');
  if (!all.includes(id)) throw new CairnError('no-key', `no key with id ${id.slice(0, 8)}`, 'List the keys with `cairn key list`.');
  if (all.length <= 1) {
    throw new CairnError('last-key', `refusing to remove key ${id.slice(0, 8)}: it is the repository's only key, without it nothing can be read`, 'Add another key first with `cairn key add`, or change the password with `cairn key passwd`.');
  }
  if (id === repo.keyId && !opts.allowCurrent) {
    throw new CairnError('current-key', `refusing to remove key ${id.slice(0, 8)}: it is the key currently used to open the repository`, 'Open the repository with another password to remove this key, or use `cairn key passwd` to replace it.');
  }
  await repo.backend.remove({ type: 'key', name: id });
}

/** The new password from --new-password-file or CAIRN_NEW_PASSWORD. */
async function newPassword(file: string | undefined): Promise<string> {
  let pw: string | undefined;
  if (file) {
    try {
      pw = (await fs.readFile(file, 'utf8')).replace(/\r?\n$/, '');
    } catch {
      throw new CairnError('password-file', `cannot read new password file ${file}`, 'Check the path given with --new-password-file.');
    }
  } else pw = process.env.CAIRN_NEW_PASSWORD;
  if (pw === undefined) throw new CairnError('no-new-password', 'no new password given', 'Give it with --new-password-file FILE or the environment variable CAIRN_NEW_PASSWORD.');
  if (pw === '') throw new CairnError('empty-password', 'an empty password is not allowed', 'Choose a non-empty password.');
  return pw;
}

async function withRepo<T>(opts: RepoOptions, exclusive: boolean | undefined, fn: (repo: Repository) => Promise<T>): Promise<T> {
  const repo = await openRepository(opts, (m) => process.stderr.write(m + '\n'));
  let lock: RepositoryLock | undefined;
  try {
    if (exclusive !== undefined) lock = await RepositoryLock.acquire(repo, exclusive);
    return await fn(repo);
  } finally {
    await lock?.release();
    await repo.close();
  }
}

/** `cairn key list|add|remove|passwd`: manage the passwords of a repository. */
export function registerKey(program: Command): void {
  const key = program.command('key').description('manage repository keys (passwords)');

  key
    .command('list')
    .description('list keys; * marks the one in use')
    .action(async (_o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<RepoOptions>();
      await withRepo(opts, undefined, async (repo) => {
        const keys = await listKeys(repo, (m) => process.stderr.write(`cairn: ${m}\n`));
        if (opts.json) {
          printJson(keys);
          return;
        }
        const rows = keys.map((k) => [`${k.current ? '*' : ' '}${k.id.slice(0, 8)}`, k.userName, k.hostName, k.created ? displayTime(k.created) : '']);
        process.stdout.write(renderTable([' ID', 'User', 'Host', 'Created'], rows) + '\n');
      });
    });

  key
    .command('add')
    .description('add a key (another password for the same repository)')
    .option('--new-password-file <file>', 'read the new password from a file (or set CAIRN_NEW_PASSWORD)')
    .action(async (_o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<RepoOptions & { newPasswordFile?: string }>();
      const pw = await newPassword(opts.newPasswordFile);
      await withRepo(opts, false, async (repo) => {
        const id = await repo.addKey(pw);
        if (opts.json) printJson({ message_type: 'key_added', id });
        else process.stdout.write(`saved new key as ${id.slice(0, 8)}\n`);
      });
    });

  key
    .command('remove')
    .description('remove a key; refuses the key in use and the last key')
    .argument('<id>', 'key id or unique prefix (see `cairn key list`)')
    .action(async (idPrefix: string, _o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<RepoOptions>();
      await withRepo(opts, true, async (repo) => {
        const id = await findKeyId(repo, idPrefix);
        await removeKey(repo, id);
        if (opts.json) printJson({ message_type: 'key_removed', id });
        else process.stdout.write(`removed key ${id.slice(0, 8)}\n`);
      });
    });

  key
    .command('passwd')
    .description('change the password: add a key for the new one, then remove the key in use')
    .option('--new-password-file <file>', 'read the new password from a file (or set CAIRN_NEW_PASSWORD)')
    .action(async (_o, cmd: Command) => {
      const opts = cmd.optsWithGlobals<RepoOptions & { newPasswordFile?: string }>();
      const pw = await newPassword(opts.newPasswordFile);
      await withRepo(opts, true, async (repo) => {
        const id = await repo.addKey(pw);
        // The embedded default repository is opened with a generated password file: keep it in step.
        if (!explicitLocation(opts) && (await explicitPassword(opts)) === undefined) {
          const file = defaultLocations().passwordFile;
          await fs.writeFile(`${file}.new`, pw + '\n', { mode: 0o600 });
          await fs.rename(`${file}.new`, file);
          if (!opts.json) process.stdout.write(`updated the default repository's password file ${file}\n`);
        }
        await removeKey(repo, repo.keyId, { allowCurrent: true });
        if (opts.json) printJson({ message_type: 'password_changed', id, removed: repo.keyId });
        else process.stdout.write(`saved new key as ${id.slice(0, 8)} and removed the old key ${repo.keyId.slice(0, 8)}\n`);
      });
    });
}
