// Depth-first traversal of a snapshot's trees, in the order restic lists them
// (each directory's entries sorted by name bytes, a directory before its
// contents). Used by ls, restore, diff and stats.
import { CairnError } from '../errors.js';
import type { Node, Tree } from '../repo/node.js';

/** Anything that can load a tree by id (a Repository). */
export interface TreeLoader {
  loadTree(id: string): Promise<Tree>;
}

/**
 * Called for every entry with its path (`/a/b`, relative to the walked tree)
 * and node. Returning `false` for a directory skips its contents.
 */
export type TreeVisitor = (path: string, node: Node) => void | boolean | Promise<void | boolean>;

/** One entry of a walk. */
export interface TreeEntry {
  /** `/a/b`: the entry's path below the walked tree. */
  path: string;
  node: Node;
  /** 1 for entries of the walked tree itself. */
  depth: number;
}

/** The path of `name` inside the directory at `parent` (`/` for the root). */
export function joinTreePath(parent: string, name: string): string {
  return parent === '/' || parent === '' ? '/' + name : parent + '/' + name;
}

/**
 * Wraps a TreeLoader so that loading a tree starts loading its
 * subdirectories' trees in the background (a few at a time, a bounded number
 * kept), since a depth-first walk will ask for them next. Turns a walk over a
 * remote repository from one round trip per folder into a few in parallel.
 */
export class PrefetchingTreeLoader implements TreeLoader {
  private readonly ahead = new Map<string, Promise<Tree>>();
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly inner: TreeLoader,
    private readonly concurrency = 8,
    private readonly maxAhead = 256,
  ) {}

  /** Wraps `loader` unless it already prefetches. */
  static wrap(loader: TreeLoader): PrefetchingTreeLoader {
    return loader instanceof PrefetchingTreeLoader ? loader : new PrefetchingTreeLoader(loader);
  }

  async loadTree(id: string): Promise<Tree> {
    const early = this.ahead.get(id);
    if (early) this.ahead.delete(id);
    const tree = await (early ?? this.inner.loadTree(id));
    for (const n of tree.nodes) {
      if (n.type !== 'dir' || !n.subtree || this.ahead.has(n.subtree)) continue;
      // Entries nobody asked for (skipped folders) make way for new ones.
      if (this.ahead.size >= this.maxAhead) this.ahead.delete(this.ahead.keys().next().value!);
      const p = this.limited(n.subtree);
      p.catch(() => undefined); // the error reaches whoever asks for this tree
      this.ahead.set(n.subtree, p);
    }
    return tree;
  }

  private async limited(id: string): Promise<Tree> {
    while (this.active >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await this.inner.loadTree(id);
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/** Visits every entry below tree `treeId` depth-first in name order. */
export async function walkTree(repo: TreeLoader, treeId: string, visit: TreeVisitor, prefix = '/'): Promise<void> {
  const loader = PrefetchingTreeLoader.wrap(repo);
  const tree = await loader.loadTree(treeId);
  for (const node of tree.nodes) {
    const p = joinTreePath(prefix, node.name);
    const descend = await visit(p, node);
    if (node.type === 'dir' && node.subtree && descend !== false) await walkTree(loader, node.subtree, visit, p);
  }
}

/** The entries below tree `treeId`, depth-first in name order, as an async stream. */
export async function* treeEntries(repo: TreeLoader, treeId: string, prefix = '/', depth = 1): AsyncGenerator<TreeEntry> {
  const loader = PrefetchingTreeLoader.wrap(repo);
  const tree = await loader.loadTree(treeId);
  for (const node of tree.nodes) {
    const p = joinTreePath(prefix, node.name);
    yield { path: p, node, depth };
    if (node.type === 'dir' && node.subtree) yield* treeEntries(loader, node.subtree, p, depth + 1);
  }
}

/** Splits `/a/b/` into `['a', 'b']`, refusing `.`/`..` components. */
export function splitTreePath(path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) {
    throw new CairnError('bad-path', `path "${path}" contains ".."`, 'Give the path inside the snapshot as `cairn ls` prints it, e.g. /home/user/docs.');
  }
  return parts;
}

/**
 * Finds the entry at `path` (`/a/b`) below root tree `rootTreeId`. The root
 * itself (`/` or ``) has no node: then only `treeId` is set.
 */
export async function findNode(repo: TreeLoader, rootTreeId: string, path: string): Promise<{ node?: Node; treeId?: string } | undefined> {
  const parts = splitTreePath(path);
  let treeId = rootTreeId;
  let node: Node | undefined;
  for (let i = 0; i < parts.length; i++) {
    const tree = await repo.loadTree(treeId);
    node = tree.nodes.find((n) => n.name === parts[i]);
    if (!node) return undefined;
    if (i < parts.length - 1) {
      if (node.type !== 'dir' || !node.subtree) return undefined;
      treeId = node.subtree;
    }
  }
  if (!node) return { treeId: rootTreeId };
  return node.type === 'dir' && node.subtree ? { node, treeId: node.subtree } : { node };
}
