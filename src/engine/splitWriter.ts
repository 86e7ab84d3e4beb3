// Writes one byte stream (an archive) to a file, or to numbered part files of
// at most a given size, hashing each file as it goes. Files are written under
// temporary names and renamed at the end, so an interrupted export leaves no
// half-written archive behind; `cat FILE.part*` joins the parts again.
import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { CairnError, isErrno } from '../errors.js';

/** One file a SplitWriter wrote. */
export interface WrittenFile {
  path: string;
  size: number;
  sha256: string;
}

/** Options of a SplitWriter. */
export interface SplitWriterOptions {
  /** Largest part size in bytes; unset writes one file at the target path. */
  partSize?: number;
}

interface OpenPart {
  final: string;
  temp: string;
  fh: FileHandle;
  size: number;
  hash: Hash;
}

/** The name of part `n` (1-based) of `target`: `target.part001`, … (more digits past 999). */
export function partName(target: string, n: number): string {
  return `${target}.part${String(n).padStart(3, '0')}`;
}

/**
 * A Writable that stores what is written in `target` or, with a part size,
 * in `target.part001`, `target.part002`, … Each file's SHA-256 and the
 * SHA-256 of the whole stream are known after `close()`.
 */
export class SplitWriter extends Writable {
  private readonly target: string;
  private readonly partSize: number | undefined;
  private current: OpenPart | undefined;
  private readonly done: { final: string; temp: string; size: number; sha256: string }[] = [];
  private readonly whole = createHash('sha256');
  private total = 0;
  private wholeDigest = '';

  constructor(target: string, opts: SplitWriterOptions = {}) {
    super({ highWaterMark: 1 << 20 });
    if (opts.partSize !== undefined && (!Number.isSafeInteger(opts.partSize) || opts.partSize < 1)) {
      throw new CairnError('bad-split-size', `part size ${opts.partSize} is not a positive number of bytes`, 'Give --split a size like 100M, 4G or 650MB.');
    }
    this.target = path.resolve(target);
    this.partSize = opts.partSize;
  }

  /** Refuses to start when the target (or its first part) exists, so nothing is overwritten. */
  async checkTargetFree(): Promise<void> {
    const first = this.partSize ? partName(this.target, 1) : this.target;
    for (const p of [this.target, first]) {
      try {
        await fs.lstat(p);
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue;
        throw err;
      }
      throw new CairnError('output-exists', `${p} already exists`, 'Remove it first, or choose another file with --output.');
    }
    const dir = path.dirname(this.target);
    try {
      if (!(await fs.stat(dir)).isDirectory()) throw new Error('not a directory');
    } catch {
      throw new CairnError('output-dir-missing', `the folder ${dir} does not exist`, 'Create it first, or choose another file with --output.');
    }
  }

  /** Bytes written so far. */
  get bytesWritten(): number {
    return this.total;
  }

  /** SHA-256 of everything written (after close). */
  get sha256(): string {
    return this.wholeDigest;
  }

  /** The files written, in order (after close). */
  get files(): WrittenFile[] {
    return this.done.map((d) => ({ path: d.final, size: d.size, sha256: d.sha256 }));
  }

  /** Ends the stream and waits until every file is complete and in place. */
  async close(): Promise<void> {
    if (!this.writableFinished) {
      const finished = once(this, 'finish');
      this.end();
      await finished;
    }
  }

  private async openNext(): Promise<OpenPart> {
    const n = this.done.length + 1;
    const final = this.partSize ? partName(this.target, n) : this.target;
    const temp = `${final}.cairn-tmp-${process.pid}`;
    const fh = await fs.open(temp, 'wx', 0o644);
    return { final, temp, fh, size: 0, hash: createHash('sha256') };
  }

  private async closeCurrent(): Promise<void> {
    const p = this.current;
    if (!p) return;
    this.current = undefined;
    await p.fh.sync();
    await p.fh.close();
    this.done.push({ final: p.final, temp: p.temp, size: p.size, sha256: p.hash.digest('hex') });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writeChunk(chunk).then(() => cb(), cb);
  }

  private async writeChunk(chunk: Buffer): Promise<void> {
    this.whole.update(chunk);
    this.total += chunk.length;
    let off = 0;
    while (off < chunk.length) {
      this.current ??= await this.openNext();
      const room = this.partSize ? this.partSize - this.current.size : chunk.length - off;
      const piece = chunk.subarray(off, off + Math.min(room, chunk.length - off));
      await this.current.fh.write(piece);
      this.current.hash.update(piece);
      this.current.size += piece.length;
      off += piece.length;
      if (this.partSize && this.current.size >= this.partSize) await this.closeCurrent();
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    (async () => {
      if (this.total === 0) this.current = await this.openNext(); // an empty stream still gives one (empty) file
      await this.closeCurrent();
      for (const d of this.done) await fs.rename(d.temp, d.final);
      this.wholeDigest = this.whole.digest('hex');
    })().then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // A failed or aborted export removes what it wrote: a write is complete or absent.
    (async () => {
      if (this.writableFinished) return;
      const temps = this.done.map((d) => d.temp);
      if (this.current) {
        temps.push(this.current.temp);
        await this.current.fh.close().catch(() => {});
        this.current = undefined;
      }
      await Promise.all(temps.map((t) => fs.rm(t, { force: true })));
    })().then(() => cb(err), () => cb(err));
  }
}

/**
 * Adds lines for `files` to the `SHA256SUMS` file in `dir` (in `sha256sum`
 * format, names relative to `dir`), replacing older lines for the same names
 * and keeping the others; returns its path.
 */
export async function writeSha256Sums(dir: string, files: readonly { path: string; sha256: string }[]): Promise<string> {
  const sumsPath = path.join(dir, 'SHA256SUMS');
  const names = new Set(files.map((f) => path.relative(dir, f.path)));
  let kept: string[] = [];
  try {
    kept = (await fs.readFile(sumsPath, 'utf8')).split('\n').filter((l) => l !== '' && !names.has(l.replace(/^[0-9a-f]{64} [ *]/, '')));
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  const lines = [...kept, ...files.map((f) => `${f.sha256}  ${path.relative(dir, f.path)}`)];
  const temp = `${sumsPath}.cairn-tmp-${process.pid}`;
  await fs.writeFile(temp, lines.join('\n') + '\n', { mode: 0o644 });
  await fs.rename(temp, sumsPath);
  return sumsPath;
}
