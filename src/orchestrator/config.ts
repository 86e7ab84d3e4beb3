// The shape of cairn.yaml: one zod schema that validates the file, gives the
// TypeScript types and generates the JSON Schema editors use. Field
// descriptions double as the "what is allowed" half of config error remedies,
// so they are written for a user reading an error, not for a programmer.
import path from 'node:path';
import { z } from 'zod';

/** Names of secret fields; each may be given inline or as `<name>_file`, `<name>_command`, `<name>_env`. */
export const SECRET_NAMES = ['password', 'access_key_id', 'secret_access_key'] as const;

/** The ways a secret can be given, as key suffixes (`''` is the inline value). */
export const SECRET_SUFFIXES = ['', '_file', '_command', '_env'] as const;

const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]*$/;
const NAME_RULE = 'must start with a letter and use only letters, digits, ".", "_" and "-"';
const SOURCE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const DURATION_PATTERN = /^(\d+(\.\d+)?(ms|s|m|h|d))+$/;
const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A component, repository or environment name (it becomes a snapshot path segment and tag). */
const Name = z.string().regex(NAME_PATTERN, { error: NAME_RULE });

const AbsolutePath = z.string().refine((p) => path.isAbsolute(p), { error: 'must be an absolute path (like /srv/data)' });

const Count = z.number().int().min(0);

/** A duration: seconds as a number, or a string like "30s", "5m", "1h30m", "250ms", "2d". */
export const DurationSchema = z
  .union([z.number().positive(), z.string().regex(DURATION_PATTERN, { error: 'must be a duration like "30s", "5m", "1h30m" or a number of seconds' })])
  .meta({ id: 'Duration', description: 'a duration: seconds as a number, or a string like "30s", "5m", "1h30m"' });

/** A shell command: a string run with /bin/sh -c, or a mapping with `run` and options. */
export const CommandSchema = z
  .union([
    z.string().min(1),
    z.strictObject({
      run: z.string().min(1).describe('the command line, run with /bin/sh -c'),
      cwd: AbsolutePath.optional().describe('the directory to run it in (absolute)'),
      env: z.record(z.string(), z.string()).optional().describe('extra environment variables for the command'),
      timeout: DurationSchema.optional().describe('kill the command after this long'),
    }),
  ])
  .meta({ id: 'Command', description: 'a shell command: a string run with /bin/sh -c, or a mapping with run: (and optional cwd, env, timeout)' });

const Commands = (what: string) => z.array(CommandSchema).default([]).describe(what);

type SecretKey<N extends string> = N | `${N}_file` | `${N}_command` | `${N}_env`;

/** The four ways to give secret `name`: inline, from a file, from a command's output, from an environment variable. */
function secretShape<N extends (typeof SECRET_NAMES)[number]>(name: N, what: string): Record<SecretKey<N>, z.ZodOptional<z.ZodString>> {
  return {
    [name]: z.string().min(1).optional().describe(`${what}, inline (prefer ${name}_file, ${name}_command or ${name}_env)`),
    [`${name}_file`]: z.string().min(1).optional().describe(`a file holding ${what} (relative paths are relative to cairn.yaml; one trailing newline is ignored)`),
    [`${name}_command`]: z.string().min(1).optional().describe(`a command printing ${what} on stdout, run with /bin/sh -c`),
    [`${name}_env`]: z.string().min(1).optional().describe(`the name of an environment variable holding ${what}`),
  } as Record<SecretKey<N>, z.ZodOptional<z.ZodString>>;
}

