// The fast paths of the polynomial arithmetic (degree on plain numbers, mod on 32-bit halves)
// must agree with the plain BigInt definitions for every size of operand.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { polynomialDegree, polynomialMod } from '../../../src/chunker/polynomial.js';

const degreeRef = (p: bigint): number => (p <= 0n ? -1 : p.toString(2).length - 1);
function modRef(a: bigint, p: bigint): bigint {
  const dp = degreeRef(p);
  for (let da = degreeRef(a); da >= dp; da = degreeRef(a)) a ^= p << BigInt(da - dp);
  return a;
}

/** A deterministic random bigint of exactly `bits` bits or fewer. */
function randomBits(next: () => bigint, bits: number): bigint {
  let v = 0n;
  for (let b = 0; b < bits; b += 64) v = (v << 64n) | next();
  return v >> BigInt(Math.ceil(bits / 64) * 64 - bits);
}

test('polynomialDegree and polynomialMod agree with the plain BigInt definitions', () => {
  let x = 88172645463325252n;
  const next = () => {
    x ^= (x << 13n) & 0xffffffffffffffffn;
    x ^= x >> 7n;
    x ^= (x << 17n) & 0xffffffffffffffffn;
    return x;
  };
  for (const p of [0n, 1n, 2n, 3n, (1n << 32n) - 1n, 1n << 32n, (1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, (1n << 64n) - 1n, 1n << 64n, 1n << 120n]) assert.equal(polynomialDegree(p), degreeRef(p), String(p));
  for (let i = 0; i < 20_000; i++) {
    const a = randomBits(next, i % 130);
    const p = randomBits(next, 1 + (i % 64)) | 1n;
    assert.equal(polynomialDegree(a), degreeRef(a));
    assert.equal(polynomialMod(a, p), modRef(a, p), `${a} mod ${p}`);
  }
});
