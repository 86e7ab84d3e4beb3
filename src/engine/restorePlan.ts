// The restore plan: which entries of a snapshot go where, decided before
// anything is written. Names that are not a single path component are refused
// here (format §10.8), so no later step can create a path outside the target.
import { CairnError, describeError } from '../errors.js';
import { nodeNameBytes, type Node } from '../repo/node.js';
import { PathFilter, rootFilterState, type FilterState } from './pathFilter.js';
import type { FsPath } from './setTimes.js';
import { joinTreePath, PrefetchingTreeLoader, type TreeLoader } from './treeWalker.js';

/** What kind of thing an entry creates. */
export type PlanKind = 'dir' | 'file' | 'symlink' | 'fifo' | 'device' | 'socket' | 'irregular';

/** One entry to restore. Entries come in pre-order: a directory before its contents. */
export interface PlanEntry {
  kind: PlanKind;
  node: Node;
  /** `/a/b`: where the entry sits below the restore root (for messages and filters). */
  rel: string;
  /** The absolute path to create (bytes when a name is not valid UTF-8). */
  path: FsPath;
  /** Index of the parent directory's entry, or -1 when the parent is the target itself. */
  parent: number;
  depth: number;
  /** For later names of a hard-linked file: index of the first entry with that inode, which is written. */
  linkTo?: number;
}

/** A problem found while planning (refused name, unreadable tree). */
export interface PlanProblem {
  path: string;
  code: string;
  message: string;
  remedy: string;
}

/** Where to start planning: a tree's contents, or one single node (a file given as subpath). */
export type PlanRoot = { treeId: string } | { node: Node };

/** Options of planRestore. */
export interface PlanOptions {
  /** Absolute, resolved target directory. */
  target: string;
  filter: PathFilter;
  onProblem: (p: PlanProblem) => void;
}

const slash = 0x2f;

/** Why a node name is not a safe single path component, or undefined when it is. */
export function unsafeNameReason(node: Pick<Node, 'name' | 'nameRaw'>): string | undefined {
  const b = nodeNameBytes(node);
  if (b.length === 0) return 'the name is empty';
  if (b.length === 1 && b[0] === 0x2e) return 'the name is "."';
  if (b.length === 2 && b[0] === 0x2e && b[1] === 0x2e) return 'the name is ".."';
  if (b.includes(slash)) return 'the name contains "/"';
  if (b.includes(0)) return 'the name contains a NUL byte';
  return undefined;
}

function kindOf(node: Node): PlanKind {
  switch (node.type) {
    case 'dir':
      return 'dir';
    case 'file':
      return 'file';
    case 'symlink':
      return 'symlink';
    case 'fifo':
      return 'fifo';
    case 'dev':
    case 'chardev':
      return 'device';
    case 'socket':
      return 'socket';
    default:
      return 'irregular';
  }
}

function fsJoin(dir: FsPath, node: Node): FsPath {
  if (typeof dir === 'string' && !node.nameRaw) return dir + '/' + node.name;
  return Buffer.concat([typeof dir === 'string' ? Buffer.from(dir, 'utf8') : dir, Buffer.from('/'), nodeNameBytes(node)]);
}

function inside(target: string, p: FsPath): boolean {
  const prefix = target.endsWith('/') ? target : target + '/';
  return typeof p === 'string' ? p.startsWith(prefix) : p.subarray(0, Buffer.byteLength(prefix)).equals(Buffer.from(prefix));
}

/**
 * Walks the snapshot from `root` and lists what to restore into
 * `opts.target`, applying include/exclude patterns and refusing unsafe names
 * (reported through `onProblem`, the rest continues). Directories that are
 * not selected themselves are kept only when something inside is.
 */
export async function planRestore(repo: TreeLoader, root: PlanRoot, opts: PlanOptions): Promise<PlanEntry[]> {
  const loader = PrefetchingTreeLoader.wrap(repo);
  const entries: PlanEntry[] = [];
  const firstByInode = new Map<string, number>();

  const refuse = (rel: string, why: string): void =>
    opts.onProblem({
      path: rel,
      code: 'unsafe-path',
      message: `refused to restore ${JSON.stringify(rel)}: ${why}, so it could land outside the target (damaged or malicious snapshot)`,
      remedy: 'Everything else was restored; run `cairn check` on the repository and do not trust this snapshot.',
    });

  const add = (node: Node, rel: string, dir: FsPath, parent: number, depth: number): PlanEntry | undefined => {
    const p = fsJoin(dir, node);
    if (!inside(opts.target, p)) {
      refuse(rel, 'the path leaves the target');
      return undefined;
    }
    const e: PlanEntry = { kind: kindOf(node), node, rel, path: p, parent, depth };
    if (e.kind === 'file' && (node.links ?? 0) > 1 && node.inode !== undefined) {
      const key = `${node.device_id ?? ''}:${node.inode}`;
      const first = firstByInode.get(key);
      if (first === undefined) firstByInode.set(key, entries.length);
      else e.linkTo = first;
    }
    entries.push(e);
    return e;
  };

  const visit = async (treeId: string, relDir: string, parts: string[], dir: FsPath, parent: number, depth: number, state: FilterState): Promise<boolean> => {
    let nodes: Node[];
    try {
      nodes = (await loader.loadTree(treeId)).nodes;
    } catch (err) {
      opts.onProblem({
        path: relDir,
        code: err instanceof CairnError ? err.code : 'tree-unreadable',
        message: `cannot read the contents of ${JSON.stringify(relDir)}: ${describeError(err)}`,
        remedy: err instanceof CairnError ? err.remedy : 'Run `cairn check` on the repository.',
      });
      return false;
    }
    let added = false;
    // Two entries with one name would be written into one file: only the first is restored.
    const names = new Set<string>();
    for (const node of nodes) {
      const rel = joinTreePath(relDir, node.name);
      const why = unsafeNameReason(node);
      if (why) {
        refuse(rel, why);
        continue;
      }
      const key = node.nameRaw ? node.nameRaw.toString('latin1') + '\0raw' : node.name;
      if (names.has(key)) {
        opts.onProblem({
          path: rel,
          code: 'duplicate-name',
          message: `refused to restore ${JSON.stringify(rel)} a second time: its folder lists the name twice (damaged or malicious snapshot)`,
          remedy: 'The first entry of that name was restored; run `cairn check` on the repository.',
        });
        continue;
      }
      names.add(key);
      const childParts = [...parts, node.name];
      const isDir = node.type === 'dir';
      const d = opts.filter.decide(childParts, isDir, state);
      if (!isDir) {
        if (d.selected && add(node, rel, dir, parent, depth)) added = true;
        continue;
      }
      if (!d.selected && !d.descend) continue;
      const mark = entries.length;
      const e = add(node, rel, dir, parent, depth);
      if (!e) continue;
      const inner = d.descend && node.subtree ? await visit(node.subtree, rel, childParts, e.path, mark, depth + 1, d.state) : false;
      if (!d.selected && !inner) entries.length = mark;
      else added = true;
    }
    return added;
  };

  if ('node' in root) {
    const why = unsafeNameReason(root.node);
    if (why) refuse('/' + root.node.name, why);
    else if (root.node.type === 'dir' && root.node.subtree) {
      const e = add(root.node, '/' + root.node.name, opts.target, -1, 1);
      if (e) await visit(root.node.subtree, e.rel, [root.node.name], e.path, 0, 2, rootFilterState);
    } else add(root.node, '/' + root.node.name, opts.target, -1, 1);
  } else {
    await visit(root.treeId, '/', [], opts.target, -1, 1, rootFilterState);
  }
  return entries;
}
