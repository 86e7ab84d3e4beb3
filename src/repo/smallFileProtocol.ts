// The messages between the small-file reader (main thread) and its workers (smallFileWorker.ts).
import type { CompressionMode } from './blobCodec.js';

/** Messages the reader sends. */
export type SmallFileRequest =
  | { op: 'init'; key: { encrypt: Uint8Array; macK: Uint8Array; macR: Uint8Array }; version: number; compression: CompressionMode; maxSize: number }
  /** Read each file; one answer for the whole batch. */
  | { op: 'read'; job: number; paths: string[] }
  /** Compress and seal one tree blob (answers a SealedTree). */
  | { op: 'tree'; job: number; data: Uint8Array };

/** How one file of a batch turned out. */
export const FileOutcome = {
  /** Read and encoded (an empty file has no blob). */
  ok: 0,
  /** Could not be read (see the batch's errors). */
  failed: 1,
  /** Longer than maxSize when read (it grew): to be read the ordinary way. */
  tooBig: 2,
} as const;

/** The answer to one batch, in the order of its paths. */
export interface SmallFileBatch {
  job: number;
  outcomes: Uint8Array;
  /** Bytes read per file. */
  sizes: Float64Array;
  /** Blob id per file ('' when there is none). */
  ids: string[];
  /** The sealed blobs back to back; file i's is sealed[ends[i-1]..ends[i]). */
  sealed: Uint8Array;
  ends: Uint32Array;
  /** 1 where the blob was compressed (its uncompressed length is the file's size). */
  compressed: Uint8Array;
  /** Why files failed: errno code, syscall and message as node:fs reports them. */
  errors: { at: number; message: string; code?: string; syscall?: string }[];
}

/** A tree blob compressed and sealed. */
export interface SealedTree {
  job: number;
  tree: Uint8Array;
  uncompressedLength?: number;
}

/** Messages the worker answers with. */
export type SmallFileResponse = SmallFileBatch | SealedTree | { job: number; fatal: string };
