import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { MIN_CHUNK_SIZE } from '../chunker/chunker.js';
import type { EncodedBlob } from './blobCodec.js';
import type { Repository, SaveResult } from './repository.js';
import { FileOutcome, type SmallFileBatch, type SmallFileRequest, type SmallFileResponse } from './smallFileProtocol.js';
import { sha256Hex } from './ids.js';
import { startWorker } from './startWorker.js';

/** A small file a worker could not read, with the errno code and syscall as node:fs reports them. */
export class SmallFileError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly syscall: string | undefined,
  ) {
    super(message);
    this.name = 'SmallFileError';
  }
}

/** A small file stored: its one blob (none when empty) and its length. */
export interface StoredSmallFile {
  /** The file's blob; undefined for an empty file. */
  blob: SaveResult | undefined;
  size: number;
}

/** Files per batch message: enough that a round trip costs little per file. */
const batchFiles = 128;
/** Bytes of file content per batch message. */
const batchBytes = 1024 * 1024;
/** Files queued or being read at once (bounds memory; several batches keep the workers busy). */
const filesInFlight = 8 * batchFiles;

interface Queued {
  path: string;
  resolve: (r: StoredSmallFile | 'tooBig') => void;
  reject: (e: Error) => void;
}

/**
 * Reads small files on worker threads, many files per message: each worker
 * reads, hashes, compresses and seals a batch, and this thread only adds the
 * new blobs to its pack. Tiny files cost microseconds of work each, so a
 * message per file would cost more than it saves; a batch costs one round trip.
 * A batch is sent when full or when this thread has nothing else to do.
 */
export class SmallFileReader {
  /** Files up to this size (by their stat) are taken: smaller than the blobs the repository hands to its own workers. */
  static readonly maxFileSize = 16 * 1024 - 1;

