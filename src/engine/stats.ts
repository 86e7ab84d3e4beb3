// Statistics over a set of snapshots, as `restic stats` counts them in each of
// its modes, plus cairn's storage view (logical vs stored size, dedup and
// compression ratios, pack counts). One walk serves every mode: a tree seen
// before is not loaded again, because each mode's figures for a repeated
// subtree can be derived from its first visit (see summarizeTree).
import { createHash } from 'node:crypto';
import { CairnError } from '../errors.js';
import type { BlobType } from '../repo/ids.js';
import type { BlobLocation } from '../repo/masterIndex.js';
import type { Node, Tree } from '../repo/node.js';
import type { Snapshot } from '../repo/snapshot.js';

/** restic's counting modes. */
export type StatsMode = 'restore-size' | 'raw-data' | 'files-by-contents' | 'blobs-per-file';

/** Every mode restic knows, default first. */
export const STATS_MODES: readonly StatsMode[] = ['restore-size', 'raw-data', 'files-by-contents', 'blobs-per-file'];

/** What stats needs of a repository (a Repository fits). */
export interface StatsRepository {
  loadTree(id: string): Promise<Tree>;
  readonly config: { version: number };
  readonly index: {
    lookup(type: BlobType, id: string): BlobLocation[];
    packIds(): Iterable<string>;
    packBlobs(packId: string): { type: BlobType; length: number; uncompressedLength?: number }[] | undefined;
  };
}

/** One mode's figures, restic's `statsContainer` (field names as restic's JSON). */
export interface ModeStats {
  total_size: number;
  /** raw-data in v2 repositories: sealed size the blobs would have uncompressed. */
  total_uncompressed_size?: number;
  /** raw-data: uncompressed/compressed size of the compressed blobs. */
  compression_ratio?: number;
  /** raw-data: percentage of (uncompressed) data that is stored compressed. */
  compression_progress?: number;
  /** raw-data: percentage saved by compression. */
  compression_space_saving?: number;
  total_file_count: number;
  total_blob_count?: number;
  snapshots_count: number;
}

/** cairn's storage view of the selected snapshots. */
export interface StorageStats {
  /** Bytes a restore of every selected snapshot would write (restore-size). */
  logical_size: number;
  /** Plaintext bytes of the unique blobs the snapshots reference (after dedup, before compression). */
  unique_size: number;
  /** Bytes those blobs occupy in packs (compressed and encrypted). */
  stored_size: number;
  /** logical_size / unique_size of the data blobs: how much deduplication saves (1 = nothing). */
  dedup_ratio: number;
  /** unique_size / stored_size: how much compression saves (below 1 when encryption overhead outweighs it). */
  compression_ratio: number;
  data_blob_count: number;
  tree_blob_count: number;
  /** Packs holding at least one referenced blob. */
  pack_count: number;
  /** Every pack in the index, and their total size as the index describes them. */
  repository_pack_count: number;
  repository_pack_size: number;
}

/** Everything one walk finds: the figures of every restic mode and the storage view. */
export interface StatsReport {
  snapshots_count: number;
  modes: Record<StatsMode, ModeStats>;
  storage: StorageStats;
}

/** Progress: snapshots finished of all, and trees loaded so far. */
export type StatsProgress = (p: { snapshotsDone: number; snapshotsTotal: number; treesLoaded: number }) => void;

/** Restore-size figures of one tree, reusable wherever the tree occurs again. */
interface TreeSummary {
  /** Sizes counted unconditionally (single-link files, dirs, inode-less entries). */
  size: number;
  /** Entries below the tree (files, dirs, links, ...): restic counts them all as "files". */
  count: number;
  /** Hard-linked files by device:inode → size: counted once per snapshot. */
  hardlinks: Map<string, number> | undefined;
}

const overhead = 32;

