// Finding, reading and checking cairn.yaml: YAML with positions, the zod
// schema, `--env` overlays, the component graph and secrets. Every mistake a
// user can make here ends as one ConfigError naming file:line:col, the key
// path and the fix.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import envPaths from 'env-paths';
import { CairnError, isErrno } from '../errors.js';
import { type CairnConfig, CairnConfigSchema } from './config.js';
import { buildComponentGraph, type ComponentGraph } from './componentGraph.js';
import { ConfigError, type ConfigLocation, type ConfigProblem, didYouMean, type KeyPath } from './configError.js';
import { type IssueProblem, problemsFromIssues } from './configIssues.js';
import { findSecretRefs, resolveSecrets as resolveSecretRefs, type SecretRef } from './secrets.js';
import { type PositionMap, parseYamlWithPositions } from './yamlDocument.js';

/** Where a config file was found. */
export type ConfigOrigin = 'flag' | 'env' | 'cwd' | 'user' | 'system';

/** A config file found by findConfigPath. */
export interface FoundConfig {
  path: string;
  origin: ConfigOrigin;
}

/** Inputs to config discovery. */
export interface FindConfigOptions {
  /** The --config argument. */
  explicit?: string;
  /** Environment (CAIRN_CONFIG); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Directory ./cairn.yaml is looked for in; default process.cwd(). */
  cwd?: string;
  /** System-wide config directory, tried last; default /etc/cairn. */
  systemDir?: string;
}

/** The places cairn looks for its config, in order (after --config and CAIRN_CONFIG). */
export function configSearchPaths(options: Pick<FindConfigOptions, 'cwd' | 'systemDir'> = {}): FoundConfig[] {
  return [
    { path: path.resolve(options.cwd ?? process.cwd(), 'cairn.yaml'), origin: 'cwd' },
    { path: path.join(envPaths('cairn', { suffix: '' }).config, 'cairn.yaml'), origin: 'user' },
    { path: path.join(options.systemDir ?? '/etc/cairn', 'cairn.yaml'), origin: 'system' },
  ];
}

/**
 * The config file to use: --config, else $CAIRN_CONFIG, else ./cairn.yaml,
 * else the user's config dir (~/.config/cairn/cairn.yaml), else
 * /etc/cairn/cairn.yaml. A named file that does not exist is an error, not a
 * reason to look elsewhere.
 */
export function findConfigPath(options: FindConfigOptions = {}): FoundConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const named: Array<[string | undefined, ConfigOrigin, string]> = [
    [options.explicit, 'flag', '--config'],
    [env.CAIRN_CONFIG, 'env', 'CAIRN_CONFIG'],
  ];
  for (const [given, origin, by] of named) {
    if (given === undefined || given === '') continue;
    const file = path.resolve(cwd, given);
    if (!existsSync(file)) {
      throw new CairnError('config', `config file ${file} (named by ${by}) does not exist`, `Check the path given to ${by}, or create the file (docs/cairn.example.yaml is a starting point).`);
    }
    return { path: file, origin };
  }
  const candidates = configSearchPaths({ cwd, ...(options.systemDir !== undefined ? { systemDir: options.systemDir } : {}) });
  const found = candidates.find((c) => existsSync(c.path));
  if (found) return found;
  throw new CairnError(
    'config',
    `no cairn.yaml found (looked for ${candidates.map((c) => c.path).join(', ')})`,
    `Create one of those (docs/cairn.example.yaml is a starting point), or name the file with --config PATH or CAIRN_CONFIG.`,
  );
}

/** Which secrets to resolve: all, none, or those of some repositories and components. */
export type SecretScope = 'all' | 'none' | { repositories?: readonly string[]; components?: readonly string[] };

/** Options for loadConfig. */
export interface LoadConfigOptions {
  /** The --config argument. */
  path?: string;
  /** The --env argument: the environment to overlay onto the base. */
  environment?: string;
  /** Environment variables (CAIRN_CONFIG, `*_env` secrets, `*_command` runs); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Directory ./cairn.yaml is looked for in; default process.cwd(). */
  cwd?: string;
  /** System-wide config directory; default /etc/cairn. */
  systemDir?: string;
  /** Secrets to resolve now (default 'all'); the rest can be resolved later with LoadedConfig.resolveSecrets. */
  secrets?: SecretScope;
}

