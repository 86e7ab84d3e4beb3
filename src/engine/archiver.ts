import fsCb, { promises as fs, type BigIntStats } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import os from 'node:os';
import type { Readable } from 'node:stream';
import { Chunker } from '../chunker/chunker.js';
import { GoMode, type Node } from '../repo/node.js';
import { WorkerFileError } from '../repo/blobCodecPool.js';
import { mapLimit, type Repository } from '../repo/repository.js';
import { SmallFileError, SmallFileReader } from '../repo/smallFileReader.js';
import { formatLocalGoTime, LocalTimeFormatter, parseGoTime } from '../repo/timeFormat.js';
import { encodeTree } from '../repo/treeCodec.js';
import { ExcludeFilter } from './excludeFilter.js';
import { nodeFromStat } from './nodeFromStat.js';
import { ParentTrees, type ParentTree } from './parentTrees.js';
import { startScan, type ScanTotals } from './scanner.js';
import { groupName, userName } from './userNames.js';

/**
 * What to put into a snapshot's root tree: real filesystem entries (walked
 * recursively, compared against the parent snapshot), virtual directories
 * (component and source folders, or the path components above a target), and
 * streams of unknown length (database dumps).
 */
export type ArchiveEntry =
  | { kind: 'fs'; name: string; path: string }
  | { kind: 'dir'; name: string; children: ArchiveEntry[]; metadataFrom?: string }
  | { kind: 'stream'; name: string; open: () => Promise<Readable> | Readable; mode?: number; mtime?: Date };

/** Counters restic reports in a backup summary. */
export interface ArchiveStats {
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  dirsNew: number;
  dirsChanged: number;
  dirsUnmodified: number;
  dataBlobs: number;
  treeBlobs: number;
  /** Plaintext bytes of blobs added. */
  dataAdded: number;
  /** Stored (compressed, encrypted) bytes of blobs added. */
  dataAddedPacked: number;
  totalFilesProcessed: number;
  totalBytesProcessed: number;
  /** Bytes actually read from files and streams (0 for a no-change backup). */
  bytesRead: number;
  errors: number;
}

/** Live progress of a running backup. */
export interface ArchiveProgress {
  filesDone: number;
  bytesDone: number;
  /** Totals counted ahead by the scanner (0 while unknown). */
  totalFiles: number;
  totalBytes: number;
  currentFiles: string[];
}

/** Options of one archive run. */
export interface ArchiveOptions {
  excludes?: string[];
  /** Skip the contents of folders tagged with a valid CACHEDIR.TAG (the tag file itself is kept). */
  excludeCaches?: boolean;
  /** Do not descend into other filesystems than the one each target is on. */
  oneFileSystem?: boolean;
  /** Root tree of the parent snapshot: unchanged files are taken from it without being read. */
  parentTree?: string;
  /**
   * The parent's trees were written by this cairn's tree encoder: a folder
   * whose entries all match the parent's takes its tree id without encoding.
   * Otherwise such a tree is encoded once to check it first.
   */
  parentTreesCanonical?: boolean;
  /**
   * Awaited before anything is written to the repository (new file content,
   * new trees): lets the walk run while the repository lock is being
   * confirmed, and nothing is stored until it is.
   */
  beforeWrite?: () => Promise<void>;
  /** Stops the walk (e.g. the lock turned out to be held by someone else). */
  signal?: AbortSignal;
  /** Called for every entry that cannot be read; the backup goes on without it. */
  onError?: (path: string, err: Error) => void;
  onProgress?: (p: ArchiveProgress) => void;
  /** Time used for the metadata of virtual folders. */
  time?: Date;
  /** Filesystem paths to count ahead for progress totals. */
  scanPaths?: string[];
}