/** Retention: how many snapshots of each component to keep. Unset keys fall back to the defaults; 0 turns a rule off. */
export const RetentionSchema = z
  .strictObject({
    keep_manual: Count.optional().describe('how many of the newest manual snapshots (cairn backup create) to keep'),
    keep_automatic: Count.optional().describe('how many of the newest automatic snapshots (scheduled, or taken before a destructive operation) to keep'),
    keep_hourly: Count.optional().describe('keep the newest automatic snapshot of each of the last N hours that have one'),
    keep_daily: Count.optional().describe('keep the newest automatic snapshot of each of the last N days that have one'),
    keep_weekly: Count.optional().describe('keep the newest automatic snapshot of each of the last N weeks that have one'),
    keep_monthly: Count.optional().describe('keep the newest automatic snapshot of each of the last N months that have one'),
    keep_yearly: Count.optional().describe('keep the newest automatic snapshot of each of the last N years that have one'),
    keep_within: z
      .string()
      .regex(/^(\d+[ymdh])+$/, { error: 'must be a restic duration like "14d", "1y6m" or "2d12h" (y years, m months, d days, h hours)' })
      .optional()
      .describe('keep every automatic snapshot younger than this (restic syntax: "14d", "1y6m", "2d12h")'),
  })
  .meta({ id: 'Retention', description: 'how many snapshots to keep per component; manual and automatic snapshots are counted separately; 0 turns a rule off' });

/** The retention rules cairn applies when cairn.yaml says nothing. */
export const DEFAULT_RETENTION = {
  keep_manual: 10,
  keep_automatic: 5,
  keep_hourly: 0,
  keep_daily: 7,
  keep_weekly: 4,
  keep_monthly: 6,
  keep_yearly: 0,
} as const;

/** Global hooks, run once per cairn run around all components. */
export const HooksSchema = z
  .strictObject({
    pre: Commands('commands run before any component; a failure stops the run'),
    post: Commands('commands run after every component succeeded'),
    on_failure: Commands('commands run when any component failed'),
  })
  .meta({ id: 'Hooks', description: 'commands run around a whole cairn run' });

/** A health check: a command that must exit 0, or a URL that must answer with `expect_status`. */
export const HealthSchema = z
  .strictObject({
    command: CommandSchema.optional().describe('a command that exits 0 when the component is healthy'),
    url: z.url().optional().describe('an http(s) URL that answers with expect_status when the component is healthy'),
    expect_status: z.number().int().min(100).max(599).default(200).describe('the HTTP status url must answer with'),
    timeout: DurationSchema.default('30s').describe('how long one check may take'),
    retries: Count.default(3).describe('how many more times to try before calling the component unhealthy'),
    interval: DurationSchema.default('5s').describe('how long to wait between tries'),
  })
  .superRefine((h, ctx) => {
    if ((h.command === undefined) === (h.url === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `health check needs exactly one of command: or url:, ${h.command === undefined ? 'found neither' : 'found both'}`,
        params: { remedy: 'Give health either command: (exits 0 when healthy) or url: (answers with expect_status), not both.' },
      });
    }
  })
  .meta({ id: 'Health', description: 'how to tell the component is up: a command (exit 0) or a URL (expect_status)' });

const SourceName = z
  .string()
  .regex(SOURCE_NAME_PATTERN, { error: 'must start with a letter or digit and use only letters, digits, ".", "_" and "-"' })
  .describe("the source's name inside the component; its folder in snapshots");

const DumpArgs = z.array(z.string()).default([]).describe('extra arguments passed to the dump program');

/** Files and directories, walked by the archiver. */
export const FilesSourceSchema = z
  .strictObject({
    type: z.literal('files'),
    name: SourceName,
    paths: z.array(AbsolutePath).min(1).describe('absolute paths of files and directories to back up'),
    exclude: z.array(z.string()).default([]).describe('glob patterns of paths to leave out (like restic --exclude, e.g. "*.tmp", "cache/")'),
    one_file_system: z.boolean().default(false).describe('do not cross into other mounted file systems'),
  })
  .meta({ id: 'FilesSource', description: 'files and directories' });

/** A PostgreSQL database, dumped with pg_dump in custom format and restored with pg_restore. */
export const PostgresSourceSchema = z
  .strictObject({
    type: z.literal('postgres'),
    name: SourceName,
    database: z.string().min(1).describe('the database to dump (like app)'),
    host: z.string().min(1).optional().describe('host name, or the unix socket directory (like /run/postgresql); default: the local socket'),
    port: z.number().int().min(1).max(65535).default(5432).describe('TCP port (or socket number)'),
    user: z.string().min(1).optional().describe('the role to connect as; default: the current user'),
    ...secretShape('password', 'the database password'),
    dump_args: DumpArgs,
  })
  .meta({ id: 'PostgresSource', description: 'a PostgreSQL database (pg_dump custom format; restored with pg_restore)' });

