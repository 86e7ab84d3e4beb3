// Worker thread: the CPU-heavy part of storing and loading blobs, off the main thread.
// For big files it does the whole pipeline up to the pack: read, chunk, hash, and —
// once the main thread (which owns the index) says a chunk is new — compress and
// seal. The main thread only decides about duplicates and writes packs, so both
// cores work.
import fs from 'node:fs';
import { parentPort, type MessagePort } from 'node:worker_threads';
import { Chunker } from '../chunker/chunker.js';
import type { CryptoKey } from '../crypto/masterKey.js';
import { BlobDecodeError, BlobEncoder, decodeBlob, encodeBlob, type CompressionMode } from './blobCodec.js';
import { sha256Hex } from './ids.js';
import { releaseDeadBuffers } from './memoryPressure.js';
import { PackFileWriter, type StagedPack } from './packFileWriter.js';
import type { BlobType } from './ids.js';

/** Messages the pool sends. */
export type CodecRequest =
  /** `stageDir`: where this worker's packs are written as they fill (Backend.stagingDir). */
  | { op: 'init'; key: { encrypt: Uint8Array; macK: Uint8Array; macR: Uint8Array }; version: number; compression: CompressionMode; polynomial: string; stageDir: string }
  /** Read the file at `path`, cut it into chunks, hash and keep each (answers: chunk…, read…, then fileDone or error). */
  | { op: 'chunkFile'; job: number; path: string }
  | { op: 'encode'; job: number; type: BlobType; data: Uint8Array }
  /** Hash `data` and keep it under `job` until a `storeKept` or `drop` names it. */
  | { op: 'hash'; job: number; data: Uint8Array }
  /**
   * Compress and seal a kept data blob into this worker's pack; answers the sealed size. With `to`,
   * the blob moves to that worker (over their channel) and is stored there: one big file's chunks are
   * cut here in order, but compressed on both cores.
   */
  | { op: 'storeKept'; job: number; kept: number; packSize: number; to?: number }
  /** The channel to another worker, for blobs handed over with storeKept's `to`. */
  | { op: 'peer'; index: number; port: MessagePort }
  | { op: 'drop'; kept: number }
  /** A pack this worker sent is stored (or given up on): one more may be filled meanwhile. */
  | { op: 'packStored' }
  /** Send the unfinished pack now (answers `flushed` after it). */
  | { op: 'flushPacks'; job: number }
  | { op: 'decode'; job: number; id: string; data: Uint8Array; uncompressedLength?: number };

/** Messages the worker answers with. */
export type CodecResponse =
  | { job: number; sealed: Uint8Array; uncompressedLength?: number }
  | { job: number; plain: Uint8Array }
  | { job: number; id: string }
  | { job: number; chunk: { id: string; length: number; kept: number } }
  | { job: number; read: number }
  | { job: number; fileDone: number }
  | { job: number; stored: number }
  | { job: number; flushed: true }
  /** A file this worker created for a pack: removed by the main thread if the process ends before it is stored. */
  | { staged: string }
  /** A finished pack of this worker's blobs on disk, to upload and index (answer with packStored). */
  | { pack: StagedPack }
  | { job: number; error: string; reason?: 'mac' | 'decompress' | 'length' | 'id'; code?: string; syscall?: string };

let key: CryptoKey | undefined;
let version = 2;
let compression: CompressionMode = 'auto';
let polynomial = 0n;
/** Hashed blobs waiting for the main thread's verdict (new: store; already stored: drop). */
const kept = new Map<number, { id: string; data: Uint8Array }>();
let keptBytes = 0;
/** Past this many kept bytes, files stop being read until the main thread catches up: memory stays flat. */
const keptLimit = 8 * 1024 * 1024;
/** Kept blobs cut from files get negative numbers, so they never collide with the pool's job numbers. */
let nextKept = -1;
const readSize = 2 * 1024 * 1024;

/** Bytes allocated for blobs (chunk copies, ciphertext pieces) between two collections of this thread's small heap (see releaseDeadBuffers). */
const collectEvery = 48 * 1024 * 1024;
let bytesSinceCollect = 0;

function countGarbage(bytes: number): void {
  bytesSinceCollect += bytes;
  if (bytesSinceCollect < collectEvery) return;
  bytesSinceCollect = 0;
  releaseDeadBuffers();
}

function keep(name: number, id: string, data: Uint8Array): void {
  kept.set(name, { id, data });
  keptBytes += data.length;
}

function release(name: number): { id: string; data: Uint8Array } | undefined {
  const blob = kept.get(name);
  if (blob) {
    kept.delete(name);
    keptBytes -= blob.data.length;
    if (keptBytes < keptLimit) resumeFiles();
  }
  return blob;
}

// ---- this worker's data pack ----

