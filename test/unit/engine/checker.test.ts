// The checker on the shared restic fixture and on damaged copies of it; the
// real restic's own check is the oracle where it is cheap to ask.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalBackend } from '../../../src/backend/local.js';
import { seal } from '../../../src/crypto/sealedBox.js';
import { PackWriter } from '../../../src/repo/packWriter.js';
import { Repository } from '../../../src/repo/repository.js';
import { checkRepository, selectPacksByBucket, selectRandomPacks } from '../../../src/engine/checker.js';
import { expected, fixturePassword, fixtureRepo } from '../../helpers/fixture.js';
import { copyFixtureRepo, flipByte, makeNode, newScratchRepo, openFixtureCopy, packFile } from '../../helpers/scratchRepo.js';

const snap1 = expected.snapshots[0] as { id: string };
const readmeBlob = expected.files_by_snapshot[snap1.id]['/README.txt'].blobs[0].id as string;

let work = '';
let n = 0;
before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-checker-'));
});
after(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

/** A writable copy of the fixture, opened. */
async function damagedCopy(): Promise<{ dir: string; repo: Repository }> {
  const dir = await copyFixtureRepo(path.join(work, `copy${++n}`));
  return { dir, repo: await openFixtureCopy(dir) };
}

/** `restic check` on a repository directory: exit code and output. */
function resticCheck(dir: string, args: string[] = []): Promise<{ code: number; output: string }> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, RESTIC_PASSWORD: fixturePassword, RESTIC_REPOSITORY: dir };
  return new Promise((resolve) => {
    execFile('restic', ['--no-cache', '--no-lock', 'check', ...args], { env }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr });
    });
  });
}

describe('a healthy repository', () => {
  let repo: Repository;
  before(async () => {
    repo = await Repository.open(new LocalBackend(fixtureRepo), fixturePassword);
  });
  after(async () => {
    await repo.close();
  });

  test('the restic fixture checks clean', async () => {
    const r = await checkRepository(repo);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.hints, []);
    assert.deepEqual(r.additionalPacks, []);
    assert.equal(r.stats.snapshots, 2);
    assert.equal(r.stats.packs, 4);
    assert.equal(r.stats.indexFiles, 2);
    assert.equal(r.stats.packsRead, 0);
    assert.ok(r.stats.trees >= 8);
  });

  test('the restic fixture checks clean with --read-data, every pack read in full', async () => {
    const r = await checkRepository(repo, { readData: true });
    assert.deepEqual(r.errors, []);
    assert.equal(r.stats.packsRead, 4);
    let total = 0;
    for await (const f of repo.backend.list('pack')) total += f.size;
    assert.ok(r.stats.bytesRead >= total);
  });

  test('--read-data-subset n/m reads the packs whose id starts with a byte ≡ n−1 (mod m), as restic does', async () => {
    const packs = (expected.restic_list.packs as string[]).slice().sort();
    const seen: string[] = [];
    for (let k = 1; k <= 2; k++) {
      const phases: string[] = [];
      const r = await checkRepository(repo, { readDataSubset: { n: k, m: 2 }, onProgress: (_d, _t, phase) => phases.push(phase) });
      const want = packs.filter((id) => parseInt(id.slice(0, 2), 16) % 2 === k - 1);
      assert.equal(r.stats.packsRead, want.length);
      assert.ok(phases.includes('read-data'));
      seen.push(...want);
    }
    assert.deepEqual(seen.sort(), packs);
  });
});

describe('subset selection rules', () => {
  test('n/m buckets by the first byte of the pack id, 1-based', () => {
    const ids = ['00', '01', '02', 'ff', '80'].map((p) => p + 'a'.repeat(62));
    assert.deepEqual(selectPacksByBucket(ids, 1, 3).map((i) => i.slice(0, 2)), ['00', 'ff']);
    assert.deepEqual(selectPacksByBucket(ids, 2, 3).map((i) => i.slice(0, 2)), ['01']);
    assert.deepEqual(selectPacksByBucket(ids, 3, 3).map((i) => i.slice(0, 2)), ['02', '80']);
    assert.throws(() => selectPacksByBucket(ids, 4, 3), /subset/);
    assert.throws(() => selectPacksByBucket(ids, 1, 257), /subset/);
  });

  test('a percentage picks ⌊count·p/100⌋ distinct random packs, at least one', () => {
    const ids = Array.from({ length: 10 }, (_, i) => i.toString(16).padStart(64, '0'));
    const some = selectRandomPacks(ids, 25);
    assert.equal(some.length, 2);
    assert.equal(new Set(some).size, 2);
    assert.ok(some.every((id) => ids.includes(id)));
    assert.equal(selectRandomPacks(ids.slice(0, 3), 10).length, 1);
    assert.equal(selectRandomPacks(ids, 100).length, 10);
  });
});

