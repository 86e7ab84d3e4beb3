// Deterministic randomness for the bench data sets: an AES-256-CTR keystream keyed by a hash of the
// seed and a label. The keystream is both the incompressible file content (AES-NI makes it run at
// GiB/s) and the source of every choice (sizes, names, offsets), so a seed always gives the same tree.
import { createCipheriv, createHash, type Cipher } from 'node:crypto';

const zeros = Buffer.alloc(1 << 20);
const poolSize = 64 * 1024;

/** A seeded stream of random bytes and numbers; the same seed and label always give the same sequence. */
export class SeededRandom {
  private readonly cipher: Cipher;
  private pool = new Uint32Array(0);
  private pos = 0;

  constructor(seed: string, label: string) {
    const key = createHash('sha256').update(`cairn-bench\0${seed}\0${label}`).digest();
    this.cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  }

  /** A child stream for one sub-task, independent of how much this one has been used. */
  static derive(seed: string, ...labels: (string | number)[]): SeededRandom {
    return new SeededRandom(seed, labels.join('/'));
  }

  /** `n` fresh random bytes (a new buffer). */
  bytes(n: number): Buffer {
    if (n <= zeros.length) return this.cipher.update(zeros.subarray(0, n));
    const parts: Buffer[] = [];
    for (let left = n; left > 0; left -= zeros.length) parts.push(this.cipher.update(zeros.subarray(0, Math.min(left, zeros.length))));
    return Buffer.concat(parts, n);
  }

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
    if (this.pos >= this.pool.length) {
      let b = this.cipher.update(zeros.subarray(0, poolSize));
      if (b.byteOffset % 4 !== 0) b = Buffer.from(b); // a Uint32Array view needs 4-byte alignment
      this.pool = new Uint32Array(b.buffer, b.byteOffset, poolSize / 4);
      this.pos = 0;
    }
    return this.pool[this.pos++]!;
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.uint32() / 4294967296;
  }

  /** A uniform integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  /** An integer in [min, max] whose logarithm is uniform (many small values, a few large ones). */
  logInt(min: number, max: number): number {
    const lo = Math.log(Math.max(1, min));
    const hi = Math.log(Math.max(1, max));
    return Math.min(max, Math.max(min, Math.round(Math.exp(lo + this.float() * (hi - lo)))));
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)]!;
  }

  /** `k` distinct elements of `items` (all of them when k >= length), in random order. */
  sample<T>(items: readonly T[], k: number): T[] {
    const copy = items.slice();
    const n = Math.min(k, copy.length);
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(this.float() * (copy.length - i));
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy.slice(0, n);
  }

  /** `n` lowercase hex digits. */
  hex(n: number): string {
    return this.bytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
  }
}