function mysqlLikeSource<T extends 'mysql' | 'mariadb'>(type: T, id: string, server: string) {
  return z
    .strictObject({
      type: z.literal(type),
      name: SourceName,
      database: z.string().min(1).describe('the database to dump (like app)'),
      host: z.string().min(1).optional().describe('host name or address; default: the local socket'),
      port: z.number().int().min(1).max(65535).default(3306).describe('TCP port'),
      socket: AbsolutePath.optional().describe('path of the server socket (like /run/mysqld/mysqld.sock)'),
      user: z.string().min(1).optional().describe('the user to connect as; default: the current user'),
      ...secretShape('password', 'the database password'),
      dump_args: DumpArgs,
    })
    .meta({ id, description: `a ${server} database (dumped with --single-transaction)` });
}

/** A MySQL database, dumped with mysqldump --single-transaction. */
export const MysqlSourceSchema = mysqlLikeSource('mysql', 'MysqlSource', 'MySQL');
/** A MariaDB database, dumped with mariadb-dump --single-transaction. */
export const MariadbSourceSchema = mysqlLikeSource('mariadb', 'MariadbSource', 'MariaDB');

/** An SQLite database file, copied with SQLite's online backup API. */
export const SqliteSourceSchema = z
  .strictObject({
    type: z.literal('sqlite'),
    name: SourceName,
    path: AbsolutePath.describe('absolute path of the database file'),
  })
  .meta({ id: 'SqliteSource', description: "an SQLite database file (copied with SQLite's online backup API)" });

/** A Redis server, whose RDB snapshot is fetched through the server. */
export const RedisSourceSchema = z
  .strictObject({
    type: z.literal('redis'),
    name: SourceName,
    host: z.string().min(1).default('127.0.0.1').describe('host name or address'),
    port: z.number().int().min(1).max(65535).default(6379).describe('TCP port'),
    socket: AbsolutePath.optional().describe('path of the server unix socket (used instead of host/port)'),
    username: z.string().min(1).optional().describe('ACL user name'),
    ...secretShape('password', 'the Redis password'),
    stop: CommandSchema.optional().describe('command that stops the Redis server (an in-place restore replaces its RDB file while it is stopped)'),
    start: CommandSchema.optional().describe('command that starts the Redis server again after an in-place restore'),
    data_dir: AbsolutePath.optional().describe("the server's data directory (default: asked from the running server)"),
  })
  .meta({ id: 'RedisSource', description: 'a Redis server (its RDB snapshot, fetched through the server)' });

/** Any command's stdout stored as one file; an optional restore command reads it back on stdin. */
export const CommandSourceSchema = z
  .strictObject({
    type: z.literal('command'),
    name: SourceName,
    backup: CommandSchema.describe("the command whose stdout is stored"),
    restore: CommandSchema.optional().describe('the command that reads the stored output back on stdin'),
    filename: SourceName.optional().describe("the stored file's name; default: the source name"),
  })
  .meta({ id: 'CommandSource', description: "a command's output (stored as a file; restore feeds it to another command)" });

/** Podman quadlets and named volumes (unit files, volume data, container definitions). */
export const PodmanSourceSchema = z
  .strictObject({
    type: z.literal('podman'),
    name: SourceName,
    quadlets: z.array(z.string().min(1)).default([]).describe('quadlet files or directories (like /etc/containers/systemd or ~/.config/containers/systemd)'),
    volumes: z.array(z.string().min(1)).default([]).describe('named volumes to back up besides those the quadlets use'),
    bind_mounts: z.enum(['ignore', 'include']).default('ignore').describe('whether host directories bind-mounted by the quadlets are backed up too'),
    volume_data: z.enum(['auto', 'mountpoint', 'export']).default('auto').describe('read volumes from their mountpoint (unchanged files skipped next time) or through podman volume export'),
    systemd: z.boolean().optional().describe('stop and start quadlet services with systemctl (default: when systemd runs)'),
    user_services: z.boolean().default(false).describe('the quadlets are user units (systemctl --user)'),
  })
  .meta({ id: 'PodmanSource', description: 'podman quadlets and named volumes; containers using them are stopped during the backup' });

