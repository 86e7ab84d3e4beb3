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
  /** One map per blob type: looking an id up needs no key built from type and id. */
  private readonly blobs: Record<BlobType, Map<string, BlobLocation[]>> = { data: new Map(), tree: new Map() };
  private readonly packs = new Map<string, PackedBlob[]>();

  /** Adds all blobs of a pack (from an index file or a freshly written pack). Re-adding the same pack is a no-op. */
  addPack(packId: string, blobs: PackedBlob[]): void {
    if (this.packs.has(packId)) return;
    this.packs.set(packId, blobs);
    for (const b of blobs) {
      const loc: BlobLocation = { packId, offset: b.offset, length: b.length };
      if (b.uncompressedLength) loc.uncompressedLength = b.uncompressedLength;
      const map = this.blobs[b.type];
      const list = map.get(b.id);
      if (list) list.push(loc);
      else map.set(b.id, [loc]);
    }
  }

  /** Forgets a pack and its blob locations (prune). */
  removePack(packId: string): void {
    const blobs = this.packs.get(packId);
    if (!blobs) return;
    this.packs.delete(packId);
    for (const b of blobs) {
      const map = this.blobs[b.type];
      const rest = (map.get(b.id) ?? []).filter((l) => l.packId !== packId);
      if (rest.length) map.set(b.id, rest);
      else map.delete(b.id);
    }
  }

  has(type: BlobType, id: string): boolean {
    return this.blobs[type].has(id);
  }

  /** All known locations of a blob (empty when unknown). */
  lookup(type: BlobType, id: string): BlobLocation[] {
    return this.blobs[type].get(id) ?? [];
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
    return this.blobs.data.size + this.blobs.tree.size;
  }

  /** Every (type, id) pair known, with its locations (data blobs first, then trees). */
  *entries(): IterableIterator<{ type: BlobType; id: string; locations: BlobLocation[] }> {
    for (const type of ['data', 'tree'] as const) for (const [id, locations] of this.blobs[type]) yield { type, id, locations };
  }
}
