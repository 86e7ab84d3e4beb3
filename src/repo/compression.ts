import { Compressor, Decompressor } from 'zstd-napi';

/** restic's `--compression auto` is zstd's default level class. */
export const defaultCompressionLevel = 3;

let compressor: Compressor | undefined;
let decompressor: Decompressor | undefined;

/** zstd-compresses `data` into one frame (no checksum: the blob id already covers the content). */
export function zstdCompress(data: Uint8Array, level = defaultCompressionLevel): Buffer {
  if (!compressor) {
    compressor = new Compressor();
    compressor.setParameters({ compressionLevel: level, checksumFlag: false });
  }
  return compressor.compress(data);
}

/** Decompresses any valid zstd frame(s), with or without content size. */
export function zstdDecompress(data: Uint8Array): Buffer {
  decompressor ??= new Decompressor();
  return decompressor.decompress(data);
}
