// MysqlSource against a real throwaway MariaDB server. The dumps are kept in a
// plain directory (test/helpers/storedContentDir.ts), not a repository.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CairnError } from '../../../src/errors.js';
import { MariadbSource, type MysqlSourceOptions } from '../../../src/sources/mysql.js';
import { BK_PASSWORD, startMariadb, type TestMariadb } from '../../helpers/mariadb.js';
import { freePort } from '../../helpers/postgres.js';
import { DirStoredContent } from '../../helpers/storedContentDir.js';

let db: TestMariadb;
let work: string;
let n = 0;
const scratch = (): string => path.join(work, `store-${++n}`);

function source(database: string, extra: Partial<MysqlSourceOptions> = {}): MysqlSource {
  return new MariadbSource({ database, socket: db.socket, user: 'root', ...extra });
}

async function rejection(p: Promise<unknown>): Promise<CairnError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CairnError, `expected a CairnError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'cairn-mysqlsrc-'));
  db = await startMariadb();
  db.query(
    `CREATE DATABASE app;
     USE app;
     CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, photo BLOB) ENGINE=InnoDB;
     CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, customer INT NOT NULL, total DECIMAL(10,2),
                          FOREIGN KEY (customer) REFERENCES customers(id)) ENGINE=InnoDB;
     CREATE TABLE audit (n INT) ENGINE=InnoDB;
     CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW INSERT INTO audit VALUES (NEW.id);
     CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;
     INSERT INTO customers VALUES (1, 'Ada', UNHEX('00FF10')), (2, 'Grace', NULL), (3, 'Zoë ''quoted''', NULL);
     INSERT INTO orders (customer, total) VALUES (1, 50), (1, 150.25), (2, 999.99);`,
  );
});

after(async () => {
  await db?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('MysqlSource (MariaDB)', () => {
  test('stores one SQL stream named <database>.sql from a single-transaction dump', async () => {
    const items = await source('app').items();
    assert.deepEqual(items.map((i) => [i.type, i.name]), [['stream', 'app.sql']]);
    const stored = await DirStoredContent.capture(items, scratch());
    const sql = Buffer.concat((await (await stored.openStream('app.sql')).toArray()) as Buffer[]).toString();
    assert.match(sql, /CREATE TABLE `customers`/);
    assert.match(sql, /CREATE\b.*TRIGGER `?orders_audit/);
    assert.match(sql, /CREATE .*FUNCTION `twice`/);
    assert.doesNotMatch(sql, /^USE /m, 'the dump names no database, so it can go anywhere');
  });

  test('a dump restores over the live database after its data was deleted', async () => {
    const src = source('app');
    const stored = await DirStoredContent.capture(await src.items(), scratch());
    db.query('DELETE FROM orders; DELETE FROM customers WHERE id > 1; UPDATE customers SET photo = NULL;', 'app');
    await src.restore(stored, {});
    assert.equal(db.query('SELECT id, name, HEX(photo) FROM customers ORDER BY id', 'app'), "1\tAda\t00FF10\n2\tGrace\tNULL\n3\tZoë 'quoted'\tNULL");
    assert.equal(db.query('SELECT customer, total FROM orders ORDER BY id', 'app'), '1\t50.00\n1\t150.25\n2\t999.99');
  });

  test('a dump restores after teardown dropped the database, with its triggers and routines', async () => {
    const src = source('app');
    const stored = await DirStoredContent.capture(await src.items(), scratch());
    await src.remove();
    assert.equal(db.query("SHOW DATABASES LIKE 'app'"), '');
    await src.restore(stored, {});
    assert.equal(db.query('SELECT COUNT(*) FROM orders', 'app'), '3');
    assert.equal(db.query('SELECT twice(21)', 'app'), '42');
    db.query('INSERT INTO orders (customer, total) VALUES (3, 1)', 'app');
    assert.equal(db.query('SELECT COUNT(*) FROM audit WHERE n = 4', 'app'), '1', 'the trigger fires again');
    db.query('DELETE FROM orders WHERE id = 4; DELETE FROM audit WHERE n = 4;', 'app');
  });

  test('--to restores into another database name without touching the live one', async () => {
    const src = source('app');
    const stored = await DirStoredContent.capture(await src.items(), scratch());
    db.query("INSERT INTO customers VALUES (9, 'after the backup', NULL)", 'app');
    await src.restore(stored, { to: 'app_copy' });
    assert.equal(db.query('SELECT id FROM customers ORDER BY id', 'app_copy'), '1\n2\n3');
    assert.equal(db.query('SELECT id FROM customers ORDER BY id', 'app'), '1\n2\n3\n9');
    db.query('DELETE FROM customers WHERE id = 9', 'app');
  });

  test('a dump over TCP with the right password works; a wrong password fails with a clear error', async () => {
    const tcp = { socket: undefined, host: '127.0.0.1', port: db.port, user: 'bk' };
    const stored = await DirStoredContent.capture(await source('app', { ...tcp, password: BK_PASSWORD }).items(), scratch());
    assert.deepEqual(await stored.names(), ['app.sql']);
    const err = await rejection(source('app', { ...tcp, password: 'wrong' }).items().then((items) => DirStoredContent.capture(items, scratch())));
    assert.equal(err.code, 'mysql-auth');
    assert.match(err.message, new RegExp(`dump of database "app" on MariaDB/MySQL at 127\\.0\\.0\\.1:${db.port} failed: .*Access denied for user 'bk'`));
  });

  test('a dump of a database that does not exist fails the stream with a clear error', async () => {
    const err = await rejection(source('nope').items().then((items) => DirStoredContent.capture(items, scratch())));
    assert.equal(err.code, 'mysql-no-database');
    assert.match(err.message, /database "nope" on MariaDB\/MySQL at .*mysql\.sock failed: .*Unknown database 'nope'/);
    assert.doesNotMatch(err.message, /\n/);
  });

  test('a dump from a server that is down fails the stream with a clear error', async () => {
    const port = await freePort();
    const err = await rejection(
      source('app', { socket: undefined, host: '127.0.0.1', port }).items().then((items) => DirStoredContent.capture(items, scratch())),
    );
    assert.equal(err.code, 'mysql-unreachable');
    assert.match(err.message, new RegExp(`MariaDB/MySQL at 127\\.0\\.0\\.1:${port} failed: .*Can't connect`));
    assert.match(err.remedy, /ping/);
  });

  test('a restore as a user the database refuses fails with a clear error and changes nothing', async () => {
    const stored = await DirStoredContent.capture(await source('app').items(), scratch());
    db.query(`CREATE USER 'reader'@'%' IDENTIFIED BY 'r'; GRANT SELECT ON app.* TO 'reader'@'%';`);
    db.query("INSERT INTO customers VALUES (8, 'not in the backup', NULL)", 'app');
    const reader = source('app', { socket: undefined, host: '127.0.0.1', port: db.port, user: 'reader', password: 'r' });
    const err = await rejection(reader.restore(stored, {}));
    assert.equal(err.code, 'mysql-refused');
    assert.match(err.message, /restoring into database "app" on MariaDB\/MySQL at 127\.0\.0\.1:\d+ failed: .*denied to user 'reader'/);
    assert.equal(db.query('SELECT COUNT(*) FROM customers', 'app'), '4');
    db.query('DELETE FROM customers WHERE id = 8', 'app');
  });

  test('health passes on a live database and fails clearly on a missing one; metadata has the version', async () => {
    await source('app').health();
    assert.equal((await rejection(source('missing').health())).code, 'mysql-no-database');
    const meta = await source('app').metadata();
    assert.match(String(meta.serverVersion), /MariaDB/);
    assert.ok(Number(meta.databaseSizeBytes) > 0);
  });
});
