// Repository verification as `restic check` does it (format §15): index
// files decode, every indexed pack exists with the size the index implies,
// every snapshot loads, every reachable tree loads and references only
// indexed blobs; with read-data, selected packs are downloaded, hashed,
// their headers compared with the index and every blob opened and verified.
import { randomInt } from 'node:crypto';
import { CairnError, describeError } from '../errors.js';
import { decodeIndex } from '../repo/indexCodec.js';
import { expectedPackSize, readPackHeader, type PackedBlob } from '../repo/pack.js';
import { blobFailureText, packJobsInFlight, startPackWorkers, verifyPackData } from '../repo/packReader.js';
import type { Repository } from '../repo/repository.js';
import { mapLimit } from '../repo/repository.js';
import type { Snapshot } from '../repo/snapshot.js';
import { unsafeNameReason } from './restorePlan.js';
import { joinTreePath } from './treeWalker.js';

/** Which packs `--read-data-subset` reads: bucket n of m (by the pack id's first byte), a random percentage, or random packs adding up to a byte count. */
export type ReadDataSubset = { n: number; m: number } | { percent: number } | { bytes: number };

/** The phases of a check, in order. */
export type CheckPhase = 'index' | 'packs' | 'snapshots' | 'trees' | 'read-data';

/** Options of checkRepository. */
export interface CheckOptions {
  /** Download and verify every pack (or the subset). */
  readData?: boolean;
  /** Verify only some packs (implies readData). */
  readDataSubset?: ReadDataSubset;
  /** Progress within the current phase. */
  onProgress?: (done: number, total: number, phase: CheckPhase) => void;
}

/** One problem found. The ids name what is damaged; `message` says it in one line. */
export interface CheckError {
  code: string;
  message: string;
  indexId?: string;
  packId?: string;
  blobId?: string;
  treeId?: string;
  snapshotId?: string;
  /** Path inside a snapshot where the problem was met. */
  path?: string;
}

/** Counts of what was checked. */
export interface CheckStats {
  indexFiles: number;
  packs: number;
  additionalPacks: number;
  snapshots: number;
  trees: number;
  /** File content references checked against the index. */
  dataBlobRefs: number;
  packsRead: number;
  bytesRead: number;
}

/** What checkRepository found. `errors` empty ⇒ "no errors were found". */
export interface CheckResult {
  errors: CheckError[];
  /** Non-fatal findings (additional packs, duplicates) with what to run. */
  hints: string[];
  /** Packs in `data/` that no index lists (not an error; prune removes them). */
  additionalPacks: string[];
  stats: CheckStats;
}

const zeroId = '0'.repeat(64);
const treeConcurrency = 8;

/** restic's rule for --read-data-subset n/m: packs whose id's first byte mod m is n−1. */
export function selectPacksByBucket(packIds: readonly string[], n: number, m: number): string[] {
  if (!Number.isInteger(n) || !Number.isInteger(m) || m < 1 || m > 256 || n < 1 || n > m) {
    throw new CairnError('usage', `invalid read-data subset ${n}/${m}`, 'Use n/m with 1 ≤ n ≤ m ≤ 256, e.g. 1/5.');
  }
  return packIds.filter((id) => parseInt(id.slice(0, 2), 16) % m === n - 1);
}

/** restic's rule for --read-data-subset p%: ⌊count·p/100⌋ random packs, at least one. */
export function selectRandomPacks(packIds: readonly string[], percent: number): string[] {
  let count = Math.floor((packIds.length * percent) / 100);
  if (packIds.length > 0 && count < 1) count = 1;
  return shuffle(packIds).slice(0, count);
}

/** Random packs until their sizes add up to `bytes` (restic's size form of --read-data-subset). */
export function selectPacksBySize(packs: ReadonlyMap<string, number>, bytes: number): string[] {
  const out: string[] = [];
  let total = 0;
  for (const id of shuffle([...packs.keys()])) {
    if (total >= bytes) break;
    out.push(id);
    total += packs.get(id)!;
  }
  return out;
}

