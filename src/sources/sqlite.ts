import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CairnError, describeError, isErrno } from '../errors.js';
import type { Source, SourceItem, SourceMetadata, SourceRestoreOptions, StoredContent } from './source.js';

/** Options of a {@link SqliteSource}: one SQLite database file. */
export interface SqliteSourceOptions {
  /** The source's name inside its component; default "sqlite". */
  name?: string;
  /** The database file. */
  path: string;
  /** How long to wait for a writer's lock before giving up, in ms; default 10000. */
  busyTimeoutMs?: number;
}

/** The files SQLite keeps next to a database while it is in use. */
const SIDE_FILES = ['-wal', '-shm', '-journal'];

/** Pages per backup step: all of them, so the copy is made in one read transaction. */
const ALL_PAGES = 0x7fffffff;

/**
 * A SQLite database file, backed up through SQLite's online backup API (a
 * consistent copy while other processes keep writing; never a raw copy of a
 * live file, which can be torn or miss the WAL). The backup API writes a
 * database file, so the copy goes to a temporary file first; it is streamed
 * into the repository as `<file name>` and deleted when the stream closes.
 */
export class SqliteSource implements Source {
  readonly name: string;
  readonly kind = 'sqlite';
  private readonly options: SqliteSourceOptions;

  constructor(options: SqliteSourceOptions) {
    if (!options.path) throw new CairnError('sqlite-config', 'a sqlite source needs the path of the database file', 'set "path" in the source options');
    this.options = { ...options, path: path.resolve(options.path) };
    this.name = options.name ?? 'sqlite';
  }

  /** The stored item's name: the database file's name. */
  get itemName(): string {
    return path.basename(this.options.path);
  }

  private busyTimeout(): number {
    return this.options.busyTimeoutMs ?? 10_000;
  }

  /** Opens the live database read-only, with a clear error when it is missing or not a database. */
  private openLive(): Database.Database {
    try {
      const db = new Database(this.options.path, { readonly: true, fileMustExist: true, timeout: this.busyTimeout() });
      // Reading the schema fails right away on a file that is not a database.
      db.pragma('schema_version', { simple: true });
      return db;
    } catch (err) {
      throw this.openError(err);
    }
  }

  private openError(err: unknown): CairnError {
    const detail = describeError(err);
    if (/unable to open|no such file|cannot open/i.test(detail)) {
      return new CairnError('sqlite-missing', `SQLite database ${this.options.path} cannot be opened: ${detail}`, 'check the path in the source options');
    }
    return new CairnError('sqlite-unreadable', `SQLite database ${this.options.path} cannot be read: ${detail}`, 'check that the file is a SQLite database and readable (sqlite3 FILE "PRAGMA integrity_check")', undefined, {
      cause: err,
    });
  }

  /** Makes the consistent copy into `dest` through the backup API. */
  private async backupTo(dest: string): Promise<void> {
    const db = this.openLive();
    try {
      // The first step (0 pages) only sizes the copy; the next copies every page at
      // once, inside one read transaction, so concurrent writers cannot restart it.
      await db.backup(dest, { progress: () => ALL_PAGES });
    } catch (err) {
      throw new CairnError('sqlite-backup-failed', `backup of SQLite database ${this.options.path} failed: ${describeError(err)}`, 'check free space in the temp directory and that the database is readable', undefined, {
        cause: err,
      });
    } finally {
      db.close();
    }
  }

