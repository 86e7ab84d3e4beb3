import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { runCairn, runRestic } from '../helpers/cli.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startMariadb, type TestMariadb } from '../helpers/mariadb.js';
import { startRedis, REDIS_PASSWORD, type TestRedis } from '../helpers/redis.js';
import { manifest } from '../helpers/treeGen.js';

// A homelab stack of four components on real servers: files, PostgreSQL,
// MariaDB and Redis. Backed up, torn down, recovered, restored, rolled back;
// checked by queries and file contents, not by exit codes.
let tmp: string;
let pg: TestPostgres;
let my: TestMariadb;
let redis: TestRedis;
let configPath: string;
let appFiles: string;
const env = { CAIRN_PASSWORD: 'stack-pw', RESTIC_PASSWORD: 'stack-pw' };

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-stack-'));
  [pg, my, redis] = await Promise.all([startPostgres(), startMariadb(), startRedis()]);
  pg.query('CREATE DATABASE shop');
  pg.query('CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL); INSERT INTO orders SELECT g, \'item \' || g FROM generate_series(1, 500) g;', 'shop');
  my.query('CREATE DATABASE wiki CHARACTER SET utf8mb4');
  my.query("CREATE TABLE pages (id INT PRIMARY KEY, title TEXT); INSERT INTO pages VALUES (1, 'Home'), (2, 'Backups'), (3, 'Ünïcode ✓');", 'wiki');
  for (let i = 0; i < 50; i++) redis.cli('SET', `session:${i}`, `user-${i}`);
  appFiles = path.join(tmp, 'app', 'files');
  await fs.mkdir(path.join(appFiles, 'uploads'), { recursive: true });
  for (let i = 0; i < 20; i++) await fs.writeFile(path.join(appFiles, 'uploads', `photo-${i}.jpg`), Buffer.alloc(10_000 + i, i));
  await fs.writeFile(path.join(appFiles, 'config.ini'), '[app]\nname=shop\n');
  await fs.writeFile(path.join(tmp, 'cmd-state'), 'v1');
  configPath = path.join(tmp, 'cairn.yaml');
  await fs.writeFile(
    configPath,
    `
repositories:
  default:
    url: ${path.join(tmp, 'repo')}
    password_env: CAIRN_PASSWORD
components:
  db:
    sources:
      - { type: postgres, name: main, database: shop, host: ${pg.socketDir}, port: ${pg.port}, user: ${pg.user} }
  wiki:
    sources:
      - { type: mariadb, name: db, database: wiki, socket: ${my.socket}, user: root }
  cache:
    sources:
      - type: redis
        name: sessions
        socket: ${redis.socket}
        password: ${REDIS_PASSWORD}
        stop: "${redis.stopCommand.join(' ')}"
        start: "${redis.startCommand.join(' ')}"
  app:
    depends_on: [db, cache]
    sources:
      - { type: files, name: files, paths: [${appFiles}] }
      - type: command
        name: state
        backup: cat ${path.join(tmp, 'cmd-state')}
        restore: "d=$(cat); case \\"$d\\" in *BROKEN*) echo 'state refused: broken data' >&2; exit 1;; esac; printf %s \\"$d\\" > ${path.join(tmp, 'cmd-state')}"
`,
  );
});

