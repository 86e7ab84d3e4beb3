// Writing index files for a given list of packs (prune's "rebuild the index"
// step), split like restic splits them, through the repository's own
// encryption and file naming.
import type { IndexBlob, IndexPack } from '../repo/indexCodec.js';
import { encodeIndex } from '../repo/indexCodec.js';
import type { PackedBlob } from '../repo/pack.js';
import type { Repository } from '../repo/repository.js';

/** Blobs per index file before a new one is started (current restic's figure). */
export const indexFileBlobLimit = 50_000;

/** A pack and its blobs as an index file lists them. */
export function indexPackOf(packId: string, blobs: readonly PackedBlob[]): IndexPack {
  return {
    id: packId,
    blobs: blobs.map((b): IndexBlob => {
      const out: IndexBlob = { id: b.id, type: b.type, offset: b.offset, length: b.length };
      if (b.uncompressedLength) out.uncompressed_length = b.uncompressedLength;
      return out;
    }),
  };
}

/** Splits packs into groups of at most `limit` blobs (a pack is never split: restic requires all its blobs in one entry). */
export function splitIndexPacks(packs: readonly IndexPack[], limit = indexFileBlobLimit): IndexPack[][] {
  const files: IndexPack[][] = [];
  let current: IndexPack[] = [];
  let blobs = 0;
  for (const p of packs) {
    if (current.length > 0 && blobs + p.blobs.length > limit) {
      files.push(current);
      current = [];
      blobs = 0;
    }
    current.push(p);
    blobs += p.blobs.length;
  }
  if (current.length > 0) files.push(current);
  return files;
}

/**
 * Writes index files listing exactly `packs` and returns their ids.
 * `beforeWrite` runs before each file is stored (progress, test hooks).
 */
export async function writeIndexFiles(repo: Repository, packs: readonly IndexPack[], beforeWrite?: (fileNumber: number, total: number) => void | Promise<void>): Promise<string[]> {
  const groups = splitIndexPacks(packs);
  const ids: string[] = [];
  for (let i = 0; i < groups.length; i++) {
    await beforeWrite?.(i + 1, groups.length);
    ids.push(await repo.saveJsonFile('index', encodeIndex(groups[i]!)));
  }
  return ids;
}