describe('damage the checker finds', () => {
  test('a flipped byte in a pack: --read-data names the pack and the blob (restic agrees); the structure check alone does not see it', async () => {
    const { dir, repo } = await damagedCopy();
    try {
      await repo.loadIndex();
      const loc = repo.index.lookup('data', readmeBlob)[0]!;
      await flipByte(packFile(dir, loc.packId), loc.offset + 20);
      assert.deepEqual((await checkRepository(repo)).errors, []);
      const r = await checkRepository(repo, { readData: true });
      const blobError = r.errors.find((e) => e.code === 'damaged-blob');
      assert.ok(blobError, JSON.stringify(r.errors));
      assert.equal(blobError.packId, loc.packId);
      assert.equal(blobError.blobId, readmeBlob);
      assert.ok(blobError.message.includes(loc.packId) && blobError.message.includes(readmeBlob), blobError.message);
      assert.ok(r.errors.some((e) => e.code === 'pack-hash' && e.packId === loc.packId));
      assert.ok(r.errors.every((e) => e.packId === loc.packId));
      const restic = await resticCheck(dir, ['--read-data']);
      assert.notEqual(restic.code, 0);
      assert.ok(restic.output.includes(loc.packId.slice(0, 8)), restic.output);
    } finally {
      await repo.close();
    }
  });

  test('a deleted data pack is an error naming it', async () => {
    const { dir, repo } = await damagedCopy();
    try {
      await repo.loadIndex();
      const victim = repo.index.lookup('data', readmeBlob)[0]!.packId;
      await fs.rm(packFile(dir, victim));
      const r = await checkRepository(repo);
      assert.deepEqual(r.errors.map((e) => [e.code, e.packId]), [['missing-pack', victim]]);
      assert.ok(r.errors[0]!.message.includes(victim));
      const restic = await resticCheck(dir);
      assert.notEqual(restic.code, 0);
      assert.ok(restic.output.includes(victim.slice(0, 8)), restic.output);
    } finally {
      await repo.close();
    }
  });

  test('a truncated pack has an unexpected size', async () => {
    const { dir, repo } = await damagedCopy();
    try {
      await repo.loadIndex();
      const victim = repo.index.lookup('data', readmeBlob)[0]!.packId;
      const file = packFile(dir, victim);
      const size = (await fs.stat(file)).size;
      await fs.truncate(file, size - 10);
      const r = await checkRepository(repo);
      assert.deepEqual(r.errors.map((e) => [e.code, e.packId]), [['pack-size', victim]]);
      assert.match(r.errors[0]!.message, new RegExp(`${size - 10} bytes.*${size}`));
    } finally {
      await repo.close();
    }
  });

  test('a truncated index file is a clear error naming it, with the repair advice, and the check stops there', async () => {
    const { dir, repo } = await damagedCopy();
    try {
      const victim = (expected.restic_list.index as string[])[0]!;
      const file = path.join(dir, 'index', victim);
      await fs.truncate(file, (await fs.stat(file)).size - 7);
      const r = await checkRepository(repo);
      assert.equal(r.errors.length, 1);
      assert.equal(r.errors[0]!.code, 'damaged-index');
      assert.equal(r.errors[0]!.indexId, victim);
      assert.ok(r.errors[0]!.message.includes(victim));
      assert.ok(r.hints.some((h) => h.includes('repair index')));
    } finally {
      await repo.close();
    }
  });

  test('a damaged snapshot file is an error naming the snapshot', async () => {
    const { dir, repo } = await damagedCopy();
    try {
      await flipByte(path.join(dir, 'snapshots', snap1.id), 40);
      const r = await checkRepository(repo);
      assert.deepEqual(r.errors.map((e) => [e.code, e.snapshotId]), [['damaged-snapshot', snap1.id]]);
    } finally {
      await repo.close();
    }
  });

  test('a pack no index lists is reported as additional, not as an error (restic agrees)', async () => {
    const { dir, repo } = await damagedCopy();
    try {
      // What an interrupted backup leaves: a complete pack whose index was never written.
      const plain = randomBytes(1000);
      const writer = new PackWriter('data');
      writer.add(createHash('sha256').update(plain).digest('hex'), seal(repo.key, plain));
      const pack = writer.finish(repo.key);
      await repo.backend.write({ type: 'pack', name: pack.id }, pack.bytes);
      const r = await checkRepository(repo, { readData: true });
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.additionalPacks, [pack.id]);
      assert.equal(r.stats.additionalPacks, 1);
      assert.ok(r.hints.some((h) => h.includes('prune')));
      assert.equal((await resticCheck(dir)).code, 0);
    } finally {
      await repo.close();
    }
  });

  test('a file whose content blob is not in the index is an error naming the file and the blob', async () => {
    const repo = await newScratchRepo(path.join(work, 'scratch-missing'));
    try {
      const { id: good } = await repo.saveBlob('data', Buffer.from('here\n'));
      const ghost = randomBytes(32).toString('hex');
      const { id: sub } = await repo.saveTree([makeNode('lost.bin', 'file', { content: [good, ghost], size: 10 })]);
      const { id: root } = await repo.saveTree([makeNode('dir', 'dir', { subtree: sub }), makeNode('ok.txt', 'file', { content: [good], size: 5 })]);
      await repo.flush();
      await repo.saveSnapshot({ time: '2024-01-01T00:00:00Z', tree: root, paths: ['/x'] });
      const r = await checkRepository(repo, { readData: true });
      assert.deepEqual(r.errors.map((e) => [e.code, e.path, e.blobId]), [['missing-blob', '/dir/lost.bin', ghost]]);
    } finally {
      await repo.close();
    }
  });
});
