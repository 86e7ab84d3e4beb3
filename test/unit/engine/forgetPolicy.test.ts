import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CairnError } from '../../../src/errors.js';
import { parseDuration } from '../../../src/engine/duration.js';
import { applyPolicy, describePolicy, isEmptyPolicy, isoWeek, type ForgetPolicy } from '../../../src/engine/forgetPolicy.js';
import { forgetPlanJson, planForget, snapshotsToRemove } from '../../../src/engine/forgetPlan.js';
import { parseGroupBy } from '../../../src/engine/snapshotGroup.js';
import type { Snapshot } from '../../../src/repo/snapshot.js';

const clock = { now: Date.parse('2030-01-01T00:00:00Z'), timeZone: 'Europe/Berlin' };
let n = 0;
const sn = (time: string, extra: Partial<Snapshot> = {}): Snapshot => ({ id: `${String(++n).padStart(2, '0')}${'0'.repeat(62)}`, time, tree: 'ee'.repeat(32), paths: ['/srv'], hostname: 'nas', ...extra });
const times = (list: Snapshot[]): string[] => list.map((s) => s.time);
const decide = (list: Snapshot[], p: ForgetPolicy) => applyPolicy(list, p, clock);

describe('retention policy (restic 0.14 forget semantics)', () => {
  test('--keep-last keeps the n newest snapshots, whatever order they come in', () => {
    const list = [sn('2024-01-01T10:00:00+01:00'), sn('2024-01-03T10:00:00+01:00'), sn('2024-01-02T10:00:00+01:00')];
    const d = decide(list, { last: 2 });
    assert.deepEqual(times(d.keep), ['2024-01-03T10:00:00+01:00', '2024-01-02T10:00:00+01:00']);
    assert.deepEqual(times(d.remove), ['2024-01-01T10:00:00+01:00']);
    assert.deepEqual(d.reasons.map((r) => [r.matches, r.counters.last]), [[['last snapshot'], 1], [['last snapshot'], 0]]);
  });

  test('--keep-daily keeps the newest snapshot of each of the n newest days that have one', () => {
    const list = [sn('2024-01-05T09:00:00+01:00'), sn('2024-01-05T18:00:00+01:00'), sn('2024-01-02T12:00:00+01:00'), sn('2023-12-20T12:00:00+01:00')];
    const d = decide(list, { daily: 2 });
    assert.deepEqual(times(d.keep), ['2024-01-05T18:00:00+01:00', '2024-01-02T12:00:00+01:00']);
  });

  test('days are the wall-clock days written in the snapshot time, not UTC days', () => {
    // 00:30+01:00 is still the previous day in UTC, but restic counts it for January 2.
    const list = [sn('2024-01-02T00:30:00+01:00'), sn('2024-01-01T23:30:00+01:00')];
    assert.equal(decide(list, { daily: 5 }).keep.length, 2);
  });

  test('--keep-weekly uses ISO weeks, which cross year boundaries', () => {
    assert.deepEqual(isoWeek(2024, 12, 30), [2025, 1]);
    assert.deepEqual(isoWeek(2023, 1, 1), [2022, 52]);
    const list = [sn('2024-12-30T08:00:00+01:00'), sn('2025-01-05T08:00:00+01:00'), sn('2024-12-29T08:00:00+01:00')];
    const d = decide(list, { weekly: 5 });
    assert.deepEqual(times(d.keep), ['2025-01-05T08:00:00+01:00', '2024-12-29T08:00:00+01:00']);
  });

  test('0.14 keeps no extra oldest snapshot when counts are left (later restic does)', () => {
    const list = [sn('2024-05-01T10:00:00+02:00'), sn('2024-05-01T09:00:00+02:00')];
    assert.equal(decide(list, { yearly: 3 }).keep.length, 1);
  });

  test('--keep-within measures back from the newest snapshot that is not in the future', () => {
    const list = [sn('2031-01-01T00:00:00+01:00'), sn('2024-06-10T12:00:00+02:00'), sn('2024-06-01T12:00:01+02:00'), sn('2024-06-01T11:59:59+02:00')];
    const d = decide(list, { within: parseDuration('9d') });
    assert.deepEqual(times(d.keep), ['2031-01-01T00:00:00+01:00', '2024-06-10T12:00:00+02:00', '2024-06-01T12:00:01+02:00']);
    assert.deepEqual(d.reasons[1].matches, ['within 9d']);
  });

  test('--keep-within-daily keeps one snapshot per day inside the window', () => {
    const list = [sn('2024-06-10T12:00:00+02:00'), sn('2024-06-10T08:00:00+02:00'), sn('2024-06-09T08:00:00+02:00'), sn('2024-05-01T08:00:00+02:00')];
    const d = decide(list, { withinDaily: parseDuration('7d') });
    assert.deepEqual(times(d.keep), ['2024-06-10T12:00:00+02:00', '2024-06-09T08:00:00+02:00']);
    assert.deepEqual(d.reasons[0].matches, ['daily within 7d']);
  });

  test('--keep-tag keeps every snapshot carrying all tags of one list, without counting', () => {
    const list = [sn('2024-06-10T12:00:00+02:00', { tags: ['a'] }), sn('2024-06-09T12:00:00+02:00', { tags: ['a', 'b'] }), sn('2024-06-08T12:00:00+02:00')];
    const d = decide(list, { tags: [['a', 'b'], ['']] });
    assert.deepEqual(d.reasons.map((r) => r.matches), [['has tags [a, b]'], ['has tags []']]);
  });

  test('rules are ORed and each kept snapshot lists every rule that wants it, in restic’s order', () => {
    const list = [sn('2024-06-10T12:00:00+02:00', { tags: ['x'] }), sn('2024-05-10T12:00:00+02:00')];
    const d = decide(list, { tags: [['x']], within: parseDuration('1d'), last: 1, monthly: 2, withinYearly: parseDuration('2y') });
    assert.deepEqual(d.reasons[0].matches, ['has tags [x]', 'within 1d', 'last snapshot', 'monthly snapshot', 'yearly within 2y']);
    assert.deepEqual(d.reasons[1].matches, ['monthly snapshot']);
    assert.deepEqual(d.reasons[1].counters, { last: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0 });
  });

  test('an empty policy keeps everything and says so', () => {
    assert.equal(isEmptyPolicy({ last: 0, within: parseDuration('0d') }), true);
    const d = decide([sn('2024-06-10T12:00:00+02:00')], {});
    assert.deepEqual(d.reasons.map((r) => r.matches), [['policy is empty']]);
  });

  test('negative counts and durations are refused (restic 0.14 would remove everything)', () => {
    assert.throws(() => decide([], { last: -1 }), (e: unknown) => e instanceof CairnError && e.code === 'bad-policy');
    assert.throws(() => decide([], { within: parseDuration('-1d') }), (e: unknown) => e instanceof CairnError && e.code === 'bad-policy');
  });

  test('describes the policy in restic’s words', () => {
    const p: ForgetPolicy = { last: 2, daily: 3, within: parseDuration('1y2d'), withinDaily: parseDuration('1m'), tags: [['a', 'b'], ['']] };
    assert.equal(describePolicy(p), 'keep 2 latest, 3 daily snapshots, daily snapshots within 1m and all snapshots with tags [[a, b] []] and all snapshots within 1y2d of the newest');
  });
});

