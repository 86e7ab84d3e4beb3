// SqliteSource on real SQLite files, with a second process writing during the
// backup. Copies are kept in a plain directory (test/helpers/storedContentDir.ts).
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CairnError } from '../../../src/errors.js';
import { SqliteSource } from '../../../src/sources/sqlite.js';
import { DirStoredContent } from '../../helpers/storedContentDir.js';

let work: string;
let n = 0;
const scratch = (): string => path.join(work, `store-${++n}`);

async function rejection(p: Promise<unknown>): Promise<CairnError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CairnError, `expected a CairnError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

function query<T>(file: string, sql: string): T[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/** A bank in WAL mode: two accounts, a transfers table and some filler so the file has many pages. */
function makeBank(file: string): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(`CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
           INSERT INTO accounts VALUES (1, 1000000), (2, 1000000);
           CREATE TABLE filler (id INTEGER PRIMARY KEY, pad TEXT);
           CREATE TABLE transfers (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL);`);
  const ins = db.prepare('INSERT INTO filler (pad) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < 20000; i++) ins.run(`${i}-${'x'.repeat(i % 97)}-${Math.imul(i, 2654435761) >>> 0}`);
  })();
  db.close();
}

// Moves money between the accounts, one transaction per transfer, until killed.
const WRITER = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2], { timeout: 10000 });
const take = db.prepare('UPDATE accounts SET balance = balance - ? WHERE id = 1');
const log = db.prepare('INSERT INTO transfers (amount) VALUES (?)');
const give = db.prepare('UPDATE accounts SET balance = balance + ? WHERE id = 2');
const filler = db.prepare('UPDATE filler SET pad = pad || ? WHERE id = ?');
const move = db.transaction((k) => { take.run(k); filler.run('.', 1 + (k * 7919) % 20000); log.run(k); give.run(k); });
const pause = new Int32Array(new SharedArrayBuffer(4));
for (;;) { move(1 + Math.floor(Math.random() * 9)); Atomics.wait(pause, 0, 0, 1); }
`;

