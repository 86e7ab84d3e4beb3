// Deciding what `prune` does, as a pure function: which packs to delete,
// which to repack and which blobs to carry over, with restic's statistics
// and a byte-exact prediction of the pack files written and deleted. It
// follows restic 0.14/0.15's planPrune (cmd/restic/cmd_prune.go) decision for
// decision: duplicates, mixed packs, uncompressed tree packs, small packs,
// `--max-unused` and `--max-repack-size`.
import { CairnError } from '../errors.js';
import type { BlobType } from '../repo/ids.js';
import { headerEntrySize, maxHeaderSize, type PackedBlob } from '../repo/pack.js';

/** The key of a blob in sets: its type's first letter and its id (a tree and a data blob may share an id). */
export function blobKey(type: BlobType, id: string): string {
  return type[0] + id;
}

/** How much unused space may stay in the repository: restic's `--max-unused`. */
export type MaxUnused = { kind: 'unlimited' } | { kind: 'percent'; percent: number } | { kind: 'bytes'; bytes: number };

/** Options that steer the plan (restic's prune flags). */
export interface PrunePolicy {
  /** Default 5%, as restic. */
  maxUnused?: MaxUnused;
  /** Stop repacking before this many bytes are rewritten; default unlimited. */
  maxRepackBytes?: number;
  /** Target size of the packs repacking writes (and the basis of "small pack"); restic's default 16 MiB. */
  packSize?: number;
  /** Only repack tree packs (restic --repack-cacheable-only). */
  repackCacheableOnly?: boolean;
  /** Repack packs below 80% of the target size (restic --repack-small). */
  repackSmall?: boolean;
  /** Compress uncompressed data blobs too (restic --repack-uncompressed). */
  repackUncompressed?: boolean;
}

/** What the plan is computed from: the index, the pack files that exist, and the blobs snapshots use. */
export interface PrunePlanInput {
  /** Every indexed pack with its blobs. */
  packs: ReadonlyMap<string, readonly PackedBlob[]>;
  /** Every pack file in `data/` with its size. */
  files: ReadonlyMap<string, number>;
  /** blobKey()s of every blob reachable from the snapshots that stay. */
  used: ReadonlySet<string>;
  /** Repository format version (uncompressed tree packs are repacked in v2). */
  repoVersion: number;
}

/** restic's prune statistics (blob counts and sizes in bytes as stored). */
export interface PruneStats {
  blobs: { used: number; duplicate: number; unused: number; remove: number; repack: number; repackrm: number };
  size: { used: number; duplicate: number; unused: number; remove: number; repack: number; repackrm: number; unref: number };
  packs: { used: number; unused: number; partlyUsed: number; unref: number; keep: number; repack: number; remove: number };
}

/** Pack file bytes before and after, as the plan predicts them. */
export interface PrunePrediction {
  packFilesBefore: number;
  packBytesBefore: number;
  /** Pack files deleted: unreferenced, unused and repacked ones. */
  packFilesDeleted: number;
  packBytesDeleted: number;
  /** New packs that repacking writes. */
  packFilesWritten: number;
  packBytesWritten: number;
  packFilesAfter: number;
  packBytesAfter: number;
}

/** The decisions of a prune. */
export interface PrunePlan {
  /** Pack files no index lists: deleted first. */
  removeFirst: string[];
  /** Partly used packs whose used blobs are copied into new packs; the packs are then deleted. */
  repack: string[];
  /** Packs with no used blob: deleted. */
  remove: string[];
  /** Indexed packs that are missing but not needed: dropped from the index. */
  ignore: string[];
  /** blobKey()s to copy out of the repacked packs (used, and in no kept pack), each once. */
  keepBlobs: Set<string>;
  /** Repacked packs whose blobs must be compressed on the way (uncompressed trees in v2). */
  mustCompress: Set<string>;
  stats: PruneStats;
  prediction: PrunePrediction;
  /** Target size of new packs. */
  packSize: number;
}