describe('forget plans', () => {
  const history = [
    sn('2024-06-10T12:00:00+02:00', { hostname: 'nas', tags: ['z', 'a'] }),
    sn('2024-06-09T12:00:00+02:00', { hostname: 'nas' }),
    sn('2024-06-08T12:00:00+02:00', { hostname: 'web', paths: ['/b', '/a'] }),
    sn('2024-06-07T12:00:00+02:00', { hostname: 'web', paths: ['/a', '/b'] }),
  ];

  test('group by host and paths by default; paths count as a set', () => {
    const plan = planForget(history, { last: 1 }, undefined, {}, clock);
    assert.deepEqual(plan.map((g) => [g.host, g.paths, g.keep.length, g.remove.length]), [['nas', ['/srv'], 1, 1], ['web', ['/a', '/b'], 1, 1]]);
    assert.deepEqual(snapshotsToRemove(plan).length, 2);
  });

  test("--group-by '' applies the policy to all snapshots together", () => {
    const plan = planForget(history, { last: 1 }, parseGroupBy(''), {}, clock);
    assert.deepEqual(plan.map((g) => [g.host, g.paths, g.tags, g.keep.length]), [['', null, null, 1]]);
  });

  test('grouping by tags sorts each snapshot’s tags, as restic shows them', () => {
    const plan = planForget(history, { last: 1 }, parseGroupBy('tags'), {}, clock);
    assert.deepEqual(plan.map((g) => g.tags), [['a', 'z'], null]);
    assert.deepEqual(plan[0].keep[0].tags, ['a', 'z']);
    assert.deepEqual(history[0].tags, ['z', 'a'], 'the caller’s snapshots are not changed');
  });

  test('unknown grouping options are refused', () => {
    assert.throws(() => parseGroupBy('host,color'), (e: unknown) => e instanceof CairnError && e.code === 'bad-group-by');
  });

  test('an empty policy plans nothing', () => {
    assert.deepEqual(planForget(history, { last: 0 }), []);
  });

  test('renders restic’s forget --json: key order, nulls for empty lists, short ids, counters without zeros', () => {
    const [group] = forgetPlanJson(planForget(history.slice(0, 2), { last: 1 }, parseGroupBy('host'), {}, clock));
    assert.deepEqual(Object.keys(group), ['tags', 'host', 'paths', 'keep', 'remove', 'reasons']);
    assert.deepEqual(Object.keys(group.keep![0]), ['time', 'tree', 'paths', 'hostname', 'tags', 'id', 'short_id']);
    assert.equal(group.keep![0].short_id, group.keep![0].id.slice(0, 8));
    assert.deepEqual(group.reasons![0], { snapshot: { time: history[0].time, tree: history[0].tree, paths: ['/srv'], hostname: 'nas', tags: ['z', 'a'] }, matches: ['last snapshot'], counters: {} });
    const [kept] = forgetPlanJson(planForget(history.slice(0, 1), { last: 1 }, parseGroupBy('host'), {}, clock));
    assert.equal(kept.remove, null);
  });
});
