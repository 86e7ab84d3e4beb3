// Stats against the real restic: the figures restic 0.14 recorded for the
// shared fixture, and restic run live on the fixture and on a hand-built
// repository with hard links and repeated folders (the cases where cairn's
// one-walk-for-all-modes shortcut could go wrong).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { computeStats, STATS_MODES, type StatsReport } from '../../../src/engine/stats.js';
import type { Node } from '../../../src/repo/node.js';
import type { Repository } from '../../../src/repo/repository.js';
import { expected, fixturePassword } from '../../helpers/fixture.js';
import { copyFixtureRepo, makeNode, newScratchRepo, openFixtureCopy } from '../../helpers/scratchRepo.js';

let work = '';
let fixtureDir = '';
let fixture: Repository;
before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-stats-'));
  fixtureDir = await copyFixtureRepo(path.join(work, 'fixture'));
  fixture = await openFixtureCopy(fixtureDir);
  await fixture.loadIndex();
});
after(async () => {
  await fixture.close();
  await fs.rm(work, { recursive: true, force: true });
});

/** `restic stats --json` on a repository directory. */
function resticStats(dir: string, password: string, mode: string, snapshots: string[] = []): Promise<Record<string, number>> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, RESTIC_PASSWORD: password, RESTIC_REPOSITORY: dir };
  return new Promise((resolve, reject) => {
    execFile('restic', ['--no-cache', '--no-lock', 'stats', '--json', '--mode', mode, ...snapshots], { env }, (err, stdout, stderr) => {
      if (err) reject(new Error(`restic stats failed: ${stderr}`));
      else resolve(JSON.parse(stdout) as Record<string, number>);
    });
  });
}

/** The fields restic printed, with cairn's values for them. */
function sameFields(cairn: object, restic: Record<string, number>): Record<string, unknown> {
  const c = cairn as Record<string, unknown>;
  return Object.fromEntries(Object.keys(restic).map((k) => [k, c[k] ?? 0]));
}

test('on the fixture every counting mode gives exactly the figures restic 0.14 recorded', async () => {
  const report = await computeStats(fixture, await fixture.loadSnapshots());
  const recorded = expected.restic_stats_json as Record<string, Record<string, number>>;
  assert.deepEqual(Object.keys(recorded).sort(), [...STATS_MODES].sort(), 'the fixture records every mode');
  for (const mode of STATS_MODES) assert.deepEqual(sameFields(report.modes[mode], recorded[mode]!), recorded[mode], mode);
});

test('stats of a single snapshot equal live restic stats of that snapshot in every mode', async () => {
  const snaps = await fixture.loadSnapshots();
  const first = snaps.find((s) => s.id === expected.snapshots[0].id)!;
  const report = await computeStats(fixture, [first]);
  for (const mode of STATS_MODES) {
    const restic = await resticStats(fixtureDir, fixturePassword, mode, [first.id.slice(0, 8)]);
    assert.deepEqual(sameFields(report.modes[mode], restic), restic, mode);
  }
});

test('raw-data reports the uncompressed size and compression figures of the blobs as stored', async () => {
  const report = await computeStats(fixture, await fixture.loadSnapshots());
  // independent count from the index plaintexts restic wrote (every blob in the fixture is referenced)
  let stored = 0;
  let uncompressed = 0;
  let compressedStored = 0;
  let compressedUncompressed = 0;
  const seen = new Set<string>();
  for (const idx of Object.values(expected.spec_check.index_plaintext as Record<string, { plaintext: string }>)) {
    for (const p of (JSON.parse(idx.plaintext) as { packs: { blobs: { id: string; length: number; uncompressed_length?: number }[] }[] }).packs) {
      for (const b of p.blobs) {
        if (seen.has(b.id)) continue;
        seen.add(b.id);
        stored += b.length;
        uncompressed += (b.uncompressed_length ?? b.length - 32) + 32;
        if (b.uncompressed_length) {
          compressedStored += b.length;
          compressedUncompressed += b.uncompressed_length + 32;
        }
      }
    }
  }
  const raw = report.modes['raw-data'];
  assert.equal(raw.total_size, stored);
  assert.equal(raw.total_uncompressed_size, uncompressed);
  assert.equal(raw.compression_ratio, compressedUncompressed / compressedStored);
  assert.equal(raw.compression_progress, (compressedUncompressed / uncompressed) * 100);
  assert.equal(raw.compression_space_saving, (1 - stored / uncompressed) * 100);
  assert.deepEqual(Object.keys(raw), ['total_size', 'total_uncompressed_size', 'compression_ratio', 'compression_progress', 'compression_space_saving', 'total_file_count', 'total_blob_count', 'snapshots_count'], "restic's field order");
});

