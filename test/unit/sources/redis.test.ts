// RedisSource against real throwaway Redis servers. Snapshots are kept in a
// plain directory (test/helpers/storedContentDir.ts), not a repository.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CairnError } from '../../../src/errors.js';
import { RedisSource, type RedisSourceOptions } from '../../../src/sources/redis.js';
import { REDIS_PASSWORD, startRedis, type TestRedis } from '../../helpers/redis.js';
import { DirStoredContent } from '../../helpers/storedContentDir.js';

let redis: TestRedis;
let work: string;
let n = 0;
const scratch = (): string => path.join(work, `store-${++n}`);

function source(extra: Partial<RedisSourceOptions> = {}): RedisSource {
  return new RedisSource({ socket: redis.socket, password: REDIS_PASSWORD, ...extra });
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

function seed(r: TestRedis): void {
  r.cli('SET', 'greeting', 'hello wörld');
  r.cli('HSET', 'user:1', 'name', 'Ada', 'role', 'admin');
  r.cli('RPUSH', 'queue', 'a', 'b', 'c');
  r.cli('SELECT', '0');
  r.cli('-n', '3', 'SET', 'in-db-3', 'yes');
}

function assertSeeded(r: TestRedis): void {
  assert.equal(r.cli('GET', 'greeting'), 'hello wörld');
  assert.equal(r.cli('HGET', 'user:1', 'name'), 'Ada');
  assert.equal(r.cli('LRANGE', 'queue', '0', '-1'), 'a\nb\nc');
  assert.equal(r.cli('-n', '3', 'GET', 'in-db-3'), 'yes');
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'cairn-redissrc-'));
  redis = await startRedis();
  seed(redis);
});

after(async () => {
  await redis?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('RedisSource', () => {
  test('stores one RDB snapshot named dump.rdb', async () => {
    const items = await source().items();
    assert.deepEqual(items.map((i) => [i.type, i.name]), [['stream', 'dump.rdb']]);
    const stored = await DirStoredContent.capture(items, scratch());
    assert.match(readFileSync(path.join(stored.dir, 'dump.rdb')).subarray(0, 9).toString('latin1'), /^REDIS\d{4}$/);
  });

  test('restores over the live server after teardown flushed it, stopping and starting the server', async () => {
    const src = source({ stopCommand: redis.stopCommand, startCommand: redis.startCommand });
    const stored = await DirStoredContent.capture(await src.items(), scratch());
    await src.remove();
    assert.equal(redis.cli('DBSIZE'), '0');
    redis.cli('SET', 'after-the-backup', '1');
    await src.restore(stored, {});
    assertSeeded(redis);
    assert.equal(redis.cli('EXISTS', 'after-the-backup'), '0');
    await src.health();
  });

  test('--to writes the RDB into a directory, which a second server loads, without touching the live one', async () => {
    const src = source();
    const stored = await DirStoredContent.capture(await src.items(), scratch());
    redis.cli('SET', 'greeting', 'changed after the backup');
    const target = path.join(work, 'restored-redis');
    await src.restore(stored, { to: target });
    assert.equal(redis.cli('GET', 'greeting'), 'changed after the backup');
    const second = await startRedis(target);
    try {
      assert.equal(second.cli('GET', 'greeting'), 'hello wörld');
      assert.equal(second.cli('HGET', 'user:1', 'role'), 'admin');
    } finally {
      await second.stop();
    }
    redis.cli('SET', 'greeting', 'hello wörld');
  });

  test('a restore over a running server without a stop command is refused and changes nothing', async () => {
    const stored = await DirStoredContent.capture(await source().items(), scratch());
    redis.cli('SET', 'live-only', 'keep');
    const err = await rejection(source().restore(stored, {}));
    assert.equal(err.code, 'redis-running');
    assert.match(err.message, /Redis at .*redis\.sock is running/);
    assert.match(err.remedy, /stop_command .* --to/);
    assert.equal(redis.cli('GET', 'live-only'), 'keep');
    redis.cli('DEL', 'live-only');
  });

  test('a stored file that is not an RDB is refused before the server is stopped', async () => {
    const dir = scratch();
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'dump.rdb'), 'not an rdb at all');
    const src = source({ stopCommand: redis.stopCommand, startCommand: redis.startCommand });
    const err = await rejection(src.restore(new DirStoredContent(dir), {}));
    assert.equal(err.code, 'redis-restore-corrupt');
    assertSeeded(redis);
  });

  test('a snapshot of a server that is down fails the stream with a clear error', async () => {
    const gone = path.join(work, 'no-such.sock');
    const err = await rejection(source({ socket: gone }).items().then((items) => DirStoredContent.capture(items, scratch())));
    assert.equal(err.code, 'redis-unreachable');
    assert.match(err.message, /an RDB snapshot of Redis at .*no-such\.sock failed: .*Could not connect/);
    assert.match(err.remedy, /ping/);
  });

  test('a wrong password fails the snapshot with a clear error', async () => {
    const err = await rejection(source({ password: 'wrong' }).items().then((items) => DirStoredContent.capture(items, scratch())));
    assert.equal(err.code, 'redis-auth');
    assert.match(err.message, /Redis at .* failed: .*(WRONGPASS|NOAUTH)/);
    assert.equal((await rejection(source({ password: 'wrong' }).health())).code, 'redis-auth');
  });

  test('metadata reports the server version and the number of keys', async () => {
    const meta = await source().metadata();
    assert.match(String(meta.serverVersion), /^\d+\.\d+/);
    assert.equal(meta.keys, 3);
  });
});