const readSize = 1024 * 1024;
/** Entries of one folder worked on at once (stat, read); nested folders multiply it, so it stays small. */
const entriesInFlight = 8;
/** Milliseconds of blocking work after which the archiver lets other events run. */
const yieldEvery = 2;
/** Files from this size on are read, chunked and hashed on worker threads. */
const workerFileSize = 1024 * 1024;
/** Files up to this size are read with blocking calls (see storeFileHere). */
const smallFileSize = 4 * 1024 * 1024;
/** Chunks of one file being compressed and encrypted at once (bounds memory: chunks are ≤ 8 MiB, ~1 MiB on average). */
const chunksInFlight = 4;
const cacheDirSignature = 'Signature: 8a477f597d28d172789f06886806bc55';
/**
 * Small files read on this thread before the small-file workers start: a
 * backup of a handful of files is over before a worker would be up.
 */
const smallFilesBeforeWorkers = 64;

/** A file of a folder whose content is being stored on a small-file worker; `done` is false when it could not be read. */
interface PendingFile {
  node: Node;
  done: Promise<boolean>;
}

function emptyStats(): ArchiveStats {
  return { filesNew: 0, filesChanged: 0, filesUnmodified: 0, dirsNew: 0, dirsChanged: 0, dirsUnmodified: 0, dataBlobs: 0, treeBlobs: 0, dataAdded: 0, dataAddedPacked: 0, totalFilesProcessed: 0, totalBytesProcessed: 0, bytesRead: 0, errors: 0 };
}

/** Wraps a failure to store data, so it is not mistaken for a file that could not be read. */
class RepositoryWriteError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/** A small counting semaphore: bounds how many files are read at once. */
class Semaphore {
  private waiting: (() => void)[] = [];
  constructor(private free: number) {}
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/**
 * Turns entries into trees and blobs in a repository (restic's archiver):
 * chunk, hash, deduplicate, store; trees bottom-up; unchanged files (same
 * size, mtime, ctime and inode as in the parent) are not read at all.
 */
export class Archiver {
  readonly stats = emptyStats();
  private readonly repo: Repository;
  private readonly opts: ArchiveOptions;
  private readonly filter: ExcludeFilter;
  private readonly fileSlots = new Semaphore(2);
  /** Big files being read on worker threads at once: one per worker keeps both busy. */
  private readonly workerFileSlots = new Semaphore(Math.max(1, Math.min(4, os.availableParallelism())));
  /** One read buffer per file slot, reused from file to file (the chunker copies what it keeps). */
  private readonly readBuffers: Buffer[] = [];
  private readonly current = new Set<string>();
  private lastYield = 0;
  private filesDone = 0;
  private bytesDone = 0;
  private readonly virtualTime: string;
  private readonly parents: ParentTrees;
  /** Stat times as restic writes them; one formatter per run caches zone offsets and dates. */
  private readonly times = new LocalTimeFormatter();
  private readonly formatTime = (ns: bigint): string => this.times.format(ns);
  private writesAllowed: Promise<void> | undefined;
  private smallFiles: SmallFileReader | undefined;
  private smallFilesSeen = 0;

  constructor(repo: Repository, opts: ArchiveOptions = {}) {
    this.repo = repo;
    this.opts = opts;
    this.filter = new ExcludeFilter(opts.excludes ?? []);
    this.parents = new ParentTrees(repo, opts.parentTreesCanonical ?? false);
    this.virtualTime = formatLocalGoTime(BigInt((opts.time ?? new Date()).getTime()) * 1_000_000n);
    if (opts.onProgress && opts.scanPaths?.length) this.totals = startScan(opts.scanPaths, this.filter);
  }

  private totals: ScanTotals | undefined;

  /** Archives `entries` as the root tree; returns its id. */
  async archive(entries: ArchiveEntry[]): Promise<string> {
    try {
      return await this.inParentTree(this.opts.parentTree, (parent) => this.archiveEntries(entries, parent, ''));
    } finally {
      await this.smallFiles?.close();
    }
  }

