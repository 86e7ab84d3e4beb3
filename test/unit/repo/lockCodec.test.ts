// Lock files (format §12): restic's JSON field order, uid/gid omitted when 0,
// checked against a lock held by the installed restic.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { CairnError, ExitCode } from '../../../src/errors.js';
import { decodeLock, encodeLock, type LockData } from '../../../src/repo/lockCodec.js';

describe('encodeLock', () => {
  test('writes restic field order without a trailing newline', () => {
    const lock: LockData = { gid: 100, uid: 1000, pid: 13607, username: 'root', hostname: 'box', exclusive: false, time: '2024-07-16T11:22:33.123456789+02:00' };
    assert.equal(encodeLock(lock).toString(), '{"time":"2024-07-16T11:22:33.123456789+02:00","exclusive":false,"hostname":"box","username":"root","pid":13607,"uid":1000,"gid":100}');
  });

  test('omits uid and gid when 0 and writes a JS ISO time the way Go would', () => {
    const lock: LockData = { time: '2024-01-01T10:00:00.120Z', exclusive: true, hostname: 'h<1>', username: 'u', pid: 1, uid: 0, gid: 0 };
    assert.equal(encodeLock(lock).toString(), '{"time":"2024-01-01T10:00:00.12Z","exclusive":true,"hostname":"h\\u003c1\\u003e","username":"u","pid":1}');
  });
});

describe('decodeLock', () => {
  test('reads what encodeLock writes and ignores unknown fields', () => {
    const lock: LockData = { time: '2024-07-16T11:22:33+02:00', exclusive: true, hostname: 'box', username: 'root', pid: 42, uid: 1000, gid: 100 };
    assert.deepEqual(decodeLock(encodeLock(lock)), lock);
    const text = '{"time":"2024-07-16T11:22:33+02:00","exclusive":false,"hostname":"b","username":"r","pid":7,"extra":[1]}';
    assert.deepEqual(decodeLock(Buffer.from(text)), { time: '2024-07-16T11:22:33+02:00', exclusive: false, hostname: 'b', username: 'r', pid: 7 });
  });

  test('rejects an unreadable lock with bad-lock, exit code 11 and an unlock remedy', () => {
    for (const bad of ['', '{"time":"x"}', '{"time":"2024-01-01T00:00:00Z","exclusive":"yes"}', '{"time":"2024-01-01T00:00:00Z","pid":1.5}', '[]']) {
      assert.throws(
        () => decodeLock(Buffer.from(bad), '12345678'.repeat(8)),
        (e: unknown) => e instanceof CairnError && e.code === 'bad-lock' && e.exitCode === ExitCode.locked && e.remedy.includes('unlock') && e.message.includes('12345678'),
        bad,
      );
    }
  });
});

describe('lock codec against the installed restic', () => {
  const run = promisify(execFile);
  let dir = '';
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a lock restic holds decodes, and re-encodes to restic field order and omissions', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cairn-lock-'));
    const env = { ...process.env, RESTIC_PASSWORD: 'pw', RESTIC_REPOSITORY: path.join(dir, 'repo') };
    await run('restic', ['init', '--no-cache'], { env });
    // `backup --stdin` holds its lock until stdin closes.
    const holder = spawn('restic', ['backup', '--no-cache', '-q', '--stdin'], { env, stdio: ['pipe', 'ignore', 'ignore'] });
    const exited = new Promise((resolve) => holder.on('exit', resolve));
    try {
      let lockId = '';
      for (let i = 0; i < 200 && lockId === ''; i++) {
        lockId = (await run('restic', ['list', 'locks', '--no-cache', '--no-lock'], { env })).stdout.trim().split('\n')[0] ?? '';
        if (lockId === '') await sleep(100);
      }
      assert.notEqual(lockId, '', 'restic never took its lock');
      // restic prints the lock re-marshalled with indentation: same fields, same order.
      const shown = (await run('restic', ['cat', 'lock', '--no-cache', '--no-lock', lockId], { env })).stdout;
      const lock = decodeLock(Buffer.from(shown));
      assert.equal(lock.exclusive, false);
      assert.equal(lock.pid, holder.pid);
      assert.equal(encodeLock(lock).toString(), JSON.stringify(JSON.parse(shown)));
    } finally {
      holder.stdin.end('x');
      await exited;
    }
  });
});
