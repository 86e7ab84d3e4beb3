// A snapshot (or a folder or file inside it) as a portable archive: POSIX tar
// (ustar with pax extended headers: long names, nanosecond mtimes, big sizes
// and ids, xattrs; symlinks, hard links, devices, fifos) or zip (Unix modes,
// symlinks, UTC mtimes, ZIP64 when needed). File contents are streamed blob by
// blob, so memory stays bounded whatever the snapshot's size. The zip encoder
// is cairn's own because zip libraries rewrite `\` in names into folder
// separators, which would change Unix file names.
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import zlib from 'node:zlib';
import { CairnError } from '../errors.js';
import { nodeNameBytes, unixPermissions, type Node } from '../repo/node.js';
import type { Repository } from '../repo/repository.js';
import type { Snapshot } from '../repo/snapshot.js';
import { parseGoTime } from '../repo/timeFormat.js';
import { openFileStream } from './fileStream.js';
import { findNode } from './treeWalker.js';

/** Archive formats `exportSnapshot` writes. */
export type ExportFormat = 'tar' | 'zip';

/** Options of exportSnapshot. */
export interface ExportOptions {
  format: ExportFormat;
  /** Export only this path of the snapshot (`/home/u/docs`): a folder's contents, or a single entry. */
  subpath?: string;
  /** zip only: deflate level 0–9 (0 stores files uncompressed); default 6. */
  zipLevel?: number;
  /** Called after each entry. */
  onProgress?: (p: ExportProgress) => void;
  /** Called for entries the format cannot hold (sockets; fifos and devices in zip). */
  onSkip?: (path: string, reason: string) => void;
}

/** Progress (and final figures) of an export. */
export interface ExportProgress {
  entries: number;
  /** File content bytes written so far. */
  fileBytes: number;
  /** Archive bytes written so far. */
  archiveBytes: number;
  skipped: number;
}

/** An archive entry: its path inside the archive (bytes, `/`-separated, no leading `/`) and node. */
interface Entry {
  path: Buffer;
  node: Node;
}

/** Writes to a stream, waiting whenever it asks to (so memory stays bounded), counting bytes. */
class Sink {
  position = 0;
  private failed: Error | undefined;

  constructor(private readonly out: Writable) {
    // keep a failing output (disk full, closed pipe) from crashing the process: the next write throws
    out.on('error', (err) => (this.failed ??= err));
  }

  async write(buf: Buffer): Promise<void> {
    if (this.failed) throw this.failed;
    if (buf.length === 0) return;
    this.position += buf.length;
    if (!this.out.write(buf)) await once(this.out, 'drain');
  }

  /** Copies a file's content stream, checking it has the size the snapshot records. */
  async copy(src: Readable, expected: number, where: string, onChunk?: (b: Buffer) => void): Promise<number> {
    let n = 0;
    for await (const chunk of src as AsyncIterable<Buffer>) {
      n += chunk.length;
      onChunk?.(chunk);
      await this.write(chunk);
    }
    if (n !== expected) throw sizeMismatch(where, expected, n);
    return n;
  }
}

function sizeMismatch(where: string, expected: number, got: number): CairnError {
  return new CairnError('export-size-mismatch', `${where} has ${got} bytes of content but the snapshot records ${expected}`, 'The snapshot is inconsistent; run `cairn check --read-data` to find damaged data.');
}

/**
 * Writes the archive of `snapshot` (or of `opts.subpath` inside it) to `out`.
 * Resolves when the last byte was accepted; the caller ends `out`.
 */
export async function exportSnapshot(repo: Repository, snapshot: Snapshot, out: Writable, opts: ExportOptions): Promise<ExportProgress> {
  const sink = new Sink(out);
  const progress: ExportProgress = { entries: 0, fileBytes: 0, archiveBytes: 0, skipped: 0 };
  const skip = (e: Entry, reason: string) => {
    progress.skipped++;
    opts.onSkip?.(e.path.toString('utf8'), reason);
  };
  const writer = opts.format === 'tar' ? new TarWriter(sink, repo) : new ZipWriter(sink, repo, opts.zipLevel ?? 6);
  for await (const entry of exportEntries(repo, snapshot, opts.subpath ?? '/')) {
    const reason = writer.cannotHold(entry.node);
    if (reason) {
      skip(entry, reason);
      continue;
    }
    progress.fileBytes += await writer.add(entry);
    progress.entries++;
    progress.archiveBytes = sink.position;
    opts.onProgress?.({ ...progress });
  }
  await writer.finish();
  progress.archiveBytes = sink.position;
  return progress;
}