/** Docker volumes and a Compose project, through the Docker Engine API. */
export const DockerSourceSchema = z
  .strictObject({
    type: z.literal('docker'),
    name: SourceName,
    project: z.string().min(1).optional().describe('Compose project name (its volumes and containers are found by label)'),
    volumes: z.array(z.string().min(1)).default([]).describe('named volumes to back up'),
    compose_files: z.array(AbsolutePath).default([]).describe('compose files and .env files kept with the volumes'),
    volume_data: z.enum(['auto', 'mountpoint', 'api']).default('auto').describe('read volumes from their mountpoint or through the API'),
    host: z.string().min(1).optional().describe('Docker API address (default: $DOCKER_HOST or /var/run/docker.sock)'),
  })
  .meta({ id: 'DockerSource', description: 'Docker volumes and Compose projects; containers using them are stopped during the backup' });

/** Every kind of source, told apart by `type`. */
export const SourceSchema = z
  .discriminatedUnion('type', [
    FilesSourceSchema,
    PostgresSourceSchema,
    MysqlSourceSchema,
    MariadbSourceSchema,
    SqliteSourceSchema,
    RedisSourceSchema,
    CommandSourceSchema,
    PodmanSourceSchema,
    DockerSourceSchema,
  ])
  .meta({ id: 'Source', description: 'something to back up, chosen by type' });

/** The source types cairn knows, in the order they are documented. */
export const SOURCE_TYPES = ['files', 'postgres', 'mysql', 'mariadb', 'sqlite', 'redis', 'command', 'podman', 'docker'] as const;

/** A component: a unit that is backed up, torn down and recovered together. */
export const ComponentSchema = z
  .strictObject({
    description: z.string().optional().describe('what this component is, for listings'),
    depends_on: z.array(Name).default([]).describe('components this one needs: they are backed up and recovered before it and torn down after it'),
    sources: z.array(SourceSchema).default([]).describe('what to back up'),
    stop: Commands('commands that stop the services using this data, run before backup and teardown'),
    start: Commands('commands that start the services again, run after backup and recovery'),
    pre: Commands('commands run before this component is backed up; a failure skips it'),
    post: Commands('commands run after this component was backed up'),
    on_failure: Commands('commands run when anything failed for this component'),
    health: HealthSchema.optional().describe('how to tell the component is up'),
    retention: RetentionSchema.optional().describe("overrides of the global retention for this component's snapshots"),
    tags: z.array(z.string().min(1)).default([]).describe('free-form labels, stored on snapshots as tags'),
  })
  .superRefine((c, ctx) => {
    const seen = new Map<string, number>();
    c.sources.forEach((s, i) => {
      const first = seen.get(s.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['sources', i, 'name'],
          message: `is already used by sources[${first}]`,
          params: { remedy: `Give each source of a component its own name (it is the source's folder in snapshots), e.g. ${s.name}-2.` },
        });
      } else seen.set(s.name, i);
    });
  })
  .meta({ id: 'Component', description: 'a unit backed up, torn down and recovered together, with its dependencies' });

const RepositoryUrl = z
  .string()
  .min(1)
  .refine((u) => !/^[a-z][a-z0-9+]*:/i.test(u) || /^(local|sftp|s3|rest):/i.test(u), {
    error: 'must be a local path or start with local:, sftp:, s3: or rest:',
  })
  .describe('where the repository lives: a path (relative paths are relative to cairn.yaml), local:/path, sftp:user@host:/path, s3:https://host/bucket/path, rest:https://host/path');

