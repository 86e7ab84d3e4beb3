// The default bench data set, shaped like a homelab's files (the mix the issue "Faster than restic"
// asks for): ~40% incompressible binaries of 1–200 MiB, ~30% text (logs, JSON lines, SQL dumps, CSV),
// 15% duplicated content (exact copies, and one big file that is another with a few bytes changed),
// and 20,000 small files of 0–16 KiB in nested folders per 2 GiB. The small files take what they take
// (~8 KiB each); the rest of the size goes to binaries and text at 40:30.
import { closeSync, copyFileSync, mkdirSync, openSync, readSync, rmSync, symlinkSync, writeFileSync, writeSync, statSync } from 'node:fs';
import path from 'node:path';
import type { BenchDataSet, DataSetInfo, MutationInfo, Share } from './benchCase.js';
import { walk, writeFileWith } from './files.js';
import { SeededRandom } from './random.js';
import { generateText, textBuffer, textExtension, type TextKind } from './text.js';

const MiB = 1024 * 1024;
const twoGiB = 2 * 1024 * MiB;
const binaryExts = ['mp4', 'mkv', 'jpg', 'zip', 'tar.zst', 'iso', 'qcow2', 'flac'];
const textKinds: TextKind[] = ['log', 'log', 'log', 'log', 'jsonl', 'jsonl', 'sql', 'sql', 'csv', 'csv'];
const textDir: Record<TextKind, string> = { log: 'logs', jsonl: 'logs', sql: 'db', csv: 'exports', code: 'projects' };

/** Number of small files for a data set of `size` bytes: 20,000 per 2 GiB, at least 50. */
export function smallFileCount(size: number): number {
  return Math.max(50, Math.round((20000 * size) / twoGiB));
}

function randomFile(file: string, r: SeededRandom, size: number): void {
  writeFileWith(file, (write) => {
    for (let left = size; left > 0; left -= 4 * MiB) write(r.bytes(Math.min(left, 4 * MiB)));
  });
}

/** A copy of `src` at `dst` with `changes` single bytes flipped at random offsets. */
function nearCopy(src: string, dst: string, r: SeededRandom, changes: number): void {
  mkdirSync(path.dirname(dst), { recursive: true });
  copyFileSync(src, dst);
  const size = statSync(dst).size;
  const fd = openSync(dst, 'r+');
  try {
    for (let i = 0; i < changes && size > 0; i++) {
      const off = Math.floor(r.float() * size);
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, off);
      b[0] = b[0]! ^ (1 + r.int(0, 254));
      writeSync(fd, b, 0, 1, off);
    }
  } finally {
    closeSync(fd);
  }
}

function smallContent(r: SeededRandom, size: number): Buffer {
  const k = r.float();
  if (k < 0.5) return textBuffer('code', r, size);
  if (k < 0.75) return r.bytes(size);
  return textBuffer(r.float() < 0.5 ? 'jsonl' : 'log', r, size);
}

/** The small-file tree: projects/<p>/<d>/<d>/... with `count` files of 0–16 KiB, a few symlinks and empty folders. */
function smallFiles(root: string, r: SeededRandom, count: number): Share {
  const dirs: string[] = [];
  const projects = Math.max(2, Math.round(count / 1000));
  for (let p = 0; p < projects; p++) dirs.push(`projects/project-${String(p).padStart(3, '0')}`);
  const nDirs = Math.max(projects + 1, Math.round(count / 25));
  while (dirs.length < nDirs) {
    const parent = r.pick(dirs);
    if (parent.split('/').length >= 6) continue;
    dirs.push(`${parent}/${r.pick(['src', 'lib', 'docs', 'test', 'assets', 'config', 'data', 'notes', 'build', 'vendor'])}-${dirs.length}`);
  }
  let bytes = 0;
  for (const d of dirs) mkdirSync(path.join(root, d), { recursive: true });
  for (let i = 0; i < count; i++) {
    const size = r.int(0, 16 * 1024);
    const ext = r.pick(['ts', 'md', 'json', 'yaml', 'txt', 'png', 'conf', 'html']);
    writeFileSync(path.join(root, r.pick(dirs), `file-${String(i).padStart(5, '0')}.${ext}`), smallContent(r, size));
    bytes += size;
  }
  for (let i = 0; i < Math.max(1, Math.round(count / 2000)); i++) {
    const d = r.pick(dirs);
    symlinkSync(`../${path.basename(d)}`, path.join(root, d, `link-${i}`));
    mkdirSync(path.join(root, r.pick(dirs), `empty-${i}`), { recursive: true });
  }
  return { files: count, bytes };
}