function shuffle<T>(items: readonly T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function blobKey(b: PackedBlob): string {
  return `${b.type}:${b.id}:${b.offset}:${b.length}:${b.uncompressedLength ?? 0}`;
}

function sameBlobs(a: readonly PackedBlob[], b: readonly PackedBlob[]): boolean {
  if (a.length !== b.length) return false;
  const ka = a.map(blobKey).sort();
  const kb = b.map(blobKey).sort();
  return ka.every((k, i) => k === kb[i]);
}

/** Runs `fn` over a queue that may grow while it runs, `limit` at a time. */
async function drain<T>(initial: T[], limit: number, fn: (item: T, push: (x: T) => void) => Promise<void>): Promise<void> {
  const queue = [...initial];
  let active = 0;
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      if (queue.length === 0 && active === 0) {
        resolve();
        return;
      }
      while (active < limit && queue.length > 0) {
        const item = queue.shift()!;
        active++;
        fn(item, (x) => queue.push(x)).then(
          () => {
            active--;
            pump();
          },
          reject,
        );
      }
    };
    pump();
  });
}

/**
 * Checks a repository like `restic check` (the caller holds the exclusive
 * lock). A damaged index stops the check early, as in restic, since every
 * later finding would be noise.
 */
export async function checkRepository(repo: Repository, opts: CheckOptions = {}): Promise<CheckResult> {
  const errors: CheckError[] = [];
  const hints: string[] = [];
  const stats: CheckStats = { indexFiles: 0, packs: 0, additionalPacks: 0, snapshots: 0, trees: 0, dataBlobRefs: 0, packsRead: 0, bytesRead: 0 };
  const result: CheckResult = { errors, hints, additionalPacks: [], stats };
  const progress = opts.onProgress ?? (() => undefined);
  if (opts.readData || opts.readDataSubset) startPackWorkers(); // they start up while the index and trees are checked

  // Snapshots are listed before the index is loaded (format §13), so a
  // snapshot written meanwhile has its index already.
  const snapshotIds = await repo.listIds('snapshot');

  // ---- 1. index files ----
  const indexIds = await repo.listIds('index');
  stats.indexFiles = indexIds.length;
  const packs = new Map<string, { blobs: PackedBlob[]; indexId: string }>();
  const duplicates = new Set<string>();
  let done = 0;
  progress(0, indexIds.length, 'index');
  await mapLimit(indexIds, 4, async (indexId) => {
    let decoded;
    try {
      decoded = decodeIndex(await repo.loadJsonFile('index', indexId), indexId);
    } catch (err) {
      const short = `index file ${indexId.slice(0, 8)}`;
      const why = describeError(err);
      errors.push({ code: 'damaged-index', indexId, message: why.includes(short) ? why.replace(short, `index file ${indexId}`) : `index file ${indexId} is damaged: ${why}` });
      return;
    }
    for (const p of decoded.packs) {
      const blobs: PackedBlob[] = p.blobs.map((b) => {
        const out: PackedBlob = { id: b.id, type: b.type, offset: b.offset, length: b.length };
        if (b.uncompressed_length) out.uncompressedLength = b.uncompressed_length;
        return out;
      });
      const seen = packs.get(p.id);
      if (!seen) {
        packs.set(p.id, { blobs, indexId });
        repo.index.addPack(p.id, blobs);
      } else if (sameBlobs(seen.blobs, blobs)) duplicates.add(p.id);
      else {
        errors.push({ code: 'index-conflict', packId: p.id, indexId, message: `pack ${p.id} is described differently by index files ${seen.indexId} and ${indexId}` });
      }
    }
    progress(++done, indexIds.length, 'index');
  });
  if (errors.some((e) => e.code === 'damaged-index')) {
    hints.push('The repository index is damaged: run `restic repair index` to rebuild it from the packs, then check again.');
    return result;
  }
  if (duplicates.size > 0) hints.push(`${duplicates.size} pack(s) are listed in more than one index file; \`restic repair index\` tidies this up (not an error).`);
  for (const [id, p] of packs) {
    const types = new Set(p.blobs.map((b) => b.type));
    if (types.size > 1) hints.push(`pack ${id} holds both data and tree blobs; \`cairn prune\` (or \`restic prune\`) repacks it (not an error).`);
  }

  // ---- 2. packs: exist, right size; unindexed ones are "additional" ----
  const listed = new Map<string, number>();
  for await (const f of repo.backend.list('pack')) listed.set(f.name, f.size);
  stats.packs = packs.size;
  progress(0, packs.size, 'packs');
  done = 0;
  for (const [id, p] of packs) {
    const size = listed.get(id);
    const expected = expectedPackSize(p.blobs);
    if (size === undefined) {
      errors.push({ code: 'missing-pack', packId: id, indexId: p.indexId, message: `pack ${id} is listed in index ${p.indexId} but does not exist` });
    } else if (size !== expected) {
      errors.push({ code: 'pack-size', packId: id, message: `pack ${id} has an unexpected size: ${size} bytes, the index implies ${expected}` });
    }
    progress(++done, packs.size, 'packs');
  }
  for (const id of listed.keys()) {
    if (!packs.has(id)) result.additionalPacks.push(id);
  }
  result.additionalPacks.sort();
  stats.additionalPacks = result.additionalPacks.length;
  if (stats.additionalPacks > 0) {
    hints.push(`${stats.additionalPacks} additional pack file(s) are not referenced by any index (left over from an interrupted backup); \`cairn prune\` (or \`restic prune\`) removes them. Not an error.`);
  }

  // ---- 3. snapshots and every reachable tree ----
  const snapshots: Snapshot[] = [];
  progress(0, snapshotIds.length, 'snapshots');
  done = 0;
  await mapLimit(snapshotIds, 8, async (id) => {
    try {
      snapshots.push(await repo.loadSnapshot(id));
    } catch (err) {
      errors.push({ code: 'damaged-snapshot', snapshotId: id, message: `snapshot ${id} cannot be loaded: ${describeError(err)}` });
    }
    progress(++done, snapshotIds.length, 'snapshots');
  });
  stats.snapshots = snapshots.length;
  await checkTrees(repo, snapshots, errors, stats, progress);

  // ---- 4. read data ----
  if (opts.readData || opts.readDataSubset) {
    const existing = [...packs.keys()].filter((id) => listed.has(id)).sort();
    let selected = existing;
    const sub = opts.readDataSubset;
    if (sub && 'n' in sub) selected = selectPacksByBucket(existing, sub.n, sub.m);
    else if (sub && 'percent' in sub) selected = selectRandomPacks(existing, sub.percent).sort();
    else if (sub && 'bytes' in sub) selected = selectPacksBySize(new Map(existing.map((id) => [id, listed.get(id)!])), sub.bytes).sort();
    progress(0, selected.length, 'read-data');
    done = 0;
    await mapLimit(selected, packJobsInFlight(), async (id) => {
      const read = await verifyPack(repo, id, listed.get(id)!, packs.get(id)!.blobs, errors);
      stats.bytesRead += read;
      stats.packsRead++;
      progress(++done, selected.length, 'read-data');
    });
  }
  return result;
}

