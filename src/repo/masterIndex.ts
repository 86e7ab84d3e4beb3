import type { BlobType } from './ids.js';
import type { PackedBlob } from './pack.js';

/** Where one copy of a blob is stored. */
export interface BlobLocation {
  packId: string;
  offset: number;
  length: number;
  uncompressedLength?: number;
}

/** The union of all index files: every known location of every blob, and each pack's blob list. */
export class MasterIndex {
  private readonly blobs = new Map<string, BlobLocation[]>();
  private readonly packs = new Map<string, PackedBlob[]>();

  private static key(type: BlobType, id: string): string {
    return (type === 'tree' ? 't' : 'd') + id;
  }

  /** Adds all blobs of a pack (from an index file or a freshly written pack). Re-adding the same pack is a no-op. */
  addPack(packId: string, blobs: PackedBlob[]): void {
    if (this.packs.has(packId)) return;
    this.packs.set(packId, blobs);
    for (const b of blobs) {
      const loc: BlobLocation = { packId, offset: b.offset, length: b.length };
      if (b.uncompressedLength) loc.uncompressedLength = b.uncompressedLength;
      const k = MasterIndex.key(b.type, b.id);
      const list = this.blobs.get(k);
      if (list) list.push(loc);
      else this.blobs.set(k, [loc]);
    }
  }

  /** Forgets a pack and its blob locations (prune). */
  removePack(packId: string): void {
    const blobs = this.packs.get(packId);
    if (!blobs) return;
    this.packs.delete(packId);
    for (const b of blobs) {
      const k = MasterIndex.key(b.type, b.id);
      const rest = (this.blobs.get(k) ?? []).filter((l) => l.packId !== packId);
      if (rest.length) this.blobs.set(k, rest);
      else this.blobs.delete(k);
    }
  }

  has(type: BlobType, id: string): boolean {
    return this.blobs.has(MasterIndex.key(type, id));
  }

  /** All known locations of a blob (empty when unknown). */
  lookup(type: BlobType, id: string): BlobLocation[] {
    return this.blobs.get(MasterIndex.key(type, id)) ?? [];
  }

  /** Plaintext size of a blob, if known. */
  plaintextSize(type: BlobType, id: string): number | undefined {
    const loc = this.lookup(type, id)[0];
    if (!loc) return undefined;
    return loc.uncompressedLength ?? loc.length - 32;
  }

  packIds(): IterableIterator<string> {
    return this.packs.keys();
  }

  packBlobs(packId: string): PackedBlob[] | undefined {
    return this.packs.get(packId);
  }

  get packCount(): number {
    return this.packs.size;
  }

  get blobCount(): number {
    return this.blobs.size;
  }

  /** Every (type, id) pair known, with its locations. */
  *entries(): IterableIterator<{ type: BlobType; id: string; locations: BlobLocation[] }> {
    for (const [k, locations] of this.blobs) yield { type: k[0] === 't' ? 'tree' : 'data', id: k.slice(1), locations };
  }
}
