import type { Readable } from 'node:stream';

/**
 * One thing a source asks cairn to store under `/<component>/<source>/<name>`:
 * either a file tree on disk (walked by the archiver, so unchanged files are
 * skipped against the parent snapshot) or a stream of unknown length (a
 * database dump), stored as one file.
 */
export type SourceItem =
  | { type: 'tree'; name: string; path: string; excludes?: string[] }
  | { type: 'stream'; name: string; open: () => Promise<Readable>; mode?: number; mtime?: Date };

/** What a source gets back at restore time: the items it stored, by name. */
export interface StoredContent {
  /** Names of the items stored for this source. */
  names(): Promise<string[]>;
  /** Restore the item stored as a tree under `name` into directory `target`. */
  restoreTree(name: string, target: string): Promise<void>;
  /** Open the item stored as a stream under `name`. */
  openStream(name: string): Promise<Readable>;
}

/** Options a restore is run with. */
export interface SourceRestoreOptions {
  /** Restore somewhere else (a directory, a database name) instead of over the live data. */
  to?: string;
}

/** Free-form facts recorded with a backup and shown by `cairn backup info`. */
export type SourceMetadata = Record<string, unknown>;

/**
 * A kind of thing cairn backs up: files, a PostgreSQL database, a podman
 * volume... Sources turn the world into items and back; they know nothing of
 * packs or repositories.
 */
export interface Source {
  /** The source's name inside its component (a path segment). */
  readonly name: string;
  /** The kind, e.g. "files", "postgres". */
  readonly kind: string;
  /** What to store. Called once per backup. */
  items(): Promise<SourceItem[]>;
  /** Put stored content back (over the live data, or into `options.to`). */
  restore(content: StoredContent, options: SourceRestoreOptions): Promise<void>;
  /** Remove the live data (teardown): drop the database, delete the files. */
  remove?(): Promise<void>;
  /** Throws when the live data is not healthy (server down, table missing...). */
  health?(): Promise<void>;
  /** Facts to record with the snapshot (sizes, versions, volume names). */
  metadata?(): Promise<SourceMetadata>;
  /**
   * Runs `fn` with the services that write this source's data stopped, and
   * starts them again afterwards, also when `fn` fails (containers using a volume).
   */
  quiesce?<T>(fn: () => Promise<T>): Promise<T>;
}

/** Runs `fn` inside every source's quiesce (nested, first source outermost). */
export function withSourcesQuiesced<T>(sources: readonly Source[], fn: () => Promise<T>): Promise<T> {
  const run = sources.reduceRight<() => Promise<T>>((inner, s) => (s.quiesce ? () => s.quiesce!(inner) : inner), fn);
  return run();
}