/** A restic-format repository: the default one, or a copy target. */
export const RepositorySchema = z
  .strictObject({
    url: RepositoryUrl,
    ...secretShape('password', 'the repository password'),
    copy: z.boolean().optional().describe('copy new snapshots here after each backup (default: true for every repository except default)'),
    s3: z
      .strictObject({
        region: z.string().min(1).optional().describe('the S3 region (default us-east-1)'),
        ...secretShape('access_key_id', 'the S3 access key id'),
        ...secretShape('secret_access_key', 'the S3 secret access key'),
        path_style: z.boolean().optional().describe('use path-style bucket addressing (MinIO, radosgw)'),
      })
      .optional()
      .describe('S3 credentials and options (for s3: URLs)'),
    sftp: z
      .strictObject({
        identity_file: z.string().min(1).optional().describe('the SSH private key to log in with'),
        known_hosts_file: z.string().min(1).optional().describe('the known_hosts file to check the server key against'),
      })
      .optional()
      .describe('SSH options (for sftp: URLs)'),
    rest: z
      .strictObject({
        username: z.string().min(1).optional().describe('the REST server user'),
        ...secretShape('password', 'the REST server password'),
      })
      .optional()
      .describe('REST server credentials (for rest: URLs)'),
  })
  .meta({ id: 'Repository', description: 'a restic-format repository' });

/**
 * Rebuilds an object schema for use as an environment overlay: every key
 * optional, no defaults (the base supplies them), nested objects overlays too
 * (objects merge), lists and scalars as they are (they replace), and null
 * allowed everywhere (it removes the key).
 */
function overlayOf(schema: z.ZodType): z.ZodType {
  let inner: z.ZodType = schema;
  for (;;) {
    if (inner instanceof z.ZodDefault || inner instanceof z.ZodOptional) inner = inner.unwrap() as z.ZodType;
    else break;
  }
  if (inner instanceof z.ZodObject) {
    const shape: Record<string, z.ZodType> = {};
    for (const [key, value] of Object.entries(inner.shape as Record<string, z.ZodType>)) {
      const overlaid = overlayOf(value);
      const description = value.description ?? overlaid.description;
      shape[key] = (description ? overlaid.describe(description) : overlaid).nullable().optional();
    }
    const id = z.globalRegistry.get(inner)?.id;
    // The title names what is overridden, for editors and for error messages.
    return id ? z.strictObject(shape).meta({ title: `${id} overrides` }) : z.strictObject(shape);
  }
  if (inner instanceof z.ZodRecord) return z.record(inner.keyType as typeof Name, overlayOf(inner.valueType as z.ZodType).nullable());
  return inner;
}

/** One environment's overrides, deep-merged onto the rest of the file by `--env NAME`. */
export const EnvironmentSchema = z
  .strictObject({
    host: z.string().min(1).optional().describe('the host name recorded in snapshots'),
    repositories: overlayOf(z.record(Name, RepositorySchema)).optional().describe('repository overrides (merged key by key)'),
    retention: RetentionSchema.optional().describe('retention overrides'),
    hooks: overlayOf(HooksSchema).optional().describe('hook overrides (each list replaces the base list)'),
    components: overlayOf(z.record(Name, ComponentSchema)).optional().describe('component overrides (mappings merge, lists replace, null removes)'),
  })
  .meta({ id: 'Environment', description: 'overrides applied with --env NAME: mappings merge, lists replace, null removes a key' });

/** The whole of cairn.yaml. */
export const CairnConfigSchema = z
  .strictObject({
    version: z.literal(1).optional().describe('the config format version (1)'),
    host: z.string().min(1).optional().describe('the host name recorded in snapshots (default: this machine\'s host name)'),
    repositories: z
      .record(Name, RepositorySchema)
      .superRefine((repos, ctx) => {
        if (!Object.hasOwn(repos, 'default')) {
          const names = Object.keys(repos);
          ctx.addIssue({
            code: 'custom',
            path: [],
            message: `no repository is named default (found ${names.length > 0 ? names.join(', ') : 'none'})`,
            params: { remedy: 'Name the repository backups go to default (rename one, or add default: { url: ..., password_file: ... }); the others are copy targets.' },
          });
        }
      })
      .describe('where snapshots go: default, plus any number of copy targets'),
    retention: RetentionSchema.optional().describe('how many snapshots to keep, for every component'),
    hooks: HooksSchema.default({ pre: [], post: [], on_failure: [] }).describe('commands run around a whole cairn run'),
    environments: z.record(Name, EnvironmentSchema).default({}).describe('named overrides, chosen with --env NAME'),
    components: z.record(Name, ComponentSchema).default({}).describe('what to back up, by component'),
  })
  .meta({ id: 'CairnConfig', title: 'cairn.yaml', description: 'cairn configuration: repositories, retention, hooks, environments and components' });

