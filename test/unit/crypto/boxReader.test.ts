// BoxReader opens sealed boxes piece by piece into a caller's buffer: it must give exactly what
// sealedBox.open gives (also for boxes restic wrote, see the fixture test) and refuse every box
// whose MAC fails, whatever the size (small boxes go whole, long ones in 64 KiB pieces).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BoxReader } from '../../../src/crypto/boxReader.js';
import { openKeyFile, type KeyFileData } from '../../../src/crypto/keyFile.js';
import { newMasterKey } from '../../../src/crypto/masterKey.js';
import { open, seal } from '../../../src/crypto/sealedBox.js';
import { fixturePassword, fixtureRepo } from '../../helpers/fixture.js';

const sizes = [0, 1, 15, 16, 17, 16 * 1024, 16 * 1024 + 1, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 300_000];

test('every size opens to the plaintext sealed, at any offset of the output, with the pieces in order', () => {
  const key = newMasterKey();
  const reader = new BoxReader(key);
  const out = Buffer.alloc(400_000);
  for (const size of sizes) {
    const plain = randomBytes(size);
    const pieces: Buffer[] = [];
    const n = reader.openInto(seal(key, plain), out, 7, (p) => pieces.push(Buffer.from(p)));
    assert.equal(n, size, `size ${size}`);
    assert.ok(out.subarray(7, 7 + n).equals(plain), `plaintext of size ${size}`);
    assert.ok(Buffer.concat(pieces).equals(plain), `pieces of size ${size}`);
  }
});

test('a flipped bit anywhere (IV, ciphertext, tag) or a wrong key fails the MAC', () => {
  const key = newMasterKey();
  const reader = new BoxReader(key);
  const other = new BoxReader(newMasterKey());
  const out = Buffer.alloc(400_000);
  for (const size of [0, 100, 16 * 1024 + 1, 300_000]) {
    const box = seal(key, randomBytes(size));
    for (const at of [0, 15, 16, box.length - 17, box.length - 16, box.length - 1]) {
      if (at < 0) continue;
      const bad = Buffer.from(box);
      bad[at]! ^= 0x10;
      assert.equal(reader.openInto(bad, out), -1, `size ${size}, byte ${at}`);
    }
    assert.equal(other.openInto(box, out), -1, `size ${size}, wrong key`);
    assert.equal(reader.openInto(box, out), size, 'the intact box still opens');
  }
  assert.equal(reader.openInto(Buffer.alloc(31), out), -1, 'shorter than IV and tag');
});

test('a box bigger than the room given is refused loudly, not written past the end', () => {
  const key = newMasterKey();
  assert.throws(() => new BoxReader(key).openInto(seal(key, randomBytes(100_000)), Buffer.alloc(99_999)), RangeError);
});

test('every encrypted file restic wrote in the fixture repository opens as sealedBox.open opens it', async () => {
  const keysDir = path.join(fixtureRepo, 'keys');
  const keyFile = JSON.parse(readFileSync(path.join(keysDir, readdirSync(keysDir)[0]!), 'utf8')) as KeyFileData;
  const key = await openKeyFile(keyFile, fixturePassword);
  assert.ok(key, 'the fixture key opens');
  const reader = new BoxReader(key);
  let opened = 0;
  for (const dir of ['index', 'snapshots']) {
    for (const name of readdirSync(path.join(fixtureRepo, dir))) {
      const box = readFileSync(path.join(fixtureRepo, dir, name));
      const out = Buffer.alloc(box.length);
      const n = reader.openInto(box, out);
      assert.ok(out.subarray(0, n).equals(open(key, box)), `${dir}/${name}`);
      opened++;
    }
  }
  assert.ok(opened > 0);
});