function generate(root: string, size: number, seed: string): DataSetInfo {
  const r = SeededRandom.derive(seed, 'default');
  const composition: Record<string, Share> = {};
  const add = (k: string, bytes: number): void => {
    const s = (composition[k] ??= { files: 0, bytes: 0 });
    s.files++;
    s.bytes += bytes;
  };

  const small = smallFiles(root, SeededRandom.derive(seed, 'default', 'small'), smallFileCount(size));
  composition['small files (0–16 KiB)'] = small;
  const dupBudget = Math.floor(size * 0.15);
  const rest = Math.max(0, size - small.bytes - dupBudget);
  const binBudget = Math.floor((rest * 40) / 70);
  const textBudget = rest - binBudget;

  const binaries: { rel: string; size: number }[] = [];
  const maxBin = Math.max(1, Math.min(200 * MiB, Math.floor(binBudget / 3)));
  const minBin = Math.min(MiB, maxBin);
  for (let left = binBudget, i = 0; left > 0; i++) {
    const s = Math.min(left, r.logInt(minBin, maxBin));
    const rel = `media/${r.pick(['videos', 'photos', 'isos', 'vm-images', 'music', 'archives'])}/blob-${String(i).padStart(3, '0')}.${r.pick(binaryExts)}`;
    randomFile(path.join(root, rel), SeededRandom.derive(seed, 'default', 'bin', i), s);
    binaries.push({ rel, size: s });
    add('binaries (1–200 MiB, incompressible)', s);
    left -= s;
  }

  const texts: { rel: string; size: number }[] = [];
  const maxText = Math.max(1, Math.min(64 * MiB, Math.floor(textBudget / 4)));
  for (let left = textBudget, i = 0; left > 0; i++) {
    const kind = r.pick(textKinds);
    const s = Math.min(left, r.logInt(Math.min(256 * 1024, maxText), maxText));
    const rel = `${textDir[kind]}/${r.pick(services)}-${String(i).padStart(3, '0')}.${textExtension[kind]}`;
    const tr = SeededRandom.derive(seed, 'default', 'text', i);
    writeFileWith(path.join(root, rel), (write) => generateText(kind, tr, s, write));
    texts.push({ rel, size: s });
    add('text (logs, JSON lines, SQL, CSV)', s);
    left -= s;
  }

  // Duplicates: one big near-copy (a few bytes changed), then exact copies until the budget is used.
  let dupLeft = dupBudget;
  const bigs = binaries.filter((b) => b.size <= dupBudget * 0.6).sort((a, b) => b.size - a.size);
  const big = bigs[0];
  if (big) {
    const rel = `archive/${path.basename(big.rel).replace(/\./, '-edited.')}`;
    nearCopy(path.join(root, big.rel), path.join(root, rel), SeededRandom.derive(seed, 'default', 'near'), 5);
    add('duplicates: big file with 5 bytes changed', big.size);
    dupLeft -= big.size;
  }
  const candidates = r.sample([...binaries, ...texts], binaries.length + texts.length);
  for (const c of candidates) {
    if (c.size > dupLeft) continue;
    const rel = `copies/${c.rel}`;
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    copyFileSync(path.join(root, c.rel), path.join(root, rel));
    add('duplicates: exact copies', c.size);
    dupLeft -= c.size;
  }
  if (dupLeft > 0) {
    // Fill the rest with a copied slice of one binary (a file that shares its start with another).
    const src = binaries.find((b) => b.size >= dupLeft) ?? binaries[0];
    if (src) {
      const n = Math.min(dupLeft, src.size);
      const rel = `copies/partial-${path.basename(src.rel)}`;
      const fd = openSync(path.join(root, src.rel), 'r');
      try {
        writeFileWith(path.join(root, rel), (write) => {
          for (let off = 0; off < n; off += 4 * MiB) {
            const b = Buffer.alloc(Math.min(4 * MiB, n - off));
            readSync(fd, b, 0, b.length, off);
            write(b);
          }
        });
      } finally {
        closeSync(fd);
      }
      add('duplicates: exact copies', n);
    }
  }
  return summarize(root, composition);
}

