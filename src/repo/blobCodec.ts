import type { CryptoKey } from '../crypto/masterKey.js';
import { open, seal } from '../crypto/sealedBox.js';
import { zstdCompress, zstdDecompress } from './compression.js';
import type { BlobType } from './ids.js';

/** How data blobs are compressed: restic's `--compression` values. */
export type CompressionMode = 'auto' | 'off' | 'max';

/** A blob as stored in a pack: sealed bytes, and the plaintext length when compressed. */
export interface EncodedBlob {
  sealed: Buffer;
  uncompressedLength?: number;
}

/**
 * Compresses (when the repository version allows and it helps) and seals a
 * blob's plaintext. Trees are always compressed, as restic does; data that
 * does not shrink is stored raw (restic reads both, and raw reads are cheaper).
 */
export function encodeBlob(key: CryptoKey, version: number, compression: CompressionMode, type: BlobType, plaintext: Uint8Array): EncodedBlob {
  const compress = version >= 2 && plaintext.length > 0 && (type === 'tree' || compression !== 'off');
  if (compress) {
    const packed = zstdCompress(plaintext, compression === 'max' ? 19 : undefined);
    if (packed.length < plaintext.length) return { sealed: seal(key, packed), uncompressedLength: plaintext.length };
  }
  return { sealed: seal(key, plaintext) };
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