after(async () => {
  pg?.stop();
  await my?.stop();
  await redis?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

const cairn = (...args: string[]) => runCairn([...args, '--config', configPath], { env });

function summary(out: string): { components: { component: string; status: string; snapshot?: string; message?: string }[] } {
  return JSON.parse(out.trim().split('\n').pop()!);
}

test('backup of the whole stack makes one tagged snapshot per component, in dependency order', async () => {
  const r = await cairn('backup', '--json');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const s = summary(r.stdout);
  assert.deepEqual(s.components.map((c) => c.status), ['ok', 'ok', 'ok', 'ok']);
  const order = s.components.map((c) => c.component);
  assert.ok(order.indexOf('db') < order.indexOf('app') && order.indexOf('cache') < order.indexOf('app'), `dependencies first: ${order}`);
  const list = JSON.parse((await cairn('backup', 'list', '--json')).stdout) as { component: string; type: string; reason: string }[];
  assert.deepEqual(list.map((l) => l.component).sort(), ['app', 'cache', 'db', 'wiki']);
  assert.ok(list.every((l) => l.type === 'manual' && l.reason === 'manual'));
});

test('restic restores a component snapshot as plain files and dumps a user could restore by hand', async () => {
  const target = path.join(tmp, 'restic-restore');
  const r = await runRestic(['-r', path.join(tmp, 'repo'), 'restore', 'latest', '--tag', 'component=db', '--target', target], env);
  assert.equal(r.code, 0, r.stderr);
  const dump = path.join(target, 'db', 'main', 'shop.pgdump');
  const toc = execFileSync('/usr/lib/postgresql/15/bin/pg_restore', ['--list', dump], { encoding: 'utf8' });
  assert.match(toc, /TABLE DATA public orders/);
  const files = path.join(tmp, 'restic-restore-app');
  assert.equal((await runRestic(['-r', path.join(tmp, 'repo'), 'restore', 'latest', '--tag', 'component=app', '--target', files], env)).code, 0);
  assert.deepEqual(await manifest(path.join(files, 'app', 'files', 'files')), await manifest(appFiles));
});

test('teardown backs up first, removes every component (data really gone), and recover brings all of it back in order', async () => {
  const before = await manifest(appFiles);
  const td = await cairn('teardown', '--force', '--json');
  assert.equal(td.code, 0, td.stdout + td.stderr);
  const tdOrder = summary(td.stdout).components.map((c) => c.component);
  assert.ok(tdOrder.indexOf('app') < tdOrder.indexOf('db'), `dependents are torn down first: ${tdOrder}`);
  assert.equal(pg.query("SELECT count(*) FROM pg_database WHERE datname = 'shop'"), '0');
  assert.equal(my.query("SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'wiki'"), '0');
  assert.equal(redis.cli('DBSIZE'), '0');
  await assert.rejects(fs.stat(appFiles));
  const list = JSON.parse((await cairn('backup', 'list', '--json')).stdout) as { reason: string; type: string }[];
  assert.equal(list.filter((l) => l.reason === 'before-teardown' && l.type === 'automatic').length, 4);

  const rc = await cairn('recover', '--json');
  assert.equal(rc.code, 0, rc.stdout + rc.stderr);
  const order = summary(rc.stdout).components.map((c) => c.component);
  assert.ok(order.indexOf('db') < order.indexOf('app') && order.indexOf('cache') < order.indexOf('app'), `recovered in dependency order: ${order}`);
  assert.equal(pg.query('SELECT count(*), min(item), max(id) FROM orders', 'shop'), '500\titem 1\t500');
  assert.equal(my.query('SELECT title FROM pages ORDER BY id', 'wiki'), 'Home\nBackups\nÜnïcode ✓');
  await redis.ready();
  assert.equal(redis.cli('DBSIZE'), '50');
  assert.equal(redis.cli('GET', 'session:42'), 'user-42');
  assert.deepEqual(await manifest(appFiles), before);
});

test('a restore whose second source fails rolls back: the component is exactly as before, and the message says so', async () => {
  await fs.writeFile(path.join(tmp, 'cmd-state'), 'BROKEN v1');
  await fs.writeFile(path.join(appFiles, 'config.ini'), '[app]\nname=shop-old\n');
  const b = await cairn('backup', '--component', 'app', '--json');
  assert.equal(b.code, 0, b.stdout + b.stderr);
  const broken = summary(b.stdout).components[0]!.snapshot!;
  await fs.writeFile(path.join(tmp, 'cmd-state'), 'v2');
  await fs.writeFile(path.join(appFiles, 'config.ini'), '[app]\nname=shop-new\n');
  const live = await manifest(appFiles);

  const r = await cairn('restore', '--component', 'app', '--snapshot', broken, '--force');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /restoring source state of app failed: .*state refused/);
  assert.match(r.stderr, /rollback succeeded/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.equal(await fs.readFile(path.join(tmp, 'cmd-state'), 'utf8'), 'v2');
  assert.deepEqual(await manifest(appFiles), live, 'files are back to their state before the restore');
});

test('without a terminal, an in-place restore is refused unless --force', async () => {
  const r = await cairn('restore', '--component', 'db');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /not confirmed; nothing changed/);
  assert.match(r.stderr, /--force/);
});

test('--at picks the newest snapshot at or before the time, and --to leaves the live data untouched', async () => {
  const times: string[] = [];
  for (const version of ['one', 'two', 'three']) {
    await fs.writeFile(path.join(appFiles, 'version.txt'), version);
    await fs.writeFile(path.join(tmp, 'cmd-state'), `state ${version}`);
    const b = await cairn('backup', '--component', 'app', '--json');
    assert.equal(b.code, 0, b.stderr);
    const list = JSON.parse((await cairn('backup', 'list', '--component', 'app', '--json')).stdout) as { created_at: string }[];
    times.push(list[list.length - 1]!.created_at);
    await new Promise((r) => setTimeout(r, 1100));
  }
  const at = new Date(Date.parse(times[1]!) + 500).toISOString();
  const other = path.join(tmp, 'elsewhere');
  const r = await cairn('restore', '--component', 'app', '--at', at, '--to', `files=${other}`, '--to', `state=${other}/state`);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(await fs.readFile(path.join(appFiles, 'version.txt'), 'utf8'), 'three', 'live data untouched');
  const restored = (await fs.readdir(other, { recursive: true })).map(String);
  const versionFile = restored.find((p) => p.endsWith('version.txt'));
  assert.ok(versionFile, `version.txt restored into ${other}: ${restored.join(', ')}`);
  assert.equal(await fs.readFile(path.join(other, versionFile), 'utf8'), 'two');
});