const services = ['api', 'auth', 'billing', 'worker', 'gateway', 'storage', 'search', 'mailer', 'web', 'shop'];

function summarize(root: string, composition: Record<string, Share>): DataSetInfo {
  const files = walk(root).filter((e) => e.kind === 'file');
  return { root, files: files.length, bytes: files.reduce((a, e) => a + e.size, 0), composition };
}

/** Changes ~1% of the bytes: appends to logs, overwrites ranges in binaries, new files, rewritten and deleted small files. */
function mutate(root: string, size: number, seed: string): MutationInfo {
  const r = SeededRandom.derive(seed, 'default', 'mutate');
  const entries = walk(root).filter((e) => e.kind === 'file');
  const logs = entries.filter((e) => /^logs\/.*\.(log|jsonl)$/.test(e.rel));
  const bins = entries.filter((e) => e.rel.startsWith('media/'));
  const smalls = entries.filter((e) => e.rel.startsWith('projects/'));
  const texts = entries.filter((e) => /^(db|exports)\//.test(e.rel));
  const budget = Math.max(1, Math.floor(size * 0.01));
  const info: MutationInfo = { modified: 0, appended: 0, added: 0, deleted: 0, bytesWritten: 0 };

  // 30%: appended log lines, spread over up to 4 logs.
  const appendTo = r.sample(logs, 4);
  for (const e of appendTo) {
    const n = Math.floor((budget * 0.3) / appendTo.length);
    const kind: TextKind = e.rel.endsWith('.jsonl') ? 'jsonl' : 'log';
    info.bytesWritten += writeFileWith(path.join(root, e.rel), (write) => generateText(kind, r, n, write, { startMs: Date.UTC(2026, 0, 1), header: false }), 'a');
    info.appended++;
  }

  // 20%: ranges of 4–64 KiB overwritten in place in up to 3 binaries.
  const modify = r.sample(bins.filter((e) => e.size > 0), 3);
  for (const e of modify) {
    const fd = openSync(path.join(root, e.rel), 'r+');
    try {
      for (let left = Math.floor((budget * 0.2) / modify.length); left > 0; ) {
        const n = Math.min(left, r.int(4096, 64 * 1024), e.size);
        writeSync(fd, r.bytes(n), 0, n, Math.floor(r.float() * Math.max(1, e.size - n)));
        info.bytesWritten += n;
        left -= n;
      }
    } finally {
      closeSync(fd);
    }
    info.modified++;
  }

  // 10%: 0.5% of the small files rewritten with new content.
  const rewrite = r.sample(smalls, Math.max(1, Math.round(smalls.length * 0.005)));
  for (const e of rewrite) {
    const b = smallContent(r, r.int(0, 16 * 1024));
    writeFileSync(path.join(root, e.rel), b);
    info.bytesWritten += b.length;
    info.modified++;
  }

  // 40%: new files: 1% more small files, the rest as one new binary.
  const dirs = [...new Set(smalls.map((e) => path.posix.dirname(e.rel)))];
  let newBytes = 0;
  for (let i = 0; i < Math.max(1, Math.round(smalls.length * 0.01)); i++) {
    const b = smallContent(r, r.int(0, 16 * 1024));
    writeFileSync(path.join(root, dirs.length ? r.pick(dirs) : 'projects', `new-${i}.txt`), b);
    newBytes += b.length;
    info.added++;
  }
  const newBin = Math.max(0, Math.floor(budget * 0.4) - newBytes);
  if (newBin > 0) {
    randomFile(path.join(root, 'media/new/added-after-first-backup.bin'), r, newBin);
    info.added++;
  }
  info.bytesWritten += newBytes + newBin;

  // Deleted: 0.25% of the small files and the smallest SQL dump or CSV.
  for (const e of r.sample(smalls.filter((s) => !rewrite.includes(s)), Math.max(1, Math.round(smalls.length * 0.0025)))) {
    rmSync(path.join(root, e.rel));
    info.deleted++;
  }
  const smallest = texts.sort((a, b) => a.size - b.size)[0];
  if (smallest) {
    rmSync(path.join(root, smallest.rel));
    info.deleted++;
  }
  return info;
}

/** The default data set (see the top of this file). */
export const defaultDataSet: BenchDataSet = { generate, mutate };
