// Small file and item helpers shared by the container sources (podman, docker).
import { randomBytes } from 'node:crypto';
import { createWriteStream, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isErrno } from '../errors.js';
import type { SourceItem } from './source.js';

/** A small JSON document as a stream item. */
export function jsonItem(name: string, value: unknown): SourceItem {
  const bytes = Buffer.from(JSON.stringify(value, null, 2) + '\n');
  return { type: 'stream', name, open: async () => Readable.from([bytes]), mode: 0o600 };
}

/** Reads a (small) stream to the end as UTF-8 text. */
export async function readAll(stream: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(parts).toString('utf8');
}

/** lstat, or undefined when the path does not exist. */
export async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return undefined;
    throw err;
  }
}

/** Bytes of regular files below `dir` (what `du --apparent-size` counts). */
export async function treeSize(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    for (const ent of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, ent.name);
      if (ent.isDirectory()) await walk(p);
      else if (ent.isFile()) total += (await fs.lstat(p)).size;
    }
  };
  await walk(dir);
  return total;
}

/** Writes a stream to `target` through a temp file renamed over it: complete or absent. */
export async function writeFileAtomically(stream: Readable, target: string, mode = 0o600): Promise<void> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.cairn-restore-${randomBytes(4).toString('hex')}`;
  try {
    await pipeline(stream, createWriteStream(tmp, { mode }));
    await fs.chmod(tmp, mode);
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** Deletes everything inside `dir`, keeping the directory itself. */
export async function emptyDirectory(dir: string): Promise<void> {
  for (const name of await fs.readdir(dir)) await fs.rm(path.join(dir, name), { recursive: true, force: true });
}

/** Names items after paths without clashes ("units", "bind-srv-media", "bind-srv-media-2"). */
export function uniqueName(base: string, taken: Set<string>): string {
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
  taken.add(name);
  return name;
}

/** A path as an item-name fragment: "/srv/media" → "srv-media". */
export function slug(p: string): string {
  return p.replace(/^\/+/, '').replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '') || 'root';
}
