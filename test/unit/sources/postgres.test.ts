// PostgresSource against a real throwaway PostgreSQL 15 server. The dumps are
// kept in a plain directory (test/helpers/storedContentDir.ts), not a repository.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CairnError } from '../../../src/errors.js';
import { PostgresSource, type PostgresSourceOptions } from '../../../src/sources/postgres.js';
import { DirStoredContent } from '../../helpers/storedContentDir.js';
import { freePort, PG_PASSWORD, startPostgres, type TestPostgres } from '../../helpers/postgres.js';

let pg: TestPostgres;
let work: string;
let n = 0;
const scratch = (): string => path.join(work, `store-${++n}`);

function source(database: string, extra: Partial<PostgresSourceOptions> = {}): PostgresSource {
  return new PostgresSource({ database, host: pg.socketDir, port: pg.port, user: 'postgres', ...extra });
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

/** Yields the stream's chunks, running `afterFirst` once the first chunk went through. */
async function* pausedAfterFirstChunk(src: Readable, afterFirst: () => Promise<void>): AsyncGenerator<Buffer> {
  let first = true;
  for await (const chunk of src) {
    yield chunk as Buffer;
    if (first) {
      first = false;
      await afterFirst();
    }
  }
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'cairn-pgsrc-'));
  pg = await startPostgres();
  pg.query('CREATE DATABASE app');
  pg.query(
    `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
     CREATE TABLE orders (id serial PRIMARY KEY, customer int NOT NULL REFERENCES customers, total numeric(10,2));
     CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
     INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace'), (3, 'Zoë "quoted"');
     INSERT INTO orders (customer, total) VALUES (1, 50), (1, 150.25), (2, 999.99), (3, 7);`,
    'app',
  );
});

