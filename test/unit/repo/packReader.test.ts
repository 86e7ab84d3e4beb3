import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Repository } from '../../../src/repo/repository.js';
import { verifyPackData, writePackBlobs, type BlobWrite } from '../../../src/repo/packReader.js';
import { flipByte, newScratchRepo, packFile } from '../../helpers/scratchRepo.js';

let work: string;
let repo: Repository;
let repoDir: string;
/** Blobs stored in one pack: compressible text, random bytes (stored raw), small and big. */
const contents = [Buffer.from('log line '.repeat(30_000)), randomBytes(300_000), Buffer.from('tiny blob'), Buffer.from('{"k":1}\n'.repeat(200_000))];
let ids: string[];
let packId: string;

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Where each stored blob is, as BlobWrite without targets. */
function located(): BlobWrite[] {
  return ids
    .map((id) => {
      const loc = repo.index.lookup('data', id)[0]!;
      const w: BlobWrite = { id, offset: loc.offset, length: loc.length, targets: [] };
      if (loc.uncompressedLength) w.uncompressedLength = loc.uncompressedLength;
      return w;
    })
    .sort((a, b) => a.offset - b.offset);
}

function packBlobs(): { id: string; offset: number; length: number; uncompressedLength?: number }[] {
  return located().map(({ targets: _t, ...b }) => b);
}

async function packSize(): Promise<number> {
  return (await fs.stat(packFile(repoDir, packId))).size;
}

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-packreader-'));
  repoDir = path.join(work, 'repo');
  repo = await newScratchRepo(repoDir);
  ids = [];
  for (const c of contents) ids.push((await repo.saveBlob('data', Buffer.from(c))).id);
  await repo.flush();
  const packs = new Set(ids.map((id) => repo.index.lookup('data', id)[0]!.packId));
  assert.equal(packs.size, 1, 'the test blobs share one pack');
  packId = [...packs][0]!;
  assert.ok(repo.index.lookup('data', ids[0]!)[0]!.uncompressedLength, 'text is stored compressed');
});

after(async () => {
  await repo.close();
  await fs.rm(work, { recursive: true, force: true });
});

for (const workers of ['on', 'off'] as const) {
  describe(`with worker threads ${workers}`, () => {
    before(() => {
      if (workers === 'off') process.env.CAIRN_WORKERS = '0';
    });
    after(() => {
      delete process.env.CAIRN_WORKERS;
    });

    test('every blob of a range is written at each of its positions; the first writer creates the file', async () => {
      const dir = await fs.mkdtemp(path.join(work, 'out-'));
      const blobs = located();
      // file 0: all blobs one after another; file 1: the tiny blob twice
      const byId = new Map(blobs.map((b) => [b.id, b]));
      let pos = 0;
      for (const [i, id] of ids.entries()) {
        byId.get(id)!.targets.push(0, pos);
        pos += contents[i]!.length;
      }
      byId.get(ids[2]!)!.targets.push(1, 0, 1, contents[2]!.length);
      const files = [{ path: path.join(dir, 'all') }, { path: Buffer.from(path.join(dir, 'twice-\xff'), 'latin1') }];
      const r = await writePackBlobs(repo, packId, blobs, files);
      assert.deepEqual(r.failed, []);
      assert.deepEqual(r.fileErrors, []);
      assert.deepEqual([...r.created].sort(), [0, 1]);
      assert.equal(sha(await fs.readFile(path.join(dir, 'all'))), sha(Buffer.concat(contents)));
      assert.deepEqual(await fs.readFile(files[1]!.path), Buffer.concat([contents[2]!, contents[2]!]));
    });

    test('a file another range created is written into, not replaced; sizeOnCreate leaves holes', async () => {
      const dir = await fs.mkdtemp(path.join(work, 'out-'));
      const p = path.join(dir, 'f');
      const [first, ...rest] = located();
      const firstIndex = ids.indexOf(first!.id);
      first!.targets.push(0, 0);
      const r1 = await writePackBlobs(repo, packId, [first!], [{ path: p, sizeOnCreate: 5_000_000 }]);
      assert.deepEqual(r1.created, [0]);
      const other = rest[0]!;
      other.targets.push(0, 4_000_000);
      const r2 = await writePackBlobs(repo, packId, [other], [{ path: p, sizeOnCreate: 5_000_000 }]);
      assert.deepEqual(r2.created, []);
      assert.deepEqual(r2.written, [0]);
      const got = await fs.readFile(p);
      assert.equal(got.length, 5_000_000);
      assert.deepEqual(got.subarray(0, contents[firstIndex]!.length), contents[firstIndex]);
      assert.deepEqual(got.subarray(4_000_000, 4_000_000 + contents[ids.indexOf(other.id)]!.length), contents[ids.indexOf(other.id)]);
    });

    test('a symlink in the way is never written through: the file is reported, the target untouched', async () => {
      const dir = await fs.mkdtemp(path.join(work, 'out-'));
      await fs.writeFile(path.join(dir, 'precious'), 'precious');
      await fs.symlink(path.join(dir, 'precious'), path.join(dir, 'link'));
      const blobs = located();
      blobs[0]!.targets.push(0, 0);
      const r = await writePackBlobs(repo, packId, blobs, [{ path: path.join(dir, 'link') }]);
      assert.equal(r.fileErrors.length, 1);
      assert.equal(r.fileErrors[0]!.file, 0);
      assert.equal(await fs.readFile(path.join(dir, 'precious'), 'utf8'), 'precious');
    });

    test('a blob that is not what the index says is listed as failed (by its index) and the others are written', async () => {
      const dir = await fs.mkdtemp(path.join(work, 'out-'));
      const blobs = located();
      blobs.forEach((b, i) => b.targets.push(i, 0));
      blobs[1]!.id = '0'.repeat(64); // decodes fine, but to something else
      const files = blobs.map((_, i) => ({ path: path.join(dir, `f${i}`) }));
      const r = await writePackBlobs(repo, packId, blobs, files);
      assert.deepEqual(r.failed, [{ blob: 1, reason: 'id' }]);
      await assert.rejects(fs.stat(files[1]!.path), /ENOENT/);
      for (const i of [0, 2, 3]) assert.equal(sha(await fs.readFile(files[i]!.path)), blobs[i]!.id);
    });

    test('a file the range writes all of gets its finish mode and times after its last write; one with a failed blob keeps them unset', async () => {
      const dir = await fs.mkdtemp(path.join(work, 'out-'));
      const blobs = located();
      // file 0: blobs 0 and 2 (its last write makes it read-only: nothing may be written after it); file 1: blob 1, which fails
      let pos = 0;
      for (const i of [0, 2]) {
        blobs[i]!.targets.push(0, pos);
        pos += contents[i]!.length;
      }
      blobs[1]!.targets.push(1, 0);
      blobs[3]!.targets.push(1, 100);
      blobs[1]!.id = '0'.repeat(64);
      const finish = { mode: 0o444, atime: 1_600_000_000, mtime: 1_600_000_001.5 };
      const files = [{ path: path.join(dir, 'done'), finish }, { path: path.join(dir, 'failed'), finish }];
      const r = await writePackBlobs(repo, packId, blobs, files);
      assert.deepEqual(r.failed, [{ blob: 1, reason: 'id' }]);
      assert.deepEqual(r.finished, [0]);
      assert.deepEqual(r.metaErrors, []);
      const done = await fs.stat(files[0]!.path, { bigint: true });
      assert.equal(done.mode & 0o777n, 0o444n);
      assert.equal(done.mtimeNs, 1_600_000_001_500_000_000n);
      assert.equal(sha(await fs.readFile(files[0]!.path)), sha(Buffer.concat([contents[0]!, contents[2]!])));
      assert.equal((await fs.stat(files[1]!.path)).mode & 0o777, 0o600, 'the file with a failed blob keeps the mode it was created with');
    });

    test('an intact pack hashes to its name and every blob opens, also when read in small segments', async () => {
      const size = await packSize();
      for (const segment of [8 * 1024 * 1024, 64 * 1024, 4099]) {
        const r = await verifyPackData(repo, packId, size, packBlobs(), segment);
        assert.equal(r.readError, undefined);
        assert.equal(r.hash, packId);
        assert.deepEqual(r.failed, []);
        assert.equal(r.bytes, size);
      }
    });
  });
}

