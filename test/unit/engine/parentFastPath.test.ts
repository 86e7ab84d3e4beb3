import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Backend, Handle } from '../../../src/backend/backend.js';
import { LocalBackend } from '../../../src/backend/local.js';
import { Repository } from '../../../src/repo/repository.js';
import { encodeLock } from '../../../src/repo/lockCodec.js';
import { encodeTree, treeIdOf } from '../../../src/repo/treeCodec.js';
import { backupPaths, programVersion } from '../../../src/engine/backup.js';
import { ParentTrees } from '../../../src/engine/parentTrees.js';
import { CairnError } from '../../../src/errors.js';
import { formatPolynomial, randomPolynomial } from '../../../src/chunker/polynomial.js';

interface Fixture {
  tmp: string;
  src: string;
  repo: Repository;
  backend: Backend;
}

/** A small tree: files at three depths, so "deep inside an unchanged tree" means something. */
async function fixture(wrap?: (b: Backend) => Backend): Promise<Fixture> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-parentfast-'));
  const src = path.join(tmp, 'src');
  for (const dir of ['a/b/c', 'a/d', 'e']) await fs.mkdir(path.join(src, dir), { recursive: true });
  for (const [i, f] of ['top.txt', 'a/one.txt', 'a/b/two.txt', 'a/b/c/deep.txt', 'a/d/other.txt', 'e/x.txt'].entries()) {
    await fs.writeFile(path.join(src, f), `file ${f} ${i}\n`.repeat(50));
  }
  await fs.symlink('a/one.txt', path.join(src, 'link'));
  const local = new LocalBackend(path.join(tmp, 'repo'));
  await Repository.init(local, 'pw', { newPolynomial: () => formatPolynomial(randomPolynomial()), kdf: { N: 1024, r: 8, p: 1 } });
  const backend = wrap ? wrap(local) : local;
  return { tmp, src, backend, repo: await Repository.open(backend, 'pw') };
}

async function cleanup(f: Fixture): Promise<void> {
  await f.repo.close();
  await fs.rm(f.tmp, { recursive: true, force: true });
}

/** The root tree id a backup without parent (every tree encoded afresh) gives for the same files. */
async function freshTree(f: Fixture): Promise<string> {
  return (await backupPaths(f.repo, [f.src], { force: true })).snapshot.tree;
}

/** Bumps a file's ctime (and nothing else observable) so the parent fast path must look at it again. */
async function sleepPastTimestampGranularity(): Promise<void> {
  await new Promise((r) => setTimeout(r, 20));
}

test('an unchanged backup reuses every tree of its parent and reads nothing', async () => {
  const f = await fixture();
  try {
    const first = await backupPaths(f.repo, [f.src]);
    const second = await backupPaths(f.repo, [f.src]);
    assert.equal(second.parent, first.snapshot.id);
    assert.equal(second.snapshot.tree, first.snapshot.tree);
    assert.equal(second.stats.treeBlobs, 0);
    assert.equal(second.stats.bytesRead, 0);
    assert.equal(second.stats.filesUnmodified, 7 - 1); // six files (the symlink is no file)
    assert.equal(second.stats.dirsNew + second.stats.dirsChanged, 0);
    assert.equal(await freshTree(f), first.snapshot.tree, 'the reused trees are the ones encoding gives');
  } finally {
    await cleanup(f);
  }
});

test('a folder whose mode changed gets a new tree, and so does every folder above it, equal to encoding afresh', async () => {
  const f = await fixture();
  try {
    const first = await backupPaths(f.repo, [f.src]);
    await fs.chmod(path.join(f.src, 'a/b/c'), 0o700);
    const second = await backupPaths(f.repo, [f.src]);
    assert.notEqual(second.snapshot.tree, first.snapshot.tree);
    assert.equal(second.stats.filesUnmodified, 6, 'no file is read for a folder mode change');
    assert.ok(second.stats.dirsChanged >= 3, `dirsChanged ${second.stats.dirsChanged}`);
    assert.equal(await freshTree(f), second.snapshot.tree);
  } finally {
    await cleanup(f);
  }
});

test('a folder whose mtime changed (an entry added and removed) gets a new tree equal to encoding afresh', async () => {
  const f = await fixture();
  try {
    const first = await backupPaths(f.repo, [f.src]);
    await sleepPastTimestampGranularity();
    await fs.writeFile(path.join(f.src, 'e/tmp'), 'x');
    await fs.rm(path.join(f.src, 'e/tmp'));
    const second = await backupPaths(f.repo, [f.src]);
    assert.notEqual(second.snapshot.tree, first.snapshot.tree);
    assert.equal(await freshTree(f), second.snapshot.tree);
  } finally {
    await cleanup(f);
  }
});

