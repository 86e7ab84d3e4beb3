import { promises as fs } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';

/** A tiny deterministic PRNG (mulberry32) so generated trees are the same for a seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Generates a source tree the way users' trees look: nested folders, files of
 * random sizes (one larger than 8 MiB so it spans several chunks), symlinks,
 * empty files and folders, duplicated files, odd modes.
 */
export async function generateTree(root: string, opts: { seed?: number; files?: number; maxSize?: number; bigFile?: number } = {}): Promise<void> {
  const rnd = prng(opts.seed ?? 1);
  const files = opts.files ?? 40;
  const maxSize = opts.maxSize ?? 256 * 1024;
  await fs.mkdir(root, { recursive: true });
  const dirs = [root];
  for (let i = 0; i < 8; i++) {
    const parent = dirs[Math.floor(rnd() * dirs.length)]!;
    const d = path.join(parent, `dir-${i}`);
    await fs.mkdir(d, { recursive: true });
    dirs.push(d);
  }
  await fs.mkdir(path.join(root, 'empty-dir'));
  let firstFile = '';
  for (let i = 0; i < files; i++) {
    const dir = dirs[Math.floor(rnd() * dirs.length)]!;
    const size = Math.floor(rnd() ** 3 * maxSize);
    const p = path.join(dir, `file-${i}.${i % 3 === 0 ? 'txt' : 'bin'}`);
    const data = i % 3 === 0 ? Buffer.from(`line ${i}\n`.repeat(Math.ceil(size / 8))).subarray(0, size) : randomBytes(size);
    await fs.writeFile(p, data, { mode: i % 5 === 0 ? 0o600 : 0o644 });
    if (!firstFile) firstFile = p;
  }
  if (opts.bigFile !== 0) await fs.writeFile(path.join(root, 'big.bin'), randomBytes(opts.bigFile ?? 9 * 1024 * 1024 + 12345));
  await fs.writeFile(path.join(root, 'empty.txt'), '');
  await fs.copyFile(firstFile, path.join(dirs[dirs.length - 1]!, 'duplicate-of-first'));
  await fs.symlink('file-0.txt', path.join(root, 'link-to-file'));
  await fs.symlink('/nonexistent/target', path.join(root, 'dangling-link'));
  await fs.writeFile(path.join(root, 'script.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  await fs.chmod(path.join(root, 'script.sh'), 0o755);
}

/** One entry of a tree manifest: what a restore must reproduce. */
export interface ManifestEntry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  size?: number;
  sha256?: string;
  target?: string;
  mtimeMs?: number;
}

/** Describes every entry under `root` (relative paths → type, permissions, content hash, link target, mtime). */
export async function manifest(root: string, opts: { mtimes?: boolean; dirMtimes?: boolean } = {}): Promise<Record<string, ManifestEntry>> {
  const out: Record<string, ManifestEntry> = {};
  const walk = async (dir: string) => {
    for (const name of (await fs.readdir(dir)).sort()) {
      const p = path.join(dir, name);
      const rel = path.relative(root, p);
      const st = await fs.lstat(p);
      const e: ManifestEntry = { type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other', mode: st.mode & 0o7777 };
      if (st.isSymbolicLink()) {
        e.target = await fs.readlink(p);
        delete (e as Partial<ManifestEntry>).mode;
      }
      if (st.isFile()) {
        e.size = st.size;
        e.sha256 = createHash('sha256').update(await fs.readFile(p)).digest('hex');
      }
      if (opts.mtimes && !st.isSymbolicLink() && (opts.dirMtimes || !st.isDirectory())) e.mtimeMs = st.mtimeMs;
      out[rel] = e;
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk(root);
  return out;
}