before(() => {
  work = mkdtempSync(path.join(tmpdir(), 'cairn-sqlitesrc-'));
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('SqliteSource', () => {
  test('a copy restores over the live file after its data was deleted', async () => {
    const file = path.join(work, 'app.db');
    const db = new Database(file);
    db.exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, data BLOB);
             INSERT INTO notes VALUES (1, 'first', x'00ff'), (2, 'zweite ü', NULL);`);
    db.close();
    const src = new SqliteSource({ path: file });
    const items = await src.items();
    assert.deepEqual(items.map((i) => [i.type, i.name]), [['stream', 'app.db']]);
    const stored = await DirStoredContent.capture(items, scratch());
    const live = new Database(file);
    live.exec('DELETE FROM notes; CREATE TABLE later (x);');
    live.close();
    await src.restore(stored, {});
    assert.deepEqual(query(file, 'SELECT id, body, hex(data) AS data FROM notes ORDER BY id'), [
      { id: 1, body: 'first', data: '00FF' },
      { id: 2, body: 'zweite ü', data: '' },
    ]);
    assert.deepEqual(query(file, "SELECT name FROM sqlite_master WHERE name = 'later'"), []);
    await src.health();
  });

  test('a copy restores after teardown deleted the file and its WAL', async () => {
    const file = path.join(work, 'wal.db');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT); INSERT INTO kv VALUES ('a', '1'), ('b', '2');");
    // Still open: the rows live in the -wal file, which a raw copy of the main file would miss.
    const src = new SqliteSource({ path: file });
    const stored = await DirStoredContent.capture(await src.items(), scratch());
    db.close();
    await src.remove();
    assert.equal(existsSync(file) || existsSync(`${file}-wal`), false);
    await src.restore(stored, {});
    assert.deepEqual(query(file, 'SELECT k, v FROM kv ORDER BY k'), [{ k: 'a', v: '1' }, { k: 'b', v: '2' }]);
  });

  test('--to restores into another file or directory without touching the live one', async () => {
    const file = path.join(work, 'live.db');
    const db = new Database(file);
    db.exec('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);');
    const src = new SqliteSource({ path: file });
    const stored = await DirStoredContent.capture(await src.items(), scratch());
    db.exec('INSERT INTO t VALUES (3)');
    db.close();
    await src.restore(stored, { to: path.join(work, 'elsewhere', 'copy.db') });
    assert.deepEqual(query(file, 'SELECT x FROM t ORDER BY x'), [{ x: 1 }, { x: 2 }, { x: 3 }]);
    assert.deepEqual(query(path.join(work, 'elsewhere', 'copy.db'), 'SELECT x FROM t ORDER BY x'), [{ x: 1 }, { x: 2 }]);
    mkdirSync(path.join(work, 'restore-dir'));
    await src.restore(stored, { to: path.join(work, 'restore-dir') });
    assert.deepEqual(query(path.join(work, 'restore-dir', 'live.db'), 'SELECT count(*) AS c FROM t'), [{ c: 2 }]);
  });

  test('a database written to by another process during the backup restores intact and consistent', async () => {
    const file = path.join(work, 'bank.db');
    makeBank(file);
    const count = (): number => query<{ c: number }>(file, 'SELECT count(*) AS c FROM transfers')[0]!.c;
    const betterSqlite = createRequire(import.meta.url).resolve('better-sqlite3');
    const writer = spawn(process.execPath, ['-e', WRITER, betterSqlite, file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let writerErr = '';
    writer.stderr.on('data', (c: Buffer) => (writerErr += c.toString()));
    const exited = new Promise((resolve) => writer.on('close', resolve));
    let before = 0;
    let afterBackup = 0;
    let stored: DirStoredContent;
    try {
      while ((before = count()) < 20) await sleep(20);
      stored = await DirStoredContent.capture(await new SqliteSource({ path: file }).items(), scratch());
      afterBackup = count();
      while (count() < afterBackup + 20) await sleep(20);
    } finally {
      writer.kill();
      await exited;
    }
    assert.equal(writerErr, '', 'the writer never failed (e.g. SQLITE_BUSY)');
    const restored = path.join(work, 'bank-restored.db');
    await new SqliteSource({ path: file }).restore(stored, { to: restored });
    assert.deepEqual(query(restored, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
    const [row] = query<{ sum: number; drift: number; n: number }>(
      restored,
      `SELECT (SELECT sum(balance) FROM accounts) AS sum,
              (SELECT balance FROM accounts WHERE id = 2) - 1000000 - (SELECT coalesce(sum(amount), 0) FROM transfers) AS drift,
              (SELECT count(*) FROM transfers) AS n`,
    );
    assert.equal(row!.sum, 2000000, 'money is neither created nor lost');
    assert.equal(row!.drift, 0, 'every transfer row matches the balances');
    assert.ok(row!.n >= before && row!.n <= afterBackup, 'the copy is a state the live database went through during the backup');
  });

  test('a missing database file fails the backup with a clear error', async () => {
    const err = await rejection(new SqliteSource({ path: path.join(work, 'nope.db') }).items());
    assert.equal(err.code, 'sqlite-missing');
    assert.match(err.message, /nope\.db does not exist/);
  });

  test('a file that is not a database fails the stream with a clear error', async () => {
    const file = path.join(work, 'not-a.db');
    writeFileSync(file, 'just some text, long enough to look like a header'.repeat(20));
    const err = await rejection(new SqliteSource({ path: file }).items().then((items) => DirStoredContent.capture(items, scratch())));
    assert.equal(err.code, 'sqlite-unreadable');
    assert.match(err.message, /not-a\.db cannot be read: file is not a database/);
  });

  test('a stored copy that fails the integrity check is refused and the live file is left alone', async () => {
    const file = path.join(work, 'keep.db');
    const db = new Database(file);
    db.exec("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('live');");
    db.close();
    const dir = scratch();
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'keep.db'), Buffer.alloc(8192, 7));
    const err = await rejection(new SqliteSource({ path: file }).restore(new DirStoredContent(dir), {}));
    assert.equal(err.code, 'sqlite-restore-corrupt');
    assert.match(err.message, /keep\.db fails SQLite's integrity check .* was left as it was/);
    assert.deepEqual(query(file, 'SELECT x FROM t'), [{ x: 'live' }]);
    assert.deepEqual((await new DirStoredContent(work).names()).filter((f) => f.includes('cairn-restore')), [], 'no temp file is left behind');
  });

  test('metadata reports the SQLite version and the database size', async () => {
    const meta = await new SqliteSource({ path: path.join(work, 'bank.db') }).metadata();
    assert.match(String(meta.sqliteVersion), /^3\./);
    assert.equal(meta.journalMode, 'wal');
    assert.ok(Number(meta.databaseSizeBytes) > 100_000);
  });
});
