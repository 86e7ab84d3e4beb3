import os from 'node:os';
import path from 'node:path';
import type { Repository } from '../repo/repository.js';
import type { Snapshot, SnapshotData, SnapshotSummary } from '../repo/snapshot.js';
import { RepositoryLock } from '../repo/lock.js';
import { formatLocalGoTime } from '../repo/timeFormat.js';
import { Archiver, entriesForTargets, type ArchiveEntry, type ArchiveOptions, type ArchiveStats } from './archiver.js';

/**
 * The program version recorded in snapshots. A later backup reuses the tree
 * ids of unchanged folders of a snapshot with exactly this version without
 * encoding them again: change it whenever the tree encoding changes.
 */
export const programVersion = 'cairn 0.1.0';

/** Options of a backup run (`cairn backup` and library callers). */
export interface BackupOptions extends Omit<ArchiveOptions, 'parentTree' | 'time'> {
  /** (set by backupPaths) paths counted ahead for progress totals. */
  scanPaths?: string[];
  tags?: string[];
  host?: string;
  time?: Date;
  /** A snapshot id to use as parent; default: the latest with the same host and paths. */
  parent?: string;
  /** Re-read every file (no parent). */
  force?: boolean;
  /** Take no lock (the caller holds one). */
  noLock?: boolean;
}

/** The outcome of a backup: the new snapshot and restic's summary counters. */
export interface BackupResult {
  snapshot: Snapshot;
  stats: ArchiveStats;
  parent?: string;
  durationMs: number;
  /** Paths that could not be read (the snapshot is incomplete without them). */
  errors: { path: string; message: string }[];
}

function samePaths(a: string[], b: string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** restic's parent choice: the newest snapshot not newer than `time` with the same host and set of paths. */
export async function findParent(repo: Repository, host: string, paths: string[], time: Date): Promise<Snapshot | undefined> {
  const snaps = await repo.loadSnapshots();
  let best: Snapshot | undefined;
  for (const s of snaps) {
    if ((s.hostname ?? '') !== host || !samePaths(s.paths, paths)) continue;
    if (Date.parse(s.time) > time.getTime()) continue;
    if (!best || Date.parse(s.time) >= Date.parse(best.time)) best = s;
  }
  return best;
}

/** Backs up filesystem paths into one snapshot, as `restic backup PATHS` does. */
export async function backupPaths(repo: Repository, targets: string[], opts: BackupOptions = {}): Promise<BackupResult> {
  const paths = targets.map((t) => path.resolve(t));
  return backupEntries(repo, await entriesForTargets(targets), paths, { ...opts, scanPaths: paths });
}

/**
 * Backs up arbitrary entries (files, virtual folders, streams) into one
 * snapshot whose `paths` are `paths`. Order of writes: packs, index, then the
 * snapshot file, so an interrupted run never leaves a snapshot pointing at
 * missing data.
 */
export async function backupEntries(repo: Repository, entries: ArchiveEntry[], paths: string[], opts: BackupOptions = {}): Promise<BackupResult> {
  const started = Date.now();
  const time = opts.time ?? new Date();
  const host = opts.host ?? os.hostname();
  // The lock is confirmed only after a wait (restic's 200 ms before re-checking for other
  // locks). Meanwhile the index and parent are loaded and the walk runs, but nothing is
  // written to the repository until the lock holds; a conflicting lock stops the walk.
  const locking = opts.noLock ? Promise.resolve(undefined) : RepositoryLock.acquire(repo, false);
  const stop = new AbortController();
  locking.catch((err: unknown) => stop.abort(err));
  const lockHeld = async () => {
    await locking;
  };
  let lock: RepositoryLock | undefined;
  try {
    const [, parent] = await Promise.all([
      repo.loadIndex(),
      opts.parent ? repo.resolveSnapshot(opts.parent) : opts.force ? undefined : findParent(repo, host, paths, time),
    ]);
    stop.signal.throwIfAborted();
    const errors: BackupResult['errors'] = [];
    const archiver = new Archiver(repo, {
      ...opts,
      time,
      parentTree: parent?.tree,
      parentTreesCanonical: parent?.program_version === programVersion,
      beforeWrite: lockHeld,
      signal: stop.signal,
      onError: (p, err) => {
        errors.push({ path: p, message: err.message });
        opts.onError?.(p, err);
      },
    });
    const tree = await archiver.archive(entries);
    lock = await locking;
    await repo.flush();
    const end = new Date();
    const data: SnapshotData = { time: formatLocalGoTime(BigInt(time.getTime()) * 1_000_000n), tree, paths };
    if (parent) data.parent = parent.id;
    data.hostname = host;
    const user = safeUser();
    if (user.username) data.username = user.username;
    if (user.uid) data.uid = user.uid;
    if (user.gid) data.gid = user.gid;
    if (opts.excludes?.length) data.excludes = opts.excludes;
    if (opts.tags?.length) data.tags = opts.tags;
    data.program_version = programVersion;
    data.summary = {
      backup_start: formatLocalGoTime(BigInt(started) * 1_000_000n),
      backup_end: formatLocalGoTime(BigInt(end.getTime()) * 1_000_000n),
      ...summaryCounters(archiver.stats),
    };
    const id = await repo.saveSnapshot(data);
    const result: BackupResult = { snapshot: { ...data, id }, stats: archiver.stats, durationMs: Date.now() - started, errors };
    if (parent) result.parent = parent.id;
    return result;
  } catch (err) {
    // A lock held by someone else is the reason to report, whatever the walk ran into meanwhile.
    lock ??= await locking;
    // After a failure (often: the server went away) the lock gets a few seconds, not a full
    // round of retries; left behind it turns stale, and `cairn unlock` removes it.
    if (lock) await Promise.race([lock.release().catch(() => {}), new Promise((r) => setTimeout(r, 5000).unref())]);
    throw err;
  } finally {
    // A lock that cannot be removed must not hide how the backup ended.
    await lock?.release().catch(() => {});
  }
}

/** The counters of a backup under restic's summary names (snapshot `summary`, `backup --json`). */
export function summaryCounters(s: ArchiveStats): Omit<SnapshotSummary, 'backup_start' | 'backup_end'> {
  return {
    files_new: s.filesNew,
    files_changed: s.filesChanged,
    files_unmodified: s.filesUnmodified,
    dirs_new: s.dirsNew,
    dirs_changed: s.dirsChanged,
    dirs_unmodified: s.dirsUnmodified,
    data_blobs: s.dataBlobs,
    tree_blobs: s.treeBlobs,
    data_added: s.dataAdded,
    data_added_packed: s.dataAddedPacked,
    total_files_processed: s.totalFilesProcessed,
    total_bytes_processed: s.totalBytesProcessed,
  };
}

function safeUser(): { username: string; uid: number; gid: number } {
  try {
    const u = os.userInfo();
    return { username: u.username, uid: u.uid, gid: u.gid };
  } catch {
    return { username: '', uid: 0, gid: 0 };
  }
}
