import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type Stats } from 'node:fs';
import { chmod, lstat, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CairnError, describeError, isErrno } from '../errors.js';
import type { Source, SourceItem, SourceMetadata, SourceRestoreOptions, StoredContent } from './source.js';

/** One path of a {@link FilesSource}. */
export interface FilesPath {
  /** A directory (stored as a tree) or a regular file (stored as one file). */
  path: string;
  /** Name under the source in the snapshot; default the path's base name. */
  name?: string;
  /** Exclude patterns for a directory (added to the source's). */
  excludes?: string[];
  /**
   * What the path is, for a restore when it no longer exists on disk; default:
   * what is on disk now, else "dir".
   */
  kind?: 'dir' | 'file';
}

/** Options of a {@link FilesSource}. */
export interface FilesSourceOptions {
  /** The source's name inside its component; default "files". */
  name?: string;
  /** Paths to back up. */
  paths: Array<string | FilesPath>;
  /** Exclude patterns applied to every directory. */
  excludes?: string[];
}

interface Entry {
  path: string;
  name: string;
  excludes: string[];
  kind?: 'dir' | 'file';
}

/**
 * Files and directories: each directory is a tree item (walked by the archiver,
 * which skips unchanged files), each regular file a one-file item. Restore puts
 * each back at its path, or under `--to DIR/<name>`.
 */
export class FilesSource implements Source {
  readonly name: string;
  readonly kind = 'files';
  private readonly entries: Entry[];

  constructor(options: FilesSourceOptions) {
    this.name = options.name ?? 'files';
    if (!options.paths?.length) throw new CairnError('files-config', `files source "${this.name}" lists no paths`, 'add paths to the source options');
    this.entries = options.paths.map((p) => {
      const spec: FilesPath = typeof p === 'string' ? { path: p } : p;
      const abs = path.resolve(spec.path);
      return { path: abs, name: spec.name ?? (path.basename(abs) || 'root'), excludes: [...(options.excludes ?? []), ...(spec.excludes ?? [])], kind: spec.kind };
    });
    const seen = new Map<string, string>();
    for (const e of this.entries) {
      const other = seen.get(e.name);
      if (other !== undefined) {
        throw new CairnError('files-duplicate-name', `files source "${this.name}" stores both ${other} and ${e.path} as "${e.name}"`, 'give one of them another name in the source options');
      }
      seen.set(e.name, e.path);
    }
  }

  private async statOrUndefined(file: string): Promise<Stats | undefined> {
    try {
      return await lstat(file);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  /** A tree item per directory, a stream item per regular file. */
  async items(): Promise<SourceItem[]> {
    const items: SourceItem[] = [];
    for (const e of this.entries) {
      const st = await this.statOrUndefined(e.path);
      if (!st) throw new CairnError('files-missing', `${e.path} (source "${this.name}") does not exist`, 'create it, or fix or remove the path in the source options');
      if (st.isDirectory()) items.push({ type: 'tree', name: e.name, path: e.path, ...(e.excludes.length ? { excludes: e.excludes } : {}) });
      else if (st.isFile()) items.push({ type: 'stream', name: e.name, open: async () => createReadStream(e.path), mode: st.mode & 0o7777, mtime: st.mtime });
      else throw new CairnError('files-unsupported', `${e.path} (source "${this.name}") is neither a directory nor a regular file`, 'list the directory holding it instead');
    }
    return items;
  }

  /** Puts each stored path back (over the live one, or under `options.to`). Paths missing from the backup are skipped. */
  async restore(content: StoredContent, options: SourceRestoreOptions): Promise<void> {
    const names = new Set(await content.names());
    for (const e of this.entries) {
      if (!names.has(e.name)) continue;
      const target = options.to !== undefined ? path.join(path.resolve(options.to), e.name) : e.path;
      const live = await this.statOrUndefined(e.path);
      const kind = e.kind ?? (live?.isFile() ? 'file' : 'dir');
      try {
        if (kind === 'dir') {
          await mkdir(target, { recursive: true });
          await content.restoreTree(e.name, target);
        } else {
          // The stored mode does not come back through StoredContent.openStream, so keep the live
          // file's; without one, owner-only is the safe guess (the file may hold secrets).
          await this.restoreFile(content, e.name, target, live?.isFile() && options.to === undefined ? live.mode & 0o7777 : 0o600);
        }
      } catch (err) {
        if (err instanceof CairnError) throw err;
        throw new CairnError('files-restore-failed', `restoring ${e.name} to ${target} failed: ${describeError(err)}`, 'check free space and permissions there', undefined, { cause: err });
      }
    }
  }

  /** Writes a stored file to a temp file beside `target`, then renames it over: complete or absent. */
  private async restoreFile(content: StoredContent, name: string, target: string, mode: number): Promise<void> {
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.cairn-restore-${randomBytes(4).toString('hex')}`;
    try {
      await pipeline(await content.openStream(name), createWriteStream(tmp, { mode: 0o600 }));
      await chmod(tmp, mode);
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** Teardown: deletes every path. */
  async remove(): Promise<void> {
    for (const e of this.entries) await rm(e.path, { recursive: true, force: true });
  }

  /** Throws when a path is missing. */
  async health(): Promise<void> {
    for (const e of this.entries) {
      if (!(await this.statOrUndefined(e.path))) throw new CairnError('files-missing', `${e.path} (source "${this.name}") does not exist`, 'restore it with cairn restore, or fix the path in the source options');
    }
  }

  /** The paths and what they are. */
  async metadata(): Promise<SourceMetadata> {
    const paths: Array<{ path: string; name: string; kind: string }> = [];
    for (const e of this.entries) {
      const st = await this.statOrUndefined(e.path);
      paths.push({ path: e.path, name: e.name, kind: st ? (st.isDirectory() ? 'dir' : 'file') : 'missing' });
    }
    return { paths };
  }
}