test('a file changed deep inside an otherwise unchanged tree is read again', async () => {
  const f = await fixture();
  try {
    const first = await backupPaths(f.repo, [f.src]);
    await sleepPastTimestampGranularity();
    const deep = path.join(f.src, 'a/b/c/deep.txt');
    const before = await fs.stat(deep);
    // same size, and the old mtime put back: only ctime tells that the content changed
    await fs.writeFile(deep, 'X'.repeat(before.size));
    await fs.utimes(deep, before.atime, before.mtime);
    const second = await backupPaths(f.repo, [f.src]);
    assert.equal(second.stats.filesChanged, 1);
    assert.equal(second.stats.filesUnmodified, 5);
    assert.equal(second.stats.bytesRead, before.size);
    assert.notEqual(second.snapshot.tree, first.snapshot.tree);
    assert.equal(await freshTree(f), second.snapshot.tree);
  } finally {
    await cleanup(f);
  }
});

test('a file whose blobs are missing from the index is read again, as restic does', async () => {
  const f = await fixture();
  try {
    await backupPaths(f.repo, [f.src]);
    // a second session whose index lacks the data blobs (as after a lost index file)
    const reopened = await Repository.open(f.backend, 'pw');
    await reopened.loadIndex();
    const onlyTrees = new Set([...reopened.index.packIds()].filter((p) => reopened.index.packBlobs(p)!.every((b) => b.type === 'tree')));
    for (const p of [...reopened.index.packIds()]) if (!onlyTrees.has(p)) reopened.index.removePack(p);
    const second = await backupPaths(reopened, [f.src]);
    assert.equal(second.stats.filesUnmodified, 0);
    assert.equal(second.stats.filesChanged, 6);
    await reopened.close();
  } finally {
    await cleanup(f);
  }
});

test('a parent written by another program has its trees checked by encoding before their ids are reused', async () => {
  const f = await fixture();
  try {
    const first = await backupPaths(f.repo, [f.src]);
    assert.equal(first.snapshot.program_version, programVersion);
    // a tree with the same entries, stored with other bytes (as another encoder might write it)
    const root = await f.repo.loadTree(first.snapshot.tree);
    const odd = Buffer.from(encodeTree(root.nodes).toString('utf8').replace('{"nodes":[', '{"nodes": ['));
    const oddId = (await f.repo.saveBlob('tree', odd)).id;
    await f.repo.flush();
    assert.notEqual(oddId, first.snapshot.tree);
    const trees = new ParentTrees(f.repo, false);
    const parsed = (await trees.get(oddId))!;
    assert.equal(trees.sameTree(root.nodes, parsed), false, 'same entries, but the stored bytes are not what encoding gives');
    const canonical = (await trees.get(first.snapshot.tree))!;
    assert.equal(trees.sameTree(root.nodes, canonical), true);
    assert.equal(treeIdOf(root.nodes), first.snapshot.tree);
    // trusted as canonical, a tree is taken by its entries alone; a changed entry still says no
    const trusting = new ParentTrees(f.repo, true);
    const changed = root.nodes.map((n, i) => (i === 0 ? { ...n, mode: (n.mode ?? 0) ^ 0o1 } : n));
    assert.equal(trusting.sameTree(changed, (await trusting.get(first.snapshot.tree))!), false);
    assert.equal(trusting.sameTree(root.nodes.slice(1), (await trusting.get(first.snapshot.tree))!), false);
  } finally {
    await cleanup(f);
  }
});

test('a lock taken by another process while ours is being confirmed stops the backup before anything is written', async () => {
  const f = await fixture();
  let intruder: string | undefined;
  const wrap = (inner: Backend): Backend =>
    new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop !== 'write') return Reflect.get(target, prop, receiver) as unknown;
        return async (h: Handle, data: Buffer) => {
          await target.write(h, data);
          // right after our lock file is written, someone else takes an exclusive lock (a prune)
          if (h.type === 'lock' && intruder === undefined) {
            intruder = '';
            intruder = await f.repo.saveJsonFile('lock', encodeLock({ time: new Date().toISOString(), exclusive: true, hostname: 'elsewhere', username: 'other', pid: 1 }));
          }
        };
      },
    });
  try {
    await backupPaths(f.repo, [f.src]);
    await fs.writeFile(path.join(f.src, 'a/b/c/new.bin'), Buffer.alloc(100_000, 7));
    const packsBefore = (await f.repo.listIds('pack')).length;
    const watched = await Repository.open(wrap(new LocalBackend(path.join(f.tmp, 'repo'))), 'pw');
    await assert.rejects(backupPaths(watched, [f.src]), (err: unknown) => err instanceof CairnError && err.code === 'locked');
    await watched.close();
    assert.equal((await f.repo.listIds('pack')).length, packsBefore, 'no pack written');
    assert.equal((await f.repo.listIds('snapshot')).length, 1);
    assert.deepEqual(await f.repo.listIds('lock'), [intruder], 'our own lock is gone');
  } finally {
    await cleanup(f);
  }
});
