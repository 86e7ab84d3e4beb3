// Many small files: past the first few, they are read, hashed, compressed and sealed on a
// worker thread in batches. What a user relies on: every file is stored as restic would
// store it (one blob, the same id), duplicates once, and the real restic reads it all back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FaultBackend } from '../../../src/backend/faults.js';
import { LocalBackend } from '../../../src/backend/local.js';
import { formatPolynomial, randomPolynomial } from '../../../src/chunker/polynomial.js';
import { backupPaths } from '../../../src/engine/backup.js';
import { Repository } from '../../../src/repo/repository.js';
import type { Node } from '../../../src/repo/node.js';
import { runRestic } from '../../helpers/cli.js';

const pw = 'small-files-pw';

/** Writes `count` small files in a few folders: text, random bytes, empty files and repeated contents. */
async function writeSmallFiles(root: string, count: number): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const dir = path.join(root, `d${i % 7}`);
    await fs.mkdir(dir, { recursive: true });
    let content: Buffer;
    if (i % 25 === 0) content = Buffer.alloc(0);
    else if (i % 10 === 0) content = Buffer.from('the same text in many files\n'.repeat(20));
    else if (i % 3 === 0) content = randomBytes(i % 1500);
    else content = Buffer.from(`file ${i}\n`.repeat(1 + (i % 90)));
    const p = path.join(dir, `f${i}.txt`);
    await fs.writeFile(p, content);
    files.set(p, content);
  }
  return files;
}

async function treeFiles(repo: Repository, treeId: string, dir: string, out: Map<string, Node>): Promise<void> {
  for (const n of (await repo.loadTree(treeId)).nodes) {
    const p = path.join(dir, n.name);
    if (n.type === 'dir') await treeFiles(repo, n.subtree!, p, out);
    else out.set(p, n);
  }
}

test('hundreds of small files are each stored as one blob named by its content, duplicates once, and restic checks and restores them byte for byte', async () => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-smallfiles-'));
  try {
    const src = path.join(tmp, 'src');
    const files = await writeSmallFiles(src, 400);
    const backend = new LocalBackend(path.join(tmp, 'repo'));
    await Repository.init(backend, pw, { newPolynomial: () => formatPolynomial(randomPolynomial()), kdf: { N: 1024, r: 8, p: 1 } });
    const repo = await Repository.open(backend, pw);
    let result;
    try {
      result = await backupPaths(repo, [src]);
      assert.deepEqual(result.errors, []);
      assert.equal(result.stats.filesNew, files.size);
      const distinct = new Set([...files.values()].filter((c) => c.length > 0).map((c) => c.toString('hex')));
      assert.equal(result.stats.dataBlobs, distinct.size, 'one blob per distinct non-empty content');
      const nodes = new Map<string, Node>();
      await treeFiles(repo, result.snapshot.tree, '/', nodes);
      for (const [p, content] of files) {
        const node = nodes.get(p);
        assert.ok(node, `${p} is in the snapshot`);
        assert.deepEqual(node.content, content.length === 0 ? [] : [createHash('sha256').update(content).digest('hex')], p);
        assert.equal(node.size ?? 0, content.length, p);
        if (content.length > 0) assert.deepEqual(await repo.loadBlob('data', node.content![0]!), content, p);
      }
    } finally {
      await repo.close();
    }
    const env = { RESTIC_PASSWORD: pw };
    const check = await runRestic(['-r', path.join(tmp, 'repo'), 'check', '--read-data'], env);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const target = path.join(tmp, 'restored');
    const restore = await runRestic(['-r', path.join(tmp, 'repo'), 'restore', result.snapshot.id, '--target', target], env);
    assert.equal(restore.code, 0, restore.stderr);
    for (const [p, content] of files) assert.deepEqual(await fs.readFile(path.join(target, p)), content, p);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
});

test('a repository that cannot store packs while small files are being read ends the backup with that error, blaming no file', async () => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-smallfiles-fail-'));
  try {
    const src = path.join(tmp, 'src');
    await writeSmallFiles(src, 600);
    const local = new LocalBackend(path.join(tmp, 'repo'));
    await Repository.init(local, pw, { newPolynomial: () => formatPolynomial(randomPolynomial()), kdf: { N: 1024, r: 8, p: 1 } });
    const faulty = new FaultBackend(local, [{ action: 'fail', ops: ['write'], match: (h) => h.type === 'pack' }]);
    const repo = await Repository.open(faulty, pw);
    repo.setWriteOptions({ packSize: 32 * 1024 }); // packs fill (and fail) while files are still being read
    const unreadable: string[] = [];
    try {
      await assert.rejects(backupPaths(repo, [src], { onError: (p) => unreadable.push(p) }));
    } finally {
      await repo.close().catch(() => {});
    }
    assert.deepEqual(unreadable, [], 'storage failures are not blamed on the files');
    assert.deepEqual(await fs.readdir(path.join(tmp, 'repo', 'snapshots')), []);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
});
