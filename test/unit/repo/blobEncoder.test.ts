import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { newMasterKey } from '../../../src/crypto/masterKey.js';
import { BlobEncoder, decodeBlob } from '../../../src/repo/blobCodec.js';

test('blobs encoded into reused buffers open to the same bytes, compressed when it helps, at every size', async () => {
  const key = newMasterKey();
  const enc = new BlobEncoder(key, 2, 'auto');
  // around the 4 KiB hand-CTR limit and the 64 KiB cipher pieces; growing and shrinking sizes
  const sizes = [0, 1, 4096, 4097, 65_535, 65_536, 65_537, 3 * 1024 * 1024 + 5, 100, 1_500_000];
  for (const size of sizes) {
    for (const repetitive of [false, true]) {
      const plain = repetitive ? Buffer.alloc(size, 'abc') : randomBytes(size);
      const r = enc.encode('data', plain);
      const sealed = Buffer.from(r.sealed); // a view into the encoder's buffer: copy before the next call
      assert.ok(decodeBlob(key, sealed, r.uncompressedLength).equals(plain), `size ${size}`);
      if (size >= 4096) assert.equal(r.uncompressedLength, repetitive ? size : undefined, repetitive ? 'repetitive data is compressed' : 'random data is stored raw');
    }
  }
  const treeJson = Buffer.from(JSON.stringify({ nodes: Array.from({ length: 50 }, (_, i) => ({ name: `file-${i}`, type: 'file', mode: 420 })) }) + '\n');
  const tree = enc.encode('tree', treeJson);
  assert.ok(tree.uncompressedLength, 'trees are compressed');
  assert.ok(decodeBlob(key, Buffer.from(tree.sealed), tree.uncompressedLength).equals(treeJson));
});
