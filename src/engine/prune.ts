// `prune`: remove what no snapshot needs, in an order that keeps the
// repository valid at every instant (format §13), so a kill at any point
// leaves something `restic check` accepts and the next prune finishes:
//   1. delete pack files no index lists (nothing refers to them);
//   2. write the repacked packs (unindexed until step 3, so harmless);
//   3. write new index files covering every kept pack and the new ones;
//   4. delete the old index files (the new ones already list all that stays);
//   5. delete the unused and repacked packs (no index lists them any more).
import { CairnError } from '../errors.js';
import type { BlobType } from '../repo/ids.js';
import type { BlobLocation } from '../repo/masterIndex.js';
import type { PackedBlob } from '../repo/pack.js';
import { PackWriter } from '../repo/packWriter.js';
import { RepositoryLock } from '../repo/lock.js';
import { mapLimit, type Repository } from '../repo/repository.js';
import { indexPackOf, writeIndexFiles } from './indexWriter.js';
import { blobKey, planPrune, repackItems, type PrunePlan, type PrunePolicy, type RepackItem } from './prunePlan.js';

/** What a prune is doing right now, for progress displays. */
export type PrunePhase = 'snapshots' | 'trees' | 'delete-unreferenced' | 'repack' | 'write-index' | 'delete-index' | 'delete-packs';

/** Progress within one phase. */
export interface PruneProgress {
  phase: PrunePhase;
  done: number;
  total: number;
}

/** One change to the repository, announced just before it is made. */
export interface PruneStep {
  /** 1 for the first change of the run, counting up. */
  n: number;
  action: 'delete-unreferenced-pack' | 'write-pack' | 'write-index' | 'delete-index' | 'delete-pack';
  /** The file concerned (not known yet for written files). */
  id?: string;
}

/** Options of a prune run. */
export interface PruneOptions extends PrunePolicy {
  /** Plan and report, change nothing. */
  dryRun?: boolean;
  /** Snapshots to treat as already removed (forget --prune --dry-run predicts with them gone). */
  ignoreSnapshots?: Iterable<string>;
  /** Take no lock: the caller holds an exclusive one (forget --prune). */
  noLock?: boolean;
  onProgress?: (p: PruneProgress) => void;
  /** Called before each change; a thrown error stops the run right there (tests use it to stop at any point). */
  onStep?: (step: PruneStep) => void | Promise<void>;
}

/** A plan together with what it was made from. */
export interface PreparedPrune {
  plan: PrunePlan;
  /** Index files loaded to make the plan: the ones replaced in step 4. */
  indexFiles: string[];
  /** Pack files with their sizes at planning time. */
  packFiles: Map<string, number>;
  /** Snapshots whose blobs were kept. */
  snapshots: number;
}

/** What a prune run changed. */
export interface PruneResult {
  unreferencedPacksDeleted: number;
  packsWritten: number;
  packBytesWritten: number;
  indexFilesWritten: number;
  indexFilesDeleted: number;
  packsDeleted: number;
  /** Bytes of all deleted pack files, unreferenced ones included. */
  packBytesDeleted: number;
}

/** The outcome of pruneRepository: the plan, and what was done unless it was a dry run. */
export interface PruneOutcome extends PreparedPrune {
  result?: PruneResult;
}

const treeConcurrency = 8;
const deleteConcurrency = 4;

/**
 * The blobKey()s of every tree and data blob reachable from the given root
 * trees, each tree loaded once. A tree that cannot be loaded stops the
 * search: pruning without knowing what is used would delete needed data.
 */
export async function findUsedBlobs(repo: Repository, roots: Iterable<string>, onTree?: (done: number) => void): Promise<Set<string>> {
  const used = new Set<string>();
  let queue: string[] = [];
  for (const r of roots) {
    if (used.has(blobKey('tree', r))) continue;
    used.add(blobKey('tree', r));
    queue.push(r);
  }
  let done = 0;
  while (queue.length > 0) {
    const next: string[] = [];
    await mapLimit(queue, treeConcurrency, async (treeId) => {
      let nodes;
      try {
        nodes = (await repo.loadTree(treeId)).nodes;
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new CairnError('prune-tree-unreadable', `tree ${treeId.slice(0, 8)} cannot be loaded (${why}); prune stopped so that no needed data is deleted`, 'Run `cairn check` to see which snapshots are damaged; `restic repair snapshots --forget` rewrites or removes them, then prune again.', undefined, { cause: err });
      }
      for (const node of nodes) {
        if (node.type === 'file') for (const c of node.content ?? []) used.add(blobKey('data', c));
        else if (node.type === 'dir' && node.subtree && !used.has(blobKey('tree', node.subtree))) {
          used.add(blobKey('tree', node.subtree));
          next.push(node.subtree);
        }
      }
      onTree?.(++done);
    });
    queue = next;
  }
  return used;
}

