import { CairnError } from '../errors.js';
import { zstdCompress, zstdDecompress } from './compression.js';

/** Encodes the JSON of an index, snapshot or lock file for a v2 repository: 0x02 ‖ zstd(JSON) (format §5). */
export function encodeUnpacked(json: Buffer, version: number): Buffer {
  if (version === 1) return json;
  return Buffer.concat([Buffer.from([2]), zstdCompress(json)]);
}

/** Decodes an unpacked file's plaintext into its JSON bytes, accepting every form restic accepts. */
export function decodeUnpacked(plain: Buffer, what: string): Buffer {
  if (plain.length === 0) return plain;
  const first = plain[0];
  if (first === 0x7b || first === 0x5b) return plain;
  if (first === 0x02) return zstdDecompress(plain.subarray(1));
  throw new CairnError('bad-encoding', `${what}: unsupported encoding byte 0x${first!.toString(16)}`, 'The file is damaged or from a newer format; run `cairn check`.');
}
