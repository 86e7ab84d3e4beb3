import type { CryptoKey } from '../crypto/masterKey.js';
import { open, seal, sealInto, sealOverhead } from '../crypto/sealedBox.js';
import { zstdBound, zstdCompressInto, zstdDecompress } from './compression.js';
import type { BlobType } from './ids.js';

/** How data blobs are compressed: restic's `--compression` values. */
export type CompressionMode = 'auto' | 'off' | 'max';

/** A blob as stored in a pack: sealed bytes, and the plaintext length when compressed. */
export interface EncodedBlob {
  sealed: Buffer;
  uncompressedLength?: number;
}

/** Compression output of encodeBlob, reused (one per thread; grows to the largest blob's bound). */
let compressed = Buffer.alloc(0);

/**
 * Compresses (when the repository version allows and it helps) and seals a
 * blob's plaintext. Trees are always compressed, as restic does; data that
 * does not shrink is stored raw (restic reads both, and raw reads are cheaper).
 */
export function encodeBlob(key: CryptoKey, version: number, compression: CompressionMode, type: BlobType, plaintext: Uint8Array): EncodedBlob {
  if (shouldCompress(version, compression, type, plaintext)) {
    // into a reused buffer: sealing copies it out, so the compressed bytes need no allocation of their own
    const bound = zstdBound(plaintext.length);
    if (compressed.length < bound) compressed = Buffer.allocUnsafeSlow(Math.max(bound, 64 * 1024));
    const n = zstdCompressInto(compressed, plaintext, compression === 'max' ? 19 : undefined);
    if (n < plaintext.length) return { sealed: seal(key, compressed.subarray(0, n)), uncompressedLength: plaintext.length };
  }
  return { sealed: seal(key, plaintext) };
}

/** Whether a blob is worth a compression attempt (see encodeBlob). */
function shouldCompress(version: number, compression: CompressionMode, type: BlobType, plaintext: Uint8Array): boolean {
  return version >= 2 && plaintext.length > 0 && (type === 'tree' || compression !== 'off') && (type === 'tree' || compression === 'max' || mayCompress(plaintext));
}

/** Room for `need` bytes in `b`, growing it in whole MiB (so a few sizes serve every blob). */
function room(b: Buffer, need: number): Buffer {
  return b.length >= need ? b : Buffer.allocUnsafeSlow(Math.ceil(need / (1024 * 1024)) * 1024 * 1024);
}

/**
 * encodeBlob into two buffers it keeps (compressed, sealed): no allocation per blob, for a
 * writer that copies the result out at once. A result is valid until the next call.
 */
export class BlobEncoder {
  private compressed: Buffer = Buffer.alloc(0);
  private sealed: Buffer = Buffer.alloc(0);

  constructor(
    private readonly key: CryptoKey,
    private readonly version: number,
    private readonly compression: CompressionMode,
  ) {}

  /** The sealed blob (a view into this encoder's buffer) and, when compressed, the plaintext length. */
  encode(type: BlobType, plaintext: Uint8Array): EncodedBlob {
    let body = plaintext;
    let uncompressedLength: number | undefined;
    if (shouldCompress(this.version, this.compression, type, plaintext)) {
      this.compressed = room(this.compressed, zstdBound(plaintext.length));
      const n = zstdCompressInto(this.compressed, plaintext, this.compression === 'max' ? 19 : undefined);
      if (n < plaintext.length) {
        body = this.compressed.subarray(0, n);
        uncompressedLength = plaintext.length;
      }
    }
    this.sealed = room(this.sealed, body.length + sealOverhead);
    const m = sealInto(this.key, body, this.sealed);
    const out: EncodedBlob = { sealed: this.sealed.subarray(0, m) };
    if (uncompressedLength) out.uncompressedLength = uncompressedLength;
    return out;
  }
}

const probeSize = 4096;
const probeMinBlob = 64 * 1024;
const probeOut = Buffer.allocUnsafeSlow(zstdBound(probeSize));

/**
 * A cheap look at whether data can shrink: two 4 KiB samples compressed at
 * zstd's fastest level. Random or already-compressed data (media, archives,
 * encrypted files) fails both, and is stored raw without paying for a full
 * compression attempt that would not save a byte.
 */
export function mayCompress(data: Uint8Array): boolean {
  if (data.length < probeMinBlob) return true;
  const mid = (data.length >>> 1) - probeSize / 2;
  for (const at of [0, mid]) {
    const sample = data.subarray(at, at + probeSize);
    if (zstdCompressInto(probeOut, sample, 1) < sample.length * 0.97) return true;
  }
  return false;
}

/** Why a stored blob could not be decoded. */
export type BlobDecodeFailure = 'mac' | 'decompress' | 'length';

/** Thrown by decodeBlob; the repository turns it into a message naming pack and blob. */
export class BlobDecodeError extends Error {
  constructor(readonly reason: BlobDecodeFailure) {
    super(reason);
    this.name = 'BlobDecodeError';
  }
}

/** Verifies and opens a sealed blob, decompressing it when `uncompressedLength` is set. */
export function decodeBlob(key: CryptoKey, sealed: Uint8Array, uncompressedLength?: number): Buffer {
  let plain: Buffer;
  try {
    plain = open(key, sealed);
  } catch {
    throw new BlobDecodeError('mac');
  }
  if (uncompressedLength) {
    try {
      plain = zstdDecompress(plain);
    } catch {
      throw new BlobDecodeError('decompress');
    }
    if (plain.length !== uncompressedLength) throw new BlobDecodeError('length');
  }
  return plain;
}
