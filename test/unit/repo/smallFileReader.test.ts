// The small-file reader on its own: what it answers for files that cannot be read or that
// grew past one chunk since their stat (the archiver reports the first and reads the second
// the ordinary way).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalBackend } from '../../../src/backend/local.js';
import { MIN_CHUNK_SIZE } from '../../../src/chunker/chunker.js';
import { formatPolynomial, randomPolynomial } from '../../../src/chunker/polynomial.js';
import { Repository } from '../../../src/repo/repository.js';
import { SmallFileError, SmallFileReader } from '../../../src/repo/smallFileReader.js';

async function withReader(fn: (reader: SmallFileReader, repo: Repository, tmp: string) => Promise<void>): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-smallreader-'));
  try {
    const backend = new LocalBackend(path.join(tmp, 'repo'));
    await Repository.init(backend, 'pw', { newPolynomial: () => formatPolynomial(randomPolynomial()), kdf: { N: 1024, r: 8, p: 1 } });
    const repo = await Repository.open(backend, 'pw');
    const reader = new SmallFileReader(repo, 1);
    try {
      await fn(reader, repo, tmp);
    } finally {
      await reader.close();
      await repo.close();
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

test('a file that cannot be read is refused with its errno code; the files batched with it are stored', async () => {
  await withReader(async (reader, repo, tmp) => {
    const good = path.join(tmp, 'good.txt');
    await fs.writeFile(good, 'small and readable');
    const [missing, folder, stored] = await Promise.allSettled([reader.store(path.join(tmp, 'gone.txt'), 10), reader.store(tmp, 10), reader.store(good, 18)]);
    assert.equal(missing.status, 'rejected');
    assert.ok(missing.reason instanceof SmallFileError);
    assert.equal(missing.reason.code, 'ENOENT');
    assert.equal(folder.status, 'rejected');
    assert.equal((folder.reason as SmallFileError).code, 'EISDIR');
    assert.equal(stored.status, 'fulfilled');
    const r = stored.value;
    assert.notEqual(r, 'tooBig');
    if (r === 'tooBig') return;
    assert.equal(r.size, 18);
    assert.equal(r.blob?.id, createHash('sha256').update('small and readable').digest('hex'));
    assert.equal(r.blob?.added, true);
    await repo.flush();
    assert.deepEqual(await repo.loadBlob('data', r.blob.id), Buffer.from('small and readable'));
  });
});

test('a file longer than one chunk when read (it grew after its stat) is handed back to be read the ordinary way; an empty file has no blob', async () => {
  await withReader(async (reader, _repo, tmp) => {
    const grown = path.join(tmp, 'grown.bin');
    await fs.writeFile(grown, Buffer.alloc(MIN_CHUNK_SIZE + 1, 7));
    const exact = path.join(tmp, 'exact.bin');
    await fs.writeFile(exact, Buffer.alloc(MIN_CHUNK_SIZE, 7));
    const empty = path.join(tmp, 'empty');
    await fs.writeFile(empty, '');
    assert.equal(await reader.store(grown, 100), 'tooBig');
    const one = await reader.store(exact, 100);
    assert.ok(one !== 'tooBig' && one.size === MIN_CHUNK_SIZE && one.blob !== undefined, 'a file of exactly one minimal chunk is one blob');
    assert.deepEqual(await reader.store(empty, 0), { blob: undefined, size: 0 });
  });
});