/** The entries to archive, depth-first in name order, directories before their contents. */
async function* exportEntries(repo: Repository, snapshot: Snapshot, subpath: string): AsyncGenerator<Entry> {
  const found = await findNode(repo, snapshot.tree, subpath);
  if (!found) {
    throw new CairnError('no-such-path', `${subpath} is not in snapshot ${snapshot.id.slice(0, 8)}`, 'List the snapshot with `cairn ls SNAPSHOT` to see its paths.');
  }
  if (found.node && found.node.type !== 'dir') {
    yield { path: nodeNameBytes(found.node), node: found.node };
    return;
  }
  if (!found.treeId) return;
  yield* walk(repo, found.treeId, Buffer.alloc(0));
}

async function* walk(repo: Repository, treeId: string, prefix: Buffer): AsyncGenerator<Entry> {
  for (const node of (await repo.loadTree(treeId)).nodes) {
    const name = nodeNameBytes(node);
    const p = prefix.length ? Buffer.concat([prefix, Buffer.from('/'), name]) : name;
    yield { path: p, node };
    if (node.type === 'dir' && node.subtree) yield* walk(repo, node.subtree, p);
  }
}

/** A node's mtime as whole seconds and nanoseconds (floor). */
function mtimeOf(node: Node): { sec: bigint; nsec: bigint } {
  let ns: bigint;
  try {
    ns = parseGoTime(node.mtime).epochNs;
  } catch {
    ns = 0n;
  }
  const sec = ns >= 0n ? ns / 1_000_000_000n : -((-ns + 999_999_999n) / 1_000_000_000n);
  return { sec, nsec: ns - sec * 1_000_000_000n };
}

/** The bytes of a symlink's target. */
function linkTarget(node: Node): Buffer {
  return node.linktarget_raw ? Buffer.from(node.linktarget_raw, 'base64') : Buffer.from(node.linktarget ?? '', 'utf8');
}

interface ArchiveWriter {
  /** Why this format cannot hold the node, or undefined when it can. */
  cannotHold(node: Node): string | undefined;
  /** Writes one entry; returns the content bytes written. */
  add(e: Entry): Promise<number>;
  finish(): Promise<void>;
}

// ---- tar ----

const block = 512;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** A pax record `"<len> key=value\n"`, whose length counts itself. */
function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.byteLength(` ${key}=\n`) + value.length;
  let len = rest + 1;
  while (String(len).length + rest !== len) len = String(len).length + rest;
  return Buffer.concat([Buffer.from(`${len} ${key}=`), value, Buffer.from('\n')]);
}

function isAscii(b: Buffer): boolean {
  return b.every((c) => c >= 0x20 && c < 0x7f);
}

/** Octal text of `n` in a field of `width` bytes (width-1 digits and a NUL), or undefined when it does not fit. */
function octal(n: bigint | number, width: number): Buffer | undefined {
  const v = BigInt(n);
  if (v < 0n) return undefined;
  const s = v.toString(8);
  if (s.length > width - 1) return undefined;
  return Buffer.from(s.padStart(width - 1, '0') + '\0', 'ascii');
}

/** Linux dev_t → major, minor (glibc's encoding). */
function splitDevice(dev: bigint): { major: bigint; minor: bigint } {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n);
  const minor = (dev & 0xffn) | ((dev >> 12n) & 0xffffff00n);
  return { major, minor };
}

interface TarFields {
  name: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: bigint;
  type: string;
  linkname?: Buffer;
  uname?: string;
  gname?: string;
  devmajor?: bigint;
  devminor?: bigint;
}

