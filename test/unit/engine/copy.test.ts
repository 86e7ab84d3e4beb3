// copy between real repositories in temp directories: the same chunker
// polynomial (blobs and trees copied as they are) and a different one (file
// contents cut again, so the target deduplicates them); copies restore
// exactly and check clean; copying twice copies nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalBackend } from '../../../src/backend/local.js';
import { formatPolynomial, randomPolynomial } from '../../../src/chunker/polynomial.js';
import { backupPaths } from '../../../src/engine/backup.js';
import { checkRepository } from '../../../src/engine/checker.js';
import { copySnapshots, similarSnapshots } from '../../../src/engine/copy.js';
import { restoreSnapshot } from '../../../src/engine/restorer.js';
import { Repository } from '../../../src/repo/repository.js';
import type { Snapshot } from '../../../src/repo/snapshot.js';
import { newScratchRepo } from '../../helpers/scratchRepo.js';
import { manifest, type ManifestEntry } from '../../helpers/treeGen.js';

let work = '';
let srcDir = '';
let source: Repository;
const snaps: { snapshot: Snapshot; manifest: Record<string, ManifestEntry> }[] = [];
const data = () => path.join(work, 'data');

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-copy-'));
  srcDir = path.join(work, 'source');
  source = await newScratchRepo(srcDir);
  source.setWriteOptions({ packSize: 256 * 1024 });
  await fs.mkdir(path.join(data(), 'docs'), { recursive: true });
  // 3 MiB of random bytes: several content-defined chunks, whose cut points depend on the polynomial
  await fs.writeFile(path.join(data(), 'big.bin'), randomBytes(3 * 1024 * 1024));
  await fs.writeFile(path.join(data(), 'docs', 'a.txt'), 'alpha\n');
  await fs.symlink('a.txt', path.join(data(), 'docs', 'link'));
  const first = await backupPaths(source, [data()], { tags: ['daily'], host: 'nas', time: new Date('2024-05-01T10:00:00Z') });
  snaps.push({ snapshot: first.snapshot, manifest: await manifest(data()) });
  await fs.writeFile(path.join(data(), 'docs', 'b.txt'), 'beta\n');
  const second = await backupPaths(source, [data()], { tags: ['manual'], host: 'nas', time: new Date('2024-05-02T10:00:00Z') });
  snaps.push({ snapshot: second.snapshot, manifest: await manifest(data()) });
  await source.loadIndex();
});

after(async () => {
  await source.close();
  await fs.rm(work, { recursive: true, force: true });
});

/** Restores a snapshot of `repo` and returns the manifest of the backed-up folder. */
async function restoredManifest(repo: Repository, sn: Snapshot, name: string): Promise<Record<string, ManifestEntry>> {
  const target = path.join(work, 'restore', name);
  const summary = await restoreSnapshot(repo, sn, { target, xattrs: false });
  assert.deepEqual(summary.errors, []);
  return manifest(path.join(target, data()));
}

async function targetRepo(name: string, polynomial?: string): Promise<Repository> {
  if (!polynomial) return newScratchRepo(path.join(work, name));
  return Repository.init(new LocalBackend(path.join(work, name)), 'scratch', { newPolynomial: () => polynomial, kdf: { N: 1024, r: 8, p: 1 } });
}