/** Loads snapshots and index (in that order of need), finds the used blobs and plans the prune. */
export async function preparePrune(repo: Repository, opts: PruneOptions = {}): Promise<PreparedPrune> {
  const ignore = new Set(opts.ignoreSnapshots ?? []);
  const indexFiles = await repo.listIds('index');
  await repo.loadIndex();
  const snapshots = (await repo.loadSnapshots()).filter((s) => !ignore.has(s.id));
  opts.onProgress?.({ phase: 'snapshots', done: snapshots.length, total: snapshots.length });
  const used = await findUsedBlobs(
    repo,
    snapshots.map((s) => s.tree),
    (done) => opts.onProgress?.({ phase: 'trees', done, total: 0 }),
  );
  const packFiles = new Map<string, number>();
  for await (const f of repo.backend.list('pack')) packFiles.set(f.name, f.size);
  const packs = new Map<string, readonly PackedBlob[]>();
  for (const id of repo.index.packIds()) packs.set(id, repo.index.packBlobs(id)!);
  const plan = planPrune({ packs, files: packFiles, used, repoVersion: repo.config.version }, opts);
  return { plan, indexFiles, packFiles, snapshots: snapshots.length };
}

/** Removes a file, treating "already gone" as done (a rerun after a kill meets such files). */
async function removeFile(repo: Repository, type: 'pack' | 'index', name: string): Promise<void> {
  try {
    await repo.backend.remove({ type, name });
  } catch (err) {
    if (err instanceof CairnError && err.code === 'not-found') return;
    throw err;
  }
}

/** Carries out a prepared plan in the crash-safe order (see the top of this file). */
export async function executePrune(repo: Repository, prepared: PreparedPrune, opts: PruneOptions = {}): Promise<PruneResult> {
  const { plan } = prepared;
  let n = 0;
  const step = async (action: PruneStep['action'], id?: string): Promise<void> => {
    const s: PruneStep = { n: ++n, action };
    if (id) s.id = id;
    await opts.onStep?.(s);
  };
  const progress = (phase: PrunePhase, done: number, total: number) => opts.onProgress?.({ phase, done, total });
  const result: PruneResult = { unreferencedPacksDeleted: 0, packsWritten: 0, packBytesWritten: 0, indexFilesWritten: 0, indexFilesDeleted: 0, packsDeleted: 0, packBytesDeleted: 0 };

  // 1. Pack files without index: nothing refers to them.
  let done = 0;
  await mapLimit(plan.removeFirst, deleteConcurrency, async (id) => {
    await step('delete-unreferenced-pack', id);
    await removeFile(repo, 'pack', id);
    result.unreferencedPacksDeleted++;
    result.packBytesDeleted += prepared.packFiles.get(id) ?? 0;
    progress('delete-unreferenced', ++done, plan.removeFirst.length);
  });

  // 2. Copy the used blobs of the repacked packs into new packs.
  const newPacks = await repackBlobs(repo, plan, step, (d, t) => progress('repack', d, t));
  for (const p of newPacks) {
    result.packsWritten++;
    result.packBytesWritten += p.size;
  }

  const dropped = new Set([...plan.remove, ...plan.repack, ...plan.ignore]);
  if (dropped.size > 0 || newPacks.length > 0) {
    // 3. New index files for everything that stays.
    const kept = [];
    for (const id of repo.index.packIds()) if (!dropped.has(id)) kept.push(indexPackOf(id, repo.index.packBlobs(id)!));
    for (const p of newPacks) kept.push(indexPackOf(p.id, p.blobs));
    const written = await writeIndexFiles(repo, kept, async (i, total) => {
      progress('write-index', i - 1, total);
      await step('write-index');
    });
    result.indexFilesWritten = written.length;
    for (const p of newPacks) repo.index.addPack(p.id, p.blobs);

    // 4. The old index files: everything they list that stays is in the new ones.
    const fresh = new Set(written);
    const old = prepared.indexFiles.filter((id) => !fresh.has(id));
    done = 0;
    await mapLimit(old, deleteConcurrency, async (id) => {
      await step('delete-index', id);
      await removeFile(repo, 'index', id);
      result.indexFilesDeleted++;
      progress('delete-index', ++done, old.length);
    });
  }

  // 5. Packs no index lists any more.
  const doomed = [...plan.remove, ...plan.repack];
  done = 0;
  await mapLimit(doomed, deleteConcurrency, async (id) => {
    await step('delete-pack', id);
    await removeFile(repo, 'pack', id);
    result.packsDeleted++;
    result.packBytesDeleted += prepared.packFiles.get(id) ?? 0;
    progress('delete-packs', ++done, doomed.length);
  });
  for (const id of dropped) repo.index.removePack(id);
  return result;
}

