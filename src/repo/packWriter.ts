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

/** Room for a full pack: the target size plus the largest blob that can push it over (a max-size chunk, sealed). */
function packCapacity(target: number): number {
  return target + 8 * 1024 * 1024 + 64 * 1024;
}

/**
 * Collects sealed blobs of one type into a pack file in memory. The caller
 * decides when to finish (target size reached, or end of backup). Blobs are
 * copied into one buffer as they come, so a finished pack needs no second
 * copy; after uploading it, hand it back with `reuse` and the next pack fills
 * the same memory (fewer big allocations for the garbage collector to chase).
 */
export class PackWriter {
  readonly type: BlobType;
  private buffer: Buffer | undefined;
  private readonly spare: Buffer[] = [];
  private blobs: PackedBlob[] = [];
  private size = 0;
  private headerSize = 0;
  private readonly target: number;

  constructor(type: BlobType, target = defaultPackSize) {
    this.type = type;
    this.target = target;
  }

  /** Appends a sealed blob. */
  add(id: string, sealed: Uint8Array, uncompressedLength?: number): void {
    const blob: PackedBlob = { id, type: this.type, offset: this.size, length: sealed.length };
    if (uncompressedLength) blob.uncompressedLength = uncompressedLength;
    this.reserve(sealed.length);
    this.buffer!.set(sealed, this.size);
    this.blobs.push(blob);
    this.size += sealed.length;
    this.headerSize += headerEntrySize(blob);
  }

  /** Makes room for `extra` more bytes; an untouched buffer costs address space, not memory. */
  private reserve(extra: number): void {
    const need = this.size + extra;
    if (this.buffer && need <= this.buffer.length) return;
    let next = this.spare.pop();
    if (!next || next.length < need) next = Buffer.allocUnsafeSlow(Math.max(need, packCapacity(this.target)));
    if (this.buffer && this.size > 0) this.buffer.copy(next, 0, 0, this.size);
    this.buffer = next;
  }

  get count(): number {
    return this.blobs.length;
  }

  /** Bytes of blobs so far. */
  get dataSize(): number {
    return this.size;
  }

  /** True when the pack has reached the target size or its header would grow past restic's limit. */
  isFull(target: number = this.target): boolean {
    return this.size >= target || this.headerSize + 41 + 36 > maxHeaderSize;
  }

  /** Builds the pack file: blobs ‖ encrypted header ‖ header length; names it by its SHA-256. */
  finish(key: CryptoKey): FinishedPack {
    const trailer = packTrailer(key, this.blobs);
    this.reserve(trailer.length);
    this.buffer!.set(trailer, this.size);
    const bytes = this.buffer!.subarray(0, this.size + trailer.length);
    const pack = { id: sha256Hex(bytes), bytes, blobs: this.blobs };
    this.buffer = undefined;
    this.blobs = [];
    this.size = 0;
    this.headerSize = 0;
    return pack;
  }

  /** Gives a finished pack's memory back once it is stored; its bytes must not be used afterwards. */
  reuse(pack: FinishedPack): void {
    this.reuseBuffer(Buffer.from(pack.bytes.buffer, pack.bytes.byteOffset, pack.bytes.buffer.byteLength - pack.bytes.byteOffset));
  }

  /** Keeps `buffer` (a finished pack's whole memory) for a later pack. */
  reuseBuffer(buffer: Buffer): void {
    if (this.spare.length < 2) this.spare.push(buffer);
  }
}
