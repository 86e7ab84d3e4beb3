import { CairnError } from '../errors.js';
import type { CryptoKey } from '../crypto/masterKey.js';
import { open, seal, sealOverhead } from '../crypto/sealedBox.js';
import type { BlobType } from './ids.js';

/** One blob inside a pack, as its header describes it. */
export interface PackedBlob {
  id: string;
  type: BlobType;
  offset: number;
  /** Bytes the sealed (maybe compressed) blob occupies in the pack. */
  length: number;
  /** Plaintext length when the blob is compressed; absent when stored raw. */
  uncompressedLength?: number;
}

/** Largest encrypted header restic accepts (format §7.2). */
export const maxHeaderSize = 16 * 1024 * 1024;

/** Size of one header entry for a blob (37 raw, 41 compressed). */
export function headerEntrySize(b: { uncompressedLength?: number }): number {
  return b.uncompressedLength ? 41 : 37;
}

/** The pack's file size implied by its blobs (what `check` compares with the real size). */
export function expectedPackSize(blobs: readonly PackedBlob[]): number {
  let size = 0;
  for (const b of blobs) size += b.length + headerEntrySize(b);
  return size + sealOverhead + 4;
}

/** Encodes the header plaintext (format §7.2): one entry per blob in pack order. */
export function encodePackHeader(blobs: readonly PackedBlob[]): Buffer {
  let size = 0;
  for (const b of blobs) size += headerEntrySize(b);
  const out = Buffer.alloc(size);
  let p = 0;
  for (const b of blobs) {
    const compressed = !!b.uncompressedLength;
    out[p] = (b.type === 'tree' ? 1 : 0) + (compressed ? 2 : 0);
    out.writeUInt32LE(b.length, p + 1);
    p += 5;
    if (compressed) {
      out.writeUInt32LE(b.uncompressedLength!, p);
      p += 4;
    }
    out.write(b.id, p, 'hex');
    p += 32;
  }
  return out;
}

/** Parses a header plaintext into blobs with their offsets. */
export function parsePackHeader(plain: Buffer, packId: string): PackedBlob[] {
  const blobs: PackedBlob[] = [];
  let p = 0;
  let offset = 0;
  while (p < plain.length) {
    const t = plain[p]!;
    if (t > 3) throw damaged(packId, `unknown blob type ${t} in header`);
    const size = t >= 2 ? 41 : 37;
    if (p + size > plain.length) throw damaged(packId, 'truncated header entry');
    const length = plain.readUInt32LE(p + 1);
    const uncompressedLength = t >= 2 ? plain.readUInt32LE(p + 5) : undefined;
    const id = plain.toString('hex', p + size - 32, p + size);
    const blob: PackedBlob = { id, type: t % 2 === 1 ? 'tree' : 'data', offset, length };
    if (uncompressedLength !== undefined) blob.uncompressedLength = uncompressedLength;
    blobs.push(blob);
    offset += length;
    p += size;
  }
  return blobs;
}

/** Builds the pack trailer: encrypted header ‖ its length (uint32 LE). */
export function packTrailer(key: CryptoKey, blobs: readonly PackedBlob[]): Buffer {
  const sealed = seal(key, encodePackHeader(blobs));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(sealed.length, 0);
  return Buffer.concat([sealed, len]);
}

/**
 * Reads a pack's header from its tail, given a function reading byte ranges
 * of the pack. Reads the last 651 bytes first like restic, and more only for
 * big headers.
 */
export async function readPackHeader(key: CryptoKey, packId: string, size: number, readRange: (offset: number, length: number) => Promise<Buffer>): Promise<PackedBlob[]> {
  if (size < 4 + sealOverhead) throw damaged(packId, `file is only ${size} bytes`);
  const first = Math.min(size, 15 * 41 + 36);
  let tail = await readRange(size - first, first);
  const hlen = tail.readUInt32LE(tail.length - 4);
  if (hlen < sealOverhead || hlen > size - 4 || hlen > maxHeaderSize) throw damaged(packId, `invalid header length ${hlen}`);
  if (hlen + 4 > tail.length) tail = await readRange(size - hlen - 4, hlen + 4);
  const sealedHeader = tail.subarray(tail.length - 4 - hlen, tail.length - 4);
  let plain: Buffer;
  try {
    plain = open(key, sealedHeader);
  } catch {
    throw damaged(packId, 'header does not decrypt (damaged or wrong repository)');
  }
  return parsePackHeader(plain, packId);
}

function damaged(packId: string, why: string): CairnError {
  return new CairnError('damaged-pack', `pack ${packId.slice(0, 8)} is damaged: ${why}`, 'Run `cairn check --read-data` to list damaged packs; `restic repair packs` can salvage their blobs.');
}
