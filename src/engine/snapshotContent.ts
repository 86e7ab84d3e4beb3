import type { Readable } from 'node:stream';
import { CairnError } from '../errors.js';
import type { Node } from '../repo/node.js';
import type { Repository } from '../repo/repository.js';
import type { Snapshot } from '../repo/snapshot.js';
import { openFileStream } from './fileStream.js';
import { restoreSnapshot, type RestoreSummary } from './restorer.js';
import { findNode, joinTreePath } from './treeWalker.js';

/** One item stored under a folder of a snapshot. */
export interface StoredItem {
  name: string;
  type: Node['type'];
  size: number;
}

/**
 * Read access to the items stored under one folder of a snapshot (for a
 * component's source: `/<component>/<source>`): list them, restore a stored
 * tree into a directory, or stream a stored file. Implements the sources'
 * StoredContent seam.
 */
export class SnapshotFolder {
  constructor(
    private readonly repo: Repository,
    private readonly snapshot: Snapshot,
    private readonly folder: string,
  ) {}

  private async folderTree(): Promise<string> {
    const found = await findNode(this.repo, this.snapshot.tree, this.folder);
    const treeId = found?.treeId ?? (found?.node?.type === 'dir' ? found.node.subtree : undefined);
    if (!treeId) throw new CairnError('no-such-path', `${this.folder} is not in snapshot ${this.snapshot.id.slice(0, 8)}`, 'List the snapshot with `cairn ls` to see what it holds.');
    return treeId;
  }

  /** The items stored in the folder, with type and size. */
  async items(): Promise<StoredItem[]> {
    const tree = await this.repo.loadTree(await this.folderTree());
    return tree.nodes.map((n) => ({ name: n.name, type: n.type, size: n.size ?? 0 }));
  }

  /** Names of the stored items. */
  async names(): Promise<string[]> {
    return (await this.items()).map((i) => i.name);
  }

  private async node(name: string): Promise<Node> {
    const tree = await this.repo.loadTree(await this.folderTree());
    const node = tree.nodes.find((n) => n.name === name);
    if (!node) throw new CairnError('no-such-path', `${joinTreePath(this.folder, name)} is not in snapshot ${this.snapshot.id.slice(0, 8)}`, 'List the snapshot with `cairn ls` to see what it holds.');
    return node;
  }

  /** Restores the stored item `name` (a folder's contents, or a single file) into directory `target`. */
  async restoreTree(name: string, target: string): Promise<void> {
    const summary: RestoreSummary = await restoreSnapshot(this.repo, this.snapshot, { target, subpath: joinTreePath(this.folder, name) });
    if (summary.errors.length > 0) {
      const first = summary.errors[0]!;
      throw new CairnError('restore-incomplete', `${summary.errors.length} item(s) of ${joinTreePath(this.folder, name)} could not be restored; first: ${first.path}: ${first.message}`, first.remedy);
    }
  }

  /** Streams the stored file `name`, blob by blob. */
  async openStream(name: string): Promise<Readable> {
    const node = await this.node(name);
    if (node.type !== 'file') throw new CairnError('not-a-file', `${joinTreePath(this.folder, name)} is a ${node.type}, not a stored file`, 'This item was stored as a folder; restore it as a tree.');
    return openFileStream(this.repo, node);
  }
}
