import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { componentRetention, copyTargets } from '../../../src/orchestrator/config.js';
import { ConfigError } from '../../../src/orchestrator/configError.js';
import { findConfigPath, loadConfig, type LoadConfigOptions } from '../../../src/orchestrator/loadConfig.js';
import { CairnError } from '../../../src/errors.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const example = path.join(root, 'docs/cairn.example.yaml');

let dir: string;
let counter = 0;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cairn-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `text` to a fresh cairn.yaml and returns its path. */
async function writeConfig(text: string): Promise<string> {
  const sub = path.join(dir, `c${++counter}`);
  await mkdir(sub);
  const file = path.join(sub, 'cairn.yaml');
  await writeFile(file, text);
  return file;
}

/** Loads `text` as cairn.yaml, expecting a ConfigError, and returns it with the file's path. */
async function configError(text: string, options: LoadConfigOptions = {}): Promise<{ err: ConfigError; file: string }> {
  const file = await writeConfig(text);
  try {
    await loadConfig({ path: file, ...options });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'config');
    return { err, file };
  }
  assert.fail('the config loaded without error');
}

const repo = 'repositories:\n  default:\n    url: /srv/backup/cairn\n';

test('the example config in docs/ loads, anchors and all', async () => {
  const loaded = await loadConfig({ path: example, secrets: 'none' });
  assert.equal(loaded.path, example);
  assert.deepEqual(loaded.graph.backupOrder(), ['cloud-db', 'cloud-cache', 'cloud', 'wiki', 'homeassistant', 'directory']);
  assert.deepEqual(loaded.graph.teardownOrder(['cloud', 'cloud-db']), ['cloud', 'cloud-db']);
  const [db] = loaded.config.components['cloud-db']!.sources;
  assert.deepEqual(db, { type: 'postgres', name: 'main', database: 'cloud', host: '/run/postgresql', port: 5432, user: 'postgres', dump_args: [] });
  assert.deepEqual(copyTargets(loaded.config), ['nas', 'offsite']);
  assert.deepEqual(loaded.environments, ['staging']);
  assert.deepEqual(
    loaded.secrets.map((s) => `${s.owner.join('.')}.${s.key}`),
    ['repositories.default.password_file', 'repositories.nas.password_file', 'repositories.offsite.password_command', 'repositories.offsite.s3.access_key_id_env', 'repositories.offsite.s3.secret_access_key_command', 'components.wiki.sources.0.password_file'],
  );
});

test('defaults are filled in and retention layers defaults, global and component rules', async () => {
  const file = await writeConfig(
    `${repo}retention:\n  keep_daily: 3\ncomponents:\n  db:\n    retention: { keep_manual: 2 }\n    sources:\n      - { type: postgres, name: main, database: app }\n  web: {}\n`,
  );
  const { config } = await loadConfig({ path: file });
  assert.deepEqual(config.hooks, { pre: [], post: [], on_failure: [] });
  assert.deepEqual(config.components.web, { depends_on: [], sources: [], stop: [], start: [], pre: [], post: [], on_failure: [], tags: [] });
  assert.equal(config.components.db!.sources[0]!.type === 'postgres' && config.components.db!.sources[0]!.port, 5432);
  assert.deepEqual(componentRetention(config, 'db'), { keep_manual: 2, keep_automatic: 5, keep_hourly: 0, keep_daily: 3, keep_weekly: 4, keep_monthly: 6, keep_yearly: 0 });
  assert.deepEqual(componentRetention(config, 'web'), { keep_manual: 10, keep_automatic: 5, keep_hourly: 0, keep_daily: 3, keep_weekly: 4, keep_monthly: 6, keep_yearly: 0 });
});

test('relative repository paths are relative to cairn.yaml, URLs are left alone', async () => {
  const file = await writeConfig('repositories:\n  default: { url: backups/cairn }\n  nas: { url: "sftp:nas:/cairn" }\n');
  const { config } = await loadConfig({ path: file });
  assert.equal(config.repositories.default!.url, path.join(path.dirname(file), 'backups/cairn'));
  assert.equal(config.repositories.nas!.url, 'sftp:nas:/cairn');
});

