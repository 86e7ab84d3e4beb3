import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { filterSnapshots, hasTags, parseTagList } from '../../../src/engine/snapshotFilter.js';
import type { Snapshot } from '../../../src/repo/snapshot.js';

const sn = (id: string, hostname: string, tags: string[] | undefined, paths = ['/srv']): Snapshot => ({ id, time: '2024-01-01T00:00:00+01:00', tree: 'ab', paths, hostname, tags });
const all = [sn('1', 'nas', ['auto', 'daily']), sn('2', 'nas', ['manual']), sn('3', 'web', undefined, ['/srv', '/etc']), sn('4', 'db', ['auto'], ['/var'])];
const ids = (list: Snapshot[]): string[] => list.map((s) => s.id);

describe('snapshot filters (--host, --tag, --path)', () => {
  test('no filter selects every snapshot', () => {
    assert.deepEqual(ids(filterSnapshots(all, {})), ['1', '2', '3', '4']);
  });

  test('several --host options select snapshots of any of those hosts', () => {
    assert.deepEqual(ids(filterSnapshots(all, { hosts: ['web', 'db'] })), ['3', '4']);
  });

  test('one --tag with commas needs all its tags', () => {
    assert.deepEqual(ids(filterSnapshots(all, { tags: [parseTagList('auto,daily')] })), ['1']);
  });

  test('several --tag options select snapshots matching any of them', () => {
    assert.deepEqual(ids(filterSnapshots(all, { tags: [['manual'], ['auto', 'daily']] })), ['1', '2']);
  });

  test("--tag '' selects untagged snapshots only", () => {
    assert.deepEqual(ids(filterSnapshots(all, { tags: [parseTagList('')] })), ['3']);
  });

  test('the empty tag decides at once when met, as in restic', () => {
    const untagged = sn('5', 'x', undefined);
    assert.equal(hasTags(untagged, ['', 'x']), true);
    assert.equal(hasTags(untagged, ['x', '']), false);
  });

  test('several --path options need every path, compared as written', () => {
    assert.deepEqual(ids(filterSnapshots(all, { paths: ['/srv', '/etc'] })), ['3']);
    assert.deepEqual(ids(filterSnapshots(all, { paths: ['/srv/'] })), []);
  });

  test('tag lists are split on commas and trimmed', () => {
    assert.deepEqual(parseTagList(' a , b'), ['a', 'b']);
    assert.deepEqual(parseTagList(''), ['']);
  });
});
