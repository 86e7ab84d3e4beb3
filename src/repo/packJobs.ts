// The work done on a range of pack bytes, on whichever thread runs it (a pack
// worker, or the caller's thread when workers are off): open every blob
// (MAC, AES-CTR, zstd, SHA-256 against its id) and either write its plaintext
// to file positions or just verify it. One call per range, so a pack costs one
// message each way and plaintext never crosses threads.
import { createHash, type Hash } from 'node:crypto';
import fs, { constants as fsConstants } from 'node:fs';
import { createRequire } from 'node:module';
import type { CryptoKey } from '../crypto/masterKey.js';
import { BoxReader } from '../crypto/boxReader.js';

/** Why a blob of a range could not be used: its bytes fail a check. */
export type BlobFailure = 'mac' | 'decompress' | 'length' | 'id';

/** One blob inside a range of pack bytes: where it lies (relative to the range) and what it must decode to. */
export interface RangeBlob {
  id: string;
  /** Offset of the sealed blob within the range's bytes. */
  at: number;
  length: number;
  uncompressedLength?: number;
}

/** A file plaintext is written into: created on first use (never through a symlink), then opened for each range. */
export interface RangeFile {
  /** Absolute path; bytes when the name is not valid UTF-8. */
  path: string | Uint8Array;
  /** Size the file gets when this range creates it (holes for sparse or lost data). */
  sizeOnCreate?: number;
  /** Metadata to give the file when this job writes all of it (set through the open descriptor before it is closed). */
  finish?: FileFinish;
}

/** Owner (when given), exact times (when given; seconds as lutimes takes them) and mode of a finished file. */
export interface FileFinish {
  uid?: number;
  gid?: number;
  atime?: number;
  mtime?: number;
  mode: number;
}

/** A restore job: blobs of one range and, for each, flat pairs of (file index, position) to write its plaintext at. */
export interface WriteRangeJob {
  blobs: RangeBlob[];
  /** targets[i] = [file, position, file, position, ...] for blobs[i]. */
  targets: number[][];
  files: RangeFile[];
}

/** What a restore job did: blobs that failed to open, files that failed, files it created. */
export interface WriteRangeResult {
  failed: { blob: number; reason: BlobFailure }[];
  fileErrors: { file: number; op: 'create' | 'write'; code?: string; message: string }[];
  /** Indexes of the files this job created (the others existed already). */
  created: number[];
  /** Indexes of the files written to (created or not) without an error. */
  written: number[];
  /** Files whose `finish` metadata was set (all of it, or a metaError says what failed). */
  finished: number[];
  metaErrors: { file: number; what: 'set owner of' | 'set times of' | 'set mode of'; code?: string; message: string }[];
}

// O_EXCL|O_NOFOLLOW: a file is created new, never reached through a symlink in the way.
const createFlags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
const writeFlags = fsConstants.O_WRONLY | fsConstants.O_NOFOLLOW;

function asPath(p: string | Uint8Array): string | Buffer {
  return typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength);
}

/** zstd-napi's native context: decompresses into a buffer we own, where its Decompressor allocates a new one per blob. */
interface ZstdDCtx {
  decompress(dst: Uint8Array, src: Uint8Array): number;
}
const zstdBinding = createRequire(import.meta.url)('zstd-napi/binding') as { DCtx: new () => ZstdDCtx };

/** A buffer of at least `n` bytes: `b` itself when big enough, else a new one rounded up to whole MiB (chunks are at most 8 MiB). */
function atLeast(b: Buffer, n: number): Buffer {
  return b.length >= n ? b : Buffer.allocUnsafeSlow(Math.ceil(n / (1 << 20)) * (1 << 20));
}

/**
 * Opens sealed blobs: MAC and AES-CTR piece by piece into one reused buffer
 * (BoxReader), zstd into another, SHA-256 against the id. Nothing the size of
 * a blob is allocated per blob: the worker's memory stays at its two buffers.
 */
export class BlobOpener {
  private readonly dctx = new zstdBinding.DCtx();
  private readonly boxes: BoxReader;
  /** Decrypted bytes of a compressed blob. */
  private packed: Buffer = Buffer.alloc(0);
  /** Plaintext: decompressed, or decrypted straight here when stored uncompressed. */
  private plain: Buffer = Buffer.alloc(0);

  constructor(key: CryptoKey) {
    this.boxes = new BoxReader(key);
  }

  /**
   * The blob's plaintext, or why it cannot be had. The plaintext lives in a
   * reused buffer: valid until the next call.
   */
  open(sealed: Uint8Array, b: RangeBlob): Buffer | BlobFailure {
    const want = b.uncompressedLength;
    let plain: Buffer;
    if (want) {
      this.packed = atLeast(this.packed, sealed.length);
      const n = this.boxes.openInto(sealed, this.packed);
      if (n < 0) return 'mac';
      this.plain = atLeast(this.plain, want);
      let got: number;
      try {
        got = this.dctx.decompress(this.plain, this.packed.subarray(0, n));
      } catch {
        return 'decompress';
      }
      if (got !== want) return 'length';
      plain = this.plain.subarray(0, got);
      if (createHash('sha256').update(plain).digest('hex') !== b.id) return 'id';
      return plain;
    }
    this.plain = atLeast(this.plain, sealed.length);
    const hash = createHash('sha256');
    const n = this.boxes.openInto(sealed, this.plain, 0, (piece) => hash.update(piece)); // hashed while in cache
    if (n < 0) return 'mac';
    if (hash.digest('hex') !== b.id) return 'id';
    return this.plain.subarray(0, n);
  }
}

