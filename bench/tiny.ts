// The `--case tiny` data set: many tiny files (default 200,000 of 0–1 KiB, 100 per folder), for
// per-file overhead (metadata, tree building, change detection). The mutation rewrites 1% of the
// files, adds 0.5% and deletes 0.5%.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchDataSet, DataSetInfo, MutationInfo } from './benchCase.js';
import { walk } from './files.js';
import { SeededRandom } from './random.js';
import { textBuffer } from './text.js';

function content(r: SeededRandom): Buffer {
  const size = r.int(0, 1024);
  return r.float() < 0.5 ? textBuffer('code', r, size) : r.bytes(size);
}

/** `files` tiny files under root; `size` is ignored (the file count is what matters). */
export function tinyDataSet(files: number): BenchDataSet {
  return {
    generate(root: string, _size: number, seed: string): DataSetInfo {
      const r = SeededRandom.derive(seed, 'tiny');
      let bytes = 0;
      let dir = '';
      for (let i = 0; i < files; i++) {
        if (i % 100 === 0) {
          dir = path.join(root, `d${String(Math.floor(i / 5000)).padStart(3, '0')}`, `d${String(Math.floor(i / 100) % 50).padStart(2, '0')}`);
          mkdirSync(dir, { recursive: true });
        }
        const b = content(r);
        writeFileSync(path.join(dir, `f${String(i).padStart(6, '0')}.dat`), b);
        bytes += b.length;
      }
      return { root, files, bytes, composition: { 'tiny files (0–1 KiB)': { files, bytes } } };
    },
    mutate(root: string, _size: number, seed: string): MutationInfo {
      const r = SeededRandom.derive(seed, 'tiny', 'mutate');
      const all = walk(root).filter((e) => e.kind === 'file');
      const info: MutationInfo = { modified: 0, appended: 0, added: 0, deleted: 0, bytesWritten: 0 };
      const picked = r.sample(all, Math.round(all.length * 0.015));
      const nRewrite = Math.round(all.length * 0.01);
      picked.forEach((e, i) => {
        const p = path.join(root, e.rel);
        if (i < nRewrite) {
          const b = content(r);
          writeFileSync(p, b);
          info.bytesWritten += b.length;
          info.modified++;
        } else {
          rmSync(p);
          info.deleted++;
        }
      });
      const dirs = [...new Set(all.map((e) => path.posix.dirname(e.rel)))];
      for (let i = 0; i < Math.round(all.length * 0.005); i++) {
        const b = content(r);
        writeFileSync(path.join(root, r.pick(dirs), `new-${i}.dat`), b);
        info.bytesWritten += b.length;
        info.added++;
      }
      return info;
    },
  };
}