describe('copying snapshots', () => {
  test('with the same polynomial, blobs and trees are copied as they are, the copies restore exactly and check clean', async () => {
    const target = await targetRepo('same');
    const result = await copySnapshots(source, target);
    assert.equal(result.rechunked, false);
    assert.equal(result.copied.length, 2);
    const copies = await target.loadSnapshots();
    for (const [i, s] of snaps.entries()) {
      const copy = copies.find((c) => c.original === s.snapshot.id)!;
      assert.ok(copy, 'the copy names its original');
      assert.equal(copy.tree, s.snapshot.tree, 'same tree id');
      assert.equal(copy.parent, undefined, 'parent dropped');
      assert.deepEqual([copy.time, copy.hostname, copy.tags], [s.snapshot.time, s.snapshot.hostname, s.snapshot.tags]);
      assert.deepEqual(await restoredManifest(target, copy, `same-${i}`), s.manifest);
    }
    const check = await checkRepository(target, { readData: true });
    assert.deepEqual(check.errors, []);
    await target.close();
  });

  test('with another polynomial, file contents are cut again: the copies restore exactly, and a backup of the same files into the target adds no data', async () => {
    const poly = formatPolynomial(randomPolynomial());
    assert.notEqual(poly, source.config.chunker_polynomial);
    const target = await targetRepo('other', poly);
    const result = await copySnapshots(source, target);
    assert.equal(result.rechunked, true);
    const copies = await target.loadSnapshots();
    const latest = copies.find((c) => c.original === snaps[1]!.snapshot.id)!;
    assert.notEqual(latest.tree, snaps[1]!.snapshot.tree, 'trees name other blobs');
    for (const [i, s] of snaps.entries()) {
      const copy = copies.find((c) => c.original === s.snapshot.id)!;
      assert.deepEqual(await restoredManifest(target, copy, `other-${i}`), s.manifest);
    }
    assert.deepEqual((await checkRepository(target, { readData: true })).errors, []);
    // The target's own chunker cuts the files where the copy did: nothing new to store.
    const again = await backupPaths(target, [data()], { host: 'nas', force: true });
    assert.equal(again.stats.dataAdded, 0, 'no file data added');
    assert.equal(again.stats.dataBlobs, 0, 'no data blob added');
    await target.close();
  });

  test('copying twice copies nothing', async () => {
    for (const poly of [undefined, formatPolynomial(randomPolynomial())]) {
      const target = await targetRepo(`twice-${poly ?? 'same'}`, poly);
      const first = await copySnapshots(source, target);
      assert.equal(first.copied.length, 2);
      const second = await copySnapshots(source, target);
      assert.deepEqual(second.copied, []);
      assert.deepEqual(
        second.skipped.map((s) => s.source).sort(),
        snaps.map((s) => s.snapshot.id).sort(),
      );
      assert.equal(second.blobsAdded, 0);
      assert.equal((await target.listIds('snapshot')).length, 2);
      await target.close();
    }
  });

  test('copies only the chosen snapshots: by id, by tag', async () => {
    const target = await targetRepo('chosen');
    const byTag = await copySnapshots(source, target, { filter: { tags: [['manual']] } });
    assert.deepEqual(
      byTag.copied.map((c) => c.source),
      [snaps[1]!.snapshot.id],
    );
    const byId = await copySnapshots(source, target, { ids: [snaps[0]!.snapshot.id.slice(0, 8)] });
    assert.deepEqual(
      byId.copied.map((c) => c.source),
      [snaps[0]!.snapshot.id],
    );
    await target.close();
  });

  test('refuses to copy a repository into itself', async () => {
    await assert.rejects(copySnapshots(source, source), { code: 'copy-same-repository' });
  });
});

describe('telling copies apart', () => {
  const base: Snapshot = { id: 'a'.repeat(64), time: '2024-05-01T10:00:00.123456789+02:00', tree: 'b'.repeat(64), paths: ['/x', '/y'], hostname: 'nas', username: 'me', tags: ['t1', 't2'] };
  test('a snapshot with the same fields in another order and another parent is a copy', () => {
    assert.ok(similarSnapshots(base, { ...base, id: 'c'.repeat(64), parent: 'd'.repeat(64), paths: ['/y', '/x'], tags: ['t2', 't1'] }));
    assert.ok(similarSnapshots(base, { ...base, time: '2024-05-01T08:00:00.123456789Z' }), 'the same instant written in UTC');
  });
  test('another time, host, path, tag or tree is not', () => {
    assert.ok(!similarSnapshots(base, { ...base, time: '2024-05-01T10:00:00.123456788+02:00' }));
    assert.ok(!similarSnapshots(base, { ...base, hostname: 'web' }));
    assert.ok(!similarSnapshots(base, { ...base, paths: ['/x'] }));
    assert.ok(!similarSnapshots(base, { ...base, tags: ['t1', 't3'] }));
    assert.ok(!similarSnapshots(base, { ...base, tree: 'e'.repeat(64) }));
    assert.ok(similarSnapshots(base, { ...base, tree: 'e'.repeat(64) }, false), 'unless trees are not compared (contents cut again)');
  });
});
