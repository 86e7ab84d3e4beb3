// Secrets in cairn.yaml: given inline, or as `<name>_file`, `<name>_command`
// or `<name>_env`. Resolving one puts its value under `<name>`, so callers
// read `repo.password` whichever way the user chose.
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isErrno } from '../errors.js';
import { SECRET_NAMES } from './config.js';
import { ConfigError, type ConfigProblem, formatKeyPath, type KeyPath } from './configError.js';

/** How a secret is given. */
export type SecretSource = 'inline' | 'file' | 'command' | 'env';

/** One secret in the config and where it comes from. */
export interface SecretRef {
  /** Path of the mapping holding it, e.g. ['repositories', 'default']. */
  owner: KeyPath;
  /** The secret's name: password, access_key_id, secret_access_key. */
  name: (typeof SECRET_NAMES)[number];
  source: SecretSource;
  /** The key as written: password, password_file, password_command or password_env. */
  key: string;
  /** What was written: the file, the command or the variable name ('' for inline values, which are not repeated). */
  spec: string;
}

/** What resolving needs: where relative files are, which environment to read, how long a command may run. */
export interface SecretOptions {
  /** Directory relative `*_file` paths are resolved against (the config file's directory). */
  baseDir: string;
  /** Environment for `*_env` lookups and `*_command` runs (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** How long a `*_command` may run (default 60 s). */
  commandTimeoutMs?: number;
}

const SUFFIX_SOURCE: Record<string, SecretSource> = { _file: 'file', _command: 'command', _env: 'env' };

/**
 * Every secret in a validated config (outside `environments:`, which is
 * merged in before this runs). Two ways of giving one secret is an error.
 */
export function findSecretRefs(config: unknown): SecretRef[] {
  const refs: SecretRef[] = [];
  const problems: ConfigProblem[] = [];
  const visit = (value: unknown, at: KeyPath): void => {
    if (Array.isArray(value)) {
      value.forEach((v, i) => visit(v, [...at, i]));
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const obj = value as Record<string, unknown>;
    for (const name of SECRET_NAMES) {
      const given: SecretRef[] = [];
      for (const [suffix, source] of [['', 'inline'], ...Object.entries(SUFFIX_SOURCE)] as Array<[string, SecretSource]>) {
        const key = `${name}${suffix}`;
        const v = obj[key];
        if (typeof v === 'string') given.push({ owner: at, name, source, key, spec: source === 'inline' ? '' : v });
      }
      if (given.length > 1) {
        problems.push({
          path: [...at, given[1]!.key],
          message: `${given.map((g) => g.key).join(' and ')} are both set`,
          remedy: `Give the ${name.replaceAll('_', ' ')} one way only: remove ${given
            .slice(1)
            .map((g) => g.key)
            .join(' and ')} or ${given[0]!.key}.`,
        });
      }
      if (given[0]) refs.push(given[0]);
    }
    for (const [key, v] of Object.entries(obj)) {
      // Overlays are merged in already; a command's env: is the user's own variables.
      if ((at.length === 0 && key === 'environments') || key === 'env') continue;
      visit(v, [...at, key]);
    }
  };
  visit(config, []);
  if (problems.length > 0) throw new ConfigError(problems);
  return refs;
}

/** The secret's value. Failures are ConfigErrors naming the key, what was tried and the fix. */
export async function resolveSecret(ref: SecretRef, options: SecretOptions): Promise<string> {
  const env = options.env ?? process.env;
  const where = [...ref.owner, ref.key];
  const fail = (message: string, remedy: string, cause?: unknown): ConfigError => new ConfigError([{ path: where, message, remedy }], { cause });
  const what = ref.name.replaceAll('_', ' ');
  switch (ref.source) {
    case 'inline':
      throw new Error(`inline secret ${formatKeyPath(where)} needs no resolving`);
    case 'file': {
      const file = expandHome(ref.spec, env, options.baseDir);
      let text: string;
      try {
        text = await fs.readFile(file, 'utf8');
      } catch (err) {
        if (isErrno(err, 'ENOENT')) {
          throw fail(
            `secret file ${file} does not exist`,
            `Create ${file} holding the ${what} (readable only by the user running cairn: chmod 600 ${file}), or point ${ref.key} at the file that has it.`,
            err,
          );
        }
        if (isErrno(err, 'EACCES')) {
          throw fail(`secret file ${file} cannot be read (permission denied)`, `Run cairn as a user who can read ${file}, or give that user access (chown/chmod).`, err);
        }
        if (isErrno(err, 'EISDIR')) throw fail(`secret file ${file} is a directory`, `Point ${ref.key} at the file holding the ${what}, not a directory.`, err);
        throw fail(`secret file ${file} cannot be read: ${(err as Error).message}`, `Check that ${file} is a readable file.`, err);
      }
      const value = text.replace(/\r?\n$/, '');
      if (value === '') throw fail(`secret file ${file} is empty`, `Put the ${what} in ${file}.`);
      return value;
    }
    case 'command': {
      const result = await runSecretCommand(ref.spec, options.baseDir, env, options.commandTimeoutMs ?? 60_000);
      if (result.error) throw fail(`${ref.key} could not run: ${result.error.message}`, 'Check that /bin/sh exists and cairn may start processes.', result.error);
      if (result.timedOut) {
        throw fail(`${ref.key} did not finish within ${Math.round((options.commandTimeoutMs ?? 60_000) / 1000)}s: ${ref.spec}`, `Run it yourself to see where it waits (it gets no terminal input): ${ref.spec}`);
      }
      if (result.code !== 0) {
        const why = result.stderr.split('\n').find((l) => l.trim() !== '')?.trim() ?? 'no error output';
        const status = result.code === null ? `killed by ${result.signal}` : `exit ${result.code}`;
        throw fail(`${ref.key} failed (${status}): ${why}`, `Run it yourself to see why: ${ref.spec}`);
      }
      const value = result.stdout.replace(/[\r\n]+$/, '');
      if (value === '') throw fail(`${ref.key} printed nothing: ${ref.spec}`, `Make the command print the ${what} on stdout, then run it yourself to check: ${ref.spec}`);
      return value;
    }
    case 'env': {
      const value = env[ref.spec];
      if (value === undefined || value === '') {
        throw fail(
          `environment variable ${ref.spec} is not set`,
          `Set it before running cairn (export ${ref.spec}=...; for a systemd service use Environment= or EnvironmentFile=), or give the ${what} with ${ref.name}_file instead.`,
        );
      }
      return value;
    }
  }
}

/** Resolves `refs` and stores each value under its name in `config` (e.g. repositories.default.password). */
export async function resolveSecrets(config: object, refs: readonly SecretRef[], options: SecretOptions): Promise<void> {
  for (const ref of refs) {
    if (ref.source === 'inline') continue;
    // One at a time: a password manager may ask for its passphrase once, then cache it.
    const value = await resolveSecret(ref, options);
    let owner: unknown = config;
    for (const part of ref.owner) owner = (owner as Record<string | number, unknown>)[part];
    (owner as Record<string, unknown>)[ref.name] = value;
  }
}

function expandHome(file: string, env: NodeJS.ProcessEnv, baseDir: string): string {
  if (file === '~' || file.startsWith('~/')) return path.join(env.HOME ?? os.homedir(), file.slice(1));
  return path.resolve(baseDir, file);
}

interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  error?: Error;
}

function runSecretCommand(command: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout: '', stderr: '', timedOut: false, error });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    });
  });
}
