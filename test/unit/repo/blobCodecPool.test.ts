import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { newMasterKey } from '../../../src/crypto/masterKey.js';
import { BlobCodecPool } from '../../../src/repo/blobCodecPool.js';

/** Any polynomial will do: these tests do not cut files. */
const testPolynomial = '3da3358b4dc173';
import { decodeBlob } from '../../../src/repo/blobCodec.js';
import { sha256Hex } from '../../../src/repo/ids.js';

test('blobs encoded on worker threads open on this thread, and decode on workers checks the id', async () => {
  const key = newMasterKey();
  const pool = new BlobCodecPool(key, 2, 'auto', testPolynomial, { size: 2 });
  try {
    const inputs = [Buffer.from('x'.repeat(200_000)), randomBytes(300_000), Buffer.alloc(70_000, 1)];
    const copies = inputs.map((b) => Buffer.from(b));
    const encoded = await Promise.all(inputs.map((b) => pool.encode('data', b)));
    for (const [i, e] of encoded.entries()) {
      assert.deepEqual(decodeBlob(key, e.sealed, e.uncompressedLength), copies[i]);
      const back = await pool.decode(sha256Hex(copies[i]!), e.sealed, e.uncompressedLength);
      assert.deepEqual(back, copies[i]);
    }
    assert.equal(encoded[1]!.uncompressedLength, undefined, 'random data is stored raw');
    assert.ok(encoded[0]!.uncompressedLength, 'text is compressed');
    await assert.rejects(pool.decode('0'.repeat(64), encoded[0]!.sealed, encoded[0]!.uncompressedLength), /id/);
  } finally {
    await pool.close();
  }
});

test('when a worker dies, jobs fail at once instead of waiting forever', async () => {
  const pool = new BlobCodecPool(newMasterKey(), 2, 'auto', testPolynomial, { size: 1 });
  const workers = (pool as unknown as { workers: Worker[] }).workers;
  await workers[0]!.terminate();
  await new Promise((r) => setTimeout(r, 50));
  const outcome = await Promise.race([pool.encode('data', randomBytes(100_000)).then(() => 'done', () => 'rejected'), new Promise((r) => setTimeout(() => r('hung'), 5000))]);
  assert.equal(outcome, 'rejected');
  await pool.close();
});