  /**
   * Archives a folder's entries with `parentTreeId` (the folder's tree in the
   * parent snapshot) at hand, and returns the folder's tree id: the parent's
   * own when every entry is as it was, else the tree of the new entries, saved.
   */
  private async inParentTree(parentTreeId: string | undefined, entries: (parent: ParentTree | undefined) => Promise<Node[]>): Promise<string> {
    const parent = await this.parents.get(parentTreeId);
    let nodes: Node[];
    if (parent) this.parents.prefetch(parent);
    try {
      nodes = await entries(parent);
    } finally {
      if (parent) this.parents.release(parent);
    }
    if (parent && this.parents.sameTree(nodes, parent)) return parent.id;
    return this.saveTree(nodes);
  }

  private async saveTree(nodes: Node[]): Promise<string> {
    await this.beforeWrite();
    // with small-file workers running, a tree is compressed and sealed there too
    const r = this.smallFiles ? await this.smallFiles.saveTree(encodeTree(nodes)) : await this.repo.saveTree(nodes);
    if (r.added) {
      this.stats.treeBlobs++;
      this.stats.dataAddedPacked += r.storedSize;
    }
    return r.id;
  }

  /** Waits until writing to the repository is allowed (see ArchiveOptions.beforeWrite). */
  private async beforeWrite(): Promise<void> {
    this.opts.signal?.throwIfAborted();
    if (!this.opts.beforeWrite) return;
    this.writesAllowed ??= this.opts.beforeWrite();
    await this.writesAllowed;
  }

  private async archiveEntries(entries: ArchiveEntry[], parent: ParentTree | undefined, displayDir: string): Promise<Node[]> {
    const results = await Promise.all(entries.map((e) => this.archiveEntry(e, parent?.byName.get(e.name), `${displayDir}/${e.name}`)));
    return results.filter((n): n is Node => n !== undefined);
  }

  private async archiveEntry(e: ArchiveEntry, parentNode: Node | undefined, display: string): Promise<Node | undefined> {
    this.opts.signal?.throwIfAborted();
    switch (e.kind) {
      case 'fs':
        return this.archivePath(e.path, e.name, parentNode, undefined);
      case 'dir':
        return this.archiveVirtualDir(e, parentNode, display);
      case 'stream':
        return this.archiveStream(e, display);
    }
  }

  private async archiveVirtualDir(e: Extract<ArchiveEntry, { kind: 'dir' }>, parentNode: Node | undefined, display: string): Promise<Node | undefined> {
    let node: Node;
    if (e.metadataFrom) {
      let st: BigIntStats;
      try {
        st = await fs.lstat(e.metadataFrom, { bigint: true });
      } catch (err) {
        this.reportError(e.metadataFrom, err);
        return undefined;
      }
      node = nodeFromStat(e.name, st, undefined, this.formatTime);
    } else {
      node = this.virtualNode(e.name, 'dir', (GoMode.dir | 0o755) >>> 0);
    }
    const parentTree = parentNode?.type === 'dir' ? parentNode.subtree : undefined;
    node.subtree = await this.inParentTree(parentTree, (parent) => this.archiveEntries(e.children, parent, display));
    this.countDir(node, parentNode);
    return node;
  }

  private virtualNode(name: string, type: 'dir' | 'file', mode: number, time = this.virtualTime): Node {
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    const node: Node = { name, type, mode, mtime: time, atime: time, ctime: time, uid, gid, content: type === 'file' ? [] : null };
    const user = userName(uid);
    if (user) node.user = user;
    const group = groupName(gid);
    if (group) node.group = group;
    return node;
  }

  private countDir(node: Node, parentNode: Node | undefined): void {
    if (!parentNode || parentNode.type !== 'dir') this.stats.dirsNew++;
    else if (parentNode.subtree === node.subtree) this.stats.dirsUnmodified++;
    else this.stats.dirsChanged++;
  }

