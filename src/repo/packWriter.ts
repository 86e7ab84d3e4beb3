import type { CryptoKey } from '../crypto/masterKey.js';
import type { BlobType } from './ids.js';
import { sha256Hex } from './ids.js';
import { headerEntrySize, maxHeaderSize, packTrailer, type PackedBlob } from './pack.js';

/** restic's default target pack size. */
export const defaultPackSize = 16 * 1024 * 1024;

/** A finished pack, ready to upload. */
export interface FinishedPack {
  id: string;
  bytes: Buffer;
  blobs: PackedBlob[];
}

/**
 * Collects sealed blobs of one type into a pack file in memory. The caller
 * decides when to finish (target size reached, or end of backup).
 */
export class PackWriter {
  readonly type: BlobType;
  private parts: Buffer[] = [];
  private blobs: PackedBlob[] = [];
  private size = 0;
  private headerSize = 0;

  constructor(type: BlobType) {
    this.type = type;
  }

  /** Appends a sealed blob. */
  add(id: string, sealed: Buffer, uncompressedLength?: number): void {
    const blob: PackedBlob = { id, type: this.type, offset: this.size, length: sealed.length };
    if (uncompressedLength) blob.uncompressedLength = uncompressedLength;
    this.parts.push(sealed);
    this.blobs.push(blob);
    this.size += sealed.length;
    this.headerSize += headerEntrySize(blob);
  }

  get count(): number {
    return this.blobs.length;
  }

  /** Bytes of blobs so far. */
  get dataSize(): number {
    return this.size;
  }

  /** True when the pack has reached the target size or its header would grow past restic's limit. */
  isFull(target: number): boolean {
    return this.size >= target || this.headerSize + 41 + 36 > maxHeaderSize;
  }

  /** Builds the pack file: blobs ‖ encrypted header ‖ header length; names it by its SHA-256. */
  finish(key: CryptoKey): FinishedPack {
    const bytes = Buffer.concat([...this.parts, packTrailer(key, this.blobs)]);
    const pack = { id: sha256Hex(bytes), bytes, blobs: this.blobs };
    this.parts = [];
    this.blobs = [];
    this.size = 0;
    this.headerSize = 0;
    return pack;
  }
}
