import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { LocalBackend } from '../../../src/backend/local.js';
import { chunkStream } from '../../../src/chunker/chunker.js';
import { formatPolynomial, randomPolynomial } from '../../../src/chunker/polynomial.js';
import { WorkerFileError } from '../../../src/repo/blobCodecPool.js';
import { sha256Hex } from '../../../src/repo/ids.js';
import { Repository } from '../../../src/repo/repository.js';

async function withRepo(fn: (repo: Repository, tmp: string) => Promise<void>): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-savefile-'));
  try {
    const backend = new LocalBackend(path.join(tmp, 'repo'));
    await Repository.init(backend, 'pw', { newPolynomial: () => formatPolynomial(randomPolynomial()), kdf: { N: 1024, r: 8, p: 1 } });
    const repo = await Repository.open(backend, 'pw');
    try {
      await fn(repo, tmp);
    } finally {
      await repo.close();
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** The ids the chunker cuts from a file on this thread: what restic would store. */
async function idsCutHere(repo: Repository, file: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const chunk of chunkStream(repo.polynomial, createReadStream(file))) ids.push(sha256Hex(chunk));
  return ids;
}

test('a file chunked on a worker thread is cut where the chunker cuts it here, and every blob loads back to the same bytes', async () => {
  await withRepo(async (repo, tmp) => {
    const file = path.join(tmp, 'mixed.bin');
    // random data (stored raw) around a compressible run: several chunks, both kinds of blob
    await fs.writeFile(file, Buffer.concat([randomBytes(9 * 1024 * 1024), Buffer.alloc(5 * 1024 * 1024, 'abc'), randomBytes(3 * 1024 * 1024 + 17)]));
    let read = 0;
    const saved = await repo.saveFile(file, (n) => (read += n));
    const original = await fs.readFile(file);
    assert.equal(saved.size, original.length);
    assert.equal(read, original.length);
    assert.deepEqual(
      saved.blobs.map((b) => b.id),
      await idsCutHere(repo, file),
    );
    assert.ok(saved.blobs.length > 3);
    await repo.flush();
    const back = Buffer.concat(await Promise.all(saved.blobs.map((b) => repo.loadBlob('data', b.id))));
    assert.ok(back.equals(original));
  });
});

test('chunks already stored are not stored again, within a file and across files', async () => {
  await withRepo(async (repo, tmp) => {
    const part = randomBytes(3 * 1024 * 1024);
    const a = path.join(tmp, 'a.bin');
    const b = path.join(tmp, 'b.bin');
    await fs.writeFile(a, part);
    await fs.writeFile(b, part);
    const [sa, sb] = await Promise.all([repo.saveFile(a, () => {}), repo.saveFile(b, () => {})]);
    assert.deepEqual(
      sa.blobs.map((x) => x.id),
      sb.blobs.map((x) => x.id),
    );
    const added = [...sa.blobs, ...sb.blobs].filter((x) => x.added);
    assert.equal(added.length, new Set(sa.blobs.map((x) => x.id)).size, 'each distinct chunk is added once');
    const again = await repo.saveFile(a, () => {});
    assert.ok(again.blobs.every((x) => !x.added && x.storedSize === 0));
  });
});

test('a file that cannot be read rejects with the errno code, and the repository stays usable', async () => {
  await withRepo(async (repo, tmp) => {
    await assert.rejects(repo.saveFile(path.join(tmp, 'missing.bin'), () => {}), (err: unknown) => err instanceof WorkerFileError && err.code === 'ENOENT' && /missing\.bin/.test(err.message));
    // a read that fails after the open (EIO from the kernel)
    await assert.rejects(repo.saveFile('/proc/self/mem', () => {}), (err: unknown) => err instanceof WorkerFileError && err.code === 'EIO');
    const file = path.join(tmp, 'ok.bin');
    await fs.writeFile(file, randomBytes(2 * 1024 * 1024));
    const saved = await repo.saveFile(file, () => {});
    assert.equal(saved.size, 2 * 1024 * 1024);
  });
});

test('with one big file alone, its chunks are stored by both workers and the file still loads back byte for byte', async () => {
  await withRepo(async (repo, tmp) => {
    const file = path.join(tmp, 'alone.bin');
    // compressible and random parts: many chunks, so the idle worker takes some over
    const parts: Buffer[] = [];
    for (let i = 0; i < 12; i++) parts.push(i % 2 ? randomBytes(1024 * 1024) : Buffer.from(`line ${i} of a log that compresses well\n`.repeat(30_000)));
    await fs.writeFile(file, Buffer.concat(parts));
    const saved = await repo.saveFile(file, () => {});
    assert.deepEqual(
      saved.blobs.map((b) => b.id),
      await idsCutHere(repo, file),
    );
    await repo.flush();
    // each worker packs what it stores: the blobs are in two packs when the idle worker took some
    const packs = new Set(saved.blobs.map((b) => repo.index.lookup('data', b.id)[0]!.packId));
    if (os.availableParallelism() >= 2) assert.equal(packs.size, 2);
    const back = Buffer.concat(await Promise.all(saved.blobs.map((b) => repo.loadBlob('data', b.id))));
    assert.ok(back.equals(await fs.readFile(file)));
  });
});

test('many files saved at once (queued on the workers, one file at a time each) all come back whole, one missing file fails alone', async () => {
  await withRepo(async (repo, tmp) => {
    const files = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const file = path.join(tmp, `f${i}.bin`);
        await fs.writeFile(file, randomBytes(1024 * 1024 + i * 100_000));
        return file;
      }),
    );
    const missing = path.join(tmp, 'missing.bin');
    const results = await Promise.allSettled([...files, missing].map((f) => repo.saveFile(f, () => {})));
    const last = results.pop()!;
    assert.equal(last.status, 'rejected');
    await repo.flush();
    for (const [i, r] of results.entries()) {
      assert.equal(r.status, 'fulfilled');
      const saved = (r as PromiseFulfilledResult<{ blobs: { id: string }[]; size: number }>).value;
      const back = Buffer.concat(await Promise.all(saved.blobs.map((b) => repo.loadBlob('data', b.id))));
      assert.ok(back.equals(await fs.readFile(files[i]!)), `file ${i}`);
    }
  });
});
