// The differences between two snapshot trees, as `restic diff` reports them:
// both trees are walked side by side in name order, and a subtree whose id is
// the same on both sides is identical, so it is skipped without being loaded.
import type { BlobType } from '../repo/ids.js';
import { nodeNameBytes, type Node, type Tree } from '../repo/node.js';
import { parseGoTime } from '../repo/timeFormat.js';

/** What diff needs of a repository (a Repository fits). */
export interface DiffRepository {
  loadTree(id: string): Promise<Tree>;
  readonly index: { plaintextSize(type: BlobType, id: string): number | undefined };
}

/**
 * One line of a diff, restic's `Change`: `+` added, `-` removed, `M` content
 * modified, `U` metadata only (with `metadata`), `T` type changed, `?` content
 * changed while every other field is equal (probable bitrot). Modifiers combine
 * (`TM` cannot happen, `M?` can). Directories end in `/`.
 */
export interface DiffChange {
  path: string;
  modifier: string;
  before?: Node;
  after?: Node;
}

/** Counts for one side of a diff (restic's `DiffStat`). */
export interface DiffStat {
  files: number;
  dirs: number;
  others: number;
  data_blobs: number;
  tree_blobs: number;
  /** Plaintext bytes of the blobs only this side references. */
  bytes: number;
}

/** The summary of a diff: restic's statistics plus cairn's logical sizes. */
export interface DiffSummary {
  changed_files: number;
  added: DiffStat;
  removed: DiffStat;
  /** File bytes of added files and of the new versions of modified files. */
  logical_added: number;
  /** File bytes of removed files and of the old versions of modified files. */
  logical_removed: number;
}

/** Options of diffTrees. */
export interface DiffOptions {
  /** Report metadata-only changes (`U`), as restic's `--metadata`. */
  metadata?: boolean;
  /**
   * Also load the unchanged subtrees to collect their blobs, so a blob that
   * moved into or out of an unchanged directory is not counted as added or
   * removed: restic's exact figures, at the cost of reading every tree.
   */
  exactBlobStats?: boolean;
  /** Called for every change, in path order. */
  onChange?: (change: DiffChange) => void;
}

const emptyStat = (): DiffStat => ({ files: 0, dirs: 0, others: 0, data_blobs: 0, tree_blobs: 0, bytes: 0 });

/** Compares tree `before` with tree `after` (root trees or subtrees), reporting changes as they are found. */
export async function diffTrees(repo: DiffRepository, before: string, after: string, opts: DiffOptions = {}): Promise<DiffSummary> {
  const emit = opts.onChange ?? (() => {});
  const blobsBefore = new Set<string>(['t' + before]);
  const blobsAfter = new Set<string>(['t' + after]);
  const commonTrees = new Set<string>();
  const summary: DiffSummary = { changed_files: 0, added: emptyStat(), removed: emptyStat(), logical_added: 0, logical_removed: 0 };

  const walkOneSide = async (mode: '+' | '-', treeId: string, prefix: string, blobs: Set<string>, stat: DiffStat) => {
    for (const node of (await repo.loadTree(treeId)).nodes) {
      const name = joinPath(prefix, node.name, node.type === 'dir');
      emit(mode === '+' ? { path: name, modifier: mode, after: node } : { path: name, modifier: mode, before: node });
      countNode(stat, node);
      addBlobs(blobs, node);
      if (node.type === 'file') {
        if (mode === '+') summary.logical_added += node.size ?? 0;
        else summary.logical_removed += node.size ?? 0;
      }
      if (node.type === 'dir' && node.subtree) await walkOneSide(mode, node.subtree, name, blobs, stat);
    }
  };

  const diffDir = async (idA: string, idB: string, prefix: string): Promise<void> => {
    const [a, b] = await Promise.all([repo.loadTree(idA), repo.loadTree(idB)]);
    let i = 0;
    let j = 0;
    while (i < a.nodes.length || j < b.nodes.length) {
      const na = a.nodes[i];
      const nb = b.nodes[j];
      const order = !na ? 1 : !nb ? -1 : Buffer.compare(nodeNameBytes(na), nodeNameBytes(nb));
      const n1 = order <= 0 ? na : undefined;
      const n2 = order >= 0 ? nb : undefined;
      if (n1) i++;
      if (n2) j++;
      if (n1) addBlobs(blobsBefore, n1);
      if (n2) addBlobs(blobsAfter, n2);
      if (n1 && n2) {
        await diffPair(n1, n2, prefix);
      } else if (n1) {
        const name = joinPath(prefix, n1.name, n1.type === 'dir');
        emit({ path: name, modifier: '-', before: n1 });
        countNode(summary.removed, n1);
        if (n1.type === 'file') summary.logical_removed += n1.size ?? 0;
        if (n1.type === 'dir' && n1.subtree) await walkOneSide('-', n1.subtree, name, blobsBefore, summary.removed);
      } else if (n2) {
        const name = joinPath(prefix, n2.name, n2.type === 'dir');
        emit({ path: name, modifier: '+', after: n2 });
        countNode(summary.added, n2);
        if (n2.type === 'file') summary.logical_added += n2.size ?? 0;
        if (n2.type === 'dir' && n2.subtree) await walkOneSide('+', n2.subtree, name, blobsAfter, summary.added);
      }
    }
  };

  const diffPair = async (n1: Node, n2: Node, prefix: string) => {
    const name = joinPath(prefix, n1.name, n2.type === 'dir');
    let mod = n1.type !== n2.type ? 'T' : '';
    if (n1.type === 'file' && n2.type === 'file' && !sameList(n1.content, n2.content)) {
      mod += 'M';
      summary.changed_files++;
      summary.logical_removed += n1.size ?? 0;
      summary.logical_added += n2.size ?? 0;
      if (nodesEqual({ ...n1, content: null }, { ...n2, content: null })) mod += '?';
    } else if (opts.metadata && !nodesEqual(n1, n2)) {
      mod += 'U';
    }
    if (n1.type !== n2.type) {
      if (n1.type === 'file') summary.logical_removed += n1.size ?? 0;
      if (n2.type === 'file') summary.logical_added += n2.size ?? 0;
    }
    if (mod !== '') emit({ path: name, modifier: mod, before: n1, after: n2 });
    if (n1.type === 'dir' && n2.type === 'dir' && n1.subtree && n2.subtree) {
      if (n1.subtree === n2.subtree) commonTrees.add(n1.subtree);
      else await diffDir(n1.subtree, n2.subtree, name);
    }
  };

  if (before !== after) await diffDir(before, after, '/');
  else commonTrees.add(before);

  const common = new Set<string>();
  if (opts.exactBlobStats) {
    const seen = new Set<string>();
    const collect = async (treeId: string): Promise<void> => {
      if (seen.has(treeId)) return;
      seen.add(treeId);
      for (const node of (await repo.loadTree(treeId)).nodes) {
        addBlobs(common, node);
        if (node.type === 'dir' && node.subtree) await collect(node.subtree);
      }
    };
    for (const t of commonTrees) await collect(t);
  }
  countBlobs(repo, blobsBefore, (k) => !blobsAfter.has(k) && !common.has(k), summary.removed);
  countBlobs(repo, blobsAfter, (k) => !blobsBefore.has(k) && !common.has(k), summary.added);
  return summary;
}