/** Walks every tree reachable from the snapshots once, checking each node. */
async function checkTrees(repo: Repository, snapshots: Snapshot[], errors: CheckError[], stats: CheckStats, progress: (done: number, total: number, phase: CheckPhase) => void): Promise<void> {
  interface Job {
    treeId: string;
    path: string;
    snapshotId: string;
  }
  const seen = new Set<string>();
  const initial: Job[] = [];
  for (const s of snapshots) {
    if (!/^[0-9a-f]{64}$/.test(s.tree ?? '') || s.tree === zeroId) {
      errors.push({ code: 'damaged-snapshot', snapshotId: s.id, message: `snapshot ${s.id} has no valid root tree` });
      continue;
    }
    if (seen.has(s.tree)) continue;
    seen.add(s.tree);
    initial.push({ treeId: s.tree, path: '/', snapshotId: s.id });
  }
  let done = 0;
  progress(0, seen.size, 'trees');
  await drain(initial, treeConcurrency, async (job, push) => {
    const where = `${job.path} in snapshot ${job.snapshotId.slice(0, 8)}`;
    try {
      if (!repo.index.has('tree', job.treeId)) {
        errors.push({ code: 'missing-tree', treeId: job.treeId, snapshotId: job.snapshotId, path: job.path, message: `tree ${job.treeId} (${where}) is not in the index` });
        return;
      }
      let tree;
      try {
        tree = await repo.loadTree(job.treeId);
      } catch (err) {
        errors.push({ code: 'damaged-tree', treeId: job.treeId, snapshotId: job.snapshotId, path: job.path, message: `tree ${job.treeId} (${where}) cannot be loaded: ${describeError(err)}` });
        return;
      }
      stats.trees++;
      for (const node of tree.nodes) {
        const p = joinTreePath(job.path, node.name);
        const bad = (code: string, message: string, blobId?: string): void => {
          const e: CheckError = { code, treeId: job.treeId, snapshotId: job.snapshotId, path: p, message: `${JSON.stringify(p)} in tree ${job.treeId}: ${message}` };
          if (blobId) e.blobId = blobId;
          errors.push(e);
        };
        const why = unsafeNameReason(node);
        if (why) bad('bad-node-name', `${why} (restore refuses it)`);
        if (node.type === 'file') {
          if (node.content === null) bad('file-no-content', 'file has no content list');
          for (const id of node.content ?? []) {
            stats.dataBlobRefs++;
            if (id === zeroId) bad('zero-blob-id', 'file references the all-zero blob id');
            else if (!repo.index.has('data', id)) bad('missing-blob', `file content blob ${id} is not in the index`, id);
          }
        } else if (node.type === 'dir') {
          if (!node.subtree || node.subtree === zeroId) bad('dir-no-subtree', 'directory has no subtree');
          else if (!seen.has(node.subtree)) {
            seen.add(node.subtree);
            push({ treeId: node.subtree, path: p, snapshotId: job.snapshotId });
          }
        }
      }
    } finally {
      progress(++done, seen.size, 'trees');
    }
  });
}