/** A validated cairn.yaml with defaults applied. */
export type CairnConfig = z.infer<typeof CairnConfigSchema>;
/** A repository entry of `repositories:`. */
export type RepositoryConfig = z.infer<typeof RepositorySchema>;
/** A component entry of `components:`. */
export type ComponentConfig = z.infer<typeof ComponentSchema>;
/** One source of a component; tell them apart by `type`. */
export type SourceConfig = z.infer<typeof SourceSchema>;
/** The source kinds (`files`, `postgres`, ...). */
export type SourceType = SourceConfig['type'];
/** A files source. */
export type FilesSourceConfig = z.infer<typeof FilesSourceSchema>;
/** A postgres source. */
export type PostgresSourceConfig = z.infer<typeof PostgresSourceSchema>;
/** A mysql or mariadb source. */
export type MysqlSourceConfig = z.infer<typeof MysqlSourceSchema> | z.infer<typeof MariadbSourceSchema>;
/** An sqlite source. */
export type SqliteSourceConfig = z.infer<typeof SqliteSourceSchema>;
/** A redis source. */
export type RedisSourceConfig = z.infer<typeof RedisSourceSchema>;
/** A command source. */
export type CommandSourceConfig = z.infer<typeof CommandSourceSchema>;
/** Retention rules as written (every key optional). */
export type RetentionConfig = z.infer<typeof RetentionSchema>;
/** Retention rules with defaults filled in. */
export type EffectiveRetention = { -readonly [K in keyof typeof DEFAULT_RETENTION]: number } & { keep_within?: string };
/** The global hooks. */
export type HooksConfig = z.infer<typeof HooksSchema>;
/** A health check. */
export type HealthConfig = z.infer<typeof HealthSchema>;
/** A command as written: a string or a mapping. */
export type CommandConfig = z.infer<typeof CommandSchema>;
/** A duration as written. */
export type DurationConfig = z.infer<typeof DurationSchema>;
/** One environment's overrides, as written. */
export type EnvironmentConfig = z.infer<typeof EnvironmentSchema>;

/** A command with its options spelled out. */
export interface NormalizedCommand {
  run: string;
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Turns a command as written (string or mapping) into one shape. */
export function normalizeCommand(command: CommandConfig): NormalizedCommand {
  if (typeof command === 'string') return { run: command };
  const out: NormalizedCommand = { run: command.run };
  if (command.cwd !== undefined) out.cwd = command.cwd;
  if (command.env !== undefined) out.env = command.env;
  if (command.timeout !== undefined) out.timeoutMs = durationMs(command.timeout);
  return out;
}

/** Milliseconds in a duration as written ("1h30m", "250ms", or a number of seconds). */
export function durationMs(duration: DurationConfig): number {
  if (typeof duration === 'number') return duration * 1000;
  let total = 0;
  for (const m of duration.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(m[1]) * DURATION_UNITS_MS[m[2]!]!;
  return total;
}

/** The retention rules for one component: defaults, then the global `retention:`, then the component's own. */
export function componentRetention(config: CairnConfig, component: string): EffectiveRetention {
  const own = config.components[component]?.retention;
  const out: EffectiveRetention = { ...DEFAULT_RETENTION };
  for (const layer of [config.retention, own]) {
    if (!layer) continue;
    for (const [key, value] of Object.entries(layer)) {
      if (value !== undefined) (out as Record<string, unknown>)[key] = value;
    }
  }
  return out;
}

/** Repositories that new snapshots are copied to after a backup (all but default, unless `copy: false`). */
export function copyTargets(config: CairnConfig): string[] {
  return Object.entries(config.repositories)
    .filter(([name, repo]) => name !== 'default' && repo.copy !== false)
    .map(([name]) => name);
}
