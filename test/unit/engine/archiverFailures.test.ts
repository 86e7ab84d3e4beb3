import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalBackend } from '../../../src/backend/local.js';
import { FaultBackend } from '../../../src/backend/faults.js';
import { Repository } from '../../../src/repo/repository.js';
import { backupPaths } from '../../../src/engine/backup.js';
import { formatPolynomial, randomPolynomial } from '../../../src/chunker/polynomial.js';

test('a repository that cannot store a pack ends the backup with that error; no file is reported as unreadable and no snapshot is written', async () => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-archfail-'));
  try {
    const src = path.join(tmp, 'src');
    await fs.mkdir(src);
    for (let i = 0; i < 5; i++) await fs.writeFile(path.join(src, `f${i}.bin`), Buffer.alloc(3 * 1024 * 1024, i + 1));
    const local = new LocalBackend(path.join(tmp, 'repo'));
    await Repository.init(local, 'pw', { newPolynomial: () => formatPolynomial(randomPolynomial()), kdf: { N: 1024, r: 8, p: 1 } });
    // every pack upload fails (a disk that is full, a server that refuses)
    const faulty = new FaultBackend(local, [{ action: 'fail', ops: ['write'], match: (h) => h.type === 'pack' }]);
    const repo = await Repository.open(faulty, 'pw');
    repo.setWriteOptions({ packSize: 1024 * 1024 });
    const unreadable: string[] = [];
    await assert.rejects(backupPaths(repo, [src], { onError: (p) => unreadable.push(p) }));
    assert.deepEqual(unreadable, [], 'storage failures are not blamed on the files');
    assert.deepEqual(await fs.readdir(path.join(tmp, 'repo', 'snapshots')), []);
    await repo.close();
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
});