/** A checked config, ready to run. */
export interface LoadedConfig {
  /** Absolute path of the file read. */
  path: string;
  /** How it was found. */
  origin: ConfigOrigin;
  /** The environment overlaid (--env), if any. */
  environment: string | undefined;
  /** Names of the environments the file defines. */
  environments: string[];
  /**
   * The validated config with the environment merged in and defaults applied.
   * Relative repository paths are made absolute; resolved secrets sit under
   * their plain name (repositories.default.password).
   */
  config: CairnConfig;
  /** The components' dependency graph. */
  graph: ComponentGraph;
  /** Every secret the config refers to (resolved or not). */
  secrets: SecretRef[];
  /** Where a key path of `config` is written in the file (for errors found later, e.g. "database does not exist"). */
  locate(keyPath: KeyPath): ConfigLocation | undefined;
  /** A ConfigError about the key at `keyPath`, naming its file:line:col. */
  error(keyPath: KeyPath, message: string, remedy: string): ConfigError;
  /** Resolves the secrets in `scope` that are not yet resolved (files read, commands run, variables read). */
  resolveSecrets(scope?: Exclude<SecretScope, 'none'>): Promise<void>;
}

/** Finds, reads and checks cairn.yaml, overlays `environment`, and resolves secrets (all, unless told otherwise). */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const found = findConfigPath({
    ...(options.path !== undefined ? { explicit: options.path } : {}),
    ...(options.env !== undefined ? { env: options.env } : {}),
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    ...(options.systemDir !== undefined ? { systemDir: options.systemDir } : {}),
  });
  let text: string;
  try {
    text = await fs.readFile(found.path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'EACCES')) throw new CairnError('config', `cannot read ${found.path}: permission denied`, `Run cairn as a user who can read it, or fix its permissions.`, undefined, { cause: err });
    if (isErrno(err, 'EISDIR')) throw new CairnError('config', `${found.path} is a directory, not a config file`, `Point --config at the cairn.yaml file itself.`, undefined, { cause: err });
    throw new CairnError('config', `cannot read ${found.path}: ${(err as Error).message}`, 'Check that the file exists and is readable.', undefined, { cause: err });
  }
  const loaded = parseConfig(text, {
    file: found.path,
    origin: found.origin,
    ...(options.environment !== undefined ? { environment: options.environment } : {}),
    ...(options.env !== undefined ? { env: options.env } : {}),
  });
  const scope = options.secrets ?? 'all';
  if (scope !== 'none') await loaded.resolveSecrets(scope);
  return loaded;
}

/** Options for parseConfig. */
export interface ParseConfigOptions {
  /** The file the text came from (for messages, relative paths and secret files). */
  file: string;
  origin?: ConfigOrigin;
  environment?: string;
  env?: NodeJS.ProcessEnv;
}

/** Checks config text (no file discovery, no secrets resolved): YAML, schema, environment overlay, component graph. */
export function parseConfig(text: string, options: ParseConfigOptions): LoadedConfig {
  const file = options.file;
  const { data, positions: filePositions } = parseYamlWithPositions(text, file);
  if (data === null || data === undefined) {
    throw new ConfigError([
      { path: [], message: 'the file is empty', remedy: 'Add at least repositories: default: url: ... (docs/cairn.example.yaml shows every section).', location: { file, line: 1, col: 1 } },
    ]);
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError([
      {
        path: [],
        message: `expected a mapping at the top level (repositories:, components:, ...), got ${Array.isArray(data) ? 'a list' : 'a single value'}`,
        remedy: 'Start the file with top-level keys such as repositories: and components: (docs/cairn.example.yaml shows the layout).',
        location: { file, line: 1, col: 1 },
      },
    ]);
  }
  // Top-level keys starting with x- are for YAML anchors (as in compose files) and are ignored.
  const raw = Object.fromEntries(Object.entries(data as Record<string, unknown>).filter(([key]) => !key.startsWith('x-')));

  // The environments are checked on their own first, all of them, so a typo in
  // the production overlay shows up while testing without --env.
  const environmentsSchema = CairnConfigSchema.shape.environments;
  const envCheck = environmentsSchema.safeParse(raw.environments, { reportInput: true });
  if (!envCheck.success) throw located(problemsFromIssues(envCheck.error.issues, environmentsSchema, raw.environments, ['environments']), filePositions);
  const environments = Object.keys(envCheck.data);

  let merged: Record<string, unknown> = raw;
  let positions = filePositions;
  const environment = options.environment;
  if (environment !== undefined) {
    if (!environments.includes(environment)) throw unknownEnvironment(environment, environments, file, filePositions);
    const { environments: _all, ...base } = raw;
    merged = overlay(base, (raw.environments as Record<string, unknown>)[environment]) as Record<string, unknown>;
    if (raw.environments !== undefined) merged.environments = raw.environments;
    positions = filePositions.withOverlay(['environments', environment]);
  }

  const checked = CairnConfigSchema.safeParse(merged, { reportInput: true });
  if (!checked.success) throw located(problemsFromIssues(checked.error.issues, CairnConfigSchema, merged), positions);
  const config = checked.data;

  const baseDir = path.dirname(file);
  for (const repo of Object.values(config.repositories)) {
    // Only plain paths: anything with a scheme (local:, sftp:, ...) is left to the backend.
    if (!/^[a-z][a-z0-9+]*:/i.test(repo.url)) repo.url = path.resolve(baseDir, repo.url);
  }

  let graph: ComponentGraph;
  let secrets: SecretRef[];
  try {
    graph = buildComponentGraph(config.components);
    secrets = findSecretRefs(config);
  } catch (err) {
    if (err instanceof ConfigError) throw err.locatedWith((p) => positions.locate(p));
    throw err;
  }

  const resolved = new Set<SecretRef>();
  const loaded: LoadedConfig = {
    path: file,
    origin: options.origin ?? 'flag',
    environment,
    environments,
    config,
    graph,
    secrets,
    locate: (keyPath) => positions.locate(keyPath)?.location,
    error: (keyPath, message, remedy) => {
      const at = positions.locate(keyPath);
      return new ConfigError([{ path: at?.path ?? keyPath, message, remedy, ...(at ? { location: at.location } : {}) }]);
    },
    resolveSecrets: async (scope = 'all') => {
      const wanted = secrets.filter((ref) => !resolved.has(ref) && inScope(ref, scope, loaded));
      for (const ref of wanted) {
        try {
          await resolveSecretRefs(config, [ref], { baseDir, ...(options.env !== undefined ? { env: options.env } : {}) });
        } catch (err) {
          if (err instanceof ConfigError) throw err.locatedWith((p) => positions.locate(p));
          throw err;
        }
        resolved.add(ref);
      }
    },
  };
  return loaded;
}

