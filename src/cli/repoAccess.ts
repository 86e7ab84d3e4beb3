import { promises as fs } from 'node:fs';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import envPaths from 'env-paths';
import type { Backend } from '../backend/backend.js';
import { openBackend } from '../backend/open.js';
import { CairnError, ExitCode } from '../errors.js';
import { Repository } from '../repo/repository.js';
import { formatPolynomial, randomPolynomial } from '../chunker/polynomial.js';

/** Opens (or creates) a repository on `backend`, closing the backend when that fails so no connection keeps the process alive. */
export async function withBackendClosedOnFailure<T>(backend: Backend, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    await backend.close().catch(() => {});
    throw err;
  }
}

/** Global options every repository command accepts. */
export interface RepoOptions {
  repo?: string;
  passwordFile?: string;
  passwordCommand?: string;
  json?: boolean;
}

const paths = envPaths('cairn', { suffix: '' });

/** Where the embedded default repository and its password file live. */
export function defaultLocations(env = process.env): { repository: string; passwordFile: string } {
  const dataDir = env.CAIRN_DATA_DIR ?? paths.data;
  const configDir = env.CAIRN_CONFIG_DIR ?? paths.config;
  return { repository: path.join(dataDir, 'repository'), passwordFile: path.join(configDir, 'password') };
}

/** The repository location from -r/--repo, CAIRN_REPOSITORY or RESTIC_REPOSITORY; undefined means the embedded default. */
export function explicitLocation(opts: RepoOptions, env = process.env): string | undefined {
  return opts.repo ?? env.CAIRN_REPOSITORY ?? env.RESTIC_REPOSITORY ?? undefined;
}

/** Opens the backend of a repository location (a path, or sftp:/s3:/rest: in restic's syntax). */
export function backendFor(location: string): Promise<Backend> {
  return openBackend(location);
}

function runPasswordCommand(cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', cmd], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new CairnError('password-command', `password command failed: ${stderr.toString().split('\n')[0] || err.message}`, 'Check the command given with --password-command / CAIRN_PASSWORD_COMMAND.'));
      else resolve(stdout.toString().replace(/\r?\n$/, ''));
    });
  });
}

async function readPasswordFile(file: string): Promise<string> {
  try {
    return (await fs.readFile(file, 'utf8')).replace(/\r?\n$/, '');
  } catch {
    throw new CairnError('password-file', `cannot read password file ${file}`, 'Check the path given with --password-file / CAIRN_PASSWORD_FILE.');
  }
}

/** The password from options or environment (cairn's names first, then restic's), if any was given. */
export async function explicitPassword(opts: RepoOptions, env = process.env): Promise<string | undefined> {
  if (opts.passwordFile) return readPasswordFile(opts.passwordFile);
  if (opts.passwordCommand) return runPasswordCommand(opts.passwordCommand);
  for (const prefix of ['CAIRN', 'RESTIC']) {
    const file = env[`${prefix}_PASSWORD_FILE`];
    if (file) return readPasswordFile(file);
    const cmd = env[`${prefix}_PASSWORD_COMMAND`];
    if (cmd) return runPasswordCommand(cmd);
    const pw = env[`${prefix}_PASSWORD`];
    if (pw !== undefined) return pw;
  }
  return undefined;
}

/** A generated password for the embedded default, kept in a 0600 file; created on first use. */
async function defaultPassword(file: string, create: boolean, notice: (msg: string) => void): Promise<string | undefined> {
  try {
    return await readPasswordFile(file);
  } catch {
    if (!create) return undefined;
  }
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const pw = randomBytes(24).toString('base64url');
  await fs.writeFile(file, pw + '\n', { mode: 0o600, flag: 'wx' });
  notice(`cairn: generated a password for the default repository and saved it in ${file} (mode 0600).\n  Keep a copy of it somewhere safe: without it the backups cannot be read.`);
  return pw;
}

const noPasswordError = () =>
  new CairnError('no-password', 'no repository password given', 'Give it with --password-file FILE, --password-command CMD, or CAIRN_PASSWORD (RESTIC_PASSWORD works too).', ExitCode.wrongPassword);

/** Creates a new repository at the chosen location (embedded default when none is given). */
export async function initRepository(opts: RepoOptions & { copyChunkerParamsFrom?: Repository }, notice: (msg: string) => void): Promise<Repository> {
  const location = explicitLocation(opts);
  const defaults = defaultLocations();
  let password = await explicitPassword(opts);
  if (!location && password === undefined) password = await defaultPassword(defaults.passwordFile, true, notice);
  if (password === undefined) throw noPasswordError();
  const backend = await backendFor(location ?? defaults.repository);
  const init: Parameters<typeof Repository.init>[2] = { newPolynomial: () => formatPolynomial(randomPolynomial()) };
  if (opts.copyChunkerParamsFrom) init.polynomial = opts.copyChunkerParamsFrom.config.chunker_polynomial;
  return withBackendClosedOnFailure(backend, () => Repository.init(backend, password, init));
}

/**
 * Opens the repository a command works on. Without any location the
 * embedded default is used, and created on first use when `createDefault` is set
 * (so `cairn backup DIR` works on a fresh machine).
 */
export async function openRepository(opts: RepoOptions, notice: (msg: string) => void, createDefault = false): Promise<Repository> {
  const location = explicitLocation(opts);
  if (location) {
    const password = await explicitPassword(opts);
    if (password === undefined) throw noPasswordError();
    const backend = await backendFor(location);
    return withBackendClosedOnFailure(backend, () => Repository.open(backend, password));
  }
  const defaults = defaultLocations();
  const backend = await backendFor(defaults.repository);
  const exists = await backend.exists({ type: 'config', name: 'config' });
  if (!exists) {
    if (!createDefault) {
      throw new CairnError('no-repository', `no repository given and the default one (${defaults.repository}) does not exist yet`, 'Run `cairn backup DIR` to create it on first use, `cairn init`, or choose one with -r/--repo or CAIRN_REPOSITORY.', ExitCode.noRepository);
    }
    notice(`cairn: creating the default repository in ${defaults.repository}`);
    return initRepository(opts, notice);
  }
  const password = (await explicitPassword(opts)) ?? (await defaultPassword(defaults.passwordFile, false, notice));
  if (password === undefined) throw noPasswordError();
  return withBackendClosedOnFailure(backend, () => Repository.open(backend, password));
}
