// Go RFC 3339 times as restic writes them (format §10.5), checked against the
// times the real restic 0.14 wrote into the fixture trees (TZ=Europe/Berlin).
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  canonicalGoTime,
  formatGoTime,
  formatLocalGoTime,
  goTimeToEpochMs,
  isGoTime,
  localOffsetMinutes,
  parseGoTime,
  statTimeNs,
} from '../../../src/repo/timeFormat.js';
import { expected } from '../../helpers/fixture.js';
import { inZone } from '../../helpers/timeZone.js';


describe('formatLocalGoTime', () => {
  test('gives the exact mtime text restic wrote for every fixture file (Berlin, +01:00/+02:00, nanoseconds)', () => {
    const lsFirst = expected.restic_ls_json['f68e72b51a39ed3a8793707462e5f20b0af9e2ce0c73515d162d549329351c3b'] as { path?: string; mtime?: string }[];
    const byPath = new Map(lsFirst.filter((e) => e.path).map((e) => [e.path!, e.mtime!]));
    const manifest = expected.manifest['source.tar'] as { path: string; mtime_unix_ns: string }[];
    let checked = 0;
    inZone('Europe/Berlin', () => {
      for (const entry of manifest) {
        const want = byPath.get('/' + entry.path);
        if (want === undefined) continue;
        assert.equal(formatLocalGoTime(BigInt(entry.mtime_unix_ns)), want, entry.path);
        checked++;
      }
    });
    assert.ok(checked >= 15, `checked ${checked} entries`);
  });

  test('uses the zone of the instant itself (summer and winter time differ)', () => {
    inZone('Europe/Berlin', () => {
      assert.equal(formatLocalGoTime(parseGoTime('2024-01-15T09:20:30Z').epochNs), '2024-01-15T10:20:30+01:00');
      assert.equal(formatLocalGoTime(parseGoTime('2024-07-16T09:22:33Z').epochNs), '2024-07-16T11:22:33+02:00');
    });
  });

  test('writes half-hour zones and negative zones', () => {
    const ns = parseGoTime('2024-03-01T12:00:00.25Z').epochNs;
    assert.equal(inZone('Asia/Kolkata', () => formatLocalGoTime(ns)), '2024-03-01T17:30:00.25+05:30');
    assert.equal(inZone('America/St_Johns', () => formatLocalGoTime(ns)), '2024-03-01T08:30:00.25-03:30');
    assert.equal(inZone('UTC', () => formatLocalGoTime(ns)), '2024-03-01T12:00:00.25Z');
  });

  test('keeps the seconds of a local-mean-time offset like Go, printing the offset truncated to minutes', () => {
    // Berlin before 1893 was LMT +00:53:28; Go shows local time with seconds, offset as +00:53.
    inZone('Europe/Berlin', () => {
      const ns = parseGoTime('1880-01-01T00:00:00Z').epochNs;
      assert.equal(localOffsetMinutes(Number(ns / 1_000_000n)), 53 + 28 / 60);
      assert.equal(formatLocalGoTime(ns), '1880-01-01T00:53:28+00:53');
    });
  });
});

describe('formatGoTime', () => {
  test('trims trailing zeros of the fraction and drops the dot for whole seconds', () => {
    const base = parseGoTime('2023-01-02T03:04:05Z').epochNs;
    assert.equal(formatGoTime(base, 60), '2023-01-02T04:04:05+01:00');
    assert.equal(formatGoTime(base + 500_000_000n, 60), '2023-01-02T04:04:05.5+01:00');
    assert.equal(formatGoTime(base + 1n, 60), '2023-01-02T04:04:05.000000001+01:00');
    assert.equal(formatGoTime(base + 123_456_789n, 0), '2023-01-02T03:04:05.123456789Z');
  });

  test('writes Z for a zero offset and handles instants before 1970', () => {
    assert.equal(formatGoTime(-1n, 0), '1969-12-31T23:59:59.999999999Z');
    assert.equal(formatGoTime(-1_000_000_000n, 60), '1970-01-01T00:59:59+01:00');
  });

  test('clamps years outside 0000–9999 the way restic does', () => {
    assert.equal(formatGoTime(parseGoTime('9999-12-31T23:59:59Z').epochNs + 10n ** 18n, 0), '9999-12-31T23:59:59.999999999Z');
    assert.equal(formatGoTime(parseGoTime('0000-01-01T00:00:00Z').epochNs - 10n ** 18n, 120), '0000-01-01T00:00:00+02:00');
  });
});

describe('parseGoTime', () => {
  test('round-trips restic time texts exactly (nanoseconds and offset kept)', () => {
    for (const s of [
      '2023-01-02T04:04:05.123456789+01:00',
      '2023-02-05T02:02:03.999999999+01:00',
      '2023-01-05T07:07:08.000000001+01:00',
      '2024-06-01T11:00:00.5+02:00',
      '2024-03-01T17:30:00+05:30',
      '1969-07-20T20:17:40-03:30',
      '0001-01-01T00:00:00Z',
      '2000-02-29T23:59:59.1Z',
    ]) {
      const { epochNs, offsetMinutes } = parseGoTime(s);
      assert.equal(formatGoTime(epochNs, offsetMinutes), s);
    }
  });

  test('gives the instant and the offset', () => {
    assert.deepEqual(parseGoTime('1970-01-01T05:30:00.000000001+05:30'), { epochNs: 1n, offsetMinutes: 330 });
    assert.equal(goTimeToEpochMs('2024-01-15T10:20:30.9999+01:00'), Date.parse('2024-01-15T09:20:30.999Z'));
  });

  test('rejects text Go would reject', () => {
    for (const bad of ['2023-13-01T00:00:00Z', '2023-02-29T00:00:00Z', '2023-01-01T24:00:00Z', '2023-01-01T00:00:60Z', '2023-01-01T00:00:00', '2023-01-01 00:00:00Z', '23-01-01T00:00:00Z']) {
      assert.equal(isGoTime(bad), false, bad);
      assert.throws(() => parseGoTime(bad), RangeError, bad);
    }
  });
});

describe('canonicalGoTime', () => {
  test('rewrites other valid spellings to the text Go would write', () => {
    assert.equal(canonicalGoTime('2024-01-01T00:00:00.500+00:00'), '2024-01-01T00:00:00.5Z');
    assert.equal(canonicalGoTime('2024-01-01T00:00:00.000Z'), '2024-01-01T00:00:00Z');
    assert.equal(canonicalGoTime('2024-01-01T01:00:00,25+01:00'), '2024-01-01T01:00:00.25+01:00');
    assert.equal(canonicalGoTime('2024-01-01T00:00:00.1234567891Z'), '2024-01-01T00:00:00.123456789Z');
    const same = '2024-01-01T00:00:00.123Z';
    assert.equal(canonicalGoTime(same), same);
  });
});

describe('statTimeNs', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cairn-time-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('returns the nanosecond file times of a bigint stat', async () => {
    const file = path.join(dir, 'f');
    await writeFile(file, 'x');
    await utimes(file, 1_000_000_000, 1_600_000_000.25);
    const st = statSync(file, { bigint: true });
    assert.equal(statTimeNs(st, 'mtime'), 1_600_000_000_250_000_000n);
    assert.equal(statTimeNs(st, 'atime'), 1_000_000_000_000_000_000n);
    assert.equal(statTimeNs(st, 'ctime'), st.ctimeNs);
  });
});
