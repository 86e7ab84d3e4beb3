import { Compressor, Decompressor } from 'zstd-napi';

/** restic's `--compression auto` is zstd's default level class. */
export const defaultCompressionLevel = 3;

/** One compression context per level (a context keeps its tables between calls). */
const compressors = new Map<number, Compressor>();
let decompressor: Decompressor | undefined;

/** zstd-compresses `data` into one frame (no checksum: the blob id already covers the content). */
export function zstdCompress(data: Uint8Array, level = defaultCompressionLevel): Buffer {
  let c = compressors.get(level);
  if (!c) {
    c = new Compressor();
    c.setParameters({ compressionLevel: level, checksumFlag: false });
    compressors.set(level, c);
  }
  return c.compress(data);
}

/** Decompresses any valid zstd frame(s), with or without content size. */
export function zstdDecompress(data: Uint8Array): Buffer {
  decompressor ??= new Decompressor();
  return decompressor.decompress(data);
}