  /** One stream item: the consistent copy, read from a temp file that is deleted when the stream closes. */
  async items(): Promise<SourceItem[]> {
    try {
      await stat(this.options.path);
    } catch (err) {
      throw new CairnError('sqlite-missing', `SQLite database ${this.options.path} does not exist (${describeError(err)})`, 'check the path in the source options');
    }
    const open = async (): Promise<Readable> => {
      const dir = await mkdtemp(path.join(tmpdir(), 'cairn-sqlite-'));
      const copy = path.join(dir, this.itemName);
      try {
        await this.backupTo(copy);
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
      const stream = createReadStream(copy);
      stream.on('close', () => void rm(dir, { recursive: true, force: true }));
      return stream;
    };
    const mode = (await stat(this.options.path)).mode & 0o7777;
    return [{ type: 'stream', name: this.itemName, open, mode }];
  }

  /** Where a restore goes: `to` (a file, or a directory to put the file in) or the live path. */
  private async restoreTarget(to: string | undefined): Promise<string> {
    if (to === undefined) return this.options.path;
    const resolved = path.resolve(to);
    try {
      if ((await stat(resolved)).isDirectory()) return path.join(resolved, this.itemName);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    return resolved;
  }

  /**
   * Writes the stored copy to a temp file next to the target, checks it with
   * `PRAGMA integrity_check`, then renames it over the target (the live file, or
   * `options.to`). Stale -wal/-shm/-journal files of the old database are removed
   * first, or SQLite would apply them to the restored file. Stop the programs
   * using the database first (the component's stop).
   */
  async restore(content: StoredContent, options: SourceRestoreOptions): Promise<void> {
    const names = await content.names();
    if (!names.includes(this.itemName)) {
      throw new CairnError(
        'sqlite-nothing-stored',
        `the backup has no ${this.itemName} for source "${this.name}" (it holds: ${names.join(', ') || 'nothing'})`,
        'pick a snapshot made with this source, or check the path in the source options',
      );
    }
    const target = await this.restoreTarget(options.to);
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.cairn-restore-${randomBytes(4).toString('hex')}`;
    const cleanTmp = async (): Promise<void> => {
      for (const suffix of ['', ...SIDE_FILES]) await rm(tmp + suffix, { force: true });
    };
    try {
      await pipeline(await content.openStream(this.itemName), createWriteStream(tmp, { mode: 0o600 }));
      this.verify(tmp, target);
      const liveMode = await stat(target).then((s) => s.mode & 0o7777, () => undefined);
      await chmod(tmp, liveMode ?? 0o644);
      for (const suffix of SIDE_FILES) await rm(target + suffix, { force: true });
      await rename(tmp, target);
    } catch (err) {
      await cleanTmp();
      if (err instanceof CairnError) throw err;
      throw new CairnError('sqlite-restore-failed', `restoring SQLite database ${target} failed: ${describeError(err)}`, 'check free space and permissions in its directory', undefined, { cause: err });
    }
    for (const suffix of SIDE_FILES) await rm(tmp + suffix, { force: true });
  }

  /** Throws unless `file` is a SQLite database that passes integrity_check. */
  private verify(file: string, target: string): void {
    let result: unknown;
    try {
      const db = new Database(file, { fileMustExist: true });
      try {
        result = db.pragma('integrity_check', { simple: true });
      } finally {
        db.close();
      }
    } catch (err) {
      result = describeError(err);
    }
    if (result !== 'ok') {
      throw new CairnError(
        'sqlite-restore-corrupt',
        `the stored copy of ${this.itemName} fails SQLite's integrity check (${String(result)}); ${target} was left as it was`,
        'restore from an older snapshot, or run cairn check on the repository',
      );
    }
  }

  /** Teardown: deletes the database file and its -wal/-shm/-journal files. */
  async remove(): Promise<void> {
    for (const suffix of ['', ...SIDE_FILES]) await rm(this.options.path + suffix, { force: true });
  }

  /** Throws unless the database opens and passes `PRAGMA quick_check`. */
  async health(): Promise<void> {
    const db = this.openLive();
    try {
      const result: unknown = db.pragma('quick_check', { simple: true });
      if (result !== 'ok') {
        throw new CairnError('sqlite-unhealthy', `SQLite database ${this.options.path} fails quick_check: ${String(result)}`, 'restore it from a backup (cairn restore)');
      }
    } finally {
      db.close();
    }
  }

  /** SQLite version, file size, page count and journal mode. */
  async metadata(): Promise<SourceMetadata> {
    const db = this.openLive();
    try {
      const pageSize = Number(db.pragma('page_size', { simple: true }));
      const pageCount = Number(db.pragma('page_count', { simple: true }));
      const version = db.prepare('SELECT sqlite_version() AS v').get() as { v: string };
      return {
        path: this.options.path,
        sqliteVersion: version.v,
        journalMode: String(db.pragma('journal_mode', { simple: true })),
        databaseSizeBytes: pageSize * pageCount,
        fileSizeBytes: (await stat(this.options.path)).size,
      };
    } finally {
      db.close();
    }
  }
}
