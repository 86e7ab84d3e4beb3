import { MessageChannel, type Worker } from 'node:worker_threads';
import os from 'node:os';
import type { CryptoKey } from '../crypto/masterKey.js';
import type { CompressionMode, EncodedBlob } from './blobCodec.js';
import type { CodecRequest, CodecResponse } from './blobCodecWorker.js';
import type { BlobType } from './ids.js';
import type { StagedPack } from './packFileWriter.js';
import { startWorker } from './startWorker.js';
import { removeStaged, trackStaged } from '../backend/staging.js';

type Result = EncodedBlob | Buffer | string | number | true;

/** A pack a worker finished on disk; tell it with packStored once stored (or given up on). */
export interface WorkerPack extends StagedPack {
  worker: number;
}

interface Pending {
  resolve: (r: Result) => void;
  reject: (e: Error) => void;
}

/** How many more jobs a worker must have queued than another before it hands blobs over. */
const handOverMargin = 1;

/** A blob a worker hashed and holds until it is encoded or dropped. */
export interface KeptBlob {
  readonly worker: number;
  readonly job: number;
}

/** A chunk of a file that a worker cut and hashed; the worker holds its bytes until storeKept or drop. */
export interface FileChunk {
  id: string;
  length: number;
  kept: KeptBlob;
}

interface FileStream {
  worker: number;
  onChunk: (c: FileChunk) => void;
  onRead: (bytes: number) => void;
  resolve: (size: number) => void;
  reject: (e: Error) => void;
}

/** A file a worker could not read, with the errno code and syscall as node:fs reports them. */
export class WorkerFileError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly syscall: string | undefined,
  ) {
    super(message);
    this.name = 'WorkerFileError';
  }
}

/** A blob a worker could not decode, with the reason (mac, decompress, length, id). */
export class WorkerDecodeError extends Error {
  constructor(
    message: string,
    readonly reason: string | undefined,
  ) {
    super(message);
    this.name = 'WorkerDecodeError';
  }
}

/** How a BlobCodecPool is set up. */
export interface CodecPoolOptions {
  /** Where workers write their packs as they fill (Backend.stagingDir; default the system's temp folder). */
  stageDir?: string;
  /** Worker threads (default: the cores, at most 4). */
  size?: number;
}

/**
 * A fixed set of worker threads that compress and seal blobs. Jobs go to the
 * least busy worker; results come back as promises. Idle workers do not keep
 * the process alive.
 */
export class BlobCodecPool {
  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  private readonly pending = new Map<number, Pending>();
  /** Each worker's pack being filled: its file is removed by close (or at exit), unless it was finished and handed on. */
  private readonly filling = new Map<number, string>();
  private readonly files = new Map<number, FileStream>();
  private nextJob = 0;
  private closed = false;
  /** Set when a worker died: every later job fails at once instead of waiting for an answer that never comes. */
  private broken: Error | undefined;

  constructor(key: CryptoKey, version: number, compression: CompressionMode, polynomial: string, opts: CodecPoolOptions = {}) {
    const size = opts.size ?? Math.max(1, Math.min(4, os.availableParallelism()));
    const stageDir = opts.stageDir ?? os.tmpdir();
    for (let i = 0; i < size; i++) {
      const w = startWorker(import.meta.url, 'blobCodecWorker');
      const init: CodecRequest = { op: 'init', key: { encrypt: key.encrypt, macK: key.macK, macR: key.macR }, version, compression, polynomial, stageDir };
      w.postMessage(init);
      w.on('message', (m: CodecResponse) => this.settle(i, m));
      w.on('error', (err) => this.failAll(err));
      w.on('exit', (code) => {
        if (!this.closed) this.failAll(new Error(`blob codec worker exited (code ${code})`));
      });
      w.unref();
      this.workers.push(w);
      this.load.push(0);
    }
    // a channel between every two workers, for blobs one cuts and the other stores
    for (let i = 0; i < size; i++) {
      for (let j = i + 1; j < size; j++) {
        const { port1, port2 } = new MessageChannel();
        this.workers[i]!.postMessage({ op: 'peer', index: j, port: port1 } satisfies CodecRequest, [port1]);
        this.workers[j]!.postMessage({ op: 'peer', index: i, port: port2 } satisfies CodecRequest, [port2]);
      }
    }
  }

