import fs from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { stagedPath } from '../backend/staging.js';
import type { CryptoKey } from '../crypto/masterKey.js';
import type { BlobType } from './ids.js';
import { headerEntrySize, maxHeaderSize, packTrailer, type PackedBlob } from './pack.js';
import { defaultPackSize } from './packWriter.js';

/** A finished pack on local disk, ready for Backend.writeFile; its id is the SHA-256 of the file. */
export interface StagedPack {
  id: string;
  /** The staged file; the uploader removes it once stored (or given up on). */
  path: string;
  size: number;
  blobs: PackedBlob[];
}

/** Blobs smaller than this are gathered in memory and written together (one write per ~256 KiB, not per tree or small file). */
const gatherBelow = 64 * 1024;
const gatherSize = 256 * 1024;

/** Folders this thread has made sure exist. */
const madeDirs = new Set<string>();

/**
 * Writes a pack of one blob type straight to a staged file as blobs come, as
 * restic does: a pack costs a file, not 16 MiB of memory. The SHA-256 of the
 * bytes runs along, so finishing only appends the encrypted header and its
 * length. `onStaged` hears of every file created (so the process can remove
 * it should it exit before the upload).
 */
export class PackFileWriter {
  readonly type: BlobType;
  private readonly dir: string;
  private readonly onStaged: ((path: string) => void) | undefined;
  private readonly target: number;
  private fd: number | undefined;
  private path = '';
  private hash: Hash | undefined;
  private blobs: PackedBlob[] = [];
  private size = 0;
  private headerSize = 0;
  /** Small blobs not yet written to the file. */
  private gathered: Buffer | undefined;
  private gatheredLength = 0;
  /** A failed write of this pack: every later call fails with it (its earlier blobs are lost, so nothing may pretend otherwise). */
  private failed: unknown;

  constructor(type: BlobType, dir: string, onStaged?: (path: string) => void, target = defaultPackSize) {
    this.type = type;
    this.dir = dir;
    this.onStaged = onStaged;
    this.target = target;
  }

  /** Appends a sealed blob (written to the file now, or with the next few small ones). */
  add(id: string, sealed: Uint8Array, uncompressedLength?: number): void {
    this.guard(() => {
      if (this.fd === undefined) this.open();
      this.append(sealed);
    });
    const blob: PackedBlob = { id, type: this.type, offset: this.size, length: sealed.length };
    if (uncompressedLength) blob.uncompressedLength = uncompressedLength;
    this.blobs.push(blob);
    this.size += sealed.length;
    this.headerSize += headerEntrySize(blob);
  }

  /** Runs a file operation; a failure sticks (the file is removed) and is thrown now and by every later call. */
  private guard(fn: () => void): void {
    if (this.failed !== undefined) throw this.failed;
    try {
      fn();
    } catch (err) {
      this.failed = err;
      this.abandon();
      throw err;
    }
  }

  private open(): void {
    if (!madeDirs.has(this.dir)) {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      madeDirs.add(this.dir);
    }
    this.path = stagedPath(this.dir);
    this.fd = fs.openSync(this.path, 'wx', 0o600);
    this.onStaged?.(this.path);
    this.hash = createHash('sha256');
  }

  private append(bytes: Uint8Array): void {
    this.hash!.update(bytes);
    if (bytes.length < gatherBelow) {
      this.gathered ??= Buffer.allocUnsafeSlow(gatherSize);
      if (this.gatheredLength + bytes.length > gatherSize) this.writeGathered();
      this.gathered.set(bytes, this.gatheredLength);
      this.gatheredLength += bytes.length;
      return;
    }
    this.writeGathered();
    writeAll(this.fd!, bytes);
  }

  private writeGathered(): void {
    if (this.gatheredLength === 0) return;
    writeAll(this.fd!, this.gathered!.subarray(0, this.gatheredLength));
    this.gatheredLength = 0;
  }

  get count(): number {
    return this.blobs.length;
  }

  /** Bytes of blobs so far. */
  get dataSize(): number {
    return this.size;
  }

  /** True when the pack has reached the target size or its header would grow past restic's limit. */
  isFull(target: number = this.target): boolean {
    return this.size >= target || this.headerSize + 41 + 36 > maxHeaderSize;
  }

  /** Appends the encrypted header and its length, closes the file and names the pack by its SHA-256. */
  finish(key: CryptoKey): StagedPack {
    const trailer = packTrailer(key, this.blobs);
    this.guard(() => {
      if (this.fd === undefined) this.open();
      this.hash!.update(trailer);
      this.writeGathered();
      writeAll(this.fd!, trailer);
      fs.closeSync(this.fd!);
    });
    const pack: StagedPack = { id: this.hash!.digest('hex'), path: this.path, size: this.size + trailer.length, blobs: this.blobs };
    this.reset();
    return pack;
  }

  /** Closes and removes an unfinished pack's file (its blobs are dropped); returns its path, if there was one. */
  abandon(): string | undefined {
    if (this.fd === undefined) return undefined;
    const file = this.path;
    try {
      fs.closeSync(this.fd);
    } catch {
      // closing is best effort: the file goes either way
    }
    fs.rmSync(file, { force: true });
    this.reset();
    return file;
  }

  private reset(): void {
    this.fd = undefined;
    this.path = '';
    this.hash = undefined;
    this.blobs = [];
    this.size = 0;
    this.headerSize = 0;
    this.gatheredLength = 0;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, bytes.length - at);
}
