// Chunker polynomials: the config's hex form, restic's irreducibility test and its generator (§11.8).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatPolynomial,
  isIrreducible,
  parsePolynomial,
  polynomialDegree,
  polynomialMod,
  polynomialMultiply,
  randomPolynomial,
} from '../../../src/chunker/polynomial.js';
import { CairnError } from '../../../src/errors.js';
import { expected } from '../../helpers/fixture.js';

test('the polynomial of the fixture config parses, has degree 53 and formats back to the same text', () => {
  const p = parsePolynomial(expected.chunker.polynomial_hex);
  assert.equal(p, 0x2c2326e16dbe57n);
  assert.equal(polynomialDegree(p), expected.chunker.polynomial_degree);
  assert.equal(formatPolynomial(p), '2c2326e16dbe57');
  assert.equal(formatPolynomial(parsePolynomial('3DA3358B4DC173')), '3da3358b4dc173');
});

test('text that is not a hexadecimal uint64 is refused with a CairnError', () => {
  for (const bad of ['', '0x2c2326e16dbe57', '2c23 26', '-1', 'xyz', '1'.repeat(17)]) {
    assert.throws(() => parsePolynomial(bad), (e: unknown) => e instanceof CairnError && e.code === 'chunker.polynomial.invalid', bad);
  }
  assert.equal(parsePolynomial('ffffffffffffffff'), (1n << 64n) - 1n);
});

test('restic-made polynomials are irreducible', () => {
  assert.equal(isIrreducible(parsePolynomial(expected.chunker.polynomial_hex)), true);
  assert.equal(isIrreducible(0x3da3358b4dc173n), true); // restic/chunker's test polynomial
  assert.equal(isIrreducible(0b111n), true); // x² + x + 1
  assert.equal(isIrreducible(0b1011n), true); // x³ + x + 1
});

test('a product of two polynomials is not irreducible', () => {
  // Two irreducible factors of degrees 26 and 27: their product has degree 53 like a real one.
  let a = (1n << 26n) | 1n;
  while (!isIrreducible(a)) a += 2n;
  let b = (1n << 27n) | 1n;
  while (!isIrreducible(b)) b += 2n;
  const product = polynomialMultiply(a, b);
  assert.equal(polynomialDegree(product), 53);
  assert.equal(polynomialMod(product, a), 0n);
  assert.equal(isIrreducible(product), false);
  assert.equal(isIrreducible(polynomialMultiply(0x2c2326e16dbe57n, 0b11n)), false);
  assert.equal(isIrreducible(0x2c2326e16dbe56n), false); // divisible by x
  assert.equal(isIrreducible(0b101n), false); // x² + 1 = (x + 1)²
  assert.equal(isIrreducible(0n), false);
  assert.equal(isIrreducible(1n), false);
});

test('randomPolynomial() makes distinct irreducible polynomials of degree 53', () => {
  const seen = new Set<bigint>();
  for (let i = 0; i < 3; i++) {
    const p = randomPolynomial();
    assert.equal(polynomialDegree(p), 53);
    assert.equal(p & 1n, 1n);
    assert.equal(isIrreducible(p), true);
    assert.equal(parsePolynomial(formatPolynomial(p)), p);
    seen.add(p);
  }
  assert.equal(seen.size, 3);
});
