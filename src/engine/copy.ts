// `copy`: snapshots from one repository into another, blob by blob, without
// going back to the original files. When both repositories use the same
// chunker polynomial the blobs are copied as they are (trees byte for byte);
// when they differ, file contents are cut again with the target's
// polynomial, so later backups into the target deduplicate against the
// copies. Snapshots already copied (same `original` and the same fields, as
// restic decides) are skipped, so copying twice copies nothing.
import { Chunker } from '../chunker/chunker.js';
import { CairnError } from '../errors.js';
import { RepositoryLock } from '../repo/lock.js';
import type { Node } from '../repo/node.js';
import type { Repository } from '../repo/repository.js';
import type { Snapshot, SnapshotData } from '../repo/snapshot.js';
import { filterSnapshots, matchesFilter, type SnapshotFilter } from './snapshotFilter.js';

/** Options of copySnapshots. */
export interface CopyOptions {
  /** Snapshot ids, unique prefixes or "latest"; default all (that pass `filter`). */
  ids?: readonly string[];
  /** --host / --tag / --path selection (without ids; with ids it only steers "latest"). */
  filter?: SnapshotFilter;
  /** Take no locks: the caller holds them. */
  noLock?: boolean;
  /** Called when a snapshot is skipped or copied. */
  onSnapshot?: (event: CopyEvent) => void;
  onProgress?: (p: CopyProgress) => void;
}

/** One snapshot's fate. */
export type CopyEvent = { kind: 'skipped'; source: Snapshot; existing: string } | { kind: 'copied'; source: Snapshot; target: string };

/** Counters while copying. */
export interface CopyProgress {
  snapshotsDone: number;
  snapshotsTotal: number;
  blobsAdded: number;
  bytesAdded: number;
}

/** What copySnapshots did. */
export interface CopyResult {
  /** Source id → new id in the target. */
  copied: { source: string; target: string }[];
  /** Source id → the target snapshot that already is its copy. */
  skipped: { source: string; existing: string }[];
  /** True when the polynomials differ and file contents were cut again. */
  rechunked: boolean;
  /** Blobs stored in the target (new ones only). */
  blobsAdded: number;
  /** Plaintext bytes of the new data blobs. */
  bytesAdded: number;
  /** What they occupy in the target (compressed, sealed). */
  storedBytes: number;
}

/**
 * restic's test for "already copied": everything but parent, original and
 * (when contents were cut again, which changes every tree id) the tree
 * matches — time, host, user, ids, paths, tags and excludes.
 */
export function similarSnapshots(a: Snapshot, b: Snapshot, compareTree = true): boolean {
  if (!sameInstant(a.time, b.time)) return false;
  if (compareTree && a.tree !== b.tree) return false;
  if ((a.hostname ?? '') !== (b.hostname ?? '') || (a.username ?? '') !== (b.username ?? '') || (a.uid ?? 0) !== (b.uid ?? 0) || (a.gid ?? 0) !== (b.gid ?? 0)) return false;
  const ap = a.paths ?? [];
  const bp = b.paths ?? [];
  const at = a.tags ?? [];
  const bt = b.tags ?? [];
  const ae = a.excludes ?? [];
  const be = b.excludes ?? [];
  if (ap.length !== bp.length || at.length !== bt.length || ae.length !== be.length) return false;
  if (!bp.every((p) => ap.includes(p)) || !bt.every((t) => at.includes(t))) return false;
  return ae.every((e, i) => e === be[i]);
}

