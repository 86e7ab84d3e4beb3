import { Worker } from 'node:worker_threads';
import os from 'node:os';
import type { CryptoKey } from '../crypto/masterKey.js';
import type { CompressionMode, EncodedBlob } from './blobCodec.js';
import type { CodecRequest, CodecResponse } from './blobCodecWorker.js';
import type { BlobType } from './ids.js';

interface Pending {
  resolve: (r: EncodedBlob | Buffer) => void;
  reject: (e: Error) => void;
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

/** Starts the codec worker; from TypeScript sources (tests run through tsx) it registers tsx inside the worker first. */
function startWorker(): Worker {
  const self = import.meta.url;
  if (self.endsWith('.ts')) {
    const entry = new URL('./blobCodecWorker.ts', self).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    const boot = `const { workerData } = require('node:worker_threads');
import(workerData.tsx).then((m) => { m.register(); return import(workerData.entry); });`;
    return new Worker(boot, { eval: true, workerData: { tsx, entry } });
  }
  return new Worker(new URL('./blobCodecWorker.js', self));
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
  private nextJob = 0;
  private closed = false;
  /** Set when a worker died: every later job fails at once instead of waiting for an answer that never comes. */
  private broken: Error | undefined;

  constructor(key: CryptoKey, version: number, compression: CompressionMode, size = Math.max(1, Math.min(4, os.availableParallelism()))) {
    for (let i = 0; i < size; i++) {
      const w = startWorker();
      const init: CodecRequest = { op: 'init', key: { encrypt: key.encrypt, macK: key.macK, macR: key.macR }, version, compression };
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
  }

  private settle(worker: number, m: CodecResponse): void {
    const p = this.pending.get(m.job);
    if (!p) return;
    this.pending.delete(m.job);
    if (--this.load[worker]! === 0) this.workers[worker]!.unref();
    if ('error' in m) p.reject(new WorkerDecodeError(m.error, m.reason));
    else if ('plain' in m) p.resolve(Buffer.from(m.plain.buffer, m.plain.byteOffset, m.plain.byteLength));
    else {
      const r: EncodedBlob = { sealed: Buffer.from(m.sealed.buffer, m.sealed.byteOffset, m.sealed.byteLength) };
      if (m.uncompressedLength) r.uncompressedLength = m.uncompressedLength;
      p.resolve(r);
    }
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

  private submit<T extends EncodedBlob | Buffer>(make: (job: number) => CodecRequest, data: Uint8Array): Promise<T> {
    if (this.closed) return Promise.reject(new Error('blob codec pool is closed'));
    if (this.broken) return Promise.reject(this.broken);
    let best = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[best]!) best = i;
    const job = this.nextJob++;
    const w = this.workers[best]!;
    if (this.load[best]!++ === 0) w.ref();
    return new Promise<T>((resolve, reject) => {
      this.pending.set(job, { resolve: resolve as (r: EncodedBlob | Buffer) => void, reject });
      try {
        w.postMessage(make(job), [data.buffer as ArrayBuffer]);
      } catch (err) {
        // never leave a job (and a ref'd worker) waiting for an answer
        this.pending.delete(job);
        if (--this.load[best]! === 0) w.unref();
        reject(err as Error);
      }
    });
  }

  /** Compresses and seals `plaintext` on a worker. The buffer may be handed over (do not reuse it). */
  encode(type: BlobType, plaintext: Buffer): Promise<EncodedBlob> {
    const data = transferable(plaintext);
    return this.submit<EncodedBlob>((job) => ({ op: 'encode', job, type, data }), data);
  }

  /** Opens a sealed blob on a worker and checks it hashes to `id`; rejects with WorkerDecodeError. */
  decode(id: string, sealed: Uint8Array, uncompressedLength?: number): Promise<Buffer> {
    const data = transferable(sealed);
    return this.submit<Buffer>((job) => ({ op: 'decode', job, id, data, uncompressedLength }), data);
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** The bytes as a buffer that can be moved to a worker: itself when it owns its memory, else a copy. */
function transferable(b: Uint8Array): Uint8Array {
  const own = b.byteOffset === 0 && b.buffer.byteLength === b.length && b.length >= 4096;
  return own ? b : Uint8Array.prototype.slice.call(b);
}
