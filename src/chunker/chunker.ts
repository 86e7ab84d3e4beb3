// restic's content-defined chunker (restic-format.md §11.5, §11.7), streaming: fed pieces of any
// size, it cuts exactly where restic cuts and holds at most one unfinished chunk (≤ 8 MiB).
import { chunkerTables, WINDOW_SIZE } from './tables.js';

/** Smallest chunk restic cuts (except a file's last chunk). */
export const MIN_CHUNK_SIZE = 512 * 1024;
/** Largest chunk restic cuts. */
export const MAX_CHUNK_SIZE = 8 * 1024 * 1024;
/** A cut is allowed where the fingerprint's low 20 bits are zero. */
export const SPLIT_MASK = 0xfffff;
/** Bytes at the start of each chunk that restic adds without hashing. */
export const SKIPPED_BYTES = MIN_CHUNK_SIZE - WINDOW_SIZE;

const INITIAL_PENDING = 64 * 1024;

/**
 * Streaming restic chunker. Feed a file with `push()` in pieces of any size, end it with
 * `finish()`; each returns the chunks it completed, as new Buffers the caller owns (copies, so the
 * caller may reuse its input buffers). A chunker holds at most one unfinished chunk. Call `finish()`
 * (or `reset()` to drop a half-read file) at every file boundary: files never share chunks.
 */
export class Chunker {
  /** The polynomial this chunker rolls with. */
  readonly polynomial: bigint;
  // Tables viewed as Int32Array: V8 keeps the loop in int32 registers (no uint32→double detours).
  private readonly outHi: Int32Array;
  private readonly outLo: Int32Array;
  private readonly modHi: Int32Array;
  private readonly modLo: Int32Array;
  private readonly degree: number;
  // Bytes of the current chunk that arrived in earlier pushes.
  private pending: Buffer = Buffer.alloc(0);
  private pendingLength = 0;
  // Bytes of the current chunk so far (pending plus what the running push has passed).
  private count = 0;
  // Rolling hash: the last 64 hashed bytes and the 53-bit digest as 32-bit halves.
  private readonly window = new Uint8Array(WINDOW_SIZE);
  private wpos = 0;
  // [hi, lo] in an Int32Array: object fields would flip between small-integer and double storage.
  private readonly state = new Int32Array(2);

  /** A chunker for `polynomial` (a CairnError if its degree is unusable, see tables.ts). */
  constructor(polynomial: bigint) {
    const t = chunkerTables(polynomial);
    this.polynomial = polynomial;
    this.degree = t.degree;
    this.outHi = new Int32Array(t.outHi.buffer, t.outHi.byteOffset, 256);
    this.outLo = new Int32Array(t.outLo.buffer, t.outLo.byteOffset, 256);
    this.modHi = new Int32Array(t.modHi.buffer, t.modHi.byteOffset, 256);
    this.modLo = new Int32Array(t.modLo.buffer, t.modLo.byteOffset, 256);
  }

  /** Feeds the next bytes of the current file; returns the chunks they complete (often none). */
  push(data: Uint8Array): Buffer[] {
    const chunks: Buffer[] = [];
    const n = data.length;
    let pos = 0; // next byte of `data` to look at
    let segStart = 0; // first byte of `data` that belongs to the current chunk
    let count = this.count;
    while (pos < n) {
      if (count < SKIPPED_BYTES) {
        // The start of a chunk is taken without hashing.
        const step = Math.min(n - pos, SKIPPED_BYTES - count);
        pos += step;
        count += step;
        if (count === SKIPPED_BYTES) this.startHashing();
        continue;
      }
      const limit = Math.min(n, pos + (MAX_CHUNK_SIZE - count));
      // A cut after data[i] needs count ≥ MIN after that byte, i.e. i ≥ checkFrom.
      const checkFrom = pos + (MIN_CHUNK_SIZE - count) - 1;
      const cut = this.degree >= 40 ? this.roll(data, pos, limit, checkFrom) : this.rollLowDegree(data, pos, limit, checkFrom);
      const end = cut >= 0 ? cut : limit;
      count += end - pos;
      pos = end;
      if (cut >= 0 || count === MAX_CHUNK_SIZE) {
        chunks.push(this.takeChunk(data, segStart, pos));
        segStart = pos;
        count = 0;
      }
    }
    this.keep(data, segStart, n);
    this.count = count;
    return chunks;
  }

  /** Ends the current file: returns its last chunk (none for an empty file) and resets. */
  finish(): Buffer[] {
    const chunks: Buffer[] = [];
    if (this.count > 0) chunks.push(this.takeChunk(new Uint8Array(0), 0, 0));
    this.reset();
    return chunks;
  }

  /** Drops any unfinished chunk; the next push starts a new file. */
  reset(): void {
    this.pendingLength = 0;
    this.count = 0;
  }

  /** restic's state after reset: an all-zero window into which one byte `1` has slid. */
  private startHashing(): void {
    this.window.fill(0);
    this.window[0] = 1;
    this.wpos = 1;
    this.state[0] = 0;
    this.state[1] = 1;
  }