/** restic's default target pack size. */
export const defaultPrunePackSize = 16 * 1024 * 1024;
/** restic's default --max-unused. */
export const defaultMaxUnused: MaxUnused = { kind: 'percent', percent: 5 };

const sizeRemedy = 'Give a number of bytes, optionally with a suffix k, m, g or t (powers of 1024), e.g. 500M.';

/** Parses a size as restic does (`parseSizeStr`): bytes with an optional k/m/g/t suffix (powers of 1024). */
export function parseSize(text: string, option = 'size'): number {
  const m = /^\s*([0-9]+)\s*([kKmMgGtT]?)\s*$/.exec(text);
  if (!m) throw new CairnError('bad-size', `invalid ${option} "${text}"`, sizeRemedy);
  const factor = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(m[1]) * factor;
}

/** Parses `--max-unused`: "unlimited", a percentage below 100 ("5%"), or a size ("1G"). */
export function parseMaxUnused(text: string): MaxUnused {
  const t = text.trim();
  if (t === '') throw new CairnError('bad-max-unused', `invalid value for --max-unused: "${text}"`, 'Use a percentage like 5%, a size like 1G, or unlimited.');
  if (t === 'unlimited') return { kind: 'unlimited' };
  if (t.endsWith('%')) {
    const p = Number(t.slice(0, -1));
    if (t.length === 1 || !Number.isFinite(p)) throw new CairnError('bad-max-unused', `invalid percentage "${text}" for --max-unused`, 'Use a percentage like 5% or 10.5%.');
    if (p < 0) throw new CairnError('bad-max-unused', 'the percentage for --max-unused must be positive', 'Use a percentage between 0% and 99%.');
    if (p >= 100) throw new CairnError('bad-max-unused', 'the percentage for --max-unused must be below 100%', 'Use a percentage below 100%, or unlimited.');
    return { kind: 'percent', percent: p };
  }
  return { kind: 'bytes', bytes: parseSize(t, '--max-unused') };
}

/** The unused bytes tolerated after pruning when `used` bytes are in use (restic's maxUnusedBytes). */
export function maxUnusedBytes(m: MaxUnused, used: number): number {
  switch (m.kind) {
    case 'unlimited':
      return Number.POSITIVE_INFINITY;
    case 'percent':
      return Math.floor((m.percent / (100 - m.percent)) * used);
    case 'bytes':
      return m.bytes;
  }
}

/** What restic calls packInfo: per pack, used and unused blobs and bytes (the header counts as used). */
interface PackInfo {
  id: string;
  usedBlobs: number;
  unusedBlobs: number;
  usedSize: number;
  unusedSize: number;
  /** A blob type, or 'mixed' for packs holding both (v1 leftovers). */
  type: BlobType | 'mixed' | undefined;
  uncompressed: boolean;
  mustCompress: boolean;
}

/** The header size of a pack as restic computes it: entries, the seal overhead and the length field. */
function headerSize(blobs: readonly PackedBlob[]): number {
  let size = 32 + 4;
  for (const b of blobs) size += headerEntrySize(b);
  return size;
}

/**
 * Plans a prune as restic does: counts used, duplicate and unused blobs;
 * deletes packs without used blobs and packs no index lists; repacks partly
 * used packs, tree packs and mixed packs first, then data packs with the
 * largest unused share, until the unused bytes left are below `--max-unused`
 * (or `--max-repack-size` is reached). Fails like restic when a used blob is
 * in no index, or a needed pack is missing or has the wrong size.
 */
