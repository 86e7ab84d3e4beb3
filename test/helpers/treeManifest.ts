import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * One entry of a directory tree, in the shape of the fixture's
 * expected.json → manifest: what a bit-for-bit restore must reproduce.
 */
export interface TreeManifestEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'chardev' | 'blockdev';
  /** Permission bits incl. setuid/setgid/sticky, 4 octal digits. */
  mode: string;
  mtime_unix_ns: string;
  size?: number;
  sha256?: string;
  nlink?: number;
  target?: string;
  xattrs?: Record<string, string>;
  /** For files with several names: the first path (sorted) of the inode. */
  hardlink_group?: string;
  uid?: number;
  gid?: number;
}

/** Fields of a fixture manifest entry that a restore must reproduce. */
export function comparable(e: Record<string, unknown>, opts: { owners?: boolean } = {}): Record<string, unknown> {
  const keys = ['path', 'type', 'mode', 'mtime_unix_ns', 'size', 'sha256', 'nlink', 'target', 'xattrs', 'hardlink_group', ...(opts.owners ? ['uid', 'gid'] : [])];
  const out: Record<string, unknown> = {};
  for (const k of keys) if (e[k] !== undefined) out[k] = e[k];
  return out;
}

/** Reads all extended attributes below `root` with one getfattr call: path → name → value (UTF-8). */
async function readXattrs(root: string): Promise<Map<string, Record<string, string>>> {
  const out = await new Promise<string>((resolve, reject) =>
    execFile('getfattr', ['-R', '-P', '-d', '-m', '-', '-e', 'base64', '--absolute-names', root], { maxBuffer: 64 * 1024 * 1024, encoding: 'latin1' }, (err, stdout, stderr) => {
      // getfattr exits 1 when some entry (a symlink) has no xattr support; the dump is still complete.
      if (err && !stdout && stderr.trim()) reject(new Error(stderr));
      else resolve(stdout);
    }),
  );
  const map = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const line of out.split('\n')) {
    if (line.startsWith('# file: ')) {
      const p = line.slice(8).replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
      current = {};
      map.set(Buffer.from(p, 'latin1').toString('utf8'), current);
    } else if (current && line.includes('=')) {
      const i = line.indexOf('=');
      const v = line.slice(i + 1);
      current[line.slice(0, i)] = v.startsWith('0s') ? Buffer.from(v.slice(2), 'base64').toString('utf8') : v.replace(/^"|"$/g, '');
    }
  }
  return map;
}

/** Describes every entry below `root` (not root itself), keyed by relative path. */
export async function treeManifest(root: string, opts: { xattrs?: boolean } = {}): Promise<Map<string, TreeManifestEntry>> {
  const out = new Map<string, TreeManifestEntry>();
  const inodes = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await fs.readdir(dir)).sort()) {
      const p = path.join(dir, name);
      const rel = path.relative(root, p);
      const st = await fs.lstat(p, { bigint: true });
      const type: TreeManifestEntry['type'] = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : st.isSocket() ? 'socket' : st.isCharacterDevice() ? 'chardev' : 'blockdev';
      const e: TreeManifestEntry = { path: rel, type, mode: (Number(st.mode) & 0o7777).toString(8).padStart(4, '0'), mtime_unix_ns: st.mtimeNs.toString(), uid: Number(st.uid), gid: Number(st.gid) };
      if (type === 'file') {
        e.size = Number(st.size);
        e.sha256 = createHash('sha256').update(await fs.readFile(p)).digest('hex');
        e.nlink = Number(st.nlink);
        if (e.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          if (!inodes.has(key)) inodes.set(key, rel);
          e.hardlink_group = inodes.get(key);
        }
      }
      if (type === 'symlink') e.target = await fs.readlink(p);
      out.set(rel, e);
      if (type === 'dir') await walk(p);
    }
  };
  await walk(root);
  if (opts.xattrs !== false) {
    for (const [abs, attrs] of await readXattrs(root)) {
      const e = out.get(path.relative(root, abs));
      if (e && Object.keys(attrs).length > 0) e.xattrs = attrs;
    }
  }
  return out;
}

/** Asserts-friendly form: sorted list of comparable entries. */
export function manifestList(m: Map<string, TreeManifestEntry> | TreeManifestEntry[], opts: { owners?: boolean } = {}): Record<string, unknown>[] {
  const list = Array.isArray(m) ? m : [...m.values()];
  return list.map((e) => comparable(e as unknown as Record<string, unknown>, opts)).sort((a, b) => String(a.path).localeCompare(String(b.path)));
}