/** True when `ref` belongs to a repository or component in `scope` (unknown names in `scope` are errors). */
function inScope(ref: SecretRef, scope: Exclude<SecretScope, 'none'>, loaded: LoadedConfig): boolean {
  if (scope === 'all') return true;
  const components = new Set((scope.components ?? []).map((c) => loaded.graph.select([c]).components[0]!));
  const repositories = new Set(scope.repositories ?? []);
  const names = Object.keys(loaded.config.repositories);
  for (const r of repositories) {
    if (!names.includes(r)) {
      const guess = didYouMean(r, names);
      throw new CairnError('config', `unknown repository "${r}"`, `${guess ? `Did you mean "${guess}"? ` : ''}Repositories in ${loaded.path}: ${names.join(', ')}.`);
    }
  }
  const [section, name] = ref.owner;
  if (section === 'components') return components.has(String(name));
  if (section === 'repositories') return repositories.has(String(name));
  return true;
}

/** Deep merge for environments: mappings merge key by key, anything else replaces, null removes the key. */
function overlay(base: unknown, over: unknown): unknown {
  if (!isMapping(base) || !isMapping(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === null) delete out[key];
    else Object.defineProperty(out, key, { value: overlay(out[key], value), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A ConfigError from problems, each given its place in the file, first in file order first. */
function located(problems: IssueProblem[], positions: PositionMap): ConfigError {
  const placed: ConfigProblem[] = problems.map(({ problem, at }) => {
    const where = positions.locate(problem.path, at === 'key' ? 'key' : 'auto');
    return where ? { ...problem, path: where.path, location: where.location } : problem;
  });
  placed.sort((a, b) => (a.location?.line ?? Infinity) - (b.location?.line ?? Infinity) || (a.location?.col ?? 0) - (b.location?.col ?? 0));
  return new ConfigError(placed);
}

function unknownEnvironment(name: string, defined: string[], file: string, positions: PositionMap): ConfigError {
  const guess = didYouMean(name, defined);
  const where = positions.locate(['environments'], 'key');
  const remedy =
    defined.length === 0
      ? `${file} defines no environments: add one under environments: (e.g. environments: { ${name}: { ... } }), or leave out --env.`
      : `${guess ? `Did you mean "${guess}"? ` : ''}Environments defined in ${file}: ${defined.join(', ')}.`;
  return new ConfigError([{ path: defined.length > 0 ? ['environments'] : [], message: `unknown environment "${name}" (given with --env)`, remedy, ...(where && defined.length > 0 ? { location: where.location } : {}) }]);
}
