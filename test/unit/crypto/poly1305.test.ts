// The WebAssembly Poly1305 that MACs every stored byte: RFC 8439's vectors, agreement with
// @noble/ciphers' pure-JS Poly1305 (the reference) on random keys and messages of every shape, and
// the committed module being exactly what the build compiles from poly1305.wat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { poly1305 } from '@noble/ciphers/_poly1305.js';
import { POLY1305_PIECE, poly1305Wasm } from '../../../src/crypto/wasm/poly1305.js';
// @ts-expect-error: a plain ES module without type declarations
import { compileWat, moduleText, WASM_MODULES } from '../../../scripts/build-wasm.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const hex = (s: string) => Buffer.from(s.replace(/[\s:]/g, ''), 'hex');
const tagHex = (msg: Uint8Array, key: Uint8Array) => Buffer.from(poly1305Wasm(msg, key)).toString('hex');

/** Deterministic pseudo-random bytes (AES-256-CTR keystream of `seed`), so failures reproduce. */
function pseudoRandom(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

test('RFC 8439 §2.5.2: the tag of "Cryptographic Forum Research Group"', () => {
  const key = hex('85:d6:be:78:57:55:6d:33:7f:44:52:fe:42:d5:06:a8:01:03:80:8a:fb:0d:b2:fd:4a:bf:f6:af:41:49:f5:1b');
  const msg = Buffer.from('Cryptographic Forum Research Group');
  assert.equal(tagHex(msg, key), 'a8061dc1305136c6c22b8baf0c0127a9');
});

test('RFC 8439 appendix A.3: the vectors that hit the edges of the final reduction', () => {
  const r1 = '01' + '00'.repeat(15);
  const r2 = '02' + '00'.repeat(15);
  const zero = '00'.repeat(16);
  const ff = 'ff'.repeat(16);
  const r4 = '0100000000000000' + '0400000000000000';
  const long = 'e33594d7505e43b9' + '0000000000000000' + '3394d7505e4379cd' + '0100000000000000' + zero + '0100000000000000' + '0000000000000000';
  const vectors: [key: string, msg: string, tag: string][] = [
    [r2 + zero, ff, '03' + '00'.repeat(15)],
    [r2 + ff, '02' + '00'.repeat(15), '03' + '00'.repeat(15)],
    [r1 + zero, ff + 'f0' + 'ff'.repeat(15) + '11' + '00'.repeat(15), '05' + '00'.repeat(15)],
    [r1 + zero, ff + 'fb' + 'fe'.repeat(15) + '01'.repeat(16), zero],
    [r2 + zero, 'fd' + 'ff'.repeat(15), 'fa' + 'ff'.repeat(15)],
    [r4 + zero, long, '1400000000000000' + '5500000000000000'],
    [r4 + zero, long.slice(0, 96), '13' + '00'.repeat(15)],
  ];
  for (const [key, msg, tag] of vectors) {
    assert.equal(tagHex(hex(msg), hex(key)), tag, `key ${key} msg ${msg}`);
    assert.equal(Buffer.from(poly1305(hex(msg), hex(key))).toString('hex'), tag, 'the reference agrees');
  }
});

test('equals the reference Poly1305 on random keys and messages of every length class', () => {
  const lengths = [0, 1, 2, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 100, 255, 256, 1000, 4095, 4096, 4097, 65_536 + 7, 1024 * 1024 + 3];
  let seed = 0;
  for (const n of lengths) {
    for (let k = 0; k < 4; k++) {
      const key = pseudoRandom(`key-${seed}`, 32);
      const msg = pseudoRandom(`msg-${seed++}`, n);
      assert.equal(tagHex(msg, key), Buffer.from(poly1305(msg, key)).toString('hex'), `length ${n}, try ${k}`);
    }
  }
});

test('equals the reference on extreme keys and messages (all ones: largest limbs and carries)', () => {
  const keys = [Buffer.alloc(32, 0xff), Buffer.concat([Buffer.alloc(16, 0xff), Buffer.alloc(16)]), Buffer.concat([Buffer.alloc(16), Buffer.alloc(16, 0xff)]), Buffer.alloc(32)];
  for (const key of keys) {
    for (const n of [0, 1, 16, 17, 32, 33, 48, 1000, 100_003]) {
      for (const fill of [0x00, 0xff]) {
        const msg = Buffer.alloc(n, fill);
        assert.equal(tagHex(msg, key), Buffer.from(poly1305(msg, key)).toString('hex'), `key ${key.toString('hex')}, ${n} × ${fill}`);
      }
    }
  }
});

test('messages spanning several pieces of wasm memory get the same tag as the reference', () => {
  const key = pseudoRandom('long-key', 32);
  for (const n of [POLY1305_PIECE - 1, POLY1305_PIECE, POLY1305_PIECE + 1, 3 * POLY1305_PIECE, 3 * POLY1305_PIECE + 35, 8 * 1024 * 1024 + 16]) {
    const msg = pseudoRandom(`long-msg-${n}`, n);
    assert.equal(tagHex(msg, key), Buffer.from(poly1305(msg, key)).toString('hex'), `${n} bytes`);
  }
});

test('the tag depends on where a message lies in its buffer only through its bytes (subarrays work)', () => {
  const key = pseudoRandom('sub-key', 32);
  const big = pseudoRandom('sub-msg', 10_000);
  const part = big.subarray(13, 13 + 4_567);
  assert.equal(tagHex(part, key), tagHex(Buffer.from(part), key));
  assert.equal(tagHex(part, key), Buffer.from(poly1305(part, key)).toString('hex'));
});

test('a key that is not 32 bytes is refused', () => {
  assert.throws(() => poly1305Wasm(Buffer.alloc(10), Buffer.alloc(16)), RangeError);
});

test('the committed wasm modules (Poly1305 and the chunker\'s) are what scripts/build-wasm.mjs compiles from their .wat', async () => {
  const wabt = await (await import('wabt')).default();
  for (const m of WASM_MODULES as { source: string; output: string; name: string }[]) {
    const bytes = await compileWat(wabt, m.source);
    assert.equal(readFileSync(path.join(root, m.output), 'utf8'), moduleText(m.source, m.name, bytes), `${m.output} is stale: run node scripts/build-wasm.mjs`);
  }
});
