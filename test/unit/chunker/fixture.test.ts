// The chunker against what the real restic cut in the fixture repository
// (test/fixtures/restic-v2: expected.json → chunker, multichunk_file, files_by_snapshot).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Chunker } from '../../../src/chunker/chunker.js';
import { parsePolynomial } from '../../../src/chunker/polynomial.js';
import { expected, fixtureDir } from '../../helpers/fixture.js';

interface Blob {
  id: string;
  offset: number;
  length: number;
}

const polynomial = parsePolynomial(expected.chunker.polynomial_hex);

/** restic's blob list for `data`: sha256 id, offset and length of every chunk. */
function blobsOf(data: Buffer, pieceSize = 1024 * 1024): Blob[] {
  const chunker = new Chunker(polynomial);
  const blobs: Blob[] = [];
  let offset = 0;
  const take = (chunks: Buffer[]) => {
    for (const c of chunks) {
      blobs.push({ id: createHash('sha256').update(c).digest('hex'), offset, length: c.length });
      offset += c.length;
    }
  };
  for (let p = 0; p < data.length; p += pieceSize) take(chunker.push(data.subarray(p, p + pieceSize)));
  take(chunker.finish());
  return blobs;
}

/** The fixture's pseudo-random stream: SHA-256(seed ‖ i as uint64 LE) for i = 0, 1, … cut to `size`. */
function seededStream(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  const counter = Buffer.alloc(8);
  for (let i = 0, pos = 0; pos < size; i++, pos += 32) {
    counter.writeBigUInt64LE(BigInt(i));
    createHash('sha256').update(seed).update(counter).digest().copy(out, pos);
  }
  return out;
}

test('the fixture polynomial is read from the recorded config', () => {
  assert.equal(polynomial.toString(), expected.chunker.polynomial_decimal_string);
});

test('random.bin, regenerated from its recipe, is cut into restic\'s four blobs in both snapshots', () => {
  const mf = expected.multichunk_file;
  const first = seededStream(mf.generator.seed, mf.generator.size);
  const g2 = mf.generator_second_state;
  const second = Buffer.concat([
    first.subarray(0, g2.insert_at),
    seededStream(g2.insert_seed, g2.insert_size),
    first.subarray(g2.insert_at),
  ]);
  const [snap1, snap2] = mf.per_snapshot;
  assert.equal(createHash('sha256').update(first).digest('hex'), snap1.sha256);
  assert.equal(createHash('sha256').update(second).digest('hex'), snap2.sha256);
  assert.deepEqual(blobsOf(first), snap1.blobs);
  assert.deepEqual(blobsOf(second), snap2.blobs);
});

test('every regular file of both snapshots gives exactly restic\'s blob list', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cairn-chunker-fixture-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const snap of expected.snapshots) {
    const root = path.join(dir, snap.short_id);
    mkdirSync(root);
    execFileSync('tar', ['-xf', path.join(fixtureDir, snap.source_tar), '-C', root]);
    const files: Record<string, { size: number; blobs: Blob[] }> = expected.files_by_snapshot[snap.id];
    assert.ok(Object.keys(files).length >= 10, 'the fixture lists the regular files');
    for (const [name, want] of Object.entries(files)) {
      const data = readFileSync(path.join(root, name));
      assert.equal(data.length, want.size, name);
      // Odd piece sizes: the cut points must not depend on how the file is read.
      assert.deepEqual(blobsOf(data, 65_537), want.blobs, `${snap.short_id}${name}`);
    }
  }
});

test('an empty file has no chunks and zeros.bin has the shared all-zero chunk', () => {
  const files = expected.files_by_snapshot[expected.snapshots[0].id];
  assert.deepEqual(blobsOf(Buffer.alloc(0)), []);
  assert.deepEqual(files['/empty.txt'].blobs, []);
  const zeroChunks = (files['/zeros.bin'].blobs as Blob[]).filter((b) => b.id === expected.zero_chunk_id_524288_zero_bytes);
  assert.equal(zeroChunks.length, 2);
  assert.ok(zeroChunks.every((b) => b.length === 524_288));
});