let packer: PackFileWriter | undefined;
let encoder: BlobEncoder | undefined;
/** Packs sent to the main thread and not stored yet: past two, storing waits (uploads set the pace; staged files stay few). */
let packsOut = 0;
const maxPacksOut = 2;
/** Requests that must wait for a pack's memory to come back, in arrival order. */
const blocked: PackRequest[] = [];

function sendPack(): void {
  const pack = packer!.finish(key!);
  packsOut++;
  parentPort!.postMessage({ pack } satisfies CodecResponse);
}

/** A blob handed over by another worker, to store in this worker's pack. */
interface PeerBlob {
  op: 'storeData';
  job: number;
  id: string;
  data: Uint8Array;
  packSize: number;
}

const peers = new Map<number, MessagePort>();

function storeBlob(job: number, id: string, data: Uint8Array, packSize: number): void {
  try {
    // into the encoder's reused buffers, written to the pack file at once: no blob-sized allocation
    const r = encoder!.encode('data', data);
    countGarbage(2 * data.length);
    packer!.add(id, r.sealed, r.uncompressedLength);
    parentPort!.postMessage({ job, stored: r.sealed.length } satisfies CodecResponse);
    if (packer!.isFull(packSize)) sendPack();
  } catch (err) {
    parentPort!.postMessage({ job, error: err instanceof Error ? err.message : String(err) } satisfies CodecResponse);
  }
}

function storeKept(job: number, name: number, packSize: number): void {
  const blob = release(name);
  if (!blob) parentPort!.postMessage({ job, error: `no kept blob ${name}` } satisfies CodecResponse);
  else storeBlob(job, blob.id, blob.data, packSize);
}

/** Hands a kept blob to another worker, which stores it and answers the main thread itself. */
function handOver(msg: Extract<CodecRequest, { op: 'storeKept' }>, to: number): void {
  const blob = release(msg.kept);
  const port = peers.get(to);
  if (!blob || !port) {
    parentPort!.postMessage({ job: msg.job, error: blob ? `no channel to worker ${to}` : `no kept blob ${msg.kept}` } satisfies CodecResponse);
    return;
  }
  const data = blob.data.byteOffset === 0 && blob.data.buffer.byteLength === blob.data.length ? blob.data : Uint8Array.prototype.slice.call(blob.data);
  port.postMessage({ op: 'storeData', job: msg.job, id: blob.id, data, packSize: msg.packSize } satisfies PeerBlob, [data.buffer as ArrayBuffer]);
}

function flushPacks(job: number): void {
  try {
    if (packer!.count > 0) sendPack();
    parentPort!.postMessage({ job, flushed: true } satisfies CodecResponse);
  } catch (err) {
    parentPort!.postMessage({ job, error: err instanceof Error ? err.message : String(err) } satisfies CodecResponse);
  }
}

type PackRequest = Extract<CodecRequest, { op: 'storeKept' | 'flushPacks' }> | PeerBlob;

/** Runs a store or flush now, or queues it while too many packs are out. */
function packRequest(msg: PackRequest): void {
  if (packsOut >= maxPacksOut || blocked.length > 0) blocked.push(msg);
  else runPackRequest(msg);
}

function runPackRequest(msg: PackRequest): void {
  if (msg.op === 'storeKept') storeKept(msg.job, msg.kept, msg.packSize);
  else if (msg.op === 'storeData') storeBlob(msg.job, msg.id, msg.data, msg.packSize);
  else flushPacks(msg.job);
}

function packStored(): void {
  packsOut--;
  while (packsOut < maxPacksOut && blocked.length > 0) runPackRequest(blocked.shift()!);
}

/** A file being chunked; read a piece at a time so this thread can answer the main thread in between. */
interface FileJob {
  job: number;
  fd: number;
  size: number;
}

/**
 * One file at a time per worker, with one chunker and one read buffer: each file in flight would
 * hold a read buffer and a partial chunk of up to 8 MiB, and the archiver sends several at once.
 * A worker's core is busy with one file anyway; the others wait their turn here (in order).
 */
const queuedFiles: { job: number; path: string }[] = [];
let current: FileJob | undefined;
/** Set while the current file waits for kept bytes to be released. */
let paused = false;
let chunker: Chunker | undefined;
let readBuffer: Buffer | undefined;

function resumeFiles(): void {
  if (!paused || !current) return;
  paused = false;
  const f = current;
  setImmediate(() => stepFile(f));
}

function postChunks(f: FileJob, chunks: Buffer[]): void {
  for (const c of chunks) {
    const name = nextKept--;
    const id = sha256Hex(c);
    keep(name, id, c);
    parentPort!.postMessage({ job: f.job, chunk: { id, length: c.length, kept: name } } satisfies CodecResponse);
  }
}

