// The two rolling-hash engines of the Chunker — WebAssembly (default) and the plain TypeScript loop —
// cut at exactly the same places: on random data of many sizes fed in many piece patterns, for
// polynomials of every degree the chunker accepts, and on every file restic chunked in the fixture.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Chunker, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, SKIPPED_BYTES, type ChunkerEngine } from '../../../src/chunker/chunker.js';
import { parsePolynomial, polynomialDegree } from '../../../src/chunker/polynomial.js';
import { referenceCutPoints } from '../../../src/chunker/reference.js';
import { newRollingState, restartRolling, rollerFor } from '../../../src/chunker/rolling.js';
import { chunkerTables } from '../../../src/chunker/tables.js';
import { wasmRollerFor } from '../../../src/chunker/wasmRolling.js';
import { expected, fixtureDir } from '../../helpers/fixture.js';

const polynomial = parsePolynomial('2c2326e16dbe57'); // the fixture repository's
const KiB = 1024;
const MiB = 1024 * KiB;

/** Deterministic pseudo-random bytes (AES-256-CTR keystream of `seed`), so failures reproduce. */
function pseudoRandom(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

/** End offsets of the chunks one engine makes of `data` fed in pieces of the given sizes (cycled). */
function cutPoints(engine: ChunkerEngine, pol: bigint, data: Uint8Array, pieceSizes: number[]): number[] {
  const chunker = new Chunker(pol, { engine });
  const ends: number[] = [];
  let end = 0;
  const take = (chunks: Buffer[]) => {
    for (const c of chunks) {
      assert.ok(Buffer.from(data.subarray(end, end + c.length)).equals(c), `${engine}: chunk bytes are the input bytes`);
      end += c.length;
      ends.push(end);
    }
  };
  for (let p = 0, k = 0; p < data.length; k++) {
    const size = pieceSizes[k % pieceSizes.length];
    take(chunker.push(data.subarray(p, p + size)));
    p += size;
  }
  take(chunker.finish());
  return ends;
}

/** Asserts both engines cut `data` identically for every piece pattern; returns the cuts. */
function assertEnginesAgree(pol: bigint, data: Uint8Array, patterns: number[][], label: string): number[] {
  const want = cutPoints('js', pol, data, [Math.max(1, data.length)]);
  for (const pattern of patterns) {
    assert.deepEqual(cutPoints('wasm', pol, data, pattern), want, `${label}: wasm, pieces ${pattern.join(',')}`);
    assert.deepEqual(cutPoints('js', pol, data, pattern), want, `${label}: js, pieces ${pattern.join(',')}`);
  }
  return want;
}

test('wasm and JS engines cut random data of many sizes identically, however it is pushed', () => {
  // Sizes around where hashing starts and cuts become allowed, and around the wasm module's
  // 4-lane blocks (16 KiB, lanes ≥ 256 bytes) and 256 KiB copy pieces.
  const sizes = [0, 1, 64, SKIPPED_BYTES, SKIPPED_BYTES + 1, SKIPPED_BYTES + 63, SKIPPED_BYTES + 1023, SKIPPED_BYTES + 1024, MIN_CHUNK_SIZE + 16 * KiB, MIN_CHUNK_SIZE + 256 * KiB + 5, 3 * MiB + 77];
  const patterns = [[1 * MiB], [4096], [65_536], [16_383, 16_385, 1, 255, 256, 257], [262_143, 262_145, 7], [SKIPPED_BYTES, 1, 63, 64, 65, 1000]];
  for (const size of sizes) {
    const data = pseudoRandom(`engines-${size}`, size);
    const cuts = assertEnginesAgree(polynomial, data, size > 2 * MiB ? patterns : patterns.slice(0, 3), `size ${size}`);
    if (size <= 3 * MiB) assert.deepEqual(cuts, referenceCutPoints(polynomial, data), `size ${size}: the definition`);
  }
});

test('wasm and JS engines agree on data with many mask cuts and an 8 MiB cut in a constant run', () => {
  const data = Buffer.concat([pseudoRandom('mixed-1', 5 * MiB), Buffer.alloc(MAX_CHUNK_SIZE + 100, 0xff), pseudoRandom('mixed-2', 2 * MiB)]);
  const cuts = assertEnginesAgree(polynomial, data, [[data.length], [100_003], [1 * MiB + 1]], 'mixed');
  const lengths = cuts.map((e, i) => e - (i ? cuts[i - 1] : 0));
  assert.ok(lengths.includes(MAX_CHUNK_SIZE), 'an 8 MiB chunk');
  assert.ok(lengths.filter((l) => l > MIN_CHUNK_SIZE && l < MAX_CHUNK_SIZE).length >= 3, 'mask cuts');
});

test('wasm and JS engines agree for polynomials of every degree the chunker accepts (8–56)', () => {
  for (const degree of [8, 9, 20, 21, 32, 33, 39, 40, 41, 53, 55, 56]) {
    // Any polynomial of that degree: cutting is defined by the arithmetic modulo P alone.
    const pol = (1n << BigInt(degree)) | (BigInt('0x' + createHash('sha256').update(`pol-${degree}`).digest('hex').slice(0, 16)) & ((1n << BigInt(degree)) - 1n)) | 1n;
    assert.equal(polynomialDegree(pol), degree);
    const data = pseudoRandom(`degree-${degree}`, 1 * MiB + 333);
    const cuts = assertEnginesAgree(pol, data, [[65_536]], `degree ${degree}`);
    if (degree % 8 === 0) assert.deepEqual(cuts, referenceCutPoints(pol, data), `degree ${degree}: the definition`);
  }
});

test('the two engines\' rolling states are interchangeable mid-stream (same window and digest)', () => {
  const t = chunkerTables(polynomial);
  const engines = [rollerFor(t), wasmRollerFor(t)];
  const data = pseudoRandom('interleaved', 600 * KiB);
  const windows = [new Uint8Array(64), new Uint8Array(64)];
  const states = [newRollingState(), newRollingState()];
  for (let i = 0; i < 2; i++) restartRolling(states[i], windows[i]);
  // Roll the same stream twice: once alternating engines piece by piece, once with JS alone (no
  // cut allowed: checkFrom past the end).
  const pieces = [1, 63, 64, 65, 16_384, 300, 70_000, 5, 262_145, 1000];
  let pos = 0;
  let k = 0;
  while (pos < data.length) {
    const end = Math.min(data.length, pos + pieces[k % pieces.length]);
    const mixed = engines[k % 2](data, pos, end, data.length, windows[0], states[0]);
    const plain = engines[0](data, pos, end, data.length, windows[1], states[1]);
    assert.equal(mixed, -1);
    assert.equal(plain, -1);
    const ordered = (w: Uint8Array, s: Int32Array) => Buffer.concat([w.subarray(s[2]), w.subarray(0, s[2])]);
    assert.deepEqual(ordered(windows[0], states[0]), ordered(windows[1], states[1]), `window after ${end}`);
    assert.deepEqual([states[0][0], states[0][1]], [states[1][0], states[1][1]], `digest after ${end}`);
    pos = end;
    k++;
  }
});

test('both engines give exactly restic\'s blob list for every regular file of the fixture', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cairn-chunker-engines-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;
  for (const snap of expected.snapshots) {
    const root = path.join(dir, snap.short_id);
    mkdirSync(root);
    execFileSync('tar', ['-xf', path.join(fixtureDir, snap.source_tar), '-C', root]);
    const listed: Record<string, { size: number; blobs: { id: string; offset: number; length: number }[] }> = expected.files_by_snapshot[snap.id];
    for (const [name, want] of Object.entries(listed)) {
      const data = readFileSync(path.join(root, name));
      for (const engine of ['wasm', 'js'] as const) {
        const ends = cutPoints(engine, polynomial, data, [131_071]);
        const blobs = ends.map((end, i) => {
          const offset = i ? ends[i - 1] : 0;
          return { id: createHash('sha256').update(data.subarray(offset, end)).digest('hex'), offset, length: end - offset };
        });
        assert.deepEqual(blobs, want.blobs, `${engine}: ${snap.short_id}${name}`);
      }
      files++;
    }
  }
  assert.ok(files >= 20, `checked ${files} files`);
});