test('--env overlays the environment: mappings merge, lists replace, null removes', async () => {
  const file = await writeConfig(`${repo}  offsite:
    url: "s3:https://s3.example.com/b/cairn"
components:
  db:
    stop: [systemctl stop app]
    sources:
      - { type: postgres, name: main, database: app, user: postgres }
    tags: [prod]
environments:
  dev:
    repositories:
      default: { url: /tmp/dev-backups }
      offsite: null
    components:
      db:
        sources:
          - { type: postgres, name: main, database: app_dev }
        tags: [dev]
      scratch:
        sources: [{ type: files, name: files, paths: [/srv/scratch] }]
`);
  const base = await loadConfig({ path: file });
  assert.equal(base.environment, undefined);
  assert.equal(base.config.repositories.default!.url, '/srv/backup/cairn');
  assert.deepEqual(Object.keys(base.config.components), ['db']);

  const dev = await loadConfig({ path: file, environment: 'dev' });
  assert.equal(dev.environment, 'dev');
  assert.deepEqual(dev.config.repositories, { default: { url: '/tmp/dev-backups' } });
  const db = dev.config.components.db!;
  assert.deepEqual(db.stop, ['systemctl stop app']); // kept from the base
  assert.deepEqual(db.sources, [{ type: 'postgres', name: 'main', database: 'app_dev', port: 5432, dump_args: [] }]); // list replaced
  assert.deepEqual(db.tags, ['dev']);
  assert.deepEqual(dev.graph.backupOrder(), ['db', 'scratch']);
});

test('a mistake inside the chosen environment names its line under environments:', async () => {
  const { err, file } = await configError(`${repo}components:
  db:
    sources: [{ type: sqlite, name: db, path: /srv/app.db }]
environments:
  prod:
    components:
      db:
        sources:
          - type: postgres
            name: main
`, { environment: 'prod' });
  assert.equal(err.message, `${file}:12:13: environments.prod.components.db.sources[0].database: missing required key "database" for a postgres source`);
  assert.equal(err.remedy, 'Add database: to environments.prod.components.db.sources[0]. database: the database to dump (like app).');
});

test('a typo in an environment not chosen is still reported', async () => {
  const { err, file } = await configError(`${repo}environments:\n  prod:\n    components:\n      db:\n        sorces: []\n`);
  assert.equal(err.message, `${file}:8:9: environments.prod.components.db.sorces: unknown key "sorces" for a component (environment overrides)`);
  assert.match(err.remedy, /^Did you mean "sources"\? Valid keys of a component \(environment overrides\): description, depends_on, sources, /);
});

