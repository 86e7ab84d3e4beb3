/** The kinds of files a restic repository stores; each maps to a folder. */
export type FileType = 'config' | 'key' | 'snapshot' | 'index' | 'lock' | 'pack';

/** A named file in a backend: its type and name (a 64-hex storage id, or "config"). */
export interface Handle {
  type: FileType;
  name: string;
}

/** What `list` and `stat` report about one file. */
export interface FileInfo {
  name: string;
  size: number;
}

/**
 * Where the bytes of a repository live. Every implementation keeps restic's
 * layout and passes the shared conformance suite (test/unit/backend/conformance).
 *
 * - `write` is atomic: the file becomes visible only when complete; a failed
 *   write leaves nothing under the final name. Names are content hashes, so
 *   writing an existing name may replace it or fail, never mix the two.
 * - `read` with `length` 0 or undefined reads to the end of the file.
 * - `list` yields only names that are valid for the type (64 hex chars), so
 *   temporary files of a crashed writer are skipped.
 * - `stat` and `read` of a missing file throw a `CairnError` with code `not-found`.
 * - `writeFile` stores a finished file from local disk with write's guarantees, so a
 *   pack never has to be held in memory: the writer creates it in `stagingDir()` (a
 *   `.tmp-*` name, which every lister here and in restic skips), then hands it over.
 *   The local backend moves it into place (a rename: no copy); the others stream
 *   it. The file may still be there afterwards (or after a failure, so a retry can
 *   send it again): the caller removes it (see staging.ts).
 */
export interface Backend {
  /** Human-readable location, e.g. "/srv/repo" or "sftp:nas:/backups". */
  readonly location: string;
  stat(h: Handle): Promise<FileInfo>;
  read(h: Handle, offset?: number, length?: number): Promise<Buffer>;
  write(h: Handle, data: Buffer): Promise<void>;
  /** Stores the complete, no longer changing local file at `localPath` under `h` (atomic, like write). */
  writeFile(h: Handle, localPath: string): Promise<void>;
  /** A local folder in which to create files meant for writeFile (inside the repository when a rename can move them). */
  stagingDir(): string;
  remove(h: Handle): Promise<void>;
  list(type: FileType): AsyncIterable<FileInfo>;
  /** Whether the repository config exists (cheap probe used by open/init). */
  exists(h: Handle): Promise<boolean>;
  /** Create the folder structure for a new repository (no-op for object stores). */
  create(): Promise<void>;
  close(): Promise<void>;
}

/** Folder of each file type in restic's layout. */
export const typeFolders: Record<Exclude<FileType, 'config'>, string> = {
  key: 'keys',
  snapshot: 'snapshots',
  index: 'index',
  lock: 'locks',
  pack: 'data',
};

/** The path of a file inside the repository, in restic's layout (packs sharded by their first two hex chars). */
export function handlePath(h: Handle): string {
  if (h.type === 'config') return 'config';
  const folder = typeFolders[h.type];
  if (h.type === 'pack') return `${folder}/${h.name.slice(0, 2)}/${h.name}`;
  return `${folder}/${h.name}`;
}

const idPattern = /^[0-9a-f]{64}$/;

/** True for names restic would accept as a storage id. */
export function isStorageId(name: string): boolean {
  return idPattern.test(name);
}