after(() => {
  pg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('PostgresSource', () => {
  test('stores one pg_dump custom-format stream named <database>.pgdump', async () => {
    const items = await source('app').items();
    assert.deepEqual(items.map((i) => [i.type, i.name]), [['stream', 'app.pgdump']]);
    const stored = await DirStoredContent.capture(items, scratch());
    const head = (await (await stored.openStream('app.pgdump')).toArray())[0] as Buffer;
    assert.equal(head.subarray(0, 5).toString(), 'PGDMP');
  });

  test('a dump restores over the live database after its data was deleted', async () => {
    const src = source('app');
    const stored = await DirStoredContent.capture(await src.items(), scratch());
    pg.query('DELETE FROM orders; DROP VIEW big_orders; DELETE FROM customers WHERE id = 3;', 'app');
    await src.restore(stored, {});
    assert.equal(pg.query('SELECT id, name FROM customers ORDER BY id', 'app'), '1\tAda\n2\tGrace\n3\tZoë "quoted"');
    assert.equal(pg.query('SELECT customer, total FROM orders ORDER BY id', 'app'), '1\t50.00\n1\t150.25\n2\t999.99\n3\t7.00');
    assert.equal(pg.query('SELECT count(*) FROM big_orders', 'app'), '2');
    // The serial keeps counting where it was, so new rows do not collide.
    assert.equal(pg.query("INSERT INTO orders (customer, total) VALUES (2, 1) RETURNING id", 'app'), '5');
    pg.query('DELETE FROM orders WHERE id = 5', 'app');
  });

  test('a dump restores after teardown dropped the database', async () => {
    pg.query('CREATE DATABASE gone');
    pg.query("CREATE TABLE t (k text PRIMARY KEY, v int); INSERT INTO t VALUES ('a', 1), ('b', 2);", 'gone');
    const src = source('gone');
    const stored = await DirStoredContent.capture(await src.items(), scratch());
    await src.remove();
    assert.equal(pg.query("SELECT count(*) FROM pg_database WHERE datname = 'gone'"), '0');
    await src.restore(stored, {});
    assert.equal(pg.query('SELECT k, v FROM t ORDER BY k', 'gone'), 'a\t1\nb\t2');
  });

  test('--to restores into another database name without touching the live one', async () => {
    const src = source('app');
    const stored = await DirStoredContent.capture(await src.items(), scratch());
    pg.query("INSERT INTO customers VALUES (4, 'after the backup')", 'app');
    await src.restore(stored, { to: 'app restored' });
    assert.equal(pg.query('SELECT id FROM customers ORDER BY id', 'app restored'), '1\n2\n3');
    assert.equal(pg.query('SELECT id FROM customers ORDER BY id', 'app'), '1\n2\n3\n4');
    pg.query('DELETE FROM customers WHERE id = 4', 'app');
  });

  test('a database being written to during the dump restores with each transaction all there or not at all', async () => {
    pg.query('CREATE DATABASE bank');
    // accounts is dumped first, filler keeps pg_dump busy, transfers comes last: a dump that
    // is not one snapshot would see transfers that accounts do not reflect.
    pg.query(
      `CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);
       INSERT INTO accounts VALUES (1, 1000000), (2, 1000000);
       CREATE TABLE filler (id int PRIMARY KEY, pad text);
       INSERT INTO filler SELECT i, md5(i::text) || md5((i * 7)::text) FROM generate_series(1, 40000) i;
       CREATE TABLE transfers (id bigserial PRIMARY KEY, amount int NOT NULL);
       CREATE PROCEDURE churn() LANGUAGE plpgsql AS $$
       DECLARE k int;
       BEGIN
         LOOP
           k := 1 + (random() * 9)::int;
           UPDATE accounts SET balance = balance - k WHERE id = 1;
           INSERT INTO transfers (amount) VALUES (k);
           UPDATE accounts SET balance = balance + k WHERE id = 2;
           COMMIT;
           PERFORM pg_sleep(0.002);
         END LOOP;
       END $$;`,
      'bank',
    );
    const count = (): number => Number(pg.query('SELECT count(*) FROM transfers', 'bank'));
    const waitForTransfers = async (atLeast: number): Promise<void> => {
      while (count() < atLeast) await sleep(20);
    };
    const writer = spawn('psql', ['-X', '-h', pg.socketDir, '-p', String(pg.port), '-U', 'postgres', '-d', 'bank', '-c', 'CALL churn()'], {
      env: { ...process.env, PGAPPNAME: 'cairn-test-writer' },
      stdio: 'ignore',
    });
    const writerExited = new Promise((resolve) => writer.on('close', resolve));
    let duringDump = 0;
    try {
      await waitForTransfers(20);
      const src = source('bank');
      // Hold the dump after its first bytes (pg_dump's snapshot is taken by then) until the
      // writer committed 20 more transactions, so writes certainly happen during the dump.
      const stored = await DirStoredContent.capture(await src.items(), scratch(), (stream) =>
        Readable.from(
          pausedAfterFirstChunk(stream, async () => {
            const at = count();
            await waitForTransfers(at + 20);
            duringDump = count() - at;
          }),
        ),
      );
      pg.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'cairn-test-writer'");
      await writerExited;
      await src.restore(stored, { to: 'bank_restored' });
    } finally {
      writer.kill();
    }
    assert.ok(duringDump >= 20, 'the writer committed transactions while the dump ran');
    const [sum, drift, restored] = pg
      .query(
        `SELECT (SELECT sum(balance) FROM accounts),
                (SELECT balance FROM accounts WHERE id = 2) - 1000000 - (SELECT coalesce(sum(amount), 0) FROM transfers),
                (SELECT count(*) FROM transfers)`,
        'bank_restored',
      )
      .split('\t')
      .map(Number);
    assert.equal(sum, 2000000, 'money is neither created nor lost');
    assert.equal(drift, 0, 'every transfer row matches the balances');
    assert.ok(restored! >= 20 && restored! < count(), 'the restored state is the one from the dump, not the live one');
  });

  test('a dump of a database that does not exist fails the stream with a clear error', async () => {
    const err = await rejection(source('nope').items().then((items) => DirStoredContent.capture(items, scratch())));
    assert.equal(err.code, 'postgres-no-database');
    assert.match(err.message, /database "nope" on PostgreSQL at .*cairn-pg-.*:\d+ failed: .*database "nope" does not exist/);
    assert.doesNotMatch(err.message, /\n/);
    assert.match(err.remedy, /database name/);
  });

  test('a dump from a server that is down fails the stream with a clear error', async () => {
    const port = await freePort();
    const err = await rejection(source('app', { host: '127.0.0.1', port }).items().then((items) => DirStoredContent.capture(items, scratch())));
    assert.equal(err.code, 'postgres-unreachable');
    assert.match(err.message, new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${port}`));
    assert.match(err.message, /Connection refused/);
    assert.match(err.remedy, /pg_isready/);
  });

  test('a wrong password fails the dump with a clear error, and the right one works', async () => {
    const wrong = source('app', { host: '127.0.0.1', password: 'not-the-password' });
    const err = await rejection(wrong.items().then((items) => DirStoredContent.capture(items, scratch())));
    assert.equal(err.code, 'postgres-auth');
    assert.match(err.message, /password authentication failed for user "postgres"/);
    const right = source('app', { host: '127.0.0.1', password: PG_PASSWORD });
    await right.health();
  });

  test('a restore into a database that refuses writes fails with a clear error and changes nothing', async () => {
    const stored = await DirStoredContent.capture(await source('app').items(), scratch());
    pg.query('CREATE DATABASE frozen');
    pg.query("CREATE TABLE customers (id int PRIMARY KEY, name text); INSERT INTO customers VALUES (42, 'keep me');", 'frozen');
    pg.query('ALTER DATABASE frozen SET default_transaction_read_only = on');
    const err = await rejection(source('app').restore(stored, { to: 'frozen' }));
    assert.equal(err.code, 'postgres-refused');
    assert.match(err.message, /restoring into database "frozen" on PostgreSQL at .* failed: .*read-only transaction/);
    assert.match(err.remedy, /--to/);
    assert.equal(pg.query('SELECT id, name FROM customers', 'frozen'), '42\tkeep me');
  });

  test('health passes on a live database and fails clearly on a missing one', async () => {
    await source('app').health();
    const err = await rejection(source('missing').health());
    assert.equal(err.code, 'postgres-no-database');
  });

  test('metadata reports the server version and the database size', async () => {
    const meta = await source('app').metadata();
    assert.match(String(meta.serverVersion), /^15\./);
    assert.ok(Number(meta.databaseSizeBytes) > 0);
  });
});
