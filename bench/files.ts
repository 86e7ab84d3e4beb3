// Small file-system helpers shared by the bench data sets: writing a file from a generator, walking a
// tree in a stable order, and summing sizes.
import { closeSync, lstatSync, openSync, readdirSync, writeSync, mkdirSync } from 'node:fs';
import path from 'node:path';

/** Creates (or truncates) `file` and lets `fill` write its content piece by piece. */
export function writeFileWith(file: string, fill: (write: (b: Buffer) => void) => void, flags = 'w'): number {
  mkdirSync(path.dirname(file), { recursive: true });
  const fd = openSync(file, flags);
  let total = 0;
  try {
    fill((b) => {
      let off = 0;
      while (off < b.length) off += writeSync(fd, b, off, b.length - off);
      total += b.length;
    });
  } finally {
    closeSync(fd);
  }
  return total;
}

/** One entry of a tree walk: path relative to the root (with "/"), and its lstat. */
export interface WalkEntry {
  rel: string;
  kind: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
}

/** Every entry under `root` (not the root itself), parents before children, names sorted. */
export function walk(root: string): WalkEntry[] {
  const out: WalkEntry[] = [];
  const visit = (rel: string): void => {
    const names = readdirSync(path.join(root, rel)).sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(path.join(root, r));
      const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
      out.push({ rel: r, kind, size: st.size });
      if (kind === 'dir') visit(r);
    }
  };
  visit('');
  return out;
}

/** Total size in bytes of the regular files under `dir` (0 when it does not exist): a repository's size on disk. */
export function treeBytes(dir: string): number {
  let total = 0;
  const visit = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const name of names) {
      const p = path.join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) visit(p);
      else if (st.isFile()) total += st.size;
    }
  };
  visit(dir);
  return total;
}

/** "1.5 GiB"-style size. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

/** Parses "2G", "512M", "64k", "1.5GiB" or a plain byte count. */
export function parseSize(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(s);
  if (!m) throw new Error(`bad size "${s}": use a number with K, M or G (e.g. 2G, 512M)`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * mult);
}
