// Sealed boxes (restic-format.md §3.2) with the WebAssembly Poly1305: the tag is Poly1305-AES over
// the ciphertext exactly as the reference computes it, and every encrypted byte restic wrote in the
// fixture repository verifies and decrypts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { poly1305 } from '@noble/ciphers/_poly1305.js';
import { openKeyFile, type KeyFileData } from '../../../src/crypto/keyFile.js';
import { newMasterKey, type CryptoKey } from '../../../src/crypto/masterKey.js';
import { MacError, open, seal, sealOverhead } from '../../../src/crypto/sealedBox.js';
import { fixturePassword, fixtureRepo } from '../../helpers/fixture.js';

/** Poly1305-AES of the ciphertext, computed with the reference Poly1305 (format §3.2). */
function referenceTag(key: CryptoKey, iv: Uint8Array, ciphertext: Uint8Array): Buffer {
  const aes = createCipheriv('aes-128-ecb', key.macK, null);
  aes.setAutoPadding(false);
  const s = aes.update(iv);
  return Buffer.from(poly1305(ciphertext, Buffer.concat([key.macR, s])));
}

async function fixtureMasterKey(): Promise<CryptoKey> {
  const keysDir = path.join(fixtureRepo, 'keys');
  const data = JSON.parse(readFileSync(path.join(keysDir, readdirSync(keysDir)[0]!), 'utf8')) as KeyFileData;
  const key = await openKeyFile(data, fixturePassword);
  assert.ok(key, 'the fixture key opens');
  return key;
}

test('a sealed box is IV ‖ AES-256-CTR ciphertext ‖ Poly1305-AES of the ciphertext', () => {
  const key = newMasterKey();
  for (const n of [0, 1, 15, 16, 17, 1000, 4095, 4096, 4097, 1024 * 1024 + 3]) {
    const plain = Buffer.alloc(n, 0x5a);
    const box = seal(key, plain);
    assert.equal(box.length, n + sealOverhead);
    const iv = box.subarray(0, 16);
    const ct = box.subarray(16, 16 + n);
    const decipher = createDecipheriv('aes-256-ctr', key.encrypt, iv);
    assert.deepEqual(decipher.update(ct), plain, `${n}: the ciphertext is AES-256-CTR from the IV`);
    assert.deepEqual(box.subarray(16 + n), referenceTag(key, iv, ct), `${n}: the tag is the reference Poly1305-AES`);
    assert.deepEqual(open(key, box), plain, `${n}: it opens`);
  }
});

test('a box whose tag or ciphertext was changed is refused with restic\'s wording', () => {
  const key = newMasterKey();
  const box = seal(key, Buffer.from('restic-compatible bytes'));
  for (const at of [0, 16, box.length - 17, box.length - 1]) {
    const bad = Buffer.from(box);
    bad[at] ^= 0x01;
    assert.throws(() => open(key, bad), (e: unknown) => e instanceof MacError && e.message === 'ciphertext verification failed', `byte ${at}`);
  }
  assert.throws(() => open(key, box.subarray(0, 31)), MacError);
  assert.throws(() => open(newMasterKey(), box), MacError, 'another key');
});

test('every encrypted file and every pack blob restic wrote in the fixture verifies and decrypts', async () => {
  const key = await fixtureMasterKey();
  let blobs = 0;
  for (const dir of ['snapshots', 'index']) {
    for (const name of readdirSync(path.join(fixtureRepo, dir))) {
      const plain = open(key, readFileSync(path.join(fixtureRepo, dir, name)));
      assert.ok(plain.length > 0, `${dir}/${name}`);
    }
  }
  const dataDir = path.join(fixtureRepo, 'data');
  for (const sub of readdirSync(dataDir)) {
    for (const name of readdirSync(path.join(dataDir, sub))) {
      // Pack: blobs ‖ sealed header ‖ header length (uint32 LE); header entries are
      // type (1) ‖ length (4) ‖ [uncompressed length (4) for compressed types] ‖ id (32).
      const pack = readFileSync(path.join(dataDir, sub, name));
      const headerLength = pack.readUInt32LE(pack.length - 4);
      const header = open(key, pack.subarray(pack.length - 4 - headerLength, pack.length - 4));
      let offset = 0;
      for (let i = 0; i < header.length; ) {
        const type = header[i];
        const length = header.readUInt32LE(i + 1);
        i += type >= 2 ? 41 : 37;
        open(key, pack.subarray(offset, offset + length));
        offset += length;
        blobs++;
      }
      assert.equal(offset, pack.length - 4 - headerLength, `${name}: the blobs fill the pack up to its header`);
    }
  }
  assert.ok(blobs >= 5, `opened ${blobs} blobs`);
});
