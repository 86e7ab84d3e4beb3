// restic's content-defined chunker (restic-format.md §11.5), streaming: fed pieces of any size, it
// cuts exactly where restic cuts and holds at most one unfinished chunk (≤ 8 MiB).
import { newRollingState, restartRolling, rollerFor, type Roll } from './rolling.js';
import { chunkerTables, WINDOW_SIZE } from './tables.js';
import { wasmRollerFor } from './wasmRolling.js';

export { SPLIT_MASK } from './rolling.js';

/** Smallest chunk restic cuts (except a file's last chunk). */
export const MIN_CHUNK_SIZE = 512 * 1024;
/** Largest chunk restic cuts. */
export const MAX_CHUNK_SIZE = 8 * 1024 * 1024;
/** Bytes at the start of each chunk that restic adds without hashing. */
export const SKIPPED_BYTES = MIN_CHUNK_SIZE - WINDOW_SIZE;

/** Which rolling-hash implementation a Chunker uses; both cut at exactly the same places. */
export type ChunkerEngine = 'wasm' | 'js';

/** Options of a Chunker. */
export interface ChunkerOptions {
  /** 'wasm' (default, several times faster) or 'js' (the plain TypeScript loop, kept as the reference). */
  engine?: ChunkerEngine;
}

/**
 * Streaming restic chunker. Feed a file with `push()` in pieces of any size, end it with
 * `finish()`; each returns the chunks it completed, as new Buffers the caller owns (copies, so the
 * caller may reuse its input buffers). A chunker holds at most one unfinished chunk. Call `finish()`
 * (or `reset()` to drop a half-read file) at every file boundary: files never share chunks.
 */
export class Chunker {
  /** The polynomial this chunker rolls with. */
  readonly polynomial: bigint;
  private readonly roll: Roll;
  // Bytes of the current chunk that arrived in earlier pushes.
  private pending: Buffer = Buffer.alloc(0);
  private pendingLength = 0;
  // Bytes of the current chunk so far (pending plus what the running push has passed).
  private count = 0;
  // The last 64 hashed bytes and the digest (see rolling.ts).
  private readonly window = new Uint8Array(WINDOW_SIZE);
  private readonly state = newRollingState();

  /** A chunker for `polynomial` (a CairnError if its degree is unusable, see tables.ts). */
  constructor(polynomial: bigint, options: ChunkerOptions = {}) {
    this.polynomial = polynomial;
    const tables = chunkerTables(polynomial);
    this.roll = options.engine === 'js' ? rollerFor(tables) : wasmRollerFor(tables);
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
        if (count === SKIPPED_BYTES) restartRolling(this.state, this.window);
        continue;
      }
      const limit = Math.min(n, pos + (MAX_CHUNK_SIZE - count));
      // A cut after data[i] needs count ≥ MIN after that byte, i.e. i ≥ checkFrom.
      const checkFrom = pos + (MIN_CHUNK_SIZE - count) - 1;
      const cut = this.roll(data, pos, limit, checkFrom, this.window, this.state);
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
      // Exact size at first (small files stay small), then doubling, never above one chunk.
      const size = Math.min(Math.max(need, 2 * this.pending.length), MAX_CHUNK_SIZE);
      const grown = Buffer.allocUnsafe(size);
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
