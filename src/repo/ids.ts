import { createHash } from 'node:crypto';

/** SHA-256 of `data` as 64 lowercase hex characters: the id of a blob (plaintext) or a file (stored bytes). */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The 8-character short form restic prints. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** Blob kinds of the format. */
export type BlobType = 'data' | 'tree';