/** A ustar header block; fields that do not fit must be carried by a pax header before it. */
function ustarHeader(f: TarFields): Buffer {
  const h = Buffer.alloc(block);
  const put = (off: number, len: number, b: Buffer | undefined) => b?.copy(h, off, 0, Math.min(b.length, len));
  put(0, 100, f.name);
  put(100, 8, octal(f.mode, 8) ?? octal(0, 8));
  put(108, 8, octal(f.uid, 8) ?? octal(0, 8));
  put(116, 8, octal(f.gid, 8) ?? octal(0, 8));
  put(124, 12, octal(f.size, 12) ?? octal(0, 12));
  put(136, 12, octal(f.mtime, 12) ?? octal(0, 12));
  h.fill(0x20, 148, 156);
  h.write(f.type, 156, 'ascii');
  put(157, 100, f.linkname);
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  put(265, 32, Buffer.from(f.uname ?? '', 'utf8'));
  put(297, 32, Buffer.from(f.gname ?? '', 'utf8'));
  if (f.devmajor !== undefined) put(329, 8, octal(f.devmajor, 8) ?? octal(0, 8));
  if (f.devminor !== undefined) put(337, 8, octal(f.devminor, 8) ?? octal(0, 8));
  let sum = 0;
  for (const c of h) sum += c;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

function padding(size: number): Buffer {
  const r = size % block;
  return Buffer.alloc(r === 0 ? 0 : block - r);
}

class TarWriter implements ArchiveWriter {
  /** device:inode → archive path of the first name of a hard-linked file. */
  private readonly links = new Map<string, Buffer>();

  constructor(
    private readonly sink: Sink,
    private readonly repo: Repository,
  ) {}

  cannotHold(node: Node): string | undefined {
    if (node.type === 'socket') return 'tar cannot hold sockets';
    if (node.type === 'irregular') return 'not a regular file, folder or link';
    return undefined;
  }

  async add(e: Entry): Promise<number> {
    const { node } = e;
    const mtime = mtimeOf(node);
    const f: TarFields = { name: e.path, mode: unixPermissions(node.mode ?? 0), uid: node.uid, gid: node.gid, size: 0, mtime: mtime.sec, type: '0', uname: node.user ?? '', gname: node.group ?? '' };
    const pax: Buffer[] = [];
    let content: Readable | undefined;
    switch (node.type) {
      case 'dir':
        f.type = '5';
        f.name = Buffer.concat([e.path, Buffer.from('/')]);
        break;
      case 'symlink':
        f.type = '2';
        f.linkname = linkTarget(node);
        break;
      case 'fifo':
        f.type = '6';
        break;
      case 'chardev':
      case 'dev': {
        f.type = node.type === 'chardev' ? '3' : '4';
        const d = splitDevice(node.device ?? 0n);
        f.devmajor = d.major;
        f.devminor = d.minor;
        break;
      }
      default: {
        const key = (node.links ?? 1) > 1 && node.inode ? `${node.device_id ?? 0n}:${node.inode}` : undefined;
        const first = key ? this.links.get(key) : undefined;
        if (first) {
          f.type = '1';
          f.linkname = first;
        } else {
          if (key) this.links.set(key, e.path);
          f.size = node.size ?? 0;
          content = openFileStream(this.repo, node);
        }
      }
    }
    // pax records for everything ustar cannot say exactly
    if (f.name.length > 100 || !isAscii(f.name)) pax.push(paxRecord('path', f.name));
    if (f.linkname && (f.linkname.length > 100 || !isAscii(f.linkname))) pax.push(paxRecord('linkpath', f.linkname));
    if (mtime.nsec !== 0n || !octal(mtime.sec, 12)) pax.push(paxRecord('mtime', Buffer.from(paxTime(mtime.sec, mtime.nsec))));
    if (!octal(f.size, 12)) pax.push(paxRecord('size', Buffer.from(String(f.size))));
    if (!octal(f.uid, 8)) pax.push(paxRecord('uid', Buffer.from(String(f.uid))));
    if (!octal(f.gid, 8)) pax.push(paxRecord('gid', Buffer.from(String(f.gid))));
    for (const [k, v] of [['uname', f.uname], ['gname', f.gname]] as const) {
      const b = Buffer.from(v ?? '', 'utf8');
      if (b.length > 32 || !isAscii(b)) pax.push(paxRecord(k, b));
    }
    for (const x of node.extended_attributes ?? []) pax.push(paxRecord(`SCHILY.xattr.${x.name}`, Buffer.from(x.value, 'base64')));
    if (pax.length) {
      const body = Buffer.concat(pax);
      const base = e.path.subarray(e.path.lastIndexOf(0x2f) + 1).subarray(0, 80);
      await this.sink.write(ustarHeader({ name: Buffer.concat([Buffer.from('PaxHeaders/'), base]), mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: mtime.sec > 0n ? mtime.sec : 0n, type: 'x' }));
      await this.sink.write(body);
      await this.sink.write(padding(body.length));
    }
    await this.sink.write(ustarHeader(f));
    if (!content) return 0;
    const n = await this.sink.copy(content, f.size, e.path.toString('utf8'));
    await this.sink.write(padding(n));
    return n;
  }

  async finish(): Promise<void> {
    await this.sink.write(Buffer.alloc(2 * block));
  }
}

/** pax time text: seconds and, when not whole, a decimal fraction (negative times as pax defines them). */
function paxTime(sec: bigint, nsec: bigint): string {
  if (nsec === 0n) return String(sec);
  if (sec < 0n) {
    // sec is floored: the instant is sec + nsec/1e9 = -(|sec| - 1 + (1e9 - nsec)/1e9)
    const whole = -sec - 1n;
    const frac = 1_000_000_000n - nsec;
    return `-${whole}.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`;
  }
  return `${sec}.${nsec.toString().padStart(9, '0').replace(/0+$/, '')}`;
}

// ---- zip ----

const u32max = 0xffffffff;

interface ZipCentral {
  name: Buffer;
  utf8: boolean;
  method: number;
  flags: number;
  dosTime: number;
  dosDate: number;
  crc: number;
  compressed: number;
  size: number;
  offset: number;
  externalAttr: number;
  extra: Buffer;
}

function dosDateTime(sec: bigint): { time: number; date: number } {
  const d = new Date(Number(sec) * 1000);
  let y = d.getFullYear();
  if (Number.isNaN(y) || y < 1980) return { time: 0, date: (1 << 5) | 1 };
  if (y > 2107) y = 2107;
  return { time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1), date: ((y - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate() };
}

/** Info-ZIP extended timestamp (UT, mtime only) and Unix uid/gid (ux) extra fields. */
function unixExtras(sec: bigint, uid: number, gid: number): Buffer {
  const parts: Buffer[] = [];
  if (sec >= -0x80000000n && sec <= 0x7fffffffn) {
    const ut = Buffer.alloc(9);
    ut.writeUInt16LE(0x5455, 0);
    ut.writeUInt16LE(5, 2);
    ut.writeUInt8(1, 4);
    ut.writeInt32LE(Number(sec), 5);
    parts.push(ut);
  }
  if (uid >= 0 && uid <= u32max && gid >= 0 && gid <= u32max) {
    const ux = Buffer.alloc(15);
    ux.writeUInt16LE(0x7875, 0);
    ux.writeUInt16LE(11, 2);
    ux.writeUInt8(1, 4);
    ux.writeUInt8(4, 5);
    ux.writeUInt32LE(uid, 6);
    ux.writeUInt8(4, 10);
    ux.writeUInt32LE(gid, 11);
    parts.push(ux);
  }
  return Buffer.concat(parts);
}

function isValidUtf8(b: Buffer): boolean {
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

class ZipWriter implements ArchiveWriter {
  private readonly central: ZipCentral[] = [];

  constructor(
    private readonly sink: Sink,
    private readonly repo: Repository,
    private readonly level: number,
  ) {}

  cannotHold(node: Node): string | undefined {
    if (node.type === 'dir' || node.type === 'file' || node.type === 'symlink') return undefined;
    return `zip cannot hold ${node.type === 'dev' ? 'block device' : node.type} entries`;
  }

  async add(e: Entry): Promise<number> {
    const { node } = e;
    const { sec } = mtimeOf(node);
    const perm = unixPermissions(node.mode ?? 0);
    const name = node.type === 'dir' ? Buffer.concat([e.path, Buffer.from('/')]) : e.path;
    const dt = dosDateTime(sec);
    const ascii = isAscii(name);
    const c: ZipCentral = {
      name,
      utf8: !ascii && isValidUtf8(name),
      method: 0,
      flags: 0,
      dosTime: dt.time,
      dosDate: dt.date,
      crc: 0,
      compressed: 0,
      size: 0,
      offset: this.sink.position,
      externalAttr: 0,
      extra: unixExtras(sec, node.uid, node.gid),
    };
    if (c.utf8) c.flags |= 0x800;
    if (node.type === 'dir') {
      c.externalAttr = (((S_IFDIR | perm) << 16) | 0x10) >>> 0;
      await this.writeLocal(c, false);
    } else if (node.type === 'symlink') {
      const target = linkTarget(node);
      c.externalAttr = ((S_IFLNK | 0o777) << 16) >>> 0;
      c.crc = zlib.crc32(target);
      c.compressed = c.size = target.length;
      await this.writeLocal(c, false);
      await this.sink.write(target);
    } else {
      c.externalAttr = ((S_IFREG | perm) << 16) >>> 0;
      const size = node.size ?? 0;
      if (size === 0) {
        await this.writeLocal(c, false);
      } else {
        await this.writeFileData(c, node, size, e.path.toString('utf8'));
      }
    }
    this.central.push(c);
    return c.size;
  }

  /** Streams a file through deflate (or stores it), then writes the data descriptor with CRC and sizes. */
  private async writeFileData(c: ZipCentral, node: Node, size: number, where: string): Promise<void> {
    c.flags |= 0x8;
    c.method = this.level > 0 ? 8 : 0;
    // Deflate can grow incompressible data a little; past this size the sizes may need 64 bits.
    const zip64 = size > 0xff000000;
    await this.writeLocal(c, zip64);
    const src = openFileStream(this.repo, node);
    let crc = 0;
    if (c.method === 0) {
      c.size = await this.sink.copy(src, size, where, (b) => (crc = zlib.crc32(b, crc)));
      c.compressed = c.size;
    } else {
      const deflate = zlib.createDeflateRaw({ level: this.level });
      let read = 0;
      let feedError: unknown;
      // Feeding runs beside the loop below that drains deflate's output; it never rejects, so a
      // failure on either side cannot leave an unhandled promise behind.
      const feeding = (async () => {
        try {
          for await (const chunk of src as AsyncIterable<Buffer>) {
            read += chunk.length;
            crc = zlib.crc32(chunk, crc);
            if (!deflate.write(chunk)) await once(deflate, 'drain');
          }
          deflate.end();
        } catch (err) {
          feedError = err;
          deflate.destroy(err as Error);
        }
      })();
      let compressed = 0;
      try {
        for await (const out of deflate as AsyncIterable<Buffer>) {
          compressed += out.length;
          await this.sink.write(out);
        }
      } catch (err) {
        // destroying with the error wakes a feeder waiting for 'drain'
        deflate.destroy(err as Error);
        src.destroy();
        await feeding;
        throw feedError ?? err;
      }
      await feeding;
      if (feedError) throw feedError;
      if (read !== size) throw sizeMismatch(where, size, read);
      c.size = read;
      c.compressed = compressed;
    }
    c.crc = crc;
    const dd = Buffer.alloc(zip64 ? 24 : 16);
    dd.writeUInt32LE(0x08074b50, 0);
    dd.writeUInt32LE(c.crc >>> 0, 4);
    if (zip64) {
      dd.writeBigUInt64LE(BigInt(c.compressed), 8);
      dd.writeBigUInt64LE(BigInt(c.size), 16);
    } else {
      dd.writeUInt32LE(c.compressed, 8);
      dd.writeUInt32LE(c.size, 12);
    }
    await this.sink.write(dd);
  }

  private async writeLocal(c: ZipCentral, zip64: boolean): Promise<void> {
    let extra = c.extra;
    if (zip64) {
      const z = Buffer.alloc(20);
      z.writeUInt16LE(0x0001, 0);
      z.writeUInt16LE(16, 2);
      extra = Buffer.concat([z, extra]);
    }
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(zip64 ? 45 : 20, 4);
    h.writeUInt16LE(c.flags, 6);
    h.writeUInt16LE(c.method, 8);
    h.writeUInt16LE(c.dosTime, 10);
    h.writeUInt16LE(c.dosDate, 12);
    const known = (c.flags & 0x8) === 0;
    h.writeUInt32LE(known ? c.crc >>> 0 : 0, 14);
    h.writeUInt32LE(zip64 ? u32max : known ? c.compressed : 0, 18);
    h.writeUInt32LE(zip64 ? u32max : known ? c.size : 0, 22);
    h.writeUInt16LE(c.name.length, 26);
    h.writeUInt16LE(extra.length, 28);
    await this.sink.write(Buffer.concat([h, c.name, extra]));
  }

  async finish(): Promise<void> {
    const cdStart = this.sink.position;
    for (const c of this.central) {
      const big: bigint[] = [];
      const field = (v: number) => {
        if (v >= u32max) {
          big.push(BigInt(v));
          return u32max;
        }
        return v;
      };
      const size = field(c.size);
      const compressed = field(c.compressed);
      const offset = field(c.offset);
      // zip64 extra order is fixed: uncompressed, compressed, offset (only those that overflowed)
      let extra = c.extra;
      if (big.length) {
        const z = Buffer.alloc(4 + 8 * big.length);
        z.writeUInt16LE(0x0001, 0);
        z.writeUInt16LE(8 * big.length, 2);
        big.forEach((v, i) => z.writeBigUInt64LE(v, 4 + 8 * i));
        extra = Buffer.concat([z, extra]);
      }
      const h = Buffer.alloc(46);
      h.writeUInt32LE(0x02014b50, 0);
      h.writeUInt16LE((3 << 8) | 63, 4); // made by Unix, spec 6.3
      h.writeUInt16LE(big.length ? 45 : 20, 6);
      h.writeUInt16LE(c.flags, 8);
      h.writeUInt16LE(c.method, 10);
      h.writeUInt16LE(c.dosTime, 12);
      h.writeUInt16LE(c.dosDate, 14);
      h.writeUInt32LE(c.crc >>> 0, 16);
      h.writeUInt32LE(compressed, 20);
      h.writeUInt32LE(size, 24);
      h.writeUInt16LE(c.name.length, 28);
      h.writeUInt16LE(extra.length, 30);
      h.writeUInt16LE(0, 32);
      h.writeUInt16LE(0, 34);
      h.writeUInt16LE(0, 36);
      h.writeUInt32LE(c.externalAttr >>> 0, 38);
      h.writeUInt32LE(offset, 42);
      await this.sink.write(Buffer.concat([h, c.name, extra]));
    }
    const cdEnd = this.sink.position;
    const count = this.central.length;
    const cdSize = cdEnd - cdStart;
    const needs64 = count >= 0xffff || cdStart >= u32max || cdSize >= u32max;
    if (needs64) {
      const rec = Buffer.alloc(56);
      rec.writeUInt32LE(0x06064b50, 0);
      rec.writeBigUInt64LE(44n, 4);
      rec.writeUInt16LE((3 << 8) | 63, 12);
      rec.writeUInt16LE(45, 14);
      rec.writeUInt32LE(0, 16);
      rec.writeUInt32LE(0, 20);
      rec.writeBigUInt64LE(BigInt(count), 24);
      rec.writeBigUInt64LE(BigInt(count), 32);
      rec.writeBigUInt64LE(BigInt(cdSize), 40);
      rec.writeBigUInt64LE(BigInt(cdStart), 48);
      const loc = Buffer.alloc(20);
      loc.writeUInt32LE(0x07064b50, 0);
      loc.writeUInt32LE(0, 4);
      loc.writeBigUInt64LE(BigInt(cdEnd), 8);
      loc.writeUInt32LE(1, 16);
      await this.sink.write(Buffer.concat([rec, loc]));
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(needs64 ? 0xffff : count, 8);
    end.writeUInt16LE(needs64 ? 0xffff : count, 10);
    end.writeUInt32LE(needs64 ? u32max : cdSize, 12);
    end.writeUInt32LE(needs64 ? u32max : cdStart, 16);
    await this.sink.write(end);
  }
}