export function planPrune(input: PrunePlanInput, policy: PrunePolicy = {}): PrunePlan {
  const packSize = policy.packSize ?? defaultPrunePackSize;
  const maxUnused = policy.maxUnused ?? defaultMaxUnused;
  const maxRepackBytes = policy.maxRepackBytes ?? Number.POSITIVE_INFINITY;
  const stats: PruneStats = {
    blobs: { used: 0, duplicate: 0, unused: 0, remove: 0, repack: 0, repackrm: 0 },
    size: { used: 0, duplicate: 0, unused: 0, remove: 0, repack: 0, repackrm: 0, unref: 0 },
    packs: { used: 0, unused: 0, partlyUsed: 0, unref: 0, keep: 0, repack: 0, remove: 0 },
  };

  // Pass 1: which blobs are used, and how often each used blob is stored.
  const notFound = new Set(input.used);
  const keepBlobs = new Set<string>();
  const duplicates = new Map<string, number>();
  for (const blobs of input.packs.values()) {
    for (const b of blobs) {
      const k = blobKey(b.type, b.id);
      if (notFound.has(k)) {
        notFound.delete(k);
        keepBlobs.add(k);
        stats.size.used += b.length;
        stats.blobs.used++;
      } else if (keepBlobs.has(k)) {
        duplicates.set(k, Math.min((duplicates.get(k) ?? 1) + 1, 255));
        stats.size.duplicate += b.length;
        stats.blobs.duplicate++;
      } else {
        stats.size.unused += b.length;
        stats.blobs.unused++;
      }
    }
  }
  if (notFound.size > 0) {
    const first = [...notFound][0]!;
    throw new CairnError(
      'index-incomplete',
      `${notFound.size} blob(s) used by snapshots are in no index (e.g. ${first[0] === 't' ? 'tree' : 'data'} ${first.slice(1, 9)}); prune stopped so that no more data is lost`,
      'Run `restic repair index` to rebuild the index from the packs, then `cairn check`, then prune again.',
    );
  }

  // Pass 2: per pack, used and unused bytes (duplicates settled in pass 3).
  const info = new Map<string, PackInfo>();
  for (const [id, blobs] of input.packs) {
    const p: PackInfo = { id, usedBlobs: 0, unusedBlobs: 0, usedSize: headerSize(blobs), unusedSize: 0, type: undefined, uncompressed: false, mustCompress: false };
    for (const b of blobs) {
      if (p.type === undefined) p.type = b.type;
      else if (p.type !== b.type) p.type = 'mixed';
      const k = blobKey(b.type, b.id);
      if (duplicates.has(k)) {
        // settled below
      } else if (keepBlobs.has(k)) {
        p.usedSize += b.length;
        p.usedBlobs++;
      } else {
        p.unusedSize += b.length;
        p.unusedBlobs++;
      }
      if (!b.uncompressedLength) p.uncompressed = true;
    }
    info.set(id, p);
  }
  // Pass 3: each duplicated blob counts as used in one pack only — a pack that
  // has other used blobs, or else the last copy met — and as unused elsewhere.
  if (duplicates.size > 0) {
    for (const [id, blobs] of input.packs) {
      const p = info.get(id)!;
      for (const b of blobs) {
        const k = blobKey(b.type, b.id);
        const count = duplicates.get(k);
        if (count === undefined) continue;
        if (count === 0) {
          p.unusedSize += b.length;
          p.unusedBlobs++;
        } else if (p.usedBlobs > 0 || count === 1) {
          p.usedSize += b.length;
          p.usedBlobs++;
          duplicates.set(k, 0);
        } else {
          p.unusedSize += b.length;
          p.unusedBlobs++;
          duplicates.set(k, count - 1);
        }
      }
    }
  }

  // Decide per existing pack file.
  const removeFirst: string[] = [];
  const remove: string[] = [];
  const keep = new Set<string>();
  let repackCandidates: PackInfo[] = [];
  const repackSmallCandidates: PackInfo[] = [];
  const smallLimit = policy.repackSmall ? Math.floor(packSize / 5) * 4 : Math.floor(packSize / 25);
  const fileIds = [...input.files.keys()].sort();
  for (const id of fileIds) {
    const size = input.files.get(id)!;
    const p = info.get(id);
    if (!p) {
      removeFirst.push(id);
      stats.size.unref += size;
      continue;
    }
    if (p.unusedSize + p.usedSize !== size && p.usedBlobs !== 0) {
      throw new CairnError(
        'pack-size-mismatch',
        `pack ${id.slice(0, 8)} is ${size} bytes but the index describes ${p.unusedSize + p.usedSize}; prune stopped`,
        'Run `restic repair index` to rebuild the index from the packs, then `cairn check`, then prune again.',
      );
    }
    if (p.usedBlobs === 0) stats.packs.unused++;
    else if (p.unusedBlobs === 0) stats.packs.used++;
    else stats.packs.partlyUsed++;
    p.mustCompress = input.repoVersion >= 2 && (p.type === 'tree' || !!policy.repackUncompressed) && p.uncompressed;

    if (p.usedBlobs === 0) {
      remove.push(id);
      stats.blobs.remove += p.unusedBlobs;
      stats.size.remove += p.unusedSize;
    } else if (policy.repackCacheableOnly && p.type === 'data') {
      keep.add(id);
    } else if (p.unusedBlobs === 0 && p.type !== 'mixed' && !p.mustCompress) {
      if (size >= smallLimit) keep.add(id);
      else repackSmallCandidates.push(p);
    } else {
      repackCandidates.push(p);
    }
  }

  // Indexed packs without a file: harmless when unused (dropped from the index), fatal when needed.
  const ignore: string[] = [];
  const missing: string[] = [];
  for (const [id, p] of info) {
    if (input.files.has(id)) continue;
    if (p.usedBlobs === 0) {
      ignore.push(id);
      stats.blobs.remove += p.unusedBlobs;
      stats.size.remove += p.unusedSize;
    } else {
      missing.push(id);
    }
  }
  if (missing.length > 0) {
    throw new CairnError(
      'packs-missing',
      `the index references ${missing.length} needed pack file(s) that are missing (e.g. ${missing[0]!.slice(0, 8)}); prune stopped`,
      'Run `cairn check` to see which snapshots are affected; `restic repair index` then `restic repair snapshots --forget` removes what cannot be recovered.',
    );
  }

  // Too few small packs are not worth the work (and a single small pack would be repacked forever).
  if (repackSmallCandidates.length < 10) for (const p of repackSmallCandidates) keep.add(p.id);
  else repackCandidates = repackCandidates.concat(repackSmallCandidates);

  // Tree and mixed packs first, then small packs, then the largest unused share.
  const total = (p: PackInfo): number => p.usedSize + p.unusedSize;
  repackCandidates.sort((a, b) => {
    if (a.type !== 'data' && b.type === 'data') return -1;
    if (b.type !== 'data' && a.type === 'data') return 1;
    if (total(a) < smallLimit && total(b) >= smallLimit) return -1;
    if (total(b) < smallLimit && total(a) >= smallLimit) return 1;
    const x = BigInt(a.unusedSize) * BigInt(b.usedSize);
    const y = BigInt(b.unusedSize) * BigInt(a.usedSize);
    if (x !== y) return x > y ? -1 : 1;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });

  const repack: string[] = [];
  const mustCompress = new Set<string>();
  const maxUnusedAfter = maxUnusedBytes(maxUnused, stats.size.used);
  for (const p of repackCandidates) {
    // restic computes this in uint64: when duplicates make it negative it wraps to a huge number.
    const unusedLeft = stats.size.unused - stats.size.remove - stats.size.repackrm;
    const reachedUnusedSizeAfter = unusedLeft >= 0 && unusedLeft < maxUnusedAfter;
    const reachedRepackSize = stats.size.repack + total(p) >= maxRepackBytes;
    const largeEnough = total(p) >= smallLimit;
    if (reachedRepackSize) {
      keep.add(p.id);
    } else if (p.type !== 'data' || p.mustCompress) {
      repack.push(p.id);
    } else if (reachedUnusedSizeAfter && largeEnough) {
      keep.add(p.id);
    } else {
      repack.push(p.id);
    }
    if (repack[repack.length - 1] === p.id) {
      stats.blobs.repack += p.unusedBlobs + p.usedBlobs;
      stats.size.repack += total(p);
      stats.blobs.repackrm += p.unusedBlobs;
      stats.size.repackrm += p.unusedSize;
      if (p.mustCompress) mustCompress.add(p.id);
    }
  }
  stats.packs.keep = keep.size;
  stats.packs.unref = removeFirst.length;
  stats.packs.repack = repack.length;
  stats.packs.remove = remove.length;

  // Blobs stored in a kept pack need no copy; the rest of the used ones are copied once.
  const repackSet = new Set(repack);
  if (repack.length > 0) {
    for (const id of keep) for (const b of input.packs.get(id)!) keepBlobs.delete(blobKey(b.type, b.id));
  } else {
    keepBlobs.clear();
  }

  const written = predictRepackOutput(repack, input.packs, keepBlobs, packSize);
  let packBytesBefore = 0;
  for (const size of input.files.values()) packBytesBefore += size;
  let packBytesDeleted = 0;
  for (const id of [...removeFirst, ...remove, ...repack]) packBytesDeleted += input.files.get(id)!;
  const packFilesDeleted = removeFirst.length + remove.length + repackSet.size;
  const prediction: PrunePrediction = {
    packFilesBefore: input.files.size,
    packBytesBefore,
    packFilesDeleted,
    packBytesDeleted,
    packFilesWritten: written.files,
    packBytesWritten: written.bytes,
    packFilesAfter: input.files.size - packFilesDeleted + written.files,
    packBytesAfter: packBytesBefore - packBytesDeleted + written.bytes,
  };
  return { removeFirst, repack, remove, ignore, keepBlobs, mustCompress, stats, prediction, packSize };
}

