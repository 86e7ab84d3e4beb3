// Worker thread: runs pack-range jobs (packJobs.ts) so both cores open blobs
// and write files while the main thread only reads packs and keeps the books.
import { parentPort } from 'node:worker_threads';
import type { CryptoKey } from '../crypto/masterKey.js';
import v8 from 'node:v8';
import vm from 'node:vm';
import { BlobOpener, PackVerifier, writeRange, type BlobFailure, type PackBlobRef, type WriteRangeJob, type WriteRangeResult } from './packJobs.js';

/** The raw parts of a key, as they cross threads. */
export interface KeyParts {
  encrypt: Uint8Array;
  macK: Uint8Array;
  macR: Uint8Array;
}

/** Messages the pool sends. */
export type PackRequest =
  | { op: 'key'; keyId: number; key: KeyParts }
  | ({ op: 'write'; job: number; keyId: number; data: Uint8Array } & WriteRangeJob)
  | { op: 'verify'; job: number; keyId: number; session: number; data: Uint8Array; blobs?: PackBlobRef[]; final: boolean }
  | { op: 'drop'; session: number };

/** Messages the worker answers with. */
export type PackResponse =
  | ({ job: number } & WriteRangeResult)
  | { job: number; failed: { blob: number; reason: BlobFailure }[]; hash?: string }
  | { job: number; error: string };

const openers = new Map<number, BlobOpener>();
const sessions = new Map<number, PackVerifier>();
type Gc = (opts?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void;
let gc: Gc | undefined | null;

/**
 * Frees the job's pack bytes now. They arrive as a new ArrayBuffer per job
 * (moved from the main thread, 8–16 MiB); V8 barely counts such memory, so
 * without a nudge several dead ranges per worker wait for a collection. A
 * young-generation collection of this small heap costs well under a millisecond.
 */
function releaseJobMemory(): void {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as Gc;
    } catch {
      gc = null;
    }
  }
  gc?.({ type: 'minor' });
}

parentPort!.on('message', (msg: PackRequest) => {
  if (msg.op === 'key') {
    const key: CryptoKey = { encrypt: Buffer.from(msg.key.encrypt), macK: Buffer.from(msg.key.macK), macR: Buffer.from(msg.key.macR) };
    openers.set(msg.keyId, new BlobOpener(key));
    return;
  }
  if (msg.op === 'drop') {
    sessions.delete(msg.session);
    return;
  }
  try {
    const opener = openers.get(msg.keyId);
    if (!opener) throw new Error(`pack worker has no key ${msg.keyId}`);
    if (msg.op === 'write') {
      const r = writeRange(opener, msg.data, msg);
      parentPort!.postMessage({ job: msg.job, ...r } satisfies PackResponse);
    } else {
      let v = sessions.get(msg.session);
      if (!v) sessions.set(msg.session, (v = new PackVerifier(opener, msg.blobs ?? [])));
      try {
        v.update(msg.data);
      } catch (err) {
        sessions.delete(msg.session);
        throw err;
      }
      if (msg.final) sessions.delete(msg.session);
      parentPort!.postMessage({ job: msg.job, failed: msg.final ? v.failed : [], hash: msg.final ? v.digest() : undefined } satisfies PackResponse);
    }
  } catch (err) {
    parentPort!.postMessage({ job: msg.job, error: err instanceof Error ? err.message : String(err) } satisfies PackResponse);
  }
  setImmediate(releaseJobMemory); // once the handler has let go of the job's bytes
});
