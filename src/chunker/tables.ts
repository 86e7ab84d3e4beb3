// The rolling-hash tables of restic's chunker (restic-format.md §11.3), split into 32-bit halves so
// the hot loop never needs BigInt (§11.7). Built once per polynomial and cached.
import { CairnError } from '../errors.js';
import { polynomialDegree, polynomialMod, formatPolynomial } from './polynomial.js';

/** Bytes in the rolling window. */
export const WINDOW_SIZE = 64;

/** Degrees the chunker can roll with: restic makes 53; above 56 restic's own 64-bit arithmetic overflows. */
export const MIN_DEGREE = 8;
export const MAX_DEGREE = 56;

/** OUT and MOD tables of one polynomial, each as high (bits 32–63) and low (bits 0–31) halves. */
export interface ChunkerTables {
  readonly polynomial: bigint;
  readonly degree: number;
  readonly outHi: Uint32Array;
  readonly outLo: Uint32Array;
  readonly modHi: Uint32Array;
  readonly modLo: Uint32Array;
  /** The same four tables for the hot loop, as int32 in one array: outHi, outLo, modHi, modLo at 0/256/512/768. */
  readonly packed: Int32Array;
}

const cache = new Map<bigint, ChunkerTables>();

/** The OUT/MOD tables for `polynomial` (cached; throws a CairnError for unusable degrees). */
export function chunkerTables(polynomial: bigint): ChunkerTables {
  const hit = cache.get(polynomial);
  if (hit) return hit;
  const tables = buildTables(polynomial);
  cache.set(polynomial, tables);
  return tables;
}

function buildTables(pol: bigint): ChunkerTables {
  const k = polynomialDegree(pol);
  if (k < MIN_DEGREE || k > MAX_DEGREE) {
    throw new CairnError(
      'chunker.polynomial.degree',
      `chunker polynomial ${pol >= 0n ? formatPolynomial(pol) : String(pol)} has degree ${k}; cairn chunks with degrees ${MIN_DEGREE}–${MAX_DEGREE} only`,
      'check "chunker_polynomial" in the repository config; restic always makes polynomials of degree 53',
    );
  }
  const outHi = new Uint32Array(256);
  const outLo = new Uint32Array(256);
  const modHi = new Uint32Array(256);
  const modLo = new Uint32Array(256);
  const kb = BigInt(k);
  for (let b = 0; b < 256; b++) {
    // OUT[b]: fingerprint of b followed by 63 zero bytes.
    let h = polynomialMod(BigInt(b), pol);
    for (let i = 0; i < WINDOW_SIZE - 1; i++) h = polynomialMod(h << 8n, pol);
    // MOD[b]: reduction of b·x^k, plus b·x^k itself to cancel the bits that overflowed above k−1.
    const m = polynomialMod(BigInt(b) << kb, pol) | (BigInt(b) << kb);
    outHi[b] = Number(h >> 32n);
    outLo[b] = Number(h & 0xffffffffn);
    modHi[b] = Number(m >> 32n);
    modLo[b] = Number(m & 0xffffffffn);
  }
  const packed = new Int32Array(1024);
  [outHi, outLo, modHi, modLo].forEach((table, i) => packed.set(new Int32Array(table.buffer), i * 256));
  return { polynomial: pol, degree: k, outHi, outLo, modHi, modLo, packed };
}
