// The streaming chunker: cuts exactly where restic's definition says (§11.5/§11.6 of
// restic-format.md), whatever the sizes of the pieces it is fed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { Chunker, chunkStream, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, SKIPPED_BYTES } from '../../../src/chunker/chunker.js';
import { referenceCutPoints } from '../../../src/chunker/reference.js';
import { isIrreducible, parsePolynomial, polynomialDegree } from '../../../src/chunker/polynomial.js';
import { CairnError } from '../../../src/errors.js';

const polynomial = parsePolynomial('2c2326e16dbe57'); // the fixture repository's
const MiB = 1024 * 1024;

/** Deterministic pseudo-random bytes (AES-256-CTR keystream of `seed`), so failures reproduce. */
function pseudoRandom(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

/** End offsets of the chunks the streaming chunker makes when fed `data` in pieces of the given sizes (cycled). */
function cutPoints(pol: bigint, data: Buffer, pieceSizes: number[]): number[] {
  const chunker = new Chunker(pol);
  const cuts: number[] = [];
  let end = 0;
  const take = (chunks: Buffer[]) => {
    for (const c of chunks) {
      assert.deepEqual(c, data.subarray(end, end + c.length), 'chunk bytes are the input bytes');
      end += c.length;
      cuts.push(end);
    }
  };
  for (let p = 0, k = 0; p < data.length; k++) {
    const size = pieceSizes[k % pieceSizes.length];
    take(chunker.push(data.subarray(p, p + size)));
    p += size;
  }
  take(chunker.finish());
  return cuts;
}

/** A mapper from chunks to the offsets where they end. */
function endOffsets(): (c: Buffer) => number {
  let end = 0;
  return (c) => (end += c.length);
}

/** Data with every kind of cut: mask matches in random bytes and one 8 MiB cut in a constant run. */
function mixedData(): { data: Buffer; reference: number[] } {
  // 11.5 MiB: its chunks are 642,837 (mask) / 8 MiB (0xff never matches) / 1,143,259 and 1,196,379 (mask) / rest.
  const data = Buffer.concat([pseudoRandom('mixed-b', 1.5 * MiB), Buffer.alloc(8 * MiB, 0xff), pseudoRandom('mixed-end-b', 1.5 * MiB + 12_345)]);
  return { data, reference: referenceCutPoints(polynomial, data) };
}
let mixed: { data: Buffer; reference: number[] } | undefined;
const getMixed = () => (mixed ??= mixedData());

test('the test data contains mask cuts and a maximum-size cut', () => {
  const { reference } = getMixed();
  const lengths = reference.map((e, i) => e - (i === 0 ? 0 : reference[i - 1]));
  assert.ok(lengths.includes(MAX_CHUNK_SIZE), `an 8 MiB chunk among ${lengths}`);
  assert.ok(lengths.filter((l) => l > MIN_CHUNK_SIZE && l < MAX_CHUNK_SIZE).length >= 3, `mask cuts among ${lengths}`);
});

test('cuts are the same whatever the sizes of the pushed pieces', () => {
  const { data, reference } = getMixed();
  assert.deepEqual(cutPoints(polynomial, data, [data.length]), reference, 'one push');
  assert.deepEqual(cutPoints(polynomial, data, [3 * MiB]), reference, '3 MiB pieces');
  assert.deepEqual(cutPoints(polynomial, data, [4096]), reference, '4 KiB pieces');
  assert.deepEqual(cutPoints(polynomial, data, [1, 63, 64, 65, 7, 1000, 524_223, 2, 1_048_577, 99_991]), reference, 'odd pieces');
});

test('cuts are the same when the data arrives one byte at a time', () => {
  // 1-byte pushes wherever something happens: hashing starts (512 KiB − 64), cuts become allowed
  // (512 KiB), the first mask cut, the 8 MiB cut and the end of the data; big pieces in between.
  const { data, reference } = getMixed();
  const maxCutEnd = reference.find((e, i) => e - (i ? reference[i - 1] : 0) === MAX_CHUNK_SIZE)!;
  const sched: number[] = [];
  let at = 0;
  const piece = (to: number) => { sched.push(to - at); at = to; };
  const bytes = (to: number) => { while (at < to) { sched.push(1); at++; } };
  piece(SKIPPED_BYTES - 100);
  bytes(MIN_CHUNK_SIZE + 100);
  piece(reference[0] - 1000);
  bytes(reference[0] + 1000);
  piece(maxCutEnd - 1000);
  bytes(maxCutEnd + 1000);
  piece(data.length - 1000);
  bytes(data.length);
  assert.deepEqual(cutPoints(polynomial, data, sched), reference);
});

test('the fast chunker cuts where the stateless definition says, on random inputs of many sizes', () => {
  const sizes = [0, 1, 63, 64, 65, 524_223, 524_224, 524_225, 524_287, 524_288, 524_289, 600_000, 2 * MiB + 3];
  for (const size of sizes) {
    const data = pseudoRandom(`sizes-${size}`, size);
    assert.deepEqual(cutPoints(polynomial, data, [size || 1]), referenceCutPoints(polynomial, data), `size ${size}`);
  }
});

test('a chunk ends at a mask match exactly at the minimum size, the earliest place allowed', () => {
  // Drop the front of some data so that its first match lies exactly 512 KiB in.
  const data = pseudoRandom('early', 2 * MiB);
  const firstCut = referenceCutPoints(polynomial, data)[0];
  assert.ok(firstCut > MIN_CHUNK_SIZE && firstCut < data.length);
  const shifted = data.subarray(firstCut - MIN_CHUNK_SIZE);
  const reference = referenceCutPoints(polynomial, shifted);
  assert.equal(reference[0], MIN_CHUNK_SIZE);
  assert.deepEqual(cutPoints(polynomial, shifted, [4096]), reference);
});

test('a polynomial of degree below 40 (its top byte straddles the 32-bit halves) cuts as defined', () => {
  let pol = (1n << 35n) | 1n;
  while (!isIrreducible(pol)) pol += 2n;
  assert.equal(polynomialDegree(pol), 35);
  const data = pseudoRandom('low-degree', 2 * MiB);
  const reference = referenceCutPoints(pol, data);
  assert.ok(reference.length >= 2);
  assert.deepEqual(cutPoints(pol, data, [1_000_003]), reference);
});

test('chunkers of two repositories (two polynomials) used side by side each cut as defined', () => {
  // The first polynomial a process uses gets a specialised loop, later ones the generic loop.
  const other = parsePolynomial('3da3358b4dc173'); // restic/chunker's test polynomial
  const data = pseudoRandom('two-repos', 2 * MiB);
  const a = new Chunker(polynomial);
  const b = new Chunker(other);
  const endsA: number[] = [];
  const endsB: number[] = [];
  const toEndA = endOffsets();
  const toEndB = endOffsets();
  for (let p = 0; p < data.length; p += 100_000) {
    const piece = data.subarray(p, p + 100_000);
    endsA.push(...a.push(piece).map(toEndA));
    endsB.push(...b.push(piece).map(toEndB));
  }
  endsA.push(...a.finish().map(toEndA));
  endsB.push(...b.finish().map(toEndB));
  assert.deepEqual(endsA, referenceCutPoints(polynomial, data));
  assert.deepEqual(endsB, referenceCutPoints(other, data));
  assert.notDeepEqual(endsA, endsB);
});

test('finish() ends a file and the next file starts a fresh chunk', () => {
  const a = pseudoRandom('file-a', 2 * MiB);
  const b = pseudoRandom('file-b', 100_000);
  const chunker = new Chunker(polynomial);
  const chunksA = [...chunker.push(a), ...chunker.finish()];
  const chunksB = [...chunker.push(b), ...chunker.finish()];
  assert.deepEqual(Buffer.concat(chunksA), a);
  assert.deepEqual(chunksB, [b]);
  assert.deepEqual(chunker.finish(), [], 'nothing left after finish');
});

test('reset() drops a half-read file', () => {
  const chunker = new Chunker(polynomial);
  chunker.push(pseudoRandom('dropped', 300_000));
  chunker.reset();
  const b = pseudoRandom('kept', 1000);
  assert.deepEqual([...chunker.push(b), ...chunker.finish()], [b]);
});

test('chunks are copies: the caller may overwrite its read buffer after push()', () => {
  const data = pseudoRandom('reuse', 3 * MiB);
  const chunker = new Chunker(polynomial);
  const buf = Buffer.alloc(64 * 1024);
  const chunks: Buffer[] = [];
  for (let p = 0; p < data.length; p += buf.length) {
    const n = data.copy(buf, 0, p, p + buf.length);
    chunks.push(...chunker.push(buf.subarray(0, n)));
    buf.fill(0xaa);
  }
  chunks.push(...chunker.finish());
  assert.deepEqual(Buffer.concat(chunks), data);
  assert.ok(chunks.length >= 2);
  assert.deepEqual(chunks.map(endOffsets()), cutPoints(polynomial, data, [data.length]));
});

test('chunkStream cuts a stream of unknown length', async () => {
  const data = pseudoRandom('stream', 3 * MiB);
  const pieces = function* () {
    for (let p = 0; p < data.length; p += 10_007) yield data.subarray(p, p + 10_007);
  };
  const chunks: Buffer[] = [];
  for await (const c of chunkStream(polynomial, Readable.from(pieces()))) chunks.push(c);
  assert.deepEqual(Buffer.concat(chunks), data);
  assert.deepEqual(chunks.map(endOffsets()), cutPoints(polynomial, data, [data.length]));
});

test('all-zero data is cut every 512 KiB into the all-zero chunk, for any polynomial (§18)', () => {
  const zeroChunkId = '07854d2fef297a06ba81685e660c332de36d5d18d546927d30daad6d7fda1541';
  for (const pol of [polynomial, parsePolynomial('3DA3358B4DC173')]) {
    const chunker = new Chunker(pol);
    const chunks = [...chunker.push(Buffer.alloc(4 * MIN_CHUNK_SIZE)), ...chunker.finish()];
    assert.equal(chunks.length, 4);
    for (const c of chunks) assert.equal(createHash('sha256').update(c).digest('hex'), zeroChunkId);
  }
});

test('a polynomial whose degree the chunker cannot roll with is refused with a CairnError', () => {
  assert.throws(() => new Chunker(0x1dn), (e: unknown) => e instanceof CairnError && e.code === 'chunker.polynomial.degree');
  assert.throws(() => new Chunker(1n << 60n), CairnError);
});
