import type { Command } from 'commander';
import { openBackend, type OpenBackendOptions } from '../backend/open.js';
import { CairnError, ExitCode } from '../errors.js';
import { Repository } from '../repo/repository.js';
import { formatPolynomial, randomPolynomial } from '../chunker/polynomial.js';
import type { LoadedConfig } from '../orchestrator/loadConfig.js';
import type { RepositoryConfig } from '../orchestrator/config.js';
import type { OrchestratorContext } from '../orchestrator/context.js';
import { explicitPassword, withBackendClosedOnFailure, type RepoOptions } from './repoAccess.js';

/** Options of commands that work from cairn.yaml. */
export interface ConfigOptions extends RepoOptions {
  config?: string;
  env?: string;
}

/** Adds --config and --env to a command. */
export function withConfigOptions(cmd: Command): Command {
  return cmd.option('-c, --config <file>', 'cairn.yaml to use (default: $CAIRN_CONFIG, ./cairn.yaml, ~/.config/cairn/cairn.yaml, /etc/cairn/cairn.yaml)').option('--env <name>', 'environment of cairn.yaml to overlay (e.g. production)');
}

/** Loads and checks cairn.yaml for a command (the parser, zod and yaml, load only here: plain-path commands never need them). */
export async function loadCliConfig(opts: ConfigOptions): Promise<LoadedConfig> {
  const { loadConfig } = await import('../orchestrator/loadConfig.js');
  return loadConfig({ path: opts.config, environment: opts.env });
}

function backendOptions(r: RepositoryConfig): OpenBackendOptions {
  const o: OpenBackendOptions = {};
  if (r.sftp) o.sftp = { identityFile: r.sftp.identity_file, knownHostsFile: r.sftp.known_hosts_file } as OpenBackendOptions['sftp'];
  if (r.s3) {
    const s3 = r.s3 as typeof r.s3 & { access_key_id?: string; secret_access_key?: string };
    o.s3 = { region: s3.region, forcePathStyle: s3.path_style } as OpenBackendOptions['s3'];
    if (s3.access_key_id && s3.secret_access_key) o.s3!.credentials = { accessKeyId: s3.access_key_id, secretAccessKey: s3.secret_access_key };
  }
  if (r.rest) {
    const rest = r.rest as typeof r.rest & { password?: string };
    o.rest = { username: rest.username, password: rest.password } as OpenBackendOptions['rest'];
  }
  return o;
}

/**
 * Opens the default repository of cairn.yaml (or -r/--repo when given), and
 * creates it on first use so that `cairn backup` works right after writing
 * the config.
 */
export async function openConfigRepository(loaded: LoadedConfig, opts: ConfigOptions, notice: (m: string) => void, name = 'default'): Promise<Repository> {
  const repoCfg = loaded.config.repositories[name]!;
  const location = name === 'default' ? (opts.repo ?? repoCfg.url) : repoCfg.url;
  const password = (name === 'default' ? await explicitPassword(opts) : undefined) ?? (repoCfg as { password?: string }).password;
  if (password === undefined) {
    throw new CairnError('no-password', `no password for repository ${location}`, `Add password_file: (or password_command:) to repositories.default in ${loaded.path}, or set CAIRN_PASSWORD.`, ExitCode.wrongPassword);
  }
  const backend = await openBackend(location, name === 'default' && opts.repo ? {} : backendOptions(repoCfg));
  return withBackendClosedOnFailure(backend, async () => {
    if (!(await backend.exists({ type: 'config', name: 'config' }))) {
      notice(`cairn: creating repository ${location} (first use)`);
      return Repository.init(backend, password, { newPolynomial: () => formatPolynomial(randomPolynomial()) });
    }
    return Repository.open(backend, password);
  });
}

/** Loads the config and opens its repository: what every component command starts with. */
export async function openContext(opts: ConfigOptions, log: (line: string) => void): Promise<OrchestratorContext> {
  const loaded = await loadCliConfig(opts);
  const repo = await openConfigRepository(loaded, opts, log);
  return { loaded, repo, log };
}
