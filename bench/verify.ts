// Proof that a restore is right: a manifest of a tree (type, permission bits, size and SHA-256 of
// every file, symlink targets), compared between the source and the restored copy. A fast wrong
// restore is worthless, so the table shows "ok" only when the manifests are equal.
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { walk } from './files.js';

/** rel path -> description ("file 644 1234 <sha256>", "dir 755", "symlink -> target"); plus mtimes of files. */
export interface Manifest {
  entries: Map<string, string>;
  mtimesMs: Map<string, number>;
  bytes: number;
}

const buf = Buffer.alloc(4 * 1024 * 1024);

function sha256(file: string): string {
  const h = createHash('sha256');
  const fd = openSync(file, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** Reads every file under `root` (which also warms the page cache) and describes the tree. */
export function manifest(root: string): Manifest {
  const entries = new Map<string, string>();
  const mtimesMs = new Map<string, number>();
  let bytes = 0;
  for (const e of walk(root)) {
    const p = path.join(root, e.rel);
    const st = lstatSync(p);
    const mode = (st.mode & 0o7777).toString(8);
    if (e.kind === 'file') {
      entries.set(e.rel, `file ${mode} ${st.size} ${sha256(p)}`);
      mtimesMs.set(e.rel, Math.floor(st.mtimeMs));
      bytes += st.size;
    } else if (e.kind === 'dir') entries.set(e.rel, `dir ${mode}`);
    else if (e.kind === 'symlink') entries.set(e.rel, `symlink -> ${readlinkSync(p)}`);
    else entries.set(e.rel, 'other');
  }
  return { entries, mtimesMs, bytes };
}

/** Result of comparing a restored tree with its source. */
export interface Verdict {
  ok: boolean;
  /** Up to 10 differences, e.g. "missing: a/b", "differs: x (file 644 3 ab.. vs file 644 3 cd..)". */
  problems: string[];
  problemCount: number;
  /** Files whose modification time (in ms) was not restored; reported, not counted against ok. */
  mtimeDiffers: number;
}

/** Compares the restored tree with the source manifest. */
export function compare(source: Manifest, restored: Manifest): Verdict {
  const problems: string[] = [];
  for (const [rel, want] of source.entries) {
    const got = restored.entries.get(rel);
    if (got === undefined) problems.push(`missing: ${rel}`);
    else if (got !== want) problems.push(`differs: ${rel} (want ${want}, got ${got})`);
  }
  for (const rel of restored.entries.keys()) if (!source.entries.has(rel)) problems.push(`extra: ${rel}`);
  let mtimeDiffers = 0;
  for (const [rel, ms] of source.mtimesMs) {
    const got = restored.mtimesMs.get(rel);
    if (got !== undefined && got !== ms) mtimeDiffers++;
  }
  return { ok: problems.length === 0, problems: problems.slice(0, 10), problemCount: problems.length, mtimeDiffers };
}
