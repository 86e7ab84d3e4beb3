import { createRequire } from 'node:module';
import { Decompressor } from 'zstd-napi';

/** restic's `--compression auto` is zstd's default level class. */
export const defaultCompressionLevel = 3;

/** zstd-napi's native compression context: compresses into a buffer we own (its Compressor allocates one per call). */
interface ZstdCCtx {
  compress2(dst: Uint8Array, src: Uint8Array): number;
  setParameter(param: number, value: number): void;
}
const zstdBinding = createRequire(import.meta.url)('zstd-napi/binding') as {
  CCtx: new () => ZstdCCtx;
  CParameter: { compressionLevel: number; checksumFlag: number };
  compressBound(size: number): number;
};

/** One compression context per level (a context keeps its tables between calls). */
const contexts = new Map<number, ZstdCCtx>();
let decompressor: Decompressor | undefined;
/** Output buffer of zstdCompress, reused: it grows to the largest bound seen and is copied out of. */
let scratch = Buffer.alloc(0);

function contextFor(level: number): ZstdCCtx {
  let c = contexts.get(level);
  if (!c) {
    c = new zstdBinding.CCtx();
    c.setParameter(zstdBinding.CParameter.compressionLevel, level);
    // no checksum: the blob id already covers the content
    c.setParameter(zstdBinding.CParameter.checksumFlag, 0);
    contexts.set(level, c);
  }
  return c;
}

/** The most bytes zstd can turn `size` bytes into (size a buffer for zstdCompressInto with it). */
export function zstdBound(size: number): number {
  return zstdBinding.compressBound(size);
}

/** zstd-compresses `data` into one frame written to `dst` (at least zstdBound(data.length) bytes); returns its length. */
export function zstdCompressInto(dst: Uint8Array, data: Uint8Array, level = defaultCompressionLevel): number {
  return contextFor(level).compress2(dst, data);
}

/** zstd-compresses `data` into one frame (no checksum: the blob id already covers the content). */
export function zstdCompress(data: Uint8Array, level = defaultCompressionLevel): Buffer {
  const bound = zstdBound(data.length);
  if (scratch.length < bound) scratch = Buffer.allocUnsafeSlow(bound);
  const n = zstdCompressInto(scratch, data, level);
  return Buffer.from(scratch.subarray(0, n));
}

/** Decompresses any valid zstd frame(s), with or without content size. */
export function zstdDecompress(data: Uint8Array): Buffer {
  decompressor ??= new Decompressor();
  return decompressor.decompress(data);
}