/**
 * Reads one pack in full: checks that its SHA-256 is its name, that its
 * header matches the index exactly and that every blob opens and hashes to
 * its id (on a pack worker, the whole pack in one job). Returns the bytes read.
 */
async function verifyPack(repo: Repository, packId: string, size: number, indexBlobs: PackedBlob[], errors: CheckError[]): Promise<number> {
  const packError = (code: string, message: string, blobId?: string): void => {
    const e: CheckError = { code, packId, message: `pack ${packId}: ${message}` };
    if (blobId) e.blobId = blobId;
    errors.push(e);
  };
  let bytes = 0;

  let header: PackedBlob[] | undefined;
  try {
    header = await readPackHeader(repo.key, packId, size, async (o, l) => {
      bytes += l;
      return repo.backend.read({ type: 'pack', name: packId }, o, l);
    });
  } catch (err) {
    packError('pack-header', `header cannot be read: ${describeError(err)}`);
  }

  const byOffset = [...indexBlobs].sort((a, b) => a.offset - b.offset);
  let end = 0;
  for (const b of byOffset) {
    if (b.offset !== end) packError('index-gap', `the index lists blob ${b.id} at offset ${b.offset}, expected ${end} (gap or overlap)`, b.id);
    end = b.offset + b.length;
  }
  if (header) {
    const h = header.map(blobKey);
    const x = byOffset.map(blobKey);
    if (h.length !== x.length || h.some((k, i) => k !== x[i])) {
      const inHeader = new Set(h);
      const inIndex = new Set(x);
      const missing = x.filter((k) => !inHeader.has(k)).length;
      const extra = h.filter((k) => !inIndex.has(k)).length;
      packError('pack-header-mismatch', `header does not match the index (${h.length} blobs in the header, ${x.length} in the index; ${missing} index entries not in the header, ${extra} header entries not in the index)`);
    }
  }

  const listed = header ?? byOffset;
  for (const b of listed) if (b.offset + b.length > size) packError('blob-outside-pack', `blob ${b.id} lies beyond the end of the file`, b.id);
  const inside = listed.filter((b) => b.offset + b.length <= size).sort((a, b) => a.offset - b.offset);
  const r = await verifyPackData(repo, packId, size, inside);
  bytes += r.bytes;
  for (const f of r.failed) {
    const b = f.blob as PackedBlob; // the very objects given to verifyPackData
    packError('damaged-blob', `${b.type} blob ${b.id} is damaged: ${b.type} blob ${b.id.slice(0, 8)} in pack ${packId.slice(0, 8)} ${blobFailureText[f.reason]}`, b.id);
  }
  if (r.readError !== undefined) {
    packError('pack-unreadable', `cannot be read: ${describeError(r.readError)}`);
    return bytes;
  }
  if (r.hash !== packId) packError('pack-hash', `the file's SHA-256 is ${r.hash}, not its name: the file is damaged`);
  return bytes;
}
