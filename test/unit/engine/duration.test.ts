import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CairnError } from '../../../src/errors.js';
import { formatDuration, instantBefore, isZeroDuration, parseDuration, parseSnapshotTime } from '../../../src/engine/duration.js';

const iso = (ns: bigint): string => new Date(Number(ns / 1_000_000n)).toISOString();

describe('restic durations', () => {
  test('reads years, months, days and hours in any order', () => {
    assert.deepEqual(parseDuration('1y2m3d4h'), { years: 1, months: 2, days: 3, hours: 4 });
    assert.deepEqual(parseDuration('4h1y'), { years: 1, months: 0, days: 0, hours: 4 });
    assert.deepEqual(parseDuration(' 7d '), { years: 0, months: 0, days: 7, hours: 0 });
  });

  test('a repeated unit replaces the earlier one, as in restic', () => {
    assert.deepEqual(parseDuration('1d2d'), { years: 0, months: 0, days: 2, hours: 0 });
  });

  test('refuses units restic does not know, a missing unit and a missing number', () => {
    for (const bad of ['1w', '12', 'd', '1d 2h', '1.5d']) {
      assert.throws(() => parseDuration(bad), (e: unknown) => e instanceof CairnError && e.code === 'bad-duration', bad);
    }
  });

  test('prints like restic, leaving out zero parts', () => {
    assert.equal(formatDuration(parseDuration('1y0m2d')), '1y2d');
    assert.equal(formatDuration(parseDuration('0d')), '');
    assert.equal(isZeroDuration(parseDuration('0y0h')), true);
    assert.equal(isZeroDuration(parseDuration('1h')), false);
  });
});

describe('snapshot times', () => {
  test('keep the wall clock as written and the instant it means', () => {
    const t = parseSnapshotTime('2024-10-27T02:30:00.123456789+01:00');
    assert.deepEqual([t.year, t.month, t.day, t.hour, t.minute, t.second, t.nanosecond, t.offsetSeconds], [2024, 10, 27, 2, 30, 0, 123456789, 3600]);
    assert.equal(t.epochNanos, BigInt(Date.parse('2024-10-27T01:30:00Z')) * 1_000_000n + 123456789n);
  });

  test('refuse text that is not RFC 3339', () => {
    assert.throws(() => parseSnapshotTime('2024-10-27 02:30:00'), CairnError);
  });
});

describe('going back a duration from the newest snapshot', () => {
  test('steps the calendar in the zone restic runs in when the offset is that zone’s', () => {
    // 2024-12-31 20:00 CET minus 5 months is 2024-07-31 20:00 CEST.
    const latest = parseSnapshotTime('2024-12-31T20:00:00+01:00');
    assert.equal(iso(instantBefore(latest, parseDuration('5m'), 'Europe/Berlin')), '2024-07-31T18:00:00.000Z');
  });

  test('keeps a fixed offset when the zone restic runs in has another offset', () => {
    const latest = parseSnapshotTime('2024-12-31T20:00:00+01:00');
    assert.equal(iso(instantBefore(latest, parseDuration('5m'), 'UTC')), '2024-07-31T19:00:00.000Z');
  });

  test('carries days past the end of a month like Go (November 31 is December 1)', () => {
    const latest = parseSnapshotTime('2024-12-31T20:00:00+01:00');
    assert.equal(iso(instantBefore(latest, parseDuration('1m'), 'Europe/Berlin')), '2024-12-01T19:00:00.000Z');
  });

  test('subtracts hours as elapsed time after the calendar step', () => {
    const latest = parseSnapshotTime('2024-03-31T12:00:00+02:00');
    // One day back is 2024-03-30 12:00 CET; 4 more hours is 08:00 CET.
    assert.equal(iso(instantBefore(latest, parseDuration('1d4h'), 'Europe/Berlin')), '2024-03-30T07:00:00.000Z');
  });

  test('lands on the later instant for a wall clock that exists twice, like Go', () => {
    const latest = parseSnapshotTime('2024-10-28T02:30:00+01:00');
    assert.equal(iso(instantBefore(latest, parseDuration('1d'), 'Europe/Berlin')), '2024-10-27T01:30:00.000Z');
  });

  test('moves a wall clock that does not exist forward, like Go', () => {
    const latest = parseSnapshotTime('2024-04-01T02:30:00+02:00');
    assert.equal(iso(instantBefore(latest, parseDuration('1d'), 'Europe/Berlin')), '2024-03-31T01:30:00.000Z');
  });
});