  /**
   * Archives one filesystem path (any type) under `name`; `rootDev` bounds
   * --one-file-system. A small file may be returned before its content is
   * stored: it is then added to `later`, which the caller awaits.
   */
  private async archivePath(absPath: string, name: string, parentNode: Node | undefined, rootDev: bigint | undefined, later?: PendingFile[]): Promise<Node | undefined> {
    this.opts.signal?.throwIfAborted();
    if (this.filter.excludes(absPath)) return undefined;
    let st: BigIntStats;
    try {
      st = fsCb.lstatSync(absPath, { bigint: true });
    } catch (err) {
      this.reportError(absPath, err);
      return undefined;
    }
    if (st.isSymbolicLink()) {
      let target: string;
      try {
        target = fsCb.readlinkSync(absPath);
      } catch (err) {
        this.reportError(absPath, err);
        return undefined;
      }
      return nodeFromStat(name, st, target, this.formatTime);
    }
    const node = nodeFromStat(name, st, undefined, this.formatTime);
    if (st.isDirectory()) {
      const dev = rootDev ?? st.dev;
      let names: string[];
      try {
        names = fsCb.readdirSync(absPath);
      } catch (err) {
        this.reportError(absPath, err);
        return undefined;
      }
      if (this.opts.excludeCaches && names.includes('CACHEDIR.TAG') && (await isCacheDirTag(path.join(absPath, 'CACHEDIR.TAG')))) names = ['CACHEDIR.TAG'];
      const parentTree = parentNode?.type === 'dir' ? parentNode.subtree : undefined;
      node.subtree = await this.inParentTree(parentTree, async (parent) => {
        // absPath is resolved (no trailing slash but for "/") and names have no "/": plain concatenation is path.join
        const prefix = absPath.endsWith('/') ? absPath : absPath + '/';
        // small files do not hold an entry slot while a worker reads them: many go out in one batch
        const pending: PendingFile[] = [];
        const children = await mapLimit(names, entriesInFlight, async (child) => {
          const childPath = prefix + child;
          if (this.opts.oneFileSystem) {
            try {
              const cst = fsCb.lstatSync(childPath, { bigint: true });
              if (cst.isDirectory() && cst.dev !== dev) return undefined;
            } catch {
              // reported when archived
            }
          }
          return this.archivePath(childPath, child, parent?.byName.get(child), dev, pending);
        });
        const unread = new Set<Node>();
        const done = await Promise.all(pending.map((p) => p.done));
        for (let i = 0; i < pending.length; i++) if (!done[i]) unread.add(pending[i]!.node);
        return children.filter((n): n is Node => n !== undefined && !unread.has(n));
      });
      this.countDir(node, parentNode);
      return node;
    }
    if (st.isFile()) return this.archiveFile(absPath, st, node, parentNode, later);
    return node;
  }

  /**
   * restic's test for a file that need not be read again: same type, size,
   * inode, mtime and ctime as in the parent, and all its blobs still in the
   * index. `node` is the file's new node (its times formatted from `st`).
   */
  private unchanged(st: BigIntStats, node: Node, old: Node): boolean {
    if (old.type !== 'file' || old.content == null) return false;
    if ((old.size ?? 0) !== Number(st.size)) return false;
    if (old.inode !== undefined && old.inode !== st.ino) return false;
    if (!sameInstant(old.mtime, node.mtime, st.mtimeNs) || !sameInstant(old.ctime, node.ctime, st.ctimeNs)) return false;
    for (const id of old.content) if (!this.repo.hasBlob('data', id)) return false;
    return true;
  }

  private async archiveFile(absPath: string, st: BigIntStats, node: Node, parentNode: Node | undefined, later?: PendingFile[]): Promise<Node | undefined> {
    this.stats.totalFilesProcessed++;
    this.stats.totalBytesProcessed += Number(st.size);
    if (parentNode && this.unchanged(st, node, parentNode)) {
      node.content = parentNode.content;
      this.stats.filesUnmodified++;
      this.progress(Number(st.size));
      return node;
    }
    // only the size is kept from here on: the stat object would outlive its file's wait on a worker
    const size = st.size;
    await this.beforeWrite(); // outside the try below: a lock that failed is no unreadable file
    const reader = later && size <= BigInt(SmallFileReader.maxFileSize) ? this.smallFileReader() : undefined;
    if (reader) {
      const done = this.storeSmallFile(reader, absPath, size, node, parentNode);
      done.catch(() => {}); // awaited by the folder; this only keeps an early failure from being "unhandled"
      later!.push({ node, done });
      return node;
    }
    return (await this.storeFile(absPath, size, node, parentNode)) ? node : undefined;
  }

