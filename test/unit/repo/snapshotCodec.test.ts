// Snapshot files (format §9) against the snapshots restic 0.14 wrote in the fixture.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CairnError } from '../../../src/errors.js';
import type { SnapshotData } from '../../../src/repo/snapshot.js';
import { decodeSnapshot, encodeSnapshot, snapshotToResticJson } from '../../../src/repo/snapshotCodec.js';
import { expected } from '../../helpers/fixture.js';

const plaintexts = Object.entries(expected.spec_check.snapshot_plaintext as Record<string, { plaintext: string }>);
const TREE = 'ce02640c2598794d231dce59290b9f4641591ea3b4d50064b5c75eecc3d51db8';
const PARENT = 'f68e72b51a39ed3a8793707462e5f20b0af9e2ce0c73515d162d549329351c3b';

describe('snapshot codec on the fixture', () => {
  test('re-encoding each snapshot restic wrote gives the same bytes', () => {
    assert.equal(plaintexts.length, 2);
    for (const [id, { plaintext }] of plaintexts) {
      assert.equal(encodeSnapshot(decodeSnapshot(Buffer.from(plaintext), id)).toString('utf8'), plaintext);
    }
  });

  test('decodes the fields restic cat snapshot shows, plus the id', () => {
    for (const [id, { plaintext }] of plaintexts) {
      assert.deepEqual(decodeSnapshot(Buffer.from(plaintext), id), { ...expected.restic_cat_snapshot[id], id });
    }
  });

  test('snapshotToResticJson matches `restic snapshots --json`, key order included', () => {
    const want = expected.restic_snapshots_json as Record<string, unknown>[];
    for (const w of want) {
      const id = w['id'] as string;
      const [, { plaintext }] = plaintexts.find(([pid]) => pid === id)!;
      const got = snapshotToResticJson(decodeSnapshot(Buffer.from(plaintext), id));
      assert.deepEqual(got, w);
      assert.deepEqual(Object.keys(got), Object.keys(w));
    }
  });
});

describe('encodeSnapshot', () => {
  test('writes every field in restic order, summary counters in order, no trailing newline', () => {
    const s: SnapshotData = {
      summary: {
        backup_start: '2024-07-16T11:22:30.5+02:00', backup_end: '2024-07-16T11:22:33+02:00',
        files_new: 1, files_changed: 2, files_unmodified: 3, dirs_new: 4, dirs_changed: 5, dirs_unmodified: 6,
        data_blobs: 7, tree_blobs: 8, data_added: 9, data_added_packed: 10, total_files_processed: 11, total_bytes_processed: 12,
      },
      program_version: 'cairn 0.1.0',
      original: PARENT,
      tags: ['component=web', 'a<b'],
      excludes: ['*.tmp'],
      gid: 100,
      uid: 1000,
      username: 'u',
      hostname: 'h',
      paths: ['/web/files'],
      tree: TREE,
      parent: PARENT,
      time: '2024-07-16T11:22:33.123+02:00',
    };
    assert.equal(
      encodeSnapshot(s).toString(),
      `{"time":"2024-07-16T11:22:33.123+02:00","parent":"${PARENT}","tree":"${TREE}","paths":["/web/files"],"hostname":"h","username":"u","uid":1000,"gid":100,"excludes":["*.tmp"],"tags":["component=web","a\\u003cb"],"original":"${PARENT}","program_version":"cairn 0.1.0",` +
        '"summary":{"backup_start":"2024-07-16T11:22:30.5+02:00","backup_end":"2024-07-16T11:22:33+02:00","files_new":1,"files_changed":2,"files_unmodified":3,"dirs_new":4,"dirs_changed":5,"dirs_unmodified":6,"data_blobs":7,"tree_blobs":8,"data_added":9,"data_added_packed":10,"total_files_processed":11,"total_bytes_processed":12}}',
    );
  });

  test('omits empty optional fields, including uid/gid 0 (root)', () => {
    const text = encodeSnapshot({ time: '2024-01-01T00:00:00Z', tree: TREE, paths: ['/'], uid: 0, gid: 0, tags: [], hostname: '' }).toString();
    assert.equal(text, `{"time":"2024-01-01T00:00:00Z","tree":"${TREE}","paths":["/"]}`);
  });

  test('refuses an id that is not 64 lowercase hex digits', () => {
    assert.throws(() => encodeSnapshot({ time: '2024-01-01T00:00:00Z', tree: 'abc', paths: [] }), RangeError);
  });
});

describe('decodeSnapshot', () => {
  test('reads restic 0.17 fields and ignores fields it does not know', () => {
    const text = `{"time":"2024-01-01T00:00:00Z","tree":"${TREE.toUpperCase()}","paths":null,"uid":1000,"program_version":"restic 0.17.3","summary":{"backup_start":"2024-01-01T00:00:00Z","backup_end":"2024-01-01T00:00:01Z","files_new":3,"data_added":1234},"future":[1,2]}`;
    const s = decodeSnapshot(Buffer.from(text), 'cd'.repeat(32));
    assert.equal(s.tree, TREE);
    assert.deepEqual(s.paths, []);
    assert.equal(s.uid, 1000);
    assert.equal(s.program_version, 'restic 0.17.3');
    assert.equal(s.summary!.files_new, 3);
    assert.equal(s.summary!.data_added, 1234);
    assert.equal(s.summary!.tree_blobs, 0);
    assert.equal('future' in s, false);
  });

  test('rejects malformed snapshots with a CairnError naming the snapshot', () => {
    for (const bad of ['nope', '[]', '{"time":"2024-01-01T00:00:00Z","paths":[]}', `{"time":"later","tree":"${TREE}"}`, `{"time":"2024-01-01T00:00:00Z","tree":"${TREE}","tags":"x"}`]) {
      assert.throws(
        () => decodeSnapshot(Buffer.from(bad), 'ef'.repeat(32)),
        (e: unknown) => e instanceof CairnError && e.code === 'bad-snapshot' && e.message.includes('efefefef'),
        bad,
      );
    }
  });
});