/** Files one job keeps open at once: a pack of tiny files can hold blobs of tens of thousands of files. */
const maxOpenFiles = 64;

/**
 * The files of one job (created by their first writer), with what happened to
 * them. At most maxOpenFiles stay open; the least recently opened is closed
 * first and opened again if a later blob of the job needs it.
 */
class TargetFiles {
  private readonly fds = new Map<number, number>();
  private readonly broken = new Set<number>();
  private readonly closedOk = new Set<number>();
  /** Files a blob of this job failed for: their metadata waits (the restorer may write them again). */
  private readonly spoiled = new Set<number>();

  /** Writes still to come in this job, per file that has `finish` metadata: at 0 it is finished. */
  private readonly left = new Map<number, number>();

  constructor(
    private readonly files: RangeFile[],
    private readonly result: WriteRangeResult,
    targets: number[][] = [],
  ) {
    for (const t of targets) {
      for (let k = 0; k < t.length; k += 2) if (files[t[k]!]!.finish) this.left.set(t[k]!, (this.left.get(t[k]!) ?? 0) + 1);
    }
  }

  private fdFor(file: number): number | undefined {
    const known = this.fds.get(file);
    if (known !== undefined || this.broken.has(file)) return known;
    if (this.fds.size >= maxOpenFiles) this.closeOne(this.fds.keys().next().value!);
    const f = this.files[file]!;
    const p = asPath(f.path);
    let fd: number;
    try {
      try {
        fd = fs.openSync(p, createFlags, 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        fd = fs.openSync(p, writeFlags); // made earlier in this job, or by another range (maybe on another thread)
        this.fds.set(file, fd);
        return fd;
      }
      this.fds.set(file, fd);
      this.result.created.push(file);
      if (f.sizeOnCreate) fs.ftruncateSync(fd, f.sizeOnCreate);
      return fd;
    } catch (err) {
      this.fail(file, 'create', err);
      return undefined;
    }
  }

  private fail(file: number, op: 'create' | 'write', err: unknown): void {
    const e = err as NodeJS.ErrnoException;
    this.result.fileErrors.push({ file, op, code: e.code, message: e.message });
    this.broken.add(file);
    const fd = this.fds.get(file);
    this.fds.delete(file);
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failed; the first error is the one reported
      }
    }
  }

  /** Writes `plain` to every (file, position) pair of `targets`. */
  write(plain: Buffer, targets: number[]): void {
    for (let k = 0; k < targets.length; k += 2) {
      const file = targets[k]!;
      const fd = this.fdFor(file);
      if (fd === undefined) continue;
      try {
        let done = 0;
        while (done < plain.length) done += fs.writeSync(fd, plain, done, plain.length - done, targets[k + 1]! + done);
        const left = this.left.get(file);
        if (left !== undefined) {
          this.left.set(file, left - 1);
          // its last write in this job, and all of the file is in this job: finish it while it is open
          if (left === 1 && !this.spoiled.has(file)) this.finishOne(file, fd, this.files[file]!.finish!);
        }
      } catch (err) {
        this.fail(file, 'write', err);
      }
    }
  }

  private closeOne(file: number): void {
    const fd = this.fds.get(file)!;
    this.fds.delete(file);
    try {
      fs.closeSync(fd);
      this.closedOk.add(file);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      this.result.fileErrors.push({ file, op: 'write', code: e.code, message: e.message });
      this.broken.add(file);
    }
  }

  /** Marks the files of a blob that failed: no `finish` metadata for them. */
  spoil(targets: number[]): void {
    for (let k = 0; k < targets.length; k += 2) this.spoiled.add(targets[k]!);
  }

  /** Sets a file's `finish` metadata through its descriptor: owner first (it clears set-id bits), times, then mode. */
  private finishOne(file: number, fd: number, m: FileFinish): void {
    const step = (what: 'set owner of' | 'set times of' | 'set mode of', f: () => void): void => {
      try {
        f();
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        this.result.metaErrors.push({ file, what, code: e.code, message: e.message });
      }
    };
    if (m.uid !== undefined && m.gid !== undefined) step('set owner of', () => fs.fchownSync(fd, m.uid!, m.gid!));
    if (m.atime !== undefined && m.mtime !== undefined) step('set times of', () => fs.futimesSync(fd, m.atime!, m.mtime!));
    step('set mode of', () => fs.fchmodSync(fd, m.mode));
    this.result.finished.push(file);
  }

  /** Closes every file; the ones closed without an error count as written. */
  close(): void {
    for (const file of [...this.fds.keys()]) this.closeOne(file);
    for (const file of this.closedOk) if (!this.broken.has(file)) this.result.written.push(file);
  }
}