  /** The small-file workers, once enough small files were seen to be worth starting them (undefined before, or with workers off). */
  private smallFileReader(): SmallFileReader | undefined {
    if (this.smallFiles) return this.smallFiles;
    if (++this.smallFilesSeen <= smallFilesBeforeWorkers || !this.repo.chunksOnWorkers) return undefined;
    this.smallFiles = new SmallFileReader(this.repo);
    return this.smallFiles;
  }

  /** Stores a small file's content through the small-file workers; false when it could not be read (reported). */
  private async storeSmallFile(reader: SmallFileReader, absPath: string, size: bigint, node: Node, parentNode: Node | undefined): Promise<boolean> {
    let r: Awaited<ReturnType<SmallFileReader['store']>>;
    try {
      r = await reader.store(absPath, Number(size));
    } catch (err) {
      if (!(err instanceof SmallFileError)) throw err; // the repository failed: the backup ends
      this.reportError(absPath, err);
      return false;
    }
    if (r === 'tooBig') return this.storeFile(absPath, size, node, parentNode); // it grew since its stat
    node.content = r.blob ? [r.blob.id] : [];
    if (r.size > 0) node.size = r.size;
    else delete node.size;
    this.stats.bytesRead += r.size;
    this.bytesDone += r.size;
    if (r.blob?.added) {
      this.stats.dataBlobs++;
      this.stats.dataAdded += r.size;
      this.stats.dataAddedPacked += r.blob.storedSize;
    }
    if (parentNode?.type === 'file') this.stats.filesChanged++;
    else this.stats.filesNew++;
    this.progress(0);
    return true;
  }

  /** Reads and stores a file's content (on this thread, or on a worker for big files); false when it could not be read (reported). */
  private async storeFile(absPath: string, statSize: bigint, node: Node, parentNode: Node | undefined): Promise<boolean> {
    const onWorker = statSize >= BigInt(workerFileSize) && this.repo.chunksOnWorkers;
    const slots = onWorker ? this.workerFileSlots : this.fileSlots;
    await slots.acquire();
    this.current.add(absPath);
    try {
      const { content, size } = onWorker ? await this.storeFileOnWorker(absPath) : await this.storeFileHere(absPath, statSize);
      node.content = content;
      if (size > 0) node.size = size;
      else delete node.size;
    } catch (err) {
      // the repository failing (an upload, a full disk) ends the backup; only a file that cannot be read is skipped
      if (err instanceof RepositoryWriteError) throw err.cause;
      this.reportError(absPath, err);
      return false;
    } finally {
      this.current.delete(absPath);
      slots.release();
    }
    if (parentNode?.type === 'file') this.stats.filesChanged++;
    else this.stats.filesNew++;
    this.progress(0);
    return true;
  }

  /** Reads and chunks a file on this thread (small files, or when worker threads are off). */
  private async storeFileHere(absPath: string, fileSize: bigint): Promise<{ content: string[]; size: number }> {
    await this.yieldNow();
    const buffer = this.readBuffers.pop() ?? Buffer.allocUnsafe(readSize);
    // Small files are read with plain blocking calls: from the page cache that costs
    // microseconds, while each asynchronous call costs a thread-pool round trip.
    const small = fileSize <= BigInt(smallFileSize);
    try {
      const fd = small ? fsCb.openSync(absPath, 'r') : await fdOpen(absPath, 'r');
      try {
        return await this.chunkAndStore(small ? readFdSync(fd, buffer) : readFd(fd, buffer));
      } finally {
        if (small) fsCb.closeSync(fd);
        else await fdClose(fd);
      }
    } finally {
      this.readBuffers.push(buffer);
    }
  }