/** True when two RFC 3339 times name the same instant, to the nanosecond. */
function sameInstant(x: string, y: string): boolean {
  const ns = (t: string): bigint => {
    const m = /^(.*?:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(t);
    if (!m) return BigInt(Date.parse(t)) * 1_000_000n;
    const secs = BigInt(Date.parse(m[1]! + m[3]!)) * 1_000_000n;
    return secs + BigInt((m[2] ?? '').padEnd(9, '0').slice(0, 9) || '0');
  };
  return ns(x) === ns(y);
}

/**
 * Picks the source snapshots, oldest first: the given ids (the filters then
 * only choose what "latest" means, as in restic), or all that pass the filters.
 */
async function selectSnapshots(src: Repository, opts: CopyOptions): Promise<Snapshot[]> {
  const all = await src.loadSnapshots();
  const filter = opts.filter ?? {};
  if (!opts.ids || opts.ids.length === 0) return filterSnapshots(all, filter);
  const picked = new Set<string>();
  for (const ref of opts.ids) picked.add((await src.resolveSnapshot(ref, (s) => matchesFilter(s, filter))).id);
  return all.filter((s) => picked.has(s.id));
}

/**
 * Copies snapshots from `src` into `dst`. Per snapshot: its trees and data
 * blobs that the target lacks are stored, the target's packs and index are
 * written (flush), then the snapshot file, with `parent` dropped and
 * `original` pointing at the first snapshot of the chain, as restic does.
 */
export async function copySnapshots(src: Repository, dst: Repository, opts: CopyOptions = {}): Promise<CopyResult> {
  if (src.config.id === dst.config.id) {
    throw new CairnError('copy-same-repository', 'source and target are the same repository', 'Give another repository with -r (the target) or --from-repo (the source).');
  }
  const srcLock = opts.noLock ? undefined : await RepositoryLock.acquire(src, false);
  let dstLock: RepositoryLock | undefined;
  try {
    dstLock = opts.noLock ? undefined : await RepositoryLock.acquire(dst, false);
    const snapshots = await selectSnapshots(src, opts);
    const existing = await dst.loadSnapshots();
    await src.loadIndex();
    await dst.loadIndex();
    const rechunk = src.config.chunker_polynomial !== dst.config.chunker_polynomial;
    const byOriginal = new Map<string, Snapshot[]>();
    const remember = (key: string, sn: Snapshot) => byOriginal.set(key, [...(byOriginal.get(key) ?? []), sn]);
    for (const sn of existing) {
      if (sn.original) remember(sn.original, sn);
      remember(sn.id, sn);
    }
    const copier = new BlobCopier(src, dst, rechunk);
    const result: CopyResult = { copied: [], skipped: [], rechunked: rechunk, blobsAdded: 0, bytesAdded: 0, storedBytes: 0 };
    let snapshotsDone = 0;
    const report = () => opts.onProgress?.({ snapshotsDone, snapshotsTotal: snapshots.length, blobsAdded: copier.blobsAdded, bytesAdded: copier.bytesAdded });
    copier.onBlob = report;
    for (const sn of snapshots) {
      const original = sn.original ?? sn.id;
      const twin = (byOriginal.get(original) ?? []).find((d) => similarSnapshots(d, sn, !rechunk));
      if (twin) {
        result.skipped.push({ source: sn.id, existing: twin.id });
        opts.onSnapshot?.({ kind: 'skipped', source: sn, existing: twin.id });
      } else {
        const tree = await copier.copyTree(sn.tree);
        await dst.flush();
        const { id: _id, parent: _parent, ...fields } = sn;
        const data: SnapshotData = { ...fields, tree, original };
        const id = await dst.saveSnapshot(data);
        remember(original, { ...data, id });
        result.copied.push({ source: sn.id, target: id });
        opts.onSnapshot?.({ kind: 'copied', source: sn, target: id });
      }
      snapshotsDone++;
      report();
    }
    result.blobsAdded = copier.blobsAdded;
    result.bytesAdded = copier.bytesAdded;
    result.storedBytes = copier.storedBytes;
    return result;
  } finally {
    await dstLock?.release();
    await srcLock?.release();
  }
}

/** Moves blobs from one repository to the other, remembering what it already did across snapshots. */
class BlobCopier {
  blobsAdded = 0;
  bytesAdded = 0;
  storedBytes = 0;
  onBlob: (() => void) | undefined;
  /** Source tree id → target tree id. */
  private readonly trees = new Map<string, string>();
  /** A file's source content list → its content cut with the target's polynomial. */
  private readonly contents = new Map<string, string[]>();

  constructor(
    private readonly src: Repository,
    private readonly dst: Repository,
    private readonly rechunk: boolean,
  ) {}

  /** Copies the tree `id` and everything below it; returns the tree's id in the target. */
  async copyTree(id: string): Promise<string> {
    const known = this.trees.get(id);
    if (known) return known;
    let target: string;
    if (!this.rechunk) {
      // Children first, so a tree never lands in the target before what it names.
      const tree = await this.src.loadTree(id);
      for (const node of tree.nodes) {
        if (node.type === 'file') for (const c of node.content ?? []) await this.copyBlob('data', c);
        else if (node.type === 'dir' && node.subtree) await this.copyTree(node.subtree);
      }
      await this.copyBlob('tree', id);
      target = id;
    } else {
      const tree = await this.src.loadTree(id);
      const nodes: Node[] = [];
      for (const node of tree.nodes) {
        const copy: Node = { ...node };
        if (node.type === 'file' && node.content) copy.content = await this.recut(node.content);
        else if (node.type === 'dir' && node.subtree) copy.subtree = await this.copyTree(node.subtree);
        nodes.push(copy);
      }
      const saved = await this.dst.saveTree(nodes);
      this.count(saved.added, 0, saved.storedSize);
      target = saved.id;
    }
    this.trees.set(id, target);
    return target;
  }

  /** Copies one blob unless the target has it; the plaintext is verified on load and re-encrypted for the target. */
  private async copyBlob(type: 'data' | 'tree', id: string): Promise<void> {
    if (this.dst.hasBlob(type, id)) return;
    const plain = await this.src.loadBlob(type, id);
    const saved = await this.dst.saveBlob(type, plain, id);
    this.count(saved.added, type === 'data' ? plain.length : 0, saved.storedSize);
  }

  /** A file's content cut again with the target's chunker. */
  private async recut(content: readonly string[]): Promise<string[]> {
    const key = content.join(',');
    const known = this.contents.get(key);
    if (known) return known;
    const chunker = new Chunker(this.dst.polynomial);
    const out: string[] = [];
    const save = async (chunks: Buffer[]) => {
      for (const chunk of chunks) {
        const saved = await this.dst.saveBlob('data', chunk);
        this.count(saved.added, chunk.length, saved.storedSize);
        out.push(saved.id);
      }
    };
    for (const id of content) await save(chunker.push(await this.src.loadBlob('data', id)));
    await save(chunker.finish());
    this.contents.set(key, out);
    return out;
  }

  private count(added: boolean, bytes: number, stored: number): void {
    if (!added) return;
    this.blobsAdded++;
    this.bytesAdded += bytes;
    this.storedBytes += stored;
    this.onBlob?.();
  }
}
