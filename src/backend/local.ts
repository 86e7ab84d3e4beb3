import { promises as fs, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CairnError, ExitCode, isErrno } from '../errors.js';
import { type Backend, type FileInfo, type FileType, type Handle, handlePath, isStorageId, typeFolders } from './backend.js';

const writePiece = 1024 * 1024;

/** A repository in a local directory, laid out exactly as restic's local backend does. */
export class LocalBackend implements Backend {
  readonly location: string;
  private readonly root: string;
  private readonly createdDirs = new Set<string>();

  constructor(root: string) {
    this.root = path.resolve(root);
    this.location = this.root;
  }

  private filePath(h: Handle): string {
    return path.join(this.root, handlePath(h));
  }

  async create(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
    for (const folder of Object.values(typeFolders)) {
      await fs.mkdir(path.join(this.root, folder), { recursive: true, mode: 0o700 });
    }
    for (let i = 0; i < 256; i++) {
      await fs.mkdir(path.join(this.root, 'data', i.toString(16).padStart(2, '0')), { recursive: true, mode: 0o700 });
    }
  }

  async stat(h: Handle): Promise<FileInfo> {
    try {
      const st = await fs.stat(this.filePath(h));
      return { name: h.name, size: st.size };
    } catch (err) {
      throw this.mapError(err, h);
    }
  }

  async exists(h: Handle): Promise<boolean> {
    try {
      await fs.access(this.filePath(h), fsConstants.F_OK);
      return true;
    } catch {
      return false;
    }
  }

  async read(h: Handle, offset = 0, length = 0): Promise<Buffer> {
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(this.filePath(h), 'r');
    } catch (err) {
      throw this.mapError(err, h);
    }
    try {
      if (offset === 0 && length === 0) return await fh.readFile();
      let want = length;
      if (want === 0) want = Math.max(0, (await fh.stat()).size - offset);
      const buf = Buffer.allocUnsafe(want);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await fh.read(buf, got, want - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got < want) {
        throw new CairnError('short-read', `${handlePath(h)}: wanted ${want} bytes at offset ${offset}, file has only ${got}`, 'The file is truncated; run `cairn check` to find damaged files.');
      }
      return buf;
    } finally {
      await fh.close();
    }
  }

  async write(h: Handle, data: Buffer, opts?: { signal?: AbortSignal; onProgress?: (bytesSent: number) => void }): Promise<void> {
    const final = this.filePath(h);
    const dir = path.dirname(final);
    if (!this.createdDirs.has(dir)) {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      this.createdDirs.add(dir);
    }
    // Write under a temporary name, fsync, then rename: a reader sees the whole file or nothing.
    const tmp = path.join(dir, `.tmp-${path.basename(final)}-${randomBytes(6).toString('hex')}`);
    const fh = await fs.open(tmp, 'wx', 0o600);
    try {
      if (!opts?.signal && !opts?.onProgress) await fh.writeFile(data);
      else {
        // in pieces, so a caller can follow the upload and abort it (nothing then becomes visible)
        for (let at = 0; at < data.length; ) {
          opts.signal?.throwIfAborted();
          const { bytesWritten } = await fh.write(data, at, Math.min(writePiece, data.length - at), at);
          at += bytesWritten;
          opts.onProgress?.(at);
        }
        opts.signal?.throwIfAborted();
      }
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await fs.unlink(tmp).catch(() => {});
      throw err;
    }
    await fh.close();
    await fs.chmod(tmp, 0o400);
    await fs.rename(tmp, final);
    await syncDir(dir);
  }

  /** Where packs are staged: inside the repository (data/00), so writeFile moves them into place with a rename. */
  stagingDir(): string {
    return path.join(this.root, 'data', '00');
  }

  /**
   * Moves a staged file into place: fsync, 0400, rename, folder sync (write's guarantees, without
   * copying). A file on another file system is copied to a temporary name first.
   */
  async writeFile(h: Handle, localPath: string, opts?: { signal?: AbortSignal; onProgress?: (bytesSent: number) => void }): Promise<void> {
    const final = this.filePath(h);
    const dir = path.dirname(final);
    if (!this.createdDirs.has(dir)) {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      this.createdDirs.add(dir);
    }
    opts?.signal?.throwIfAborted();
    let source = localPath;
    let copied = false;
    try {
      const fh = await fs.open(source, 'r');
      try {
        await fh.sync();
        opts?.onProgress?.((await fh.stat()).size);
      } finally {
        await fh.close();
      }
      opts?.signal?.throwIfAborted();
      await fs.chmod(source, 0o400);
      try {
        await fs.rename(source, final);
      } catch (err) {
        if (!isErrno(err, 'EXDEV')) throw err;
        // staged on another file system: copy next to the final name, then rename as write does
        source = path.join(dir, `.tmp-${path.basename(final)}-${randomBytes(6).toString('hex')}`);
        copied = true;
        await fs.copyFile(localPath, source, fsConstants.COPYFILE_EXCL);
        const fc = await fs.open(source, 'r');
        await fc.sync().finally(() => fc.close());
        await fs.chmod(source, 0o400);
        await fs.rename(source, final);
      }
    } catch (err) {
      if (copied) await fs.unlink(source).catch(() => {});
      throw isErrno(err, 'ENOENT') && source === localPath ? new CairnError('staged-file-missing', `the staged file ${localPath} for ${handlePath(h)} is gone`, 'Something removed cairn\'s temporary file while it was storing it; run the backup again.') : err;
    }
    await syncDir(dir);
  }

  async remove(h: Handle): Promise<void> {
    try {
      await fs.unlink(this.filePath(h));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw err;
    }
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    if (type === 'config') {
      if (await this.exists({ type, name: 'config' })) yield await this.stat({ type, name: 'config' });
      return;
    }
    const folder = path.join(this.root, typeFolders[type]);
    const dirs = type === 'pack' ? (await readdirOrEmpty(folder)).filter((d) => /^[0-9a-f]{2}$/.test(d)).map((d) => path.join(folder, d)) : [folder];
    for (const dir of dirs) {
      for (const name of await readdirOrEmpty(dir)) {
        if (!isStorageId(name)) continue;
        try {
          const st = await fs.stat(path.join(dir, name));
          if (type === 'lock' && st.size === 0) continue;
          yield { name, size: st.size };
        } catch (err) {
          if (!isErrno(err, 'ENOENT')) throw err;
        }
      }
    }
  }

  async close(): Promise<void> {}

  private mapError(err: unknown, h: Handle): unknown {
    if (isErrno(err, 'ENOENT')) {
      if (h.type === 'config') {
        return new CairnError('no-repository', `${this.root} is not a cairn/restic repository (no config file)`, 'Check the path given with --repo, or create one with `cairn init`.', ExitCode.noRepository);
      }
      return new CairnError('not-found', `${handlePath(h)} not found in ${this.root}`, 'The repository is missing a file; run `cairn check`.');
    }
    return err;
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}

/** fsync a directory so a rename in it survives a crash. */
async function syncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
