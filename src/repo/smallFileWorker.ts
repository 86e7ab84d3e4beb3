// Worker thread: reads small files in batches and turns each into its one data blob, hashed,
// compressed and sealed, so the main thread only walks folders, deduplicates and packs. One
// message per batch of files, not per file: a round trip costs more than a tiny file's work.
import fs from 'node:fs';
import { hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { CryptoKey } from '../crypto/masterKey.js';
import { encodeBlob, type CompressionMode } from './blobCodec.js';
import { FileOutcome, type SealedTree, type SmallFileBatch, type SmallFileRequest, type SmallFileResponse } from './smallFileProtocol.js';

let key: CryptoKey | undefined;
let version = 2;
let compression: CompressionMode = 'auto';
/** Read buffer: one byte more than the largest file taken, to notice a file that grew. */
let buffer = Buffer.alloc(0);

/** Reads the whole file at `path` into `buffer`; returns the length, or -1 when it is longer than maxSize. */
function readWhole(path: string): number {
  const fd = fs.openSync(path, 'r');
  try {
    let n = 0;
    for (;;) {
      const got = fs.readSync(fd, buffer, n, buffer.length - n, null);
      if (got === 0) return n;
      n += got;
      if (n === buffer.length) return -1;
    }
  } finally {
    fs.closeSync(fd);
  }
}

function readBatch(job: number, paths: string[]): SmallFileBatch {
  const count = paths.length;
  const outcomes = new Uint8Array(count);
  const sizes = new Float64Array(count);
  const ids: string[] = new Array<string>(count).fill('');
  const ends = new Uint32Array(count);
  const compressed = new Uint8Array(count);
  const errors: SmallFileBatch['errors'] = [];
  const blobs: Buffer[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    let n: number;
    try {
      n = readWhole(paths[i]!);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      outcomes[i] = FileOutcome.failed;
      const info: SmallFileBatch['errors'][number] = { at: i, message: e instanceof Error ? e.message : String(err) };
      if (e.code) info.code = e.code;
      if (e.syscall) info.syscall = e.syscall;
      errors.push(info);
      ends[i] = total;
      continue;
    }
    if (n < 0) {
      outcomes[i] = FileOutcome.tooBig;
    } else if (n > 0) {
      const plain = buffer.subarray(0, n);
      sizes[i] = n;
      ids[i] = hash('sha256', plain, 'hex');
      const enc = encodeBlob(key!, version, compression, 'data', plain);
      if (enc.uncompressedLength) compressed[i] = 1;
      blobs.push(enc.sealed);
      total += enc.sealed.length;
    }
    ends[i] = total;
  }
  const sealed = new Uint8Array(total);
  let at = 0;
  for (const b of blobs) {
    sealed.set(b, at);
    at += b.length;
  }
  return { job, outcomes, sizes, ids, sealed, ends, compressed, errors };
}

function sealTree(job: number, data: Uint8Array): SealedTree {
  const enc = encodeBlob(key!, version, compression, 'tree', data);
  // a copy of its own to transfer (a small sealed box may share its memory with others)
  const answer: SealedTree = { job, tree: new Uint8Array(enc.sealed) };
  if (enc.uncompressedLength) answer.uncompressedLength = enc.uncompressedLength;
  return answer;
}

parentPort!.on('message', (msg: SmallFileRequest) => {
  if (msg.op === 'init') {
    const k = msg.key;
    key = { encrypt: Buffer.from(k.encrypt), macK: Buffer.from(k.macK), macR: Buffer.from(k.macR) };
    version = msg.version;
    compression = msg.compression;
    buffer = Buffer.allocUnsafe(msg.maxSize + 1);
    return;
  }
  let answer: SmallFileResponse;
  try {
    answer = msg.op === 'read' ? readBatch(msg.job, msg.paths) : sealTree(msg.job, msg.data);
  } catch (err) {
    answer = { job: msg.job, fatal: err instanceof Error ? err.message : String(err) };
  }
  const transfer = 'sealed' in answer ? [answer.sealed.buffer as ArrayBuffer] : 'tree' in answer ? [answer.tree.buffer as ArrayBuffer] : [];
  parentPort!.postMessage(answer, transfer);
});