  /**
   * Rolls data[from..to) into the hash (degree ≥ 40: the top byte lies in `hi`). Returns the index
   * just after the first byte at or past `checkFrom` where the split mask matches, or -1.
   */
  private roll(data: Uint8Array, from: number, to: number, checkFrom: number): number {
    const outHi = this.outHi, outLo = this.outLo, modHi = this.modHi, modLo = this.modLo;
    const win = this.window, state = this.state;
    const shift = this.degree - 40;
    let wpos = this.wpos, hi = state[0], lo = state[1];
    let cut = -1;
    let i = from;
    // The first 64 bytes push out bytes of earlier pushes, kept in the window.
    const head = Math.min(to, from + WINDOW_SIZE);
    for (; i < head; i++) {
      const b = data[i];
      const o = win[wpos];
      win[wpos] = b;
      wpos = (wpos + 1) & 63;
      hi ^= outHi[o];
      lo ^= outLo[o];
      const idx = (hi >>> shift) & 0xff;
      hi = (hi << 8) | (lo >>> 24);
      lo = (lo << 8) | b;
      hi ^= modHi[idx];
      lo ^= modLo[idx];
      if ((lo & SPLIT_MASK) === 0 && i >= checkFrom) {
        cut = i + 1;
        break;
      }
    }
    if (cut < 0 && i < to) {
      // The hot loop: the byte leaving the window is data[i − 64], no window bookkeeping.
      for (; i < to; i++) {
        const o = data[i - WINDOW_SIZE];
        hi ^= outHi[o];
        lo ^= outLo[o];
        const idx = (hi >>> shift) & 0xff;
        hi = (hi << 8) | (lo >>> 24);
        lo = (lo << 8) | data[i];
        hi ^= modHi[idx];
        lo ^= modLo[idx];
        if ((lo & SPLIT_MASK) === 0 && i >= checkFrom) {
          cut = i + 1;
          break;
        }
      }
      if (cut < 0) {
        win.set(data.subarray(to - WINDOW_SIZE, to), 0);
        wpos = 0;
      }
    }
    this.wpos = wpos;
    state[0] = hi;
    state[1] = lo;
    return cut;
  }

  /** `roll` for degrees below 40, where the top byte of the digest straddles `hi` and `lo`. */
  private rollLowDegree(data: Uint8Array, from: number, to: number, checkFrom: number): number {
    const outHi = this.outHi, outLo = this.outLo, modHi = this.modHi, modLo = this.modLo;
    const win = this.window;
    // Shifts are taken mod 32 in JS: for degree ≤ 32, hi is 0 and `hi << 32` (= hi) is harmless.
    const up = 40 - this.degree;
    const down = this.degree - 8;
    const state = this.state;
    let wpos = this.wpos, hi = state[0], lo = state[1];
    let cut = -1;
    for (let i = from; i < to; i++) {
      const b = data[i];
      const o = win[wpos];
      win[wpos] = b;
      wpos = (wpos + 1) & 63;
      hi ^= outHi[o];
      lo ^= outLo[o];
      const idx = ((hi << up) | (lo >>> down)) & 0xff;
      hi = (hi << 8) | (lo >>> 24);
      lo = (lo << 8) | b;
      hi ^= modHi[idx];
      lo ^= modLo[idx];
      if ((lo & SPLIT_MASK) === 0 && i >= checkFrom) {
        cut = i + 1;
        break;
      }
    }
    this.wpos = wpos;
    state[0] = hi;
    state[1] = lo;
    return cut;
  }

  /** The current chunk: pending bytes followed by data[from..to), as one new Buffer. */
  private takeChunk(data: Uint8Array, from: number, to: number): Buffer {
    const chunk = Buffer.allocUnsafe(this.pendingLength + (to - from));
    if (this.pendingLength > 0) chunk.set(this.pending.subarray(0, this.pendingLength), 0);
    if (to > from) chunk.set(data.subarray(from, to), this.pendingLength);
    this.pendingLength = 0;
    return chunk;
  }

  /** Copies data[from..to) behind the pending bytes (the caller may reuse `data` afterwards). */
  private keep(data: Uint8Array, from: number, to: number): void {
    const len = to - from;
    if (len === 0) return;
    const need = this.pendingLength + len;
    if (need > this.pending.length) {
      let size = Math.max(INITIAL_PENDING, this.pending.length);
      while (size < need) size *= 2;
      const grown = Buffer.allocUnsafe(Math.min(size, MAX_CHUNK_SIZE));
      grown.set(this.pending.subarray(0, this.pendingLength), 0);
      this.pending = grown;
    }
    this.pending.set(data.subarray(from, to), this.pendingLength);
    this.pendingLength = need;
  }
}

/** Chunks a stream of bytes (e.g. a file's ReadStream or a database dump) into restic chunks. */
export async function* chunkStream(polynomial: bigint, readable: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer, void, undefined> {
  const chunker = new Chunker(polynomial);
  for await (const piece of readable) {
    if (!(piece instanceof Uint8Array)) throw new TypeError('chunkStream: the stream must yield bytes (Buffer/Uint8Array), not strings');
    yield* chunker.push(piece);
  }
  yield* chunker.finish();
}
