// Reading blobs pack range by pack range: the restorer and the checker ask
// here for "write these blobs of this pack to these file positions" or
// "verify this pack", and pack bytes stay in the repository layer. Each range
// is read once and handed (moved, not copied) to a pack worker, which opens
// every blob of it in one job.
import type { Worker } from 'node:worker_threads';
import os from 'node:os';
import type { CryptoKey } from '../crypto/masterKey.js';
import { BlobOpener, PackVerifier, writeRange, writePlaintext, type BlobFailure, type PackBlobRef, type RangeFile, type WriteRangeJob, type WriteRangeResult } from './packJobs.js';
import type { PackRequest, PackResponse } from './packWorker.js';
import type { Repository } from './repository.js';
import { startWorker } from './startWorker.js';

export type { BlobFailure, FileFinish, PackBlobRef, RangeFile, WriteRangeResult } from './packJobs.js';
export { writePlaintext };

/** A blob to restore: where it lies in its pack and the flat (file index, position) pairs its plaintext goes to. */
export interface BlobWrite extends PackBlobRef {
  targets: number[];
}

/** What verifyPackData found. */
export interface PackDataCheck {
  /** Bytes read from the backend. */
  bytes: number;
  /** SHA-256 of the whole file, when it could be read to the end. */
  hash?: string;
  /** Blobs whose bytes fail a check. */
  failed: { blob: PackBlobRef; reason: BlobFailure }[];
  /** Set when the pack could not be read to the end. */
  readError?: unknown;
}

/** What each failure reason means, for messages. */
export const blobFailureText: Record<BlobFailure, string> = {
  mac: 'is damaged (MAC check failed)',
  decompress: 'does not decompress',
  length: 'has the wrong length after decompression',
  id: 'does not match its id',
};

interface Pending {
  resolve: (r: PackResponse) => void;
  reject: (e: Error) => void;
  worker: number;
}

/**
 * A pack worker's JavaScript heap holds little more than the blobs' Buffer
 * handles: a small young generation is collected often and cheaply, where the
 * default lets tens of MiB of dead objects (and the memory they pin) pile up.
 */
const resourceLimits = { maxYoungGenerationSizeMb: 4 };

/**
 * Worker threads for pack jobs, shared by every repository of the process
 * (each job names its key). Jobs go to the least busy worker, or to the worker
 * that holds a verification session; idle workers do not keep the process alive.
 */
class PackWorkerPool {
  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  private readonly keysSent: Set<number>[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly sessionWorker = new Map<number, number>();
  private nextJob = 0;
  /** Set when a worker died: every later job fails at once instead of waiting for an answer that never comes. */
  private broken: Error | undefined;

  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      const w = startWorker(import.meta.url, 'packWorker', resourceLimits);
      w.on('message', (m: PackResponse) => this.settle(m));
      w.on('error', (err) => this.failAll(err));
      w.on('exit', (code) => this.failAll(new Error(`pack worker exited (code ${code})`)));
      w.unref();
      this.workers.push(w);
      this.load.push(0);
      this.keysSent.push(new Set());
    }
  }

  private settle(m: PackResponse): void {
    const p = this.pending.get(m.job);
    if (!p) return;
    this.pending.delete(m.job);
    if (--this.load[p.worker]! === 0) this.workers[p.worker]!.unref();
    if ('error' in m) p.reject(new Error(m.error));
    else p.resolve(m);
  }

  private failAll(err: Error): void {
    this.broken ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (let i = 0; i < this.workers.length; i++) {
      this.load[i] = 0;
      this.workers[i]!.unref();
    }
  }

  /** Sends a job whose bytes are moved to the worker (the caller must not use `data` afterwards). */
  run(keyId: number, key: CryptoKey, make: (job: number) => PackRequest, data: Uint8Array, session?: number): Promise<PackResponse> {
    if (this.broken) return Promise.reject(this.broken);
    let w = session !== undefined ? this.sessionWorker.get(session) : undefined;
    if (w === undefined) {
      w = 0;
      for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[w]!) w = i;
      if (session !== undefined) this.sessionWorker.set(session, w);
    }
    const worker = this.workers[w]!;
    if (!this.keysSent[w]!.has(keyId)) {
      worker.postMessage({ op: 'key', keyId, key: { encrypt: key.encrypt, macK: key.macK, macR: key.macR } } satisfies PackRequest);
      this.keysSent[w]!.add(keyId);
    }
    const job = this.nextJob++;
    if (this.load[w]!++ === 0) worker.ref();
    const chosen = w;
    return new Promise<PackResponse>((resolve, reject) => {
      this.pending.set(job, { resolve, reject, worker: chosen });
      try {
        worker.postMessage(make(job), [data.buffer as ArrayBuffer]);
      } catch (err) {
        // never leave a job (and a ref'd worker) waiting for an answer
        this.pending.delete(job);
        if (--this.load[chosen]! === 0) worker.unref();
        reject(err as Error);
      }
    });
  }

  /** Forgets a verification session (on its worker too). */
  endSession(session: number, dropOnWorker: boolean): void {
    const w = this.sessionWorker.get(session);
    this.sessionWorker.delete(session);
    if (dropOnWorker && w !== undefined && !this.broken) this.workers[w]!.postMessage({ op: 'drop', session } satisfies PackRequest);
  }
}