/** Walks the snapshots' trees once and returns restic's figures for every mode plus cairn's storage view. */
export async function computeStats(repo: StatsRepository, snapshots: readonly Snapshot[], onProgress?: StatsProgress): Promise<StatsReport> {
  const memo = new Map<string, TreeSummary>();
  const blobs = new Map<string, BlobType>(); // prefixed id → type: raw-data's set of used blobs
  const uniqueFiles = new Set<string>();
  const fileBlobs = new Map<string, Set<string>>();
  const byContents = { size: 0, count: 0 };
  const perFile = { size: 0, files: 0, blobs: 0 };
  let treesLoaded = 0;

  const useBlob = (type: BlobType, id: string) => blobs.set((type === 'tree' ? 't' : 'd') + id, type);
  const plaintextSize = (id: string): number => {
    const loc = repo.index.lookup('data', id)[0];
    if (!loc) throw missingBlob('data', id);
    return loc.uncompressedLength ?? loc.length - overhead;
  };

  // Visits a tree the first time it is met. restic walks a repeated subtree again, but
  // that adds nothing in files-by-contents/blobs-per-file (every file's contents were
  // seen) nor in raw-data (every blob was seen); restore-size reuses the summary.
  const summarizeTree = async (treeId: string, dirPath: string): Promise<TreeSummary> => {
    const known = memo.get(treeId);
    if (known) return known;
    useBlob('tree', treeId);
    const tree = await repo.loadTree(treeId);
    treesLoaded++;
    const sum: TreeSummary = { size: 0, count: 0, hardlinks: undefined };
    for (const node of tree.nodes) {
      const nodePath = dirPath === '/' ? `/${node.name}` : `${dirPath}/${node.name}`;
      if (node.type === 'file') for (const id of node.content ?? []) useBlob('data', id);
      countByContents(node, nodePath);
      sum.count++;
      const size = node.size ?? 0;
      if (node.links === 1 || node.type === 'dir' || !node.inode) sum.size += size;
      else (sum.hardlinks ??= new Map()).set(`${node.device_id ?? 0n}:${node.inode}`, size);
      if (node.type === 'dir' && node.subtree) {
        const sub = await summarizeTree(node.subtree, nodePath);
        sum.size += sub.size;
        sum.count += sub.count;
        if (sub.hardlinks) for (const [k, v] of sub.hardlinks) (sum.hardlinks ??= new Map()).set(k, v);
      }
    }
    memo.set(treeId, sum);
    return sum;
  };

  // files-by-contents and blobs-per-file: a file is new when its content list was not seen before.
  const countByContents = (node: Node, nodePath: string) => {
    const h = createHash('sha256');
    for (const id of node.content ?? []) h.update(Buffer.from(id, 'hex'));
    const fileId = h.digest('hex');
    if (uniqueFiles.has(fileId)) return;
    uniqueFiles.add(fileId);
    byContents.size += node.size ?? 0;
    byContents.count++;
    for (const id of node.content ?? []) {
      let seen = fileBlobs.get(nodePath);
      if (!seen) {
        seen = new Set();
        fileBlobs.set(nodePath, seen);
        perFile.files++;
      }
      if (seen.has(id)) continue;
      perFile.size += plaintextSize(id);
      seen.add(id);
      perFile.blobs++;
    }
  };

  let restoreSize = 0;
  let restoreCount = 0;
  let done = 0;
  for (const sn of snapshots) {
    const root = await summarizeTree(sn.tree, '/');
    restoreSize += root.size;
    for (const size of root.hardlinks?.values() ?? []) restoreSize += size;
    restoreCount += root.count;
    onProgress?.({ snapshotsDone: ++done, snapshotsTotal: snapshots.length, treesLoaded });
  }

  // raw-data: the used blobs' first stored copy, as restic counts them.
  let rawSize = 0;
  let rawUncompressed = 0;
  let compressedSize = 0;
  let compressedUncompressed = 0;
  let uniquePlain = 0;
  let uniqueDataPlain = 0;
  let dataBlobCount = 0;
  const usedPacks = new Set<string>();
  for (const [key, type] of blobs) {
    const id = key.slice(1);
    const loc = repo.index.lookup(type, id)[0];
    if (!loc) throw missingBlob(type, id);
    const plain = loc.uncompressedLength ?? loc.length - overhead;
    rawSize += loc.length;
    rawUncompressed += plain + overhead;
    if (loc.uncompressedLength !== undefined) {
      compressedSize += loc.length;
      compressedUncompressed += plain + overhead;
    }
    uniquePlain += plain;
    if (type === 'data') {
      uniqueDataPlain += plain;
      dataBlobCount++;
    }
    usedPacks.add(loc.packId);
  }
  // restic's field order: total_size, the compression fields (v2 only), then the counts.
  const rawData = { total_size: rawSize } as ModeStats;
  if (repo.config.version >= 2) {
    rawData.total_uncompressed_size = rawUncompressed;
    if (compressedSize > 0) rawData.compression_ratio = compressedUncompressed / compressedSize;
    if (rawUncompressed > 0) {
      rawData.compression_progress = (compressedUncompressed / rawUncompressed) * 100;
      rawData.compression_space_saving = (1 - rawSize / rawUncompressed) * 100;
    }
  }
  Object.assign(rawData, { total_file_count: 0, total_blob_count: blobs.size, snapshots_count: snapshots.length });

  let packCount = 0;
  let packSize = 0;
  for (const packId of repo.index.packIds()) {
    packCount++;
    const list = repo.index.packBlobs(packId) ?? [];
    packSize += list.reduce((s, b) => s + b.length + (b.uncompressedLength ? 41 : 37), 0) + overhead + 4;
  }

  const n = snapshots.length;
  return {
    snapshots_count: n,
    modes: {
      'restore-size': { total_size: restoreSize, total_file_count: restoreCount, snapshots_count: n },
      'raw-data': rawData,
      'files-by-contents': { total_size: byContents.size, total_file_count: byContents.count, snapshots_count: n },
      'blobs-per-file': { total_size: perFile.size, total_file_count: perFile.files, total_blob_count: perFile.blobs, snapshots_count: n },
    },
    storage: {
      logical_size: restoreSize,
      unique_size: uniquePlain,
      stored_size: rawSize,
      dedup_ratio: uniqueDataPlain > 0 ? restoreSize / uniqueDataPlain : 1,
      compression_ratio: rawSize > 0 ? uniquePlain / rawSize : 1,
      data_blob_count: dataBlobCount,
      tree_blob_count: blobs.size - dataBlobCount,
      pack_count: usedPacks.size,
      repository_pack_count: packCount,
      repository_pack_size: packSize,
    },
  };
}

function missingBlob(type: BlobType, id: string): CairnError {
  return new CairnError('missing-blob', `${type} blob ${id.slice(0, 8)} is referenced but not in the index`, 'The repository is incomplete; run `cairn check` to see which snapshots are affected.');
}