test('bad YAML: the parser position and how to fix it', async () => {
  const { err, file } = await configError(`${repo}components:\n  db:\n    sources:\n\t- type: files\n`);
  assert.equal(err.message, `${file}:7:1: invalid YAML: Tabs are not allowed as indentation`);
  assert.equal(err.remedy, 'Indent with spaces, not tabs.');

  const second = await configError(`${repo}components:\n  db:\n    sources:\n   - type: files\n`);
  // The parser notices at the end of the line before the misindented one.
  assert.equal(second.err.message, `${second.file}:6:13: invalid YAML: A block sequence may not be used as an implicit map key`);
  assert.match(second.err.remedy, /^Check the indentation around line 6 \(spaces only/);
});

test('an unknown key: its line, its path, a near miss and the valid keys', async () => {
  const { err, file } = await configError(`${repo}components:\n  db:\n    sources:\n      - type: postgres\n        name: main\n        databse: app\n`);
  assert.equal(err.message, `${file}:9:9: components.db.sources[0].databse: unknown key "databse" for a postgres source`);
  assert.equal(
    err.remedy,
    'Did you mean "database"? Valid keys of a postgres source: type, name, database, host, port, user, password, password_file, password_command, password_env, dump_args.',
  );
  assert.equal(err.problems.length, 1, 'the missing "database" is the same mistake and not reported again');
});

test('an unknown top-level section suggests the right one', async () => {
  const { err, file } = await configError(`${repo}compnents:\n  db: {}\n`);
  assert.equal(err.message, `${file}:4:1: compnents: unknown key "compnents" for the top level of cairn.yaml`);
  assert.equal(err.remedy, 'Did you mean "components"? Valid keys of the top level of cairn.yaml: version, host, repositories, retention, hooks, environments, components.');
});

test('a value of the wrong type says what is expected there', async () => {
  const { err, file } = await configError(`${repo}components:\n  db:\n    sources:\n      - { type: postgres, name: main, database: app, port: "fivefour" }\n`);
  assert.equal(err.message, `${file}:7:60: components.db.sources[0].port: expected a number, got the string "fivefour"`);
  assert.equal(err.remedy, 'Set port to a number. port: TCP port (or socket number).');
});

test('an unknown source type lists the source types', async () => {
  const { err, file } = await configError(`${repo}components:\n  db:\n    sources:\n      - type: postgress\n        name: main\n`);
  assert.equal(err.message, `${file}:7:15: components.db.sources[0].type: unknown source type "postgress"`);
  assert.equal(err.remedy, 'Did you mean "postgres"? Source types: files, postgres, mysql, mariadb, sqlite, redis, command, podman, docker.');
});

test('a dependency cycle is named in order at the depends_on entry', async () => {
  const { err, file } = await configError(`${repo}components:\n  web:\n    depends_on: [api]\n  api:\n    depends_on: [db]\n  db:\n    depends_on: [web]\n`);
  assert.equal(err.message, `${file}:6:18: components.web.depends_on[0]: dependency cycle: web → api → db → web (each depends on the next)`);
  assert.equal(
    err.remedy,
    'Break the cycle by removing one of these depends_on entries: components.web.depends_on[0] (api), components.api.depends_on[0] (db), components.db.depends_on[0] (web).',
  );
});

test('an unknown dependency names the entry and the components there are', async () => {
  const { err, file } = await configError(`${repo}components:\n  db: {}\n  web:\n    depends_on:\n      - dbb\n`);
  assert.equal(err.message, `${file}:8:9: components.web.depends_on[0]: component "web" depends on "dbb", which is not defined`);
  assert.equal(err.remedy, 'Did you mean "db"? Defined components: db, web.');
});

test('a missing secret file names the key, the file and how to create it', async () => {
  const { err, file } = await configError('repositories:\n  default:\n    url: /srv/backup/cairn\n    password_file: secrets/password\n');
  const secret = path.join(path.dirname(file), 'secrets/password');
  assert.equal(err.message, `${file}:4:20: repositories.default.password_file: secret file ${secret} does not exist`);
  assert.equal(err.remedy, `Create ${secret} holding the password (readable only by the user running cairn: chmod 600 ${secret}), or point password_file at the file that has it.`);
});

test('a failing secret command reports its exit code and first line of stderr', async () => {
  const { err, file } = await configError(
    `${repo}components:\n  db:\n    sources:\n      - type: postgres\n        name: main\n        database: app\n        password_command: "echo 'gpg: decryption failed: No secret key' >&2; echo more >&2; exit 2"\n`,
  );
  assert.equal(err.message, `${file}:10:27: components.db.sources[0].password_command: password_command failed (exit 2): gpg: decryption failed: No secret key`);
  assert.equal(err.remedy, "Run it yourself to see why: echo 'gpg: decryption failed: No secret key' >&2; echo more >&2; exit 2");
});

test('an unset secret variable names the variable and how to set it', async () => {
  const { err, file } = await configError('repositories:\n  default:\n    url: /srv/backup/cairn\n    password_env: CAIRN_TEST_UNSET_PASSWORD\n', { env: {} });
  assert.equal(err.message, `${file}:4:19: repositories.default.password_env: environment variable CAIRN_TEST_UNSET_PASSWORD is not set`);
  assert.match(err.remedy, /^Set it before running cairn \(export CAIRN_TEST_UNSET_PASSWORD=\.\.\./);
});

test('an unknown environment lists the defined ones', async () => {
  const { err, file } = await configError(`${repo}environments:\n  production: {}\n  staging: {}\n`, { environment: 'prod' });
  assert.equal(err.message, `${file}:4:1: environments: unknown environment "prod" (given with --env)`);
  assert.equal(err.remedy, `Did you mean "production"? Environments defined in ${file}: production, staging.`);
});

test('a secret given two ways at once is an error', async () => {
  const { err, file } = await configError('repositories:\n  default:\n    url: /srv/b\n    password_file: /x\n    password_command: pass show cairn\n');
  assert.equal(err.message, `${file}:5:23: repositories.default.password_command: password_file and password_command are both set`);
  assert.equal(err.remedy, 'Give the password one way only: remove password_command or password_file.');
});

test('other rules name the place and the fix', async () => {
  const cases: Array<[string, string, string]> = [
    ['repositories:\n  main: { url: /srv/b }\n', '1:1: repositories: no repository is named default (found main)', 'Name the repository backups go to default'],
    [`${repo}components:\n  "My App": {}\n`, '5:3: components["My App"]: "My App" is not a valid name: it must start with a letter and use only letters, digits, ".", "_" and "-"', 'Rename it: names must start with a letter'],
    [`${repo}components:\n  a:\n    sources: [{ type: files, name: x, paths: [data] }]\n`, '6:47: components.a.sources[0].paths[0]: "data" is not allowed: paths[0] must be an absolute path (like /srv/data)', 'Change paths[0]: it must be an absolute path'],
    [`${repo}components:\n  a:\n    stop: [{ rn: "systemctl stop a" }]\n`, '6:14: components.a.stop[0].rn: unknown key "rn" for a command', 'Did you mean "run"? Valid keys of a command: run, cwd, env, timeout.'],
    [`${repo}components:\n  a:\n    health: { retries: 2 }\n`, '6:5: components.a.health: health check needs exactly one of command: or url:, found neither', 'Give health either command:'],
    [`${repo}components:\n  a:\n    sources:\n      - { type: sqlite, name: x, path: /a.db }\n      - { type: sqlite, name: x, path: /b.db }\n`, '8:31: components.a.sources[1].name: "x" is not allowed: name is already used by sources[0]', 'Give each source of a component its own name'],
    ['version: 2\n' + repo, '1:10: version: 2 is not allowed', 'Set version to 1.'],
    [`${repo}  x: { url: "b2:bucket" }\n`, '4:13: repositories.x.url: "b2:bucket" is not allowed: url must be a local path or start with local:, sftp:, s3: or rest:', 'Change url:'],
    ['', '1:1: the file is empty', 'Add at least repositories:'],
  ];
  for (const [text, message, remedy] of cases) {
    const { err, file } = await configError(text);
    assert.equal(err.message, `${file}:${message}`);
    assert.ok(err.remedy.startsWith(remedy), `remedy "${err.remedy}" should start with "${remedy}"`);
  }
});

test('secrets are resolved into the plain key: files lose one newline, commands their trailing newlines', async () => {
  const file = await writeConfig(`repositories:
  default:
    url: /srv/b
    password_file: password.txt
  offsite:
    url: "s3:https://s3.example.com/b"
    password_command: printf 'from-command\\n\\n'
    s3:
      access_key_id_env: TEST_KEY_ID
      secret_access_key: inline-secret
`);
  await writeFile(path.join(path.dirname(file), 'password.txt'), 'correct horse \n\n');
  const { config } = await loadConfig({ path: file, env: { TEST_KEY_ID: 'AKIA123' } });
  assert.equal(config.repositories.default!.password, 'correct horse \n');
  assert.equal(config.repositories.offsite!.password, 'from-command');
  assert.equal(config.repositories.offsite!.s3!.access_key_id, 'AKIA123');
  assert.equal(config.repositories.offsite!.s3!.secret_access_key, 'inline-secret');
});

test('only the secrets in scope are resolved; the rest can be resolved later', async () => {
  const file = await writeConfig(`repositories:
  default: { url: /srv/b, password_command: echo repo-pass }
  offsite: { url: /srv/c, password_command: "exit 1" }
components:
  db:
    sources: [{ type: postgres, name: main, database: app, password_command: echo db-pass }]
  other:
    sources: [{ type: postgres, name: main, database: other, password_file: /nonexistent/secret }]
`);
  const loaded = await loadConfig({ path: file, secrets: { repositories: ['default'], components: ['db'] } });
  assert.equal(loaded.config.repositories.default!.password, 'repo-pass');
  const db = loaded.config.components.db!.sources[0]!;
  assert.equal(db.type === 'postgres' && db.password, 'db-pass');
  assert.equal(loaded.config.repositories.offsite!.password, undefined);
  await assert.rejects(loaded.resolveSecrets({ components: ['other'] }), (err: unknown) => err instanceof ConfigError && err.message.startsWith(`${file}:8:`) && /secret file \/nonexistent\/secret does not exist/.test(err.message));
  await assert.rejects(loaded.resolveSecrets({ repositories: ['ofsite'] }), (err: unknown) => err instanceof CairnError && err.message === 'unknown repository "ofsite"' && err.remedy.startsWith('Did you mean "offsite"?'));
});

test('errors found later point at the key in the file', async () => {
  const file = await writeConfig(`${repo}components:\n  db:\n    sources:\n      - type: postgres\n        name: main\n        database: app\n`);
  const loaded = await loadConfig({ path: file });
  const err = loaded.error(['components', 'db', 'sources', 0, 'database'], 'database "app" does not exist on the server', 'Create it, or fix the name.');
  assert.equal(err.message, `${file}:9:19: components.db.sources[0].database: database "app" does not exist on the server`);
  assert.deepEqual(loaded.locate(['components', 'db']), { file, line: 5, col: 3 });
});

test('config discovery: --config, then CAIRN_CONFIG, then ./cairn.yaml, then the user config dir, then /etc/cairn', async (t) => {
  const base = path.join(dir, 'discovery');
  const paths = {
    flag: path.join(base, 'flag/cairn.yaml'),
    env: path.join(base, 'env/cairn.yaml'),
    cwd: path.join(base, 'cwd/cairn.yaml'),
    user: path.join(base, 'xdg/cairn/cairn.yaml'),
    system: path.join(base, 'etc/cairn.yaml'),
  };
  for (const p of Object.values(paths)) {
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, repo);
  }
  const savedXdg = process.env.XDG_CONFIG_HOME;
  process.env.XDG_CONFIG_HOME = path.join(base, 'xdg'); // env-paths reads the process environment
  t.after(() => {
    if (savedXdg === undefined) delete process.env.XDG_CONFIG_HOME;
    else process.env.XDG_CONFIG_HOME = savedXdg;
  });
  const opts = { cwd: path.dirname(paths.cwd), systemDir: path.dirname(paths.system) };
  assert.deepEqual(findConfigPath({ ...opts, explicit: paths.flag, env: { CAIRN_CONFIG: paths.env } }), { path: paths.flag, origin: 'flag' });
  assert.deepEqual(findConfigPath({ ...opts, env: { CAIRN_CONFIG: paths.env } }), { path: paths.env, origin: 'env' });
  assert.deepEqual(findConfigPath({ ...opts, env: {} }), { path: paths.cwd, origin: 'cwd' });
  await rm(paths.cwd);
  assert.deepEqual(findConfigPath({ ...opts, env: {} }), { path: paths.user, origin: 'user' });
  await rm(paths.user);
  assert.deepEqual(findConfigPath({ ...opts, env: {} }), { path: paths.system, origin: 'system' });
  await rm(paths.system);
  assert.throws(
    () => findConfigPath({ ...opts, env: {} }),
    (err: unknown) => err instanceof CairnError && err.message === `no cairn.yaml found (looked for ${paths.cwd}, ${paths.user}, ${paths.system})` && /--config PATH or CAIRN_CONFIG/.test(err.remedy),
  );
  // A named file that is missing is an error, not a reason to look elsewhere.
  await writeFile(paths.system, repo);
  assert.throws(() => findConfigPath({ ...opts, env: { CAIRN_CONFIG: paths.cwd } }), (err: unknown) => err instanceof CairnError && err.message === `config file ${paths.cwd} (named by CAIRN_CONFIG) does not exist`);
  assert.throws(() => findConfigPath({ ...opts, explicit: 'nope.yaml', env: {} }), (err: unknown) => err instanceof CairnError && err.message === `config file ${path.join(opts.cwd, 'nope.yaml')} (named by --config) does not exist`);
});