/** One worker per core, at most four (the main thread only reads and keeps the books). */
function workerCount(): number {
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

let shared: PackWorkerPool | undefined;
const keyIds = new WeakMap<CryptoKey, number>();
let nextKeyId = 0;
let nextSession = 0;

/** Worker threads are on unless CAIRN_WORKERS=0 (then the same work runs on the calling thread). */
function pool(): PackWorkerPool | undefined {
  if (process.env.CAIRN_WORKERS === '0') return undefined;
  shared ??= new PackWorkerPool(workerCount());
  return shared;
}

/**
 * Starts the pack workers now (when workers are on), so that their start-up
 * (tens to hundreds of ms of module loading each) runs on the other cores
 * while the caller plans, instead of delaying the first pack job.
 */
export function startPackWorkers(): void {
  pool();
}

const inlineOpeners = new WeakMap<CryptoKey, BlobOpener>();

/** The opener used on this thread when workers are off. */
function inlineOpener(key: CryptoKey): BlobOpener {
  let o = inlineOpeners.get(key);
  if (!o) inlineOpeners.set(key, (o = new BlobOpener(key)));
  return o;
}

function keyIdOf(key: CryptoKey): number {
  let id = keyIds.get(key);
  if (id === undefined) keyIds.set(key, (id = nextKeyId++));
  return id;
}

/** The bytes as a buffer that can be moved to a worker: itself when it owns its memory, else a copy. */
function movable(b: Buffer): Uint8Array {
  return b.byteOffset === 0 && b.buffer.byteLength === b.length ? b : Uint8Array.prototype.slice.call(b);
}

/**
 * How many pack jobs are worth having in flight at once: one per worker plus
 * one being read. Each holds a range of pack bytes, so more only costs memory.
 */
export function packJobsInFlight(): number {
  return workerCount() + 1;
}

/**
 * Reads the part of pack `packId` that holds `blobs` (sorted by offset) in one
 * read, opens every blob, checks it against its id and writes its plaintext
 * at each of its targets (`files[target file]`, position). A failed read
 * throws (the caller may retry blob by blob); blobs that fail a check are
 * listed in the result by their index in `blobs`, and the rest is written.
 */
export async function writePackBlobs(repo: Repository, packId: string, blobs: BlobWrite[], files: RangeFile[]): Promise<WriteRangeResult> {
  const start = blobs[0]!.offset;
  let end = start;
  for (const b of blobs) end = Math.max(end, b.offset + b.length);
  const data = movable(await repo.backend.read({ type: 'pack', name: packId }, start, end - start));
  const job: WriteRangeJob = {
    blobs: blobs.map((b) => (b.uncompressedLength ? { id: b.id, at: b.offset - start, length: b.length, uncompressedLength: b.uncompressedLength } : { id: b.id, at: b.offset - start, length: b.length })),
    targets: blobs.map((b) => b.targets),
    files,
  };
  if (data.length < end - start) throw new Error(`short read of pack ${packId.slice(0, 8)} at offset ${start}`);
  const p = pool();
  if (!p) return writeRange(inlineOpener(repo.key), data, job);
  const r = await p.run(keyIdOf(repo.key), repo.key, (id) => ({ op: 'write', job: id, keyId: keyIdOf(repo.key), data, ...job }), data);
  return r as WriteRangeResult;
}

/**
 * Where the segment that starts at `pos` ends: at a blob boundary when one
 * falls within `segmentSize` (so no blob straddles two segments and nothing
 * is carried over), else at the end of the one blob that is longer.
 */
function segmentEnd(blobs: PackBlobRef[], from: number, pos: number, size: number, segmentSize: number): { end: number; next: number } {
  let end = Math.min(size, pos + segmentSize);
  let k = from;
  while (k < blobs.length && blobs[k]!.offset + blobs[k]!.length <= end) k++;
  if (k < blobs.length && blobs[k]!.offset < end) {
    // blob k would straddle: end before it, or after it when it begins the segment
    end = blobs[k]!.offset > pos ? blobs[k]!.offset : Math.min(size, blobs[k]!.offset + blobs[k]!.length);
    if (end > blobs[k]!.offset) k++;
  }
  return { end, next: k };
}

/**
 * Reads a whole pack in segments of about `segmentSize` bytes that end at blob
 * boundaries and, on a worker, hashes it and opens every listed blob
 * (`blobs` sorted by offset, all inside the file) against its id. At most two
 * segments of one pack are in memory at a time.
 */
export async function verifyPackData(repo: Repository, packId: string, size: number, blobs: PackBlobRef[], segmentSize = 2 * 1024 * 1024): Promise<PackDataCheck> {
  const out: PackDataCheck = { bytes: 0, failed: [] };
  const p = pool();
  const session = nextSession++;
  const keyId = keyIdOf(repo.key);
  const inline = p ? undefined : new PackVerifier(inlineOpener(repo.key), blobs);
  let last: Promise<PackResponse> | undefined;
  let pos = 0;
  let nextBlob = 0;
  try {
    while (pos < size) {
      const seg = segmentEnd(blobs, nextBlob, pos, size, segmentSize);
      nextBlob = seg.next;
      const len = seg.end - pos;
      const buf = await repo.backend.read({ type: 'pack', name: packId }, pos, len);
      out.bytes += buf.length;
      if (buf.length !== len) throw new Error(`short read at offset ${pos}`);
      const first = pos === 0;
      pos += len;
      const final = pos >= size;
      if (inline) {
        inline.update(buf);
      } else {
        const data = movable(buf);
        // one segment on the worker while the next is read
        if (last) await last;
        last = p!.run(keyId, repo.key, (job) => ({ op: 'verify', job, keyId, session, data, blobs: first ? blobs : undefined, final }), data, session);
      }
    }
  } catch (err) {
    out.readError = err;
    if (last) await last.catch(() => undefined);
    p?.endSession(session, true);
    return out;
  }
  let failed: { blob: number; reason: BlobFailure }[];
  if (inline || !last) {
    const v = inline ?? new PackVerifier(inlineOpener(repo.key), blobs); // an empty pack: nothing was sent
    failed = v.failed;
    out.hash = v.digest();
  } else {
    const r = (await last) as { failed: { blob: number; reason: BlobFailure }[]; hash?: string };
    p!.endSession(session, false);
    failed = r.failed;
    out.hash = r.hash;
  }
  out.failed = failed.map((f) => ({ blob: blobs[f.blob]!, reason: f.reason }));
  return out;
}
