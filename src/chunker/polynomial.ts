// Polynomials over GF(2) as restic's chunker uses them (restic-format.md §11.2, §11.8):
// bit i of a bigint is the coefficient of x^i. BigInt is fine here: these run once per repository.
import { randomBytes } from 'node:crypto';
import { CairnError } from '../errors.js';

const UINT64_MAX = (1n << 64n) - 1n;

/** Index of the highest set bit of `p` (its degree); -1 for the zero polynomial, like restic. */
export function polynomialDegree(p: bigint): number {
  if (p <= 0n) return -1;
  // Plain numbers below 2^53 (the chunker's tables call this ~100,000 times); bigger values shed 52 bits at a time.
  let shift = 0;
  while (p > 0x1fffffffffffffn) {
    p >>= 52n;
    shift += 52;
  }
  const n = Number(p);
  const hi = Math.floor(n / 0x100000000);
  return shift + (hi !== 0 ? 63 - Math.clz32(hi) : 31 - Math.clz32(n >>> 0));
}

/** `a mod p` over GF(2) (p ≠ 0). */
export function polynomialMod(a: bigint, p: bigint): bigint {
  const dp = polynomialDegree(p);
  if (dp < 0) throw new RangeError('polynomial modulo zero');
  if (a >= 0n && a <= UINT64_MAX) return mod64(a, p, dp);
  let da = polynomialDegree(a);
  while (da >= dp) {
    a ^= p << BigInt(da - dp);
    da = polynomialDegree(a);
  }
  return a;
}

/** Degree of the 64-bit value hi·2^32 + lo (both uint32); -1 for zero. */
function degree64(hi: number, lo: number): number {
  if (hi !== 0) return 63 - Math.clz32(hi);
  return lo !== 0 ? 31 - Math.clz32(lo) : -1;
}

/** polynomialMod for a < 2^64 on 32-bit halves: the chunker's tables need ~16,000 of these. */
function mod64(a: bigint, p: bigint, dp: number): bigint {
  let aHi = Number(a >> 32n);
  let aLo = Number(a & 0xffffffffn);
  let da = degree64(aHi, aLo);
  if (da < dp) return a;
  // here p's degree is below 64 as well
  const pHi = Number(p >> 32n);
  const pLo = Number(p & 0xffffffffn);
  while (da >= dp) {
    const s = da - dp; // p·x^s stays within 64 bits, as its degree is da ≤ 63
    if (s === 0) {
      aHi ^= pHi;
      aLo ^= pLo;
    } else if (s < 32) {
      aHi ^= (pHi << s) | (pLo >>> (32 - s));
      aLo ^= pLo << s;
    } else {
      aHi ^= pLo << (s - 32); // pHi is 0: dp ≤ 63 − s < 32
    }
    aHi >>>= 0;
    aLo >>>= 0;
    da = degree64(aHi, aLo);
  }
  return (BigInt(aHi) << 32n) | BigInt(aLo);
}

/** Carry-less product `a · b` over GF(2). */
export function polynomialMultiply(a: bigint, b: bigint): bigint {
  let res = 0n;
  for (let i = 0n; b >> i !== 0n; i++) {
    if ((b >> i) & 1n) res ^= a << i;
  }
  return res;
}

/** `a · b mod m` over GF(2). */
function mulMod(a: bigint, b: bigint, m: bigint): bigint {
  return polynomialMod(polynomialMultiply(a, b), m);
}

/** Greatest common divisor over GF(2) by Euclid's algorithm (restic's Pol.GCD). */
function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) {
    if (polynomialDegree(a) < polynomialDegree(b)) [a, b] = [b, a];
    [a, b] = [b, polynomialMod(a, b)];
  }
  return a;
}

/**
 * Ben-Or's irreducibility test as restic implements it: f of degree d is irreducible iff
 * gcd(f, (x^(2^i) − x) mod f) = 1 for every i = 1 … ⌊d/2⌋. restic squares x i times afresh for
 * each i; here x^(2^i) mod f is carried from one i to the next (one squaring each), same values.
 */
export function isIrreducible(p: bigint): boolean {
  if (p < 0n || p > UINT64_MAX) return false;
  const d = polynomialDegree(p);
  // restic's loop runs zero times for degree ≤ 1 and answers true; constants are no polynomials a
  // chunker can use, so refuse those (degree 1 — x and x+1 — is irreducible anyway).
  if (d < 1) return false;
  let power = 2n; // x^(2^0) = x
  for (let i = 1; i <= d >> 1; i++) {
    power = mulMod(power, power, p); // x^(2^i) mod f
    if (gcd(p, polynomialMod(power ^ 2n, p)) !== 1n) return false;
  }
  return true;
}

/**
 * A new random irreducible polynomial of degree 53, made the way `restic init` makes one:
 * 8 CSPRNG bytes as a little-endian uint64, masked to 54 bits, bits 53 and 0 set, until irreducible.
 */
export function randomPolynomial(): bigint {
  for (let tries = 0; tries < 1_000_000; tries++) {
    let f = randomBytes(8).readBigUInt64LE(0);
    f &= (1n << 54n) - 1n;
    f |= (1n << 53n) | 1n;
    if (isIrreducible(f)) return f;
  }
  // About 1 in 13 candidates is irreducible: reaching this means the random source is broken.
  throw new CairnError(
    'chunker.polynomial.random',
    'could not find an irreducible chunker polynomial in 1,000,000 random tries',
    "check the system's random number source (/dev/urandom) and try again",
  );
}

/**
 * Parses a chunker polynomial as stored in the repository config (`chunker_polynomial`): hexadecimal
 * digits of a uint64, no `0x` prefix — what Go's strconv.ParseUint(s, 16, 64) accepts.
 */
export function parsePolynomial(hex: string): bigint {
  if (!/^[0-9a-fA-F]{1,16}$/.test(hex)) {
    throw new CairnError(
      'chunker.polynomial.invalid',
      `chunker polynomial ${JSON.stringify(hex)} is not a hexadecimal 64-bit number`,
      'check "chunker_polynomial" in the repository config; restic writes it as lowercase hex, e.g. "2c2326e16dbe57"',
    );
  }
  return BigInt('0x' + hex);
}

/** The polynomial as the config file stores it: lowercase hex, no `0x`, no leading zeros. */
export function formatPolynomial(p: bigint): string {
  if (p < 0n || p > UINT64_MAX) throw new RangeError(`polynomial ${p} is not a uint64`);
  return p.toString(16);
}
