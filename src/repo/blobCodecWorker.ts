// Worker thread: compresses and seals blobs off the main thread, so chunking
// and hashing (main thread) and compression plus encryption (here) use both cores.
import { parentPort } from 'node:worker_threads';
import type { CryptoKey } from '../crypto/masterKey.js';
import { BlobDecodeError, decodeBlob, encodeBlob, type CompressionMode } from './blobCodec.js';
import { sha256Hex } from './ids.js';
import type { BlobType } from './ids.js';

/** Messages the pool sends. */
export type CodecRequest =
  | { op: 'init'; key: { encrypt: Uint8Array; macK: Uint8Array; macR: Uint8Array }; version: number; compression: CompressionMode }
  | { op: 'encode'; job: number; type: BlobType; data: Uint8Array }
  | { op: 'decode'; job: number; id: string; data: Uint8Array; uncompressedLength?: number };

/** Messages the worker answers with. */
export type CodecResponse =
  | { job: number; sealed: Uint8Array; uncompressedLength?: number }
  | { job: number; plain: Uint8Array }
  | { job: number; error: string; reason?: 'mac' | 'decompress' | 'length' | 'id' };

let key: CryptoKey | undefined;
let version = 2;
let compression: CompressionMode = 'auto';

parentPort!.on('message', (msg: CodecRequest) => {
  if (msg.op === 'init') {
    key = { encrypt: Buffer.from(msg.key.encrypt), macK: Buffer.from(msg.key.macK), macR: Buffer.from(msg.key.macR) };
    version = msg.version;
    compression = msg.compression;
    return;
  }
  if (msg.op === 'decode') {
    try {
      const plain = decodeBlob(key!, msg.data, msg.uncompressedLength);
      if (sha256Hex(plain) !== msg.id) {
        parentPort!.postMessage({ job: msg.job, error: 'id mismatch', reason: 'id' } satisfies CodecResponse);
        return;
      }
      const own = plain.byteOffset === 0 && plain.buffer.byteLength === plain.length;
      parentPort!.postMessage({ job: msg.job, plain } satisfies CodecResponse, own ? [plain.buffer as ArrayBuffer] : []);
    } catch (err) {
      const reason = err instanceof BlobDecodeError ? err.reason : undefined;
      parentPort!.postMessage({ job: msg.job, error: err instanceof Error ? err.message : String(err), reason } satisfies CodecResponse);
    }
    return;
  }
  try {
    const r = encodeBlob(key!, version, compression, msg.type, msg.data);
    const out: CodecResponse = { job: msg.job, sealed: r.sealed };
    if (r.uncompressedLength) out.uncompressedLength = r.uncompressedLength;
    // transfer only buffers that own their memory (small Buffers share Node's pool)
    const own = r.sealed.byteOffset === 0 && r.sealed.buffer.byteLength === r.sealed.length;
    parentPort!.postMessage(out, own ? [r.sealed.buffer as ArrayBuffer] : []);
  } catch (err) {
    parentPort!.postMessage({ job: msg.job, error: err instanceof Error ? err.message : String(err) } satisfies CodecResponse);
  }
});