/** One blob to copy while repacking, in the order it is written. */
export interface RepackItem {
  packId: string;
  blob: PackedBlob;
}

/** The blobs repacking copies, in write order: repacked packs in plan order, blobs in pack order, each blob once. */
export function repackItems(repack: readonly string[], packs: ReadonlyMap<string, readonly PackedBlob[]>, keepBlobs: ReadonlySet<string>): RepackItem[] {
  const seen = new Set<string>();
  const out: RepackItem[] = [];
  for (const packId of repack) {
    for (const blob of packs.get(packId) ?? []) {
      const k = blobKey(blob.type, blob.id);
      if (!keepBlobs.has(k) || seen.has(k)) continue;
      seen.add(k);
      out.push({ packId, blob });
    }
  }
  return out;
}

/**
 * Which blobs go into which new pack: one open pack per blob type, finished
 * as soon as its blobs reach the target size or its header would pass
 * restic's limit (the rule PackWriter.isFull applies), the open ones last.
 */
export function layoutNewPacks(items: readonly RepackItem[], packSize: number): RepackItem[][] {
  const open: Record<BlobType, { items: RepackItem[]; size: number; header: number }> = {
    data: { items: [], size: 0, header: 0 },
    tree: { items: [], size: 0, header: 0 },
  };
  const done: RepackItem[][] = [];
  for (const item of items) {
    const w = open[item.blob.type];
    w.items.push(item);
    w.size += item.blob.length;
    w.header += headerEntrySize(item.blob);
    if (w.size >= packSize || w.header + 41 + 36 > maxHeaderSize) {
      done.push(w.items);
      open[item.blob.type] = { items: [], size: 0, header: 0 };
    }
  }
  for (const type of ['data', 'tree'] as const) if (open[type].items.length > 0) done.push(open[type].items);
  return done;
}

/** The number and bytes of the pack files repacking writes (exact unless blobs are recompressed). */
function predictRepackOutput(repack: readonly string[], packs: ReadonlyMap<string, readonly PackedBlob[]>, keepBlobs: ReadonlySet<string>, packSize: number): { files: number; bytes: number } {
  const layout = layoutNewPacks(repackItems(repack, packs, keepBlobs), packSize);
  let bytes = 0;
  for (const pack of layout) {
    bytes += headerSize(pack.map((i) => i.blob));
    for (const i of pack) bytes += i.blob.length;
  }
  return { files: layout.length, bytes };
}
