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

/** Visits every entry below tree `treeId` depth-first in name order. */
export async function walkTree(repo: TreeLoader, treeId: string, visit: TreeVisitor, prefix = '/'): Promise<void> {
  const tree = await repo.loadTree(treeId);
  for (const node of tree.nodes) {
    const p = joinTreePath(prefix, node.name);
    const descend = await visit(p, node);
    if (node.type === 'dir' && node.subtree && descend !== false) await walkTree(repo, node.subtree, visit, p);
  }
}

/** The entries below tree `treeId`, depth-first in name order, as an async stream. */
export async function* treeEntries(repo: TreeLoader, treeId: string, prefix = '/', depth = 1): AsyncGenerator<TreeEntry> {
  const tree = await repo.loadTree(treeId);
  for (const node of tree.nodes) {
    const p = joinTreePath(prefix, node.name);
    yield { path: p, node, depth };
    if (node.type === 'dir' && node.subtree) yield* treeEntries(repo, node.subtree, p, depth + 1);
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
