// The `--case bigfile` data set: one incompressible file (default 4 GiB), for raw throughput of
// chunking, hashing, encryption and writing. The mutation changes 8 ranges of 1 KiB, so the
// incremental backup must read the whole file again but stores only a few chunks.
import { closeSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { BenchDataSet, DataSetInfo, MutationInfo } from './benchCase.js';
import { writeFileWith } from './files.js';
import { SeededRandom } from './random.js';

const MiB = 1024 * 1024;

function generate(root: string, size: number, seed: string): DataSetInfo {
  const r = SeededRandom.derive(seed, 'bigfile');
  writeFileWith(path.join(root, 'big.bin'), (write) => {
    for (let left = size; left > 0; left -= 4 * MiB) write(r.bytes(Math.min(left, 4 * MiB)));
  });
  return { root, files: 1, bytes: size, composition: { 'one incompressible file': { files: 1, bytes: size } } };
}

function mutate(root: string, size: number, seed: string): MutationInfo {
  const r = SeededRandom.derive(seed, 'bigfile', 'mutate');
  const fd = openSync(path.join(root, 'big.bin'), 'r+');
  let written = 0;
  try {
    for (let i = 0; i < 8; i++) {
      const n = Math.min(1024, size);
      writeSync(fd, r.bytes(n), 0, n, Math.floor(r.float() * Math.max(1, size - n)));
      written += n;
    }
  } finally {
    closeSync(fd);
  }
  return { modified: 1, appended: 0, added: 0, deleted: 0, bytesWritten: written };
}

/** One big incompressible file. */
export const bigFileDataSet: BenchDataSet = { generate, mutate };