  /**
   * Lets queued events run when this thread has worked without a break for a
   * while: blocking small-file reads only chain microtasks, which would starve
   * the worker threads' messages (their chunks waiting for a verdict).
   */
  private async yieldNow(): Promise<void> {
    const now = performance.now();
    if (now - this.lastYield < yieldEvery) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.lastYield = performance.now();
  }

  /** Has a worker thread read, chunk and hash a big file; this thread only deduplicates and packs. */
  private async storeFileOnWorker(absPath: string): Promise<{ content: string[]; size: number }> {
    const onRead = (n: number) => {
      this.stats.bytesRead += n;
      this.bytesDone += n;
    };
    let saved: Awaited<ReturnType<Repository['saveFile']>>;
    try {
      saved = await this.repo.saveFile(absPath, onRead);
    } catch (err) {
      if (err instanceof WorkerFileError) throw err; // the file cannot be read: it is skipped and reported
      throw new RepositoryWriteError(err);
    }
    for (const r of saved.blobs) {
      if (!r.added) continue;
      this.stats.dataBlobs++;
      this.stats.dataAddedPacked += r.storedSize;
    }
    this.stats.dataAdded += saved.blobs.reduce((sum, r) => sum + (r.added ? r.length : 0), 0);
    return { content: saved.blobs.map((r) => r.id), size: saved.size };
  }

  private async archiveStream(e: Extract<ArchiveEntry, { kind: 'stream' }>, display: string): Promise<Node | undefined> {
    const time = e.mtime ? formatLocalGoTime(BigInt(e.mtime.getTime()) * 1_000_000n) : this.virtualTime;
    const node = this.virtualNode(e.name, 'file', e.mode ?? 0o600, time);
    await this.beforeWrite();
    this.current.add(display);
    try {
      const stream = await e.open();
      const { content, size } = await this.chunkAndStore(stream);
      node.content = content;
      if (size > 0) node.size = size;
      this.stats.totalFilesProcessed++;
      this.stats.totalBytesProcessed += size;
      this.stats.filesNew++;
      this.progress(0);
      return node;
    } catch (err) {
      // a stream that fails (a dump that errors) fails the snapshot, as does the repository
      throw err instanceof RepositoryWriteError ? err.cause : err;
    } finally {
      this.current.delete(display);
    }
  }

  /**
   * Chunks a byte stream, stores new chunks, returns the blob list and total
   * size. A few chunks are stored concurrently (compression and encryption run
   * on worker threads) while the next ones are cut and hashed here; the blob
   * list keeps file order because ids are computed before storing.
   */
  private async chunkAndStore(source: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer>): Promise<{ content: string[]; size: number }> {
    const chunker = new Chunker(this.repo.polynomial);
    const content: string[] = [];
    let size = 0;
    const inFlight: Promise<void>[] = [];
    const store = (chunk: Buffer) => {
      const at = content.length;
      const length = chunk.length;
      content.push('');
      size += length;
      // the id is computed with the rest of the blob's work (on a worker for big chunks); its place in the list is kept
      const p = this.repo.saveDataBlob(chunk).then(
        (r) => {
          content[at] = r.id;
          if (r.added) {
            this.stats.dataBlobs++;
            this.stats.dataAdded += length;
            this.stats.dataAddedPacked += r.storedSize;
          }
        },
        (err: unknown) => {
          throw new RepositoryWriteError(err);
        },
      );
      p.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"
      inFlight.push(p);
    };
    const drain = async (keep: number) => {
      while (inFlight.length > keep) await inFlight.shift();
    };
    try {
      for await (const piece of source) {
        const buf = typeof piece === 'string' ? Buffer.from(piece) : Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
        this.stats.bytesRead += buf.length;
        this.bytesDone += buf.length;
        for (const chunk of chunker.push(buf)) {
          store(chunk);
          await drain(chunksInFlight);
        }
      }
      for (const chunk of chunker.finish()) store(chunk);
    } finally {
      await Promise.allSettled(inFlight);
    }
    await drain(0);
    return { content, size };
  }