test('the storage view relates logical, unique and stored sizes and counts the packs used', async () => {
  const report: StatsReport = await computeStats(fixture, await fixture.loadSnapshots());
  const s = report.storage;
  assert.equal(s.logical_size, report.modes['restore-size'].total_size);
  assert.equal(s.stored_size, report.modes['raw-data'].total_size);
  assert.equal(s.data_blob_count + s.tree_blob_count, report.modes['raw-data'].total_blob_count);
  assert.equal(s.compression_ratio, s.unique_size / s.stored_size);
  assert.ok(s.dedup_ratio > 1.5, `two nearly equal snapshots dedup to about half: ${s.dedup_ratio}`);
  assert.equal(s.pack_count, expected.restic_list.packs.length);
  assert.equal(s.repository_pack_count, expected.restic_list.packs.length);
  let packBytes = 0;
  for (const id of expected.restic_list.packs as string[]) packBytes += (await fs.stat(path.join(fixtureDir, 'data', id.slice(0, 2), id))).size;
  assert.equal(s.repository_pack_size, packBytes, 'pack sizes from the index equal the files');
});

test('hard links, repeated folders and duplicate files are counted as restic counts them, in every mode', async () => {
  const dir = path.join(work, 'handmade');
  const repo = await newScratchRepo(dir);
  const blob = async (text: string) => (await repo.saveBlob('data', Buffer.from(text))).id;
  const a = await blob('alpha contents\n');
  const b = await blob('bravo contents, a bit longer\n');
  const c = await blob('charlie\n');
  // Only the hard-linked pair carries an inode: restic 0.14 (the oracle here) counts every
  // inode once per snapshot, current restic only inodes with several links; cairn does the
  // latter, and both agree when single-link entries have no inode.
  const file = (name: string, content: string[], size: number, extra: Partial<Node> = {}) => makeNode(name, 'file', { content, size, links: 1, ...extra });
  // a folder holding two names of one inode, and a duplicate of another file
  const shared = (await repo.saveTree([
    file('hard1', [a, b], 44, { links: 2, inode: 77n, device_id: 1n }),
    file('hard2', [a, b], 44, { links: 2, inode: 77n, device_id: 1n }),
    file('same-as-c', [c], 8),
    makeNode('link', 'symlink', { linktarget: 'hard1', size: 5, links: 1 }),
  ])).id;
  const other = (await repo.saveTree([file('c', [c], 8), file('empty', [], 0), makeNode('again', 'dir', { subtree: shared })])).id;
  // the same folder twice in one snapshot (so its hard links meet twice), and in a second snapshot
  const root1 = (await repo.saveTree([makeNode('one', 'dir', { subtree: shared }), makeNode('two', 'dir', { subtree: shared }), makeNode('x', 'dir', { subtree: other })])).id;
  const root2 = (await repo.saveTree([makeNode('x', 'dir', { subtree: other }), file('c', [c, a], 23)])).id;
  await repo.flush();
  await repo.saveSnapshot({ time: '2024-01-01T00:00:00Z', tree: root1, paths: ['/h'], hostname: 'h' });
  await repo.saveSnapshot({ time: '2024-01-02T00:00:00Z', tree: root2, paths: ['/h'], hostname: 'h' });
  const report = await computeStats(repo, await repo.loadSnapshots());
  for (const mode of STATS_MODES) {
    const restic = await resticStats(dir, 'scratch', mode);
    assert.deepEqual(sameFields(report.modes[mode], restic), restic, mode);
  }
  await repo.close();
});

test('a snapshot whose blob is missing from the index is reported, not counted as zero', async () => {
  const dir = path.join(work, 'missing');
  const repo = await newScratchRepo(dir);
  const root = (await repo.saveTree([makeNode('f', 'file', { content: ['ab'.repeat(32)], size: 3, links: 1 })])).id;
  await repo.flush();
  await repo.saveSnapshot({ time: '2024-01-01T00:00:00Z', tree: root, paths: ['/m'] });
  await assert.rejects(computeStats(repo, await repo.loadSnapshots()), (err: Error & { code?: string }) => err.code === 'missing-blob');
  await repo.close();
});
