// Nanosecond-exact times on real files: every way the setter can take
// (lutimes when exact, perl+utimensat, touch) ends with stat showing the
// requested nanoseconds, for files, folders and symlinks.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExactTimeSetter, exactUtimesValue, setTimesExact, type ExactTimeMethod } from '../../../src/engine/setTimes.js';

let work = '';
before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-settimes-'));
});
after(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

const times = [
  1672628645123456789n, // nanoseconds
  1680336000000001000n, // one microsecond: the nearest double truncates to 0 µs in libuv
  1689431400250000000n, // exactly representable
  1672898828000000001n, // one nanosecond
  -1_500_000_001n, // before 1970
];

test('exactUtimesValue only offers doubles that libuv turns into exactly the requested time', () => {
  assert.equal(exactUtimesValue(1672628645123456789n), undefined);
  assert.equal(exactUtimesValue(-5n), undefined);
  assert.equal(exactUtimesValue(1689431400250000000n), 1689431400.25);
  const d = exactUtimesValue(1680336000000001000n);
  assert.ok(d !== undefined);
  const sec = Math.trunc(d);
  let nsec = Math.trunc((d - sec) * 1e9);
  nsec -= nsec % 1000;
  assert.deepEqual([sec, nsec], [1680336000, 1000]);
});

for (const method of ['auto', 'perl', 'touch'] as ExactTimeMethod[]) {
  test(`${method}: files, folders and symlinks (not their targets) get exact atime and mtime`, async () => {
    const dir = path.join(work, method);
    await fs.mkdir(dir);
    const items = [];
    for (let i = 0; i < times.length; i++) {
      const file = path.join(dir, `f${i}`);
      await fs.writeFile(file, 'x');
      const link = path.join(dir, `l${i}`);
      await fs.symlink(`f${i}`, link);
      const sub = path.join(dir, `d${i}`);
      await fs.mkdir(sub);
      const m = times[i]!;
      const a = times[(i + 1) % times.length]!;
      items.push({ path: file, atimeNs: a, mtimeNs: m }, { path: link, atimeNs: m, mtimeNs: m }, { path: sub, atimeNs: m, mtimeNs: a });
    }
    const setter = new ExactTimeSetter(method);
    for (const it of items) await setter.set(it);
    assert.deepEqual(await setter.flush(), []);
    for (const it of items) {
      const st = await fs.lstat(it.path, { bigint: true });
      assert.deepEqual([st.mtimeNs, st.atimeNs], [it.mtimeNs, it.atimeNs], String(it.path));
    }
    // The symlinks' targets kept the times given to them, not the links' times.
    const f0 = await fs.lstat(path.join(dir, 'f0'), { bigint: true });
    assert.equal(f0.mtimeNs, times[0]);
  });
}

test('a name that is not valid UTF-8 gets exact times through perl', async () => {
  const p = Buffer.concat([Buffer.from(work + '/'), Buffer.from([0x6e, 0xe9, 0xff])]);
  await fs.writeFile(p, 'x');
  assert.deepEqual(await setTimesExact([{ path: p, atimeNs: times[0]!, mtimeNs: times[3]! }], 'perl'), []);
  const st = await fs.lstat(p, { bigint: true });
  assert.deepEqual([st.mtimeNs, st.atimeNs], [times[3], times[0]]);
});

test('a missing path is reported, the others are still set', async () => {
  for (const method of ['perl', 'touch'] as ExactTimeMethod[]) {
    const ok = path.join(work, `ok-${method}`);
    await fs.writeFile(ok, 'x');
    const missing = path.join(work, `missing-${method}`);
    const failures = await setTimesExact(
      [
        { path: missing, atimeNs: times[0]!, mtimeNs: times[0]! },
        { path: ok, atimeNs: times[3]!, mtimeNs: times[3]! },
      ],
      method,
    );
    if (method === 'perl') assert.deepEqual(failures.map((f) => f.path), [missing]);
    else await assert.rejects(fs.access(missing)); // touch -c never creates it
    assert.equal((await fs.lstat(ok, { bigint: true })).mtimeNs, times[3]);
  }
});