interface WrittenPack {
  id: string;
  size: number;
  blobs: PackedBlob[];
}

/**
 * Writes the plan's keepBlobs from the repacked packs into new packs, in the
 * order prunePlan's layout predicts. Each blob is opened and checked against
 * its id first (a damaged blob stops the prune instead of being carried
 * over); its sealed bytes are reused as they are — same master key — unless
 * the pack's blobs must be compressed.
 */
async function repackBlobs(repo: Repository, plan: PrunePlan, step: (action: PruneStep['action'], id?: string) => Promise<void>, progress: (done: number, total: number) => void): Promise<WrittenPack[]> {
  const packs = new Map<string, readonly PackedBlob[]>();
  for (const id of plan.repack) packs.set(id, repo.index.packBlobs(id) ?? []);
  const items = repackItems(plan.repack, packs, plan.keepBlobs);
  const byPack = new Map<string, RepackItem[]>();
  for (const item of items) {
    const list = byPack.get(item.packId);
    if (list) list.push(item);
    else byPack.set(item.packId, [item]);
  }
  const writers: Record<BlobType, PackWriter> = { data: new PackWriter('data'), tree: new PackWriter('tree') };
  const written: WrittenPack[] = [];
  const upload = async (w: PackWriter): Promise<void> => {
    const pack = w.finish(repo.key);
    await step('write-pack', pack.id);
    await repo.backend.write({ type: 'pack', name: pack.id }, pack.bytes);
    written.push({ id: pack.id, size: pack.bytes.length, blobs: pack.blobs });
  };
  const remaining = new Set(plan.keepBlobs);
  let packsDone = 0;
  for (const packId of plan.repack) {
    const list = byPack.get(packId) ?? [];
    if (list.length > 0) {
      // One read from the first to the last blob needed.
      const start = Math.min(...list.map((i) => i.blob.offset));
      const end = Math.max(...list.map((i) => i.blob.offset + i.blob.length));
      const buf = await repo.backend.read({ type: 'pack', name: packId }, start, end - start);
      for (const { blob } of list) {
        const sealed = Buffer.from(buf.subarray(blob.offset - start, blob.offset - start + blob.length));
        const loc: BlobLocation = { packId, offset: blob.offset, length: blob.length };
        if (blob.uncompressedLength) loc.uncompressedLength = blob.uncompressedLength;
        const plain = repo.decodeBlob(blob.type, blob.id, loc, sealed);
        const w = writers[blob.type];
        if (plan.mustCompress.has(packId) && !blob.uncompressedLength) {
          const enc = repo.encodeBlob(blob.type, plain);
          w.add(blob.id, enc.sealed, enc.uncompressedLength);
        } else {
          w.add(blob.id, sealed, blob.uncompressedLength);
        }
        remaining.delete(blobKey(blob.type, blob.id));
        if (w.isFull(plan.packSize)) await upload(w);
      }
    }
    progress(++packsDone, plan.repack.length);
  }
  for (const type of ['data', 'tree'] as const) if (writers[type].count > 0) await upload(writers[type]);
  if (remaining.size > 0) {
    throw new CairnError('prune-internal', `${remaining.size} used blob(s) were not found in the packs being repacked; prune stopped before changing the index`, 'This is a bug in cairn; the repository is unchanged apart from new unindexed packs. Run `cairn check` and report the problem.');
  }
  return written;
}

/**
 * `prune` as a library call: takes an exclusive lock (a shared one for a dry
 * run) unless the caller holds one, plans, and unless dryRun carries the plan
 * out.
 */
export async function pruneRepository(repo: Repository, opts: PruneOptions = {}): Promise<PruneOutcome> {
  const lock = opts.noLock ? undefined : await RepositoryLock.acquire(repo, !opts.dryRun);
  try {
    const prepared = await preparePrune(repo, opts);
    if (opts.dryRun) return prepared;
    const result = await executePrune(repo, prepared, opts);
    return { ...prepared, result };
  } finally {
    await lock?.release();
  }
}