/** restic's path.Join(prefix, name), with `/` appended for directories. */
function joinPath(prefix: string, name: string, isDir: boolean): string {
  const base = prefix.endsWith('/') ? prefix : prefix + '/';
  return base + name + (isDir ? '/' : '');
}

function countNode(stat: DiffStat, node: Node): void {
  if (node.type === 'file') stat.files++;
  else if (node.type === 'dir') stat.dirs++;
  else stat.others++;
}

/** The blobs a node references directly: a file's data blobs, a directory's tree. */
function addBlobs(set: Set<string>, node: Node): void {
  if (node.type === 'file') for (const id of node.content ?? []) set.add('d' + id);
  else if (node.type === 'dir' && node.subtree) set.add('t' + node.subtree);
}

function countBlobs(repo: DiffRepository, set: Set<string>, keep: (key: string) => boolean, stat: DiffStat): void {
  for (const k of set) {
    if (!keep(k)) continue;
    const type: BlobType = k[0] === 't' ? 'tree' : 'data';
    if (type === 'tree') stat.tree_blobs++;
    else stat.data_blobs++;
    stat.bytes += repo.index.plaintextSize(type, k.slice(1)) ?? 0;
  }
}

function sameList(a: readonly string[] | null | undefined, b: readonly string[] | null | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function sameTime(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return parseGoTime(a).epochNs === parseGoTime(b).epochNs;
  } catch {
    return false;
  }
}

/** restic's Node.Equals: every field, times compared as instants. */
export function nodesEqual(a: Node, b: Node): boolean {
  return (
    a.name === b.name &&
    a.type === b.type &&
    (a.mode ?? 0) === (b.mode ?? 0) &&
    sameTime(a.mtime, b.mtime) &&
    sameTime(a.atime, b.atime) &&
    sameTime(a.ctime, b.ctime) &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    (a.user ?? '') === (b.user ?? '') &&
    (a.group ?? '') === (b.group ?? '') &&
    (a.inode ?? 0n) === (b.inode ?? 0n) &&
    (a.device_id ?? 0n) === (b.device_id ?? 0n) &&
    (a.size ?? 0) === (b.size ?? 0) &&
    (a.links ?? 0) === (b.links ?? 0) &&
    (a.linktarget ?? '') === (b.linktarget ?? '') &&
    (a.linktarget_raw ?? '') === (b.linktarget_raw ?? '') &&
    (a.device ?? 0n) === (b.device ?? 0n) &&
    sameList(a.content, b.content) &&
    (a.subtree ?? '') === (b.subtree ?? '') &&
    (a.error ?? '') === (b.error ?? '') &&
    JSON.stringify(a.extended_attributes ?? []) === JSON.stringify(b.extended_attributes ?? []) &&
    JSON.stringify(a.generic_attributes ?? {}) === JSON.stringify(b.generic_attributes ?? {})
  );
}