describe('damage', () => {
  test('a flipped byte: the pack hash differs and exactly that blob fails its MAC, in one segment or many', async () => {
    const dir = path.join(work, 'damaged');
    await fs.cp(repoDir, dir, { recursive: true });
    const { Repository } = await import('../../../src/repo/repository.js');
    const { LocalBackend } = await import('../../../src/backend/local.js');
    const damaged = await Repository.open(new LocalBackend(dir), 'scratch');
    try {
      await damaged.loadIndex();
      const blobs = packBlobs();
      const victim = blobs[2]!;
      await flipByte(packFile(dir, packId), victim.offset + 20);
      const size = await packSize();
      for (const segment of [8 * 1024 * 1024, 10_000]) {
        const r = await verifyPackData(damaged, packId, size, blobs, segment);
        assert.notEqual(r.hash, packId);
        assert.deepEqual(
          r.failed.map((f) => [f.blob.id, f.reason]),
          [[victim.id, 'mac']],
        );
      }
      const out = await fs.mkdtemp(path.join(work, 'out-'));
      const writes = located();
      writes.forEach((b, i) => b.targets.push(i, 0));
      const w = await writePackBlobs(damaged, packId, writes, writes.map((_, i) => ({ path: path.join(out, `f${i}`) })));
      assert.deepEqual(w.failed, [{ blob: 2, reason: 'mac' }]);
      assert.equal(w.written.length, 3);
    } finally {
      await damaged.close();
    }
  });

  test('a pack that ends early is a read error, not a silent success', async () => {
    const dir = path.join(work, 'short');
    await fs.cp(repoDir, dir, { recursive: true });
    const { Repository } = await import('../../../src/repo/repository.js');
    const { LocalBackend } = await import('../../../src/backend/local.js');
    const short = await Repository.open(new LocalBackend(dir), 'scratch');
    try {
      await short.loadIndex();
      const size = await packSize();
      await fs.truncate(packFile(dir, packId), size - 100);
      const r = await verifyPackData(short, packId, size, packBlobs(), 64 * 1024);
      assert.ok(r.readError, 'read error reported');
      assert.equal(r.hash, undefined);
    } finally {
      await short.close();
    }
  });
});