  private progress(extraBytes: number): void {
    this.filesDone++;
    this.bytesDone += extraBytes;
    this.opts.onProgress?.({ filesDone: this.filesDone, bytesDone: this.bytesDone, totalFiles: this.totals?.files ?? 0, totalBytes: this.totals?.bytes ?? 0, currentFiles: [...this.current] });
  }

  private reportError(p: string, err: unknown): void {
    this.stats.errors++;
    this.opts.onError?.(p, err instanceof Error ? err : new Error(String(err)));
  }
}

const fdOpen = promisify(fsCb.open);
const fdClose = promisify(fsCb.close);
const fdRead = promisify(fsCb.read);

/**
 * Reads a file descriptor in pieces into `buf`, reused for every piece: the
 * chunker copies what it keeps, so each piece is dead once the next is asked
 * for. Plain descriptors, not FileHandles: per small file they cost far less.
 */
function* readFdSync(fd: number, buf: Buffer): Iterable<Buffer> {
  for (;;) {
    const n = fsCb.readSync(fd, buf, 0, buf.length, null);
    if (n === 0) return;
    yield n === buf.length ? buf : buf.subarray(0, n);
  }
}

async function* readFd(fd: number, buf: Buffer): AsyncIterable<Buffer> {
  for (;;) {
    const { bytesRead } = await fdRead(fd, buf, 0, buf.length, null);
    if (bytesRead === 0) return;
    yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
  }
}

/**
 * True when Go time text `text` (from a parent node) is the instant `ns`
 * whose text in this run is `formatted`: equal text is the same instant,
 * except clamped years (0000/9999), which stand for many instants.
 */
function sameInstant(text: string, formatted: string, ns: bigint): boolean {
  if (text === formatted && !formatted.startsWith('0000-01-01T00:00:00') && !formatted.startsWith('9999-12-31T23:59:59.999999999')) return true;
  try {
    return parseGoTime(text).epochNs === ns;
  } catch {
    return false;
  }
}

async function isCacheDirTag(p: string): Promise<boolean> {
  try {
    const fh = await fs.open(p, 'r');
    try {
      const buf = Buffer.alloc(cacheDirSignature.length);
      await fh.read(buf, 0, buf.length, 0);
      return buf.toString('latin1') === cacheDirSignature;
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}

/**
 * The root entries for backing up `paths` the way restic does: an absolute
 * target `/a/b/c` becomes folders a → b → c (the folders above the target
 * carry their real metadata); a relative target keeps its relative folders;
 * `.` puts the current folder's contents at the root.
 */
export async function entriesForTargets(paths: string[], cwd = process.cwd()): Promise<ArchiveEntry[]> {
  const root: Extract<ArchiveEntry, { kind: 'dir' }> = { kind: 'dir', name: '', children: [] };
  const add = (dir: Extract<ArchiveEntry, { kind: 'dir' }>, e: ArchiveEntry) => {
    if (!dir.children.some((c) => c.name === e.name)) dir.children.push(e);
  };
  for (const target of paths) {
    const abs = path.resolve(cwd, target);
    const relative = !path.isAbsolute(target) && !path.relative(cwd, abs).startsWith('..');
    const parts = (relative ? path.relative(cwd, abs) : abs).split('/').filter(Boolean);
    if (parts.length === 0) {
      // "." (or "/"): the folder's contents go straight into the root tree
      for (const name of await fs.readdir(abs)) add(root, { kind: 'fs', name, path: path.join(abs, name) });
      continue;
    }
    let dir = root;
    let sofar = relative ? cwd : '/';
    for (const part of parts.slice(0, -1)) {
      sofar = path.join(sofar, part);
      let next = dir.children.find((c): c is Extract<ArchiveEntry, { kind: 'dir' }> => c.kind === 'dir' && c.name === part);
      if (!next) {
        next = { kind: 'dir', name: part, children: [], metadataFrom: sofar };
        dir.children.push(next);
      }
      dir = next;
    }
    add(dir, { kind: 'fs', name: parts[parts.length - 1]!, path: abs });
  }
  return root.children;
}

/** This machine's name as restic records it. */
export function defaultHostname(): string {
  return os.hostname();
}
