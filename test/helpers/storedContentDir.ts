// A StoredContent over a plain directory, used ONLY by the sources' unit tests to
// round-trip a source's items without a repository: the repository engine is
// written separately, and the full backup -> repository -> restore path is tested
// by the orchestrator tests. Stream items become files, tree items copied dirs.
import { createReadStream, createWriteStream } from 'node:fs';
import { cp, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SourceItem, StoredContent } from '../../src/sources/source.js';

/** Stored content kept as files and directories in `dir`, one entry per item name. */
export class DirStoredContent implements StoredContent {
  constructor(readonly dir: string) {}

  /**
   * Stores each item like a backup would: a stream is read to the end (its error,
   * e.g. a failing dump, rejects this call), a tree is copied.
   */
  static async capture(items: SourceItem[], dir: string, consume?: (stream: Readable) => Readable | Promise<Readable>): Promise<DirStoredContent> {
    await mkdir(dir, { recursive: true });
    for (const item of items) {
      const dest = path.join(dir, item.name);
      if (item.type === 'stream') {
        const opened = await item.open();
        const stream = consume ? await consume(opened) : opened;
        await pipeline(stream, createWriteStream(dest));
      } else {
        await cp(item.path, dest, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
      }
    }
    return new DirStoredContent(dir);
  }

  /** Names of the stored items. */
  async names(): Promise<string[]> {
    return (await readdir(this.dir)).sort();
  }

  /** Copies a stored tree into `target`. */
  async restoreTree(name: string, target: string): Promise<void> {
    const src = path.join(this.dir, name);
    if (!(await stat(src)).isDirectory()) throw new Error(`${name} is not a stored tree`);
    await mkdir(target, { recursive: true });
    await cp(src, target, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true, force: true });
  }

  /** Opens a stored stream. */
  async openStream(name: string): Promise<Readable> {
    const file = path.join(this.dir, name);
    if (!(await stat(file)).isFile()) throw new Error(`${name} is not a stored stream`);
    return createReadStream(file);
  }
}