  /** Called with every pack a worker finishes (set by the repository, which uploads and indexes it). */
  onPack: ((pack: WorkerPack) => void) | undefined;

  private settle(worker: number, m: CodecResponse): void {
    if ('pack' in m) {
      if (this.filling.get(worker) === m.pack.path) this.filling.delete(worker);
      this.onPack?.({ ...m.pack, worker });
      return;
    }
    if ('staged' in m) {
      trackStaged(m.staged);
      this.filling.set(worker, m.staged);
      return;
    }
    const f = this.files.get(m.job);
    if (f) return this.settleFile(worker, m, f);
    const p = this.pending.get(m.job);
    if (!p) return;
    this.pending.delete(m.job);
    if (--this.load[worker]! === 0) this.workers[worker]!.unref();
    if ('error' in m) p.reject(new WorkerDecodeError(m.error, m.reason));
    else if ('id' in m) p.resolve(m.id);
    else if ('stored' in m) p.resolve(m.stored);
    else if ('flushed' in m) p.resolve(true);
    else if ('plain' in m) p.resolve(Buffer.from(m.plain.buffer, m.plain.byteOffset, m.plain.byteLength));
    else if ('sealed' in m) {
      const r: EncodedBlob = { sealed: Buffer.from(m.sealed.buffer, m.sealed.byteOffset, m.sealed.byteLength) };
      if (m.uncompressedLength) r.uncompressedLength = m.uncompressedLength;
      p.resolve(r);
    }
  }

  private settleFile(worker: number, m: Exclude<CodecResponse, { pack: unknown } | { staged: string }>, f: FileStream): void {
    if ('chunk' in m) return f.onChunk({ id: m.chunk.id, length: m.chunk.length, kept: { worker, job: m.chunk.kept } });
    if ('read' in m) return f.onRead(m.read);
    this.files.delete(m.job);
    if (--this.load[worker]! === 0) this.workers[worker]!.unref();
    if ('fileDone' in m) f.resolve(m.fileDone);
    else if ('error' in m) f.reject(new WorkerFileError(m.error, m.code, m.syscall));
  }

