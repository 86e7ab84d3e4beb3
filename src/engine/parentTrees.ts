import type { Node } from '../repo/node.js';
import type { Repository } from '../repo/repository.js';
import { nodesEncodeAlike, treeIdOf } from '../repo/treeCodec.js';

/** A folder's tree in the parent snapshot, as the archiver compares against it. */
export interface ParentTree {
  id: string;
  nodes: Node[];
  byName: Map<string, Node>;
  /** Memo of reusable(): undefined until asked. */
  canonical?: boolean;
}

/** Parent trees loaded at once (reads from the repository). */
const loadsInFlight = 8;
/** Trees loaded ahead of the walk and not yet released: bounds the memory prefetching may hold. */
const maxPrefetched = 256;

/**
 * The parent snapshot's trees for one backup run. When the walk enters a
 * folder, the trees of its subfolders are loaded ahead (a few at once), so the
 * walk rarely waits for a read. Decides too whether a folder whose entries all
 * match the parent's can take the parent's tree id without encoding it.
 */
export class ParentTrees {
  private readonly prefetched = new Map<string, { tree: Promise<ParentTree | undefined>; refs: number }>();
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  /**
   * @param canonical the parent's trees were written by this cairn's tree
   *   encoder (so encoding their nodes gives back their exact bytes); when
   *   false, each tree is checked by encoding it once before its id is reused.
   */
  constructor(
    private readonly repo: Repository,
    private readonly canonical: boolean,
  ) {}

  /** The tree `id`; undefined when there is none or it cannot be read (the folder is then compared against nothing). */
  get(id: string | undefined): Promise<ParentTree | undefined> {
    if (!id) return Promise.resolve(undefined);
    return this.prefetched.get(id)?.tree ?? this.load(id);
  }

  /** Starts loading the trees of `tree`'s subfolders; pair with release(tree) once the folder is done. */
  prefetch(tree: ParentTree): void {
    for (const n of tree.nodes) {
      if (n.type !== 'dir' || !n.subtree) continue;
      const entry = this.prefetched.get(n.subtree);
      if (entry) entry.refs++;
      else if (this.prefetched.size < maxPrefetched) this.prefetched.set(n.subtree, { tree: this.load(n.subtree), refs: 1 });
    }
  }

  /** Drops what prefetch(tree) loaded (also subfolders the walk never asked for: gone or excluded). */
  release(tree: ParentTree): void {
    for (const n of tree.nodes) {
      if (n.type !== 'dir' || !n.subtree) continue;
      const entry = this.prefetched.get(n.subtree);
      if (entry && --entry.refs === 0) this.prefetched.delete(n.subtree);
    }
  }

  /**
   * True when a folder with entries `nodes` gets exactly the tree `tree`
   * (same entries, each encoding to the same text), so its id can be used
   * as it is. Never true for a tree whose stored bytes differ from what
   * encoding its nodes gives (written by another program or version).
   */
  sameTree(nodes: readonly Node[], tree: ParentTree): boolean {
    if (nodes.length !== tree.nodes.length) return false;
    const seen = new Set<string>();
    for (const n of nodes) {
      const old = tree.byName.get(n.name);
      if (!old || seen.has(n.name) || !nodesEncodeAlike(n, old)) return false;
      seen.add(n.name);
    }
    return this.reusable(tree);
  }

  private reusable(tree: ParentTree): boolean {
    if (this.canonical) return true;
    if (tree.canonical === undefined) {
      try {
        tree.canonical = treeIdOf(tree.nodes) === tree.id;
      } catch {
        tree.canonical = false;
      }
    }
    return tree.canonical;
  }

  private async load(id: string): Promise<ParentTree | undefined> {
    if (this.active >= loadsInFlight) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    try {
      const { nodes } = await this.repo.loadTree(id);
      return { id, nodes, byName: new Map(nodes.map((n) => [n.name, n])) };
    } catch {
      return undefined; // an unreadable parent only costs re-reading
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
