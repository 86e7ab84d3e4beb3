// The tree walker against `restic ls --json` of the shared fixture: same
// entries, same order, same types and sizes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalBackend } from '../../../src/backend/local.js';
import { CairnError } from '../../../src/errors.js';
import { Repository } from '../../../src/repo/repository.js';
import { findNode, joinTreePath, PrefetchingTreeLoader, splitTreePath, treeEntries, walkTree, type TreeLoader } from '../../../src/engine/treeWalker.js';
import type { Tree } from '../../../src/repo/node.js';
import { expected, fixturePassword, fixtureRepo } from '../../helpers/fixture.js';

let repo: Repository;
before(async () => {
  repo = await Repository.open(new LocalBackend(fixtureRepo), fixturePassword);
  await repo.loadIndex();
});
after(async () => {
  await repo.close();
});

interface LsLine {
  struct_type: string;
  path?: string;
  type?: string;
  size?: number;
  name?: string;
}

for (const snap of expected.snapshots as { id: string; short_id: string; tree: string }[]) {
  const ls = (expected.restic_ls_json[snap.id] as LsLine[]).filter((l) => l.struct_type === 'node');

  test(`walkTree visits snapshot ${snap.short_id} depth-first in name order, exactly as restic ls lists it`, async () => {
    const seen: [string, string, number | undefined][] = [];
    await walkTree(repo, snap.tree, (p, node) => {
      seen.push([p, node.type, node.type === 'file' ? (node.size ?? 0) : undefined]);
    });
    assert.deepEqual(
      seen,
      ls.map((l) => [l.path!, l.type!, l.type === 'file' ? (l.size ?? 0) : undefined]),
    );
  });

  test(`treeEntries streams the same entries for snapshot ${snap.short_id}, with depths`, async () => {
    const out: string[] = [];
    for await (const e of treeEntries(repo, snap.tree)) {
      assert.equal(e.depth, e.path.split('/').length - 1);
      out.push(e.path);
    }
    assert.deepEqual(out, ls.map((l) => l.path!));
  });
}

test('returning false for a directory skips its contents', async () => {
  const snap = expected.snapshots[0] as { id: string; tree: string };
  const seen: string[] = [];
  await walkTree(repo, snap.tree, (p, node) => {
    seen.push(p);
    return !(node.type === 'dir' && p === '/notes');
  });
  assert.ok(seen.includes('/notes'));
  assert.ok(!seen.some((p) => p.startsWith('/notes/')));
  assert.ok(seen.includes('/shared-tmp'));
});

test('findNode resolves a folder to its subtree, a file to its node, and a missing path to undefined', async () => {
  const snap = expected.snapshots[0] as { tree: string };
  const dir = await findNode(repo, snap.tree, '/notes/deep/');
  assert.equal(dir?.node?.name, 'deep');
  assert.equal(dir?.treeId, dir?.node?.subtree);
  const file = await findNode(repo, snap.tree, 'notes/deep/nested/leaf.txt');
  assert.equal(file?.node?.type, 'file');
  assert.equal(file?.treeId, undefined);
  assert.deepEqual(await findNode(repo, snap.tree, '/'), { treeId: snap.tree });
  assert.equal(await findNode(repo, snap.tree, '/notes/nope'), undefined);
  assert.equal(await findNode(repo, snap.tree, '/README.txt/below-a-file'), undefined);
});

test('paths are joined and split like restic prints them; ".." is refused', () => {
  assert.equal(joinTreePath('/', 'a'), '/a');
  assert.equal(joinTreePath('/a', 'b'), '/a/b');
  assert.deepEqual(splitTreePath('/a//b/./c/'), ['a', 'b', 'c']);
  assert.throws(() => splitTreePath('/a/../b'), (e: unknown) => e instanceof CairnError && e.code === 'bad-path');
});

test('walking loads subfolders ahead in parallel (bounded), with the same result; a bad tree fails where it is met', async () => {
  const snap = expected.snapshots[1] as { tree: string };
  let active = 0;
  let peak = 0;
  const loads: string[] = [];
  const broken = new Set<string>();
  const slow: TreeLoader = {
    async loadTree(id: string): Promise<Tree> {
      loads.push(id);
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 20));
      active--;
      if (broken.has(id)) throw new Error(`tree ${id} is broken`);
      return repo.loadTree(id);
    },
  };
  const plain: string[] = [];
  await walkTree(repo, snap.tree, (p) => void plain.push(p));
  const fast: string[] = [];
  await walkTree(new PrefetchingTreeLoader(slow, 3), snap.tree, (p) => void fast.push(p));
  assert.deepEqual(fast, plain);
  assert.ok(peak > 1 && peak <= 3, `peak concurrency ${peak}`);

  const notes = await findNode(repo, snap.tree, '/notes');
  broken.add(notes!.treeId!);
  const seen: string[] = [];
  await assert.rejects(
    walkTree(new PrefetchingTreeLoader(slow, 3), snap.tree, (p) => void seen.push(p)),
    /is broken/,
  );
  assert.equal(seen[seen.length - 1], '/notes');
});