function failFile(job: number, err: unknown, fd?: number): void {
  if (fd !== undefined) fs.close(fd, () => {});
  const e = err as NodeJS.ErrnoException;
  const out: CodecResponse = { job, error: e instanceof Error ? e.message : String(err) };
  if (e?.code) out.code = e.code;
  if (e?.syscall) out.syscall = e.syscall;
  parentPort!.postMessage(out);
}

/** The current file is done (or failed): the next queued one starts. */
function nextFile(): void {
  current = undefined;
  paused = false;
  const next = queuedFiles.shift();
  if (next) setImmediate(() => startFile(next.job, next.path));
}

function stepFile(f: FileJob): void {
  try {
    const n = fs.readSync(f.fd, readBuffer!, 0, readBuffer!.length, null);
    if (n === 0) {
      fs.closeSync(f.fd);
      postChunks(f, chunker!.finish());
      parentPort!.postMessage({ job: f.job, fileDone: f.size } satisfies CodecResponse);
      nextFile();
      return;
    }
    f.size += n;
    postChunks(f, chunker!.push(readBuffer!.subarray(0, n)));
    parentPort!.postMessage({ job: f.job, read: n } satisfies CodecResponse);
  } catch (err) {
    chunker!.reset();
    failFile(f.job, err, f.fd);
    nextFile();
    return;
  }
  if (keptBytes < keptLimit) setImmediate(() => stepFile(f));
  else paused = true;
}

function startFile(job: number, path: string): void {
  if (current) {
    queuedFiles.push({ job, path });
    return;
  }
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (err) {
    failFile(job, err);
    nextFile();
    return;
  }
  chunker ??= new Chunker(polynomial);
  readBuffer ??= Buffer.allocUnsafeSlow(readSize);
  current = { job, fd, size: 0 };
  stepFile(current);
}

/** Transfers only buffers that own their memory (small Buffers share Node's pool). */
function owned(b: Uint8Array): ArrayBuffer[] {
  return b.byteOffset === 0 && b.buffer.byteLength === b.length ? [b.buffer as ArrayBuffer] : [];
}

function encodeAndPost(job: number, type: BlobType, data: Uint8Array): void {
  const r = encodeBlob(key!, version, compression, type, data);
  countGarbage(data.length);
  const out: CodecResponse = { job, sealed: r.sealed };
  if (r.uncompressedLength) out.uncompressedLength = r.uncompressedLength;
  parentPort!.postMessage(out, owned(r.sealed));
}

parentPort!.on('message', (msg: CodecRequest) => {
  switch (msg.op) {
    case 'init':
      key = { encrypt: Buffer.from(msg.key.encrypt), macK: Buffer.from(msg.key.macK), macR: Buffer.from(msg.key.macR) };
      version = msg.version;
      compression = msg.compression;
      polynomial = BigInt('0x' + msg.polynomial);
      encoder = new BlobEncoder(key, version, compression);
      packer = new PackFileWriter('data', msg.stageDir, (path) => parentPort!.postMessage({ staged: path } satisfies CodecResponse));
      return;
    case 'chunkFile':
      startFile(msg.job, msg.path);
      return;
    case 'drop':
      release(msg.kept);
      return;
    case 'hash': {
      const id = sha256Hex(msg.data);
      keep(msg.job, id, msg.data);
      parentPort!.postMessage({ job: msg.job, id } satisfies CodecResponse);
      return;
    }
    case 'storeKept':
      // handing over does not need this worker's pack: it never waits behind a pack that is out
      if (msg.to !== undefined) handOver(msg, msg.to);
      else packRequest(msg);
      return;
    case 'flushPacks':
      packRequest(msg);
      return;
    case 'peer':
      peers.set(msg.index, msg.port);
      msg.port.on('message', (m: PeerBlob) => packRequest(m));
      return;
    case 'packStored':
      packStored();
      return;
    case 'decode':
      try {
        const plain = decodeBlob(key!, msg.data, msg.uncompressedLength);
        if (sha256Hex(plain) !== msg.id) {
          parentPort!.postMessage({ job: msg.job, error: 'id mismatch', reason: 'id' } satisfies CodecResponse);
          return;
        }
        parentPort!.postMessage({ job: msg.job, plain } satisfies CodecResponse, owned(plain));
      } catch (err) {
        const reason = err instanceof BlobDecodeError ? err.reason : undefined;
        parentPort!.postMessage({ job: msg.job, error: err instanceof Error ? err.message : String(err), reason } satisfies CodecResponse);
      }
      return;
    case 'encode':
      try {
        encodeAndPost(msg.job, msg.type, msg.data);
      } catch (err) {
        parentPort!.postMessage({ job: msg.job, error: err instanceof Error ? err.message : String(err) } satisfies CodecResponse);
      }
      return;
  }
});
