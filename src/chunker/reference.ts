// A slow, stateless statement of where restic cuts (restic-format.md §11.6), kept apart from the
// rolling tables so tests can check the fast chunker against the definition itself.
import { polynomialMod } from './polynomial.js';
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from './chunker.js';
import { SPLIT_MASK } from './rolling.js';
import { WINDOW_SIZE } from './tables.js';

/**
 * The end offsets of restic's chunks of `data` (the last one is data.length; none for empty data):
 * a chunk starting at s ends at the smallest e with e − s ≥ 512 KiB such that e − s = 8 MiB or
 * FP(data[e−64 .. e)) & 0xFFFFF = 0, else at the end of the data. Slow; for tests.
 */
export function referenceCutPoints(polynomial: bigint, data: Uint8Array): number[] {
  // FP(window) = Σ b_j · x^(8·(63−j)) mod P is linear in the bytes, so its low 20 bits are the XOR of
  // the low 20 bits of (b_j · x^(8·(63−j)) mod P): one table per window position j, made with BigInt
  // from x^n mod P for every bit position n of the window (x^(n+1) = x·x^n mod P).
  const bits = 8 * WINDOW_SIZE;
  const powers: bigint[] = [polynomialMod(1n, polynomial)];
  for (let n = 1; n < bits; n++) powers.push(polynomialMod(powers[n - 1] << 1n, polynomial));
  const low = new Int32Array(WINDOW_SIZE * 256);
  for (let j = 0; j < WINDOW_SIZE; j++) {
    const base = 8 * (WINDOW_SIZE - 1 - j); // bit k of byte j is the coefficient of x^(base+k)
    for (let b = 0; b < 256; b++) {
      let fp = 0n;
      for (let k = 0; k < 8; k++) if ((b >> k) & 1) fp ^= powers[base + k];
      low[j * 256 + b] = Number(fp & BigInt(SPLIT_MASK));
    }
  }
  const lowFingerprint = (end: number): number => {
    let f = 0;
    for (let j = 0, p = end - WINDOW_SIZE; j < WINDOW_SIZE; j++, p++) f ^= low[(j << 8) | data[p]];
    return f;
  };

  const cuts: number[] = [];
  let s = 0;
  while (s < data.length) {
    let e = -1;
    for (let cand = s + MIN_CHUNK_SIZE; cand <= data.length; cand++) {
      if (cand - s === MAX_CHUNK_SIZE || lowFingerprint(cand) === 0) {
        e = cand;
        break;
      }
    }
    if (e < 0) e = data.length;
    cuts.push(e);
    s = e;
  }
  return cuts;
}