function emptyResult(): WriteRangeResult {
  return { failed: [], fileErrors: [], created: [], written: [], finished: [], metaErrors: [] };
}

/**
 * Opens every blob of the range and writes its plaintext at each of its file
 * positions with blocking writes (page-cache writes cost microseconds; a
 * thread-pool round trip costs more). The first writer of a file creates it;
 * each file is opened at most once per job.
 */
export function writeRange(opener: BlobOpener, data: Uint8Array, job: WriteRangeJob): WriteRangeResult {
  const result = emptyResult();
  const files = new TargetFiles(job.files, result, job.targets);
  try {
    for (let i = 0; i < job.blobs.length; i++) {
      const b = job.blobs[i]!;
      const plain = opener.open(data.subarray(b.at, b.at + b.length), b);
      if (typeof plain === 'string') {
        result.failed.push({ blob: i, reason: plain });
        files.spoil(job.targets[i]!);
      } else files.write(plain, job.targets[i]!);
    }
  } finally {
    files.close();
  }
  return result;
}

/** Writes one blob's plaintext (already opened and checked) at its targets, creating files like writeRange. */
export function writePlaintext(plain: Buffer, targets: number[], fileList: RangeFile[]): WriteRangeResult {
  const result = emptyResult();
  const files = new TargetFiles(fileList, result);
  try {
    files.write(plain, targets);
  } finally {
    files.close();
  }
  return result;
}

/** A blob of a pack to verify, at its offset in the pack. */
export interface PackBlobRef {
  id: string;
  offset: number;
  length: number;
  uncompressedLength?: number;
}

/**
 * Verification of one pack fed in consecutive segments: hashes every byte
 * (the pack's name is its SHA-256) and opens every blob once its bytes are in.
 * Blobs inside a segment are opened where they lie; only the bytes of blobs
 * that straddle segments are copied, into one reused buffer.
 */
export class PackVerifier {
  private readonly hash: Hash = createHash('sha256');
  private readonly blobs: PackBlobRef[];
  private next = 0;
  private pos = 0;
  /** Pack bytes [carryStart, carryStart + carryLen) of blobs not yet complete. */
  private carry: Buffer = Buffer.alloc(0);
  private carryStart = 0;
  private carryLen = 0;
  /** Blobs that failed, by index into the sorted list given. */
  readonly failed: { blob: number; reason: BlobFailure }[] = [];

  /** `blobs` sorted by offset, each inside the pack. */
  constructor(
    private readonly opener: BlobOpener,
    blobs: PackBlobRef[],
  ) {
    this.blobs = blobs;
  }

  private check(bytes: Buffer, at: number): void {
    const b = this.blobs[this.next]!;
    const r = this.opener.open(bytes.subarray(at, at + b.length), { id: b.id, at, length: b.length, uncompressedLength: b.uncompressedLength });
    if (typeof r === 'string') this.failed.push({ blob: this.next, reason: r });
    this.next++;
  }

  /** Takes the next segment of the pack (it must start where the previous one ended). */
  update(segment: Uint8Array): void {
    this.hash.update(segment);
    const seg = Buffer.from(segment.buffer, segment.byteOffset, segment.byteLength);
    const segStart = this.pos;
    this.pos += seg.length;
    const blobs = this.blobs;
    if (this.carryLen > 0) {
      // complete the blobs that began before this segment, from the carried bytes plus as much of it as they need
      let needEnd = 0;
      for (let k = this.next; k < blobs.length && blobs[k]!.offset < segStart; k++) needEnd = Math.max(needEnd, blobs[k]!.offset + blobs[k]!.length);
      const take = Math.min(needEnd, this.pos) - segStart;
      this.keep(seg, 0, take);
      while (this.next < blobs.length && blobs[this.next]!.offset < segStart) {
        const b = blobs[this.next]!;
        if (b.offset + b.length > this.pos) return; // still incomplete: the rest comes with later segments
        this.check(this.carry, b.offset - this.carryStart);
      }
      this.carryLen = 0;
    }
    while (this.next < blobs.length) {
      const b = blobs[this.next]!;
      if (b.offset + b.length > this.pos) break;
      this.check(seg, b.offset - segStart);
    }
    if (this.next < blobs.length && blobs[this.next]!.offset < this.pos) {
      this.carryStart = blobs[this.next]!.offset;
      this.keep(seg, this.carryStart - segStart, this.pos - this.carryStart);
    }
  }

  /** Appends seg[from, from + len) to the carried bytes (the segment's memory may be handed back). */
  private keep(seg: Buffer, from: number, len: number): void {
    const need = this.carryLen + len;
    if (this.carry.length < need) {
      const bigger = Buffer.allocUnsafeSlow(Math.ceil(need / (1 << 20)) * (1 << 20));
      this.carry.copy(bigger, 0, 0, this.carryLen);
      this.carry = bigger;
    }
    seg.copy(this.carry, this.carryLen, from, from + len);
    this.carryLen = need;
  }

  /** The pack's SHA-256 over every byte given. */
  digest(): string {
    return this.hash.digest('hex');
  }
}