  private readonly workers: Worker[] = [];
  /** Batches each worker holds. */
  private readonly load: number[] = [];
  private readonly batches = new Map<number, { worker: number; files: Queued[] }>();
  private readonly trees = new Map<number, { worker: number; id: string; length: number; resolve: (r: SaveResult) => void; reject: (e: Error) => void }>();
  private queue: Queued[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private nextJob = 0;
  private closed = false;
  private broken: Error | undefined;

  constructor(
    private readonly repo: Repository,
    size = Math.max(1, Math.min(4, os.availableParallelism() - 1)),
  ) {
    const k = repo.key;
    for (let i = 0; i < size; i++) {
      const w = startWorker(import.meta.url, 'smallFileWorker');
      const init: SmallFileRequest = { op: 'init', key: { encrypt: k.encrypt, macK: k.macK, macR: k.macR }, version: repo.config.version, compression: repo.compressionMode, maxSize: MIN_CHUNK_SIZE };
      w.postMessage(init);
      w.on('message', (m: SmallFileResponse) => this.settle(i, m));
      w.on('error', (err) => this.failAll(err));
      w.on('exit', (code) => {
        if (!this.closed) this.failAll(new Error(`small file worker exited (code ${code})`));
      });
      w.unref();
      this.workers.push(w);
      this.load.push(0);
    }
  }

  /**
   * Reads and stores the file at `path` (about `size` bytes by its stat).
   * Resolves 'tooBig' when it turned out longer than one chunk (it grew):
   * the caller reads it the ordinary way. Rejects with SmallFileError when
   * it cannot be read, with the repository's error when storing fails.
   */
  async store(path: string, size: number): Promise<StoredSmallFile | 'tooBig'> {
    if (this.broken) throw this.broken;
    if (this.inFlight >= filesInFlight) {
      this.send();
      await new Promise<void>((r) => this.waiting.push(r)); // woken with a slot counted for it
      if (this.broken) throw this.broken;
    } else {
      this.inFlight++;
    }
    return new Promise<StoredSmallFile | 'tooBig'>((resolve, reject) => {
      this.queue.push({ path, resolve, reject });
      this.queuedBytes += size;
      if (this.queue.length >= batchFiles || this.queuedBytes >= batchBytes) this.send();
      else if (!this.flushScheduled) {
        // sent when this thread runs out of other work (a walk waiting for these files)
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          this.send();
        });
      }
    });
  }

  /**
   * Stores a tree blob (its encoded JSON), compressed and sealed on a worker
   * unless the repository has it already: trees of many small files add up
   * to tens of MiB of JSON, whose compression would hold up this thread.
   */
  async saveTree(plain: Buffer): Promise<SaveResult> {
    if (this.broken) throw this.broken;
    const id = sha256Hex(plain);
    if (this.repo.hasBlob('tree', id)) return { id, added: false, storedSize: 0, length: plain.length };
    const worker = this.leastBusy();
    const job = this.nextJob++;
    const sealed = new Promise<SaveResult>((resolve, reject) => this.trees.set(job, { worker, id, length: plain.length, resolve, reject }));
    // handed over when it owns its memory (never a slice of Buffer's shared pool); copied otherwise
    const owned = plain.byteOffset === 0 && plain.byteLength === plain.buffer.byteLength;
    this.post(worker, { op: 'tree', job, data: plain }, owned ? [plain.buffer as ArrayBuffer] : []);
    return sealed;
  }

  private leastBusy(): number {
    let worker = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[worker]!) worker = i;
    return worker;
  }

  private post(worker: number, msg: SmallFileRequest, transfer: ArrayBuffer[] = []): void {
    if (this.load[worker]!++ === 0) this.workers[worker]!.ref();
    this.workers[worker]!.postMessage(msg, transfer);
  }

  /** Sends the queued files to the least busy worker. */
  private send(): void {
    if (this.queue.length === 0) return;
    const files = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    const worker = this.leastBusy();
    const job = this.nextJob++;
    this.batches.set(job, { worker, files });
    this.post(worker, { op: 'read', job, paths: files.map((f) => f.path) });
  }

  private settle(worker: number, m: SmallFileResponse): void {
    const tree = this.trees.get(m.job);
    if (tree) {
      this.trees.delete(m.job);
      if (--this.load[worker]! === 0) this.workers[worker]!.unref();
      if ('fatal' in m) tree.reject(new Error(`small file worker: ${m.fatal}`));
      else if ('tree' in m) {
        const encoded: EncodedBlob = { sealed: Buffer.from(m.tree.buffer, m.tree.byteOffset, m.tree.byteLength) };
        if (m.uncompressedLength) encoded.uncompressedLength = m.uncompressedLength;
        this.repo.saveEncodedBlob('tree', tree.id, tree.length, encoded).then(tree.resolve, (err: unknown) => tree.reject(err instanceof Error ? err : new Error(String(err))));
      }
      return;
    }
    const batch = this.batches.get(m.job);
    if (!batch) return;
    this.batches.delete(m.job);
    if (--this.load[worker]! === 0) this.workers[worker]!.unref();
    const { files } = batch;
    if ('fatal' in m) {
      for (const f of files) f.reject(new Error(`small file worker: ${m.fatal}`));
    } else if ('outcomes' in m) {
      this.deliver(files, m);
    }
    this.inFlight -= files.length;
    while (this.inFlight < filesInFlight && this.waiting.length > 0) {
      this.inFlight++;
      this.waiting.shift()!();
    }
  }

  /** Hands each file's blob to the repository (which drops duplicates) and settles its promise. */
  private deliver(files: Queued[], b: SmallFileBatch): void {
    const sealed = Buffer.from(b.sealed.buffer, b.sealed.byteOffset, b.sealed.byteLength);
    const errors = new Map(b.errors.map((e) => [e.at, e]));
    for (let i = 0; i < files.length; i++) {
      const f = files[i]!;
      const outcome = b.outcomes[i];
      if (outcome === FileOutcome.failed) {
        const e = errors.get(i);
        f.reject(new SmallFileError(e?.message ?? 'cannot be read', e?.code, e?.syscall));
        continue;
      }
      if (outcome === FileOutcome.tooBig) {
        f.resolve('tooBig');
        continue;
      }
      const size = b.sizes[i]!;
      if (size === 0) {
        f.resolve({ blob: undefined, size: 0 });
        continue;
      }
      const start = i === 0 ? 0 : b.ends[i - 1]!;
      const encoded: EncodedBlob = { sealed: sealed.subarray(start, b.ends[i]) };
      if (b.compressed[i]) encoded.uncompressedLength = size;
      this.repo.saveEncodedBlob('data', b.ids[i]!, size, encoded).then(
        (blob) => f.resolve({ blob, size }),
        (err: unknown) => f.reject(err instanceof Error ? err : new Error(String(err))),
      );
    }
  }

  private failAll(err: Error): void {
    this.broken ??= err;
    for (const { files } of this.batches.values()) for (const f of files) f.reject(err);
    this.batches.clear();
    for (const t of this.trees.values()) t.reject(err);
    this.trees.clear();
    for (const f of this.queue) f.reject(err);
    this.queue = [];
    for (const w of this.waiting.splice(0)) w();
  }

  /** Stops the workers (after every store has settled). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