  private failAll(err: Error): void {
    this.broken ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const f of this.files.values()) f.reject(err);
    this.files.clear();
    for (let i = 0; i < this.workers.length; i++) {
      this.load[i] = 0;
      this.workers[i]!.unref();
    }
  }

  private leastBusy(): number {
    let best = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[best]!) best = i;
    return best;
  }

  /**
   * Sends a request that `worker` answers once; `data` (if any) is moved to the worker. With `via`,
   * the request goes to that worker, which passes the work on to `worker`.
   */
  private submit<T extends Result>(worker: number, make: (job: number) => CodecRequest, data?: Uint8Array, via = worker): { job: number; done: Promise<T> } {
    const job = this.nextJob++;
    if (this.closed) return { job, done: Promise.reject(new Error('blob codec pool is closed')) };
    if (this.broken) return { job, done: Promise.reject(this.broken) };
    const w = this.workers[worker]!;
    if (this.load[worker]!++ === 0) w.ref();
    const done = new Promise<T>((resolve, reject) => {
      this.pending.set(job, { resolve: resolve as (r: Result) => void, reject });
      try {
        this.workers[via]!.postMessage(make(job), data ? [data.buffer as ArrayBuffer] : []);
      } catch (err) {
        // never leave a job (and a ref'd worker) waiting for an answer
        this.pending.delete(job);
        if (--this.load[worker]! === 0) w.unref();
        reject(err as Error);
      }
    });
    return { job, done };
  }

  /** Compresses and seals `plaintext` on a worker. The buffer may be handed over (do not reuse it). */
  encode(type: BlobType, plaintext: Buffer): Promise<EncodedBlob> {
    const data = transferable(plaintext);
    return this.submit<EncodedBlob>(this.leastBusy(), (job) => ({ op: 'encode', job, type, data }), data).done;
  }

  /**
   * Hashes `plaintext` on a worker, which keeps it: follow with storeKept (a new
   * blob) or drop (already stored), so only new blobs pay for compression.
   */
  async hash(plaintext: Buffer): Promise<{ id: string; kept: KeptBlob }> {
    const data = transferable(plaintext);
    const worker = this.leastBusy();
    const { job, done } = this.submit<string>(worker, (job) => ({ op: 'hash', job, data }), data);
    return { id: await done, kept: { worker, job } };
  }

  /**
   * Has a worker read, chunk and hash the file at `path`. `onChunk` gets each
   * chunk in file order (follow with storeKept or drop; the worker pauses
   * reading while too many bytes wait for a verdict); resolves to the bytes read.
   * A file that cannot be read rejects with WorkerFileError.
   */
  chunkFile(path: string, onChunk: (c: FileChunk) => void, onRead: (bytes: number) => void): Promise<number> {
    if (this.closed) return Promise.reject(new Error('blob codec pool is closed'));
    if (this.broken) return Promise.reject(this.broken);
    const worker = this.leastBusy();
    const job = this.nextJob++;
    const w = this.workers[worker]!;
    if (this.load[worker]!++ === 0) w.ref();
    return new Promise<number>((resolve, reject) => {
      this.files.set(job, { worker, onChunk, onRead, resolve, reject });
      w.postMessage({ op: 'chunkFile', job, path } satisfies CodecRequest);
    });
  }

  /**
   * Compresses and seals a kept data blob into a worker's pack (packs of
   * `packSize`); resolves to the sealed size. The blob is stored once its
   * pack, delivered through onPack, is uploaded.
   */
  storeKept(kept: KeptBlob, packSize: number): Promise<number> {
    // A worker busy with more than another (a big file alone at the end of a backup) hands the
    // blob to the idler one; when all are busy alike, each stores what it cut (no extra copy).
    const idle = this.leastBusy();
    const to = this.load[idle]! + handOverMargin <= this.load[kept.worker]! ? idle : kept.worker;
    if (to === kept.worker) return this.submit<number>(to, (job) => ({ op: 'storeKept', job, kept: kept.job, packSize })).done;
    return this.submit<number>(to, (job) => ({ op: 'storeKept', job, kept: kept.job, packSize, to }), undefined, kept.worker).done;
  }

  /** Has every worker send its unfinished pack (through onPack) before this resolves. */
  async flushPacks(): Promise<void> {
    await Promise.all(this.workers.map((_, i) => this.submit<true>(i, (job) => ({ op: 'flushPacks', job })).done));
  }

  /** Tells the worker that made `pack` it is stored (or given up on), so it may fill another. */
  packStored(pack: WorkerPack): void {
    if (this.closed || this.broken) return;
    this.workers[pack.worker]!.postMessage({ op: 'packStored' } satisfies CodecRequest);
  }

  /** Forgets a blob kept by hash() (it was stored already). */
  drop(kept: KeptBlob): void {
    if (!this.closed && !this.broken) this.workers[kept.worker]!.postMessage({ op: 'drop', kept: kept.job } satisfies CodecRequest);
  }

  /** Opens a sealed blob on a worker and checks it hashes to `id`; rejects with WorkerDecodeError. */
  decode(id: string, sealed: Uint8Array, uncompressedLength?: number): Promise<Buffer> {
    const data = transferable(sealed);
    return this.submit<Buffer>(this.leastBusy(), (job) => ({ op: 'decode', job, id, data, uncompressedLength }), data).done;
  }

  /** Stops the workers and removes the files of packs they had not finished. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
    await Promise.all([...this.filling.values()].map((file) => removeStaged(file)));
    this.filling.clear();
  }
}

/** The bytes as a buffer that can be moved to a worker: itself when it owns its memory, else a copy. */
function transferable(b: Uint8Array): Uint8Array {
  const own = b.byteOffset === 0 && b.buffer.byteLength === b.length && b.length >= 4096;
  return own ? b : Uint8Array.prototype.slice.call(b);
}
