// diffTrees against the real restic's `diff --json`, on the shared fixture and
// on hand-built snapshots (type changes, bitrot, whole folders added and
// removed, data moved into an unchanged folder), and proof that identical
// subtrees are never loaded.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { diffTrees, type DiffChange, type DiffOptions, type DiffRepository } from '../../../src/engine/diff.js';
import type { Tree } from '../../../src/repo/node.js';
import type { Repository } from '../../../src/repo/repository.js';
import { expected, fixturePassword } from '../../helpers/fixture.js';
import { copyFixtureRepo, makeNode, newScratchRepo, openFixtureCopy } from '../../helpers/scratchRepo.js';

let work = '';
let fixtureDir = '';
let fixture: Repository;
const [snap1, snap2] = expected.snapshots as { id: string; short_id: string; tree: string }[];
before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-diff-'));
  fixtureDir = await copyFixtureRepo(path.join(work, 'fixture'));
  fixture = await openFixtureCopy(fixtureDir);
  await fixture.loadIndex();
});
after(async () => {
  await fixture.close();
  await fs.rm(work, { recursive: true, force: true });
});

/** `restic diff --json` lines: the changes and the statistics. */
function resticDiff(dir: string, password: string, a: string, b: string, extra: string[] = []): Promise<{ changes: { path: string; modifier: string }[]; stats: Record<string, unknown> }> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, RESTIC_PASSWORD: password, RESTIC_REPOSITORY: dir };
  return new Promise((resolve, reject) => {
    execFile('restic', ['--no-cache', '--no-lock', 'diff', '--json', ...extra, a, b], { env }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`restic diff failed: ${stderr}`));
      const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({
        changes: lines.filter((l) => l.message_type === 'change').map((l) => ({ path: l.path as string, modifier: l.modifier as string })),
        stats: lines.find((l) => l.message_type === 'statistics')!,
      });
    });
  });
}

async function cairnDiff(repo: DiffRepository, a: string, b: string, opts: DiffOptions = {}) {
  const changes: { path: string; modifier: string }[] = [];
  const summary = await diffTrees(repo, a, b, { ...opts, onChange: (c: DiffChange) => changes.push({ path: c.path, modifier: c.modifier }) });
  return { changes, summary };
}

/** restic's statistics fields out of a cairn summary. */
function asRestic(s: Awaited<ReturnType<typeof cairnDiff>>['summary']) {
  return { changed_files: s.changed_files, added: s.added, removed: s.removed };
}

for (const metadata of [false, true]) {
  test(`the fixture's two snapshots differ exactly as restic diff${metadata ? ' --metadata' : ''} says, changes and statistics`, async () => {
    const restic = await resticDiff(fixtureDir, fixturePassword, snap1!.short_id, snap2!.short_id, metadata ? ['--metadata'] : []);
    const cairn = await cairnDiff(fixture, snap1!.tree, snap2!.tree, { metadata });
    assert.deepEqual(cairn.changes, restic.changes);
    const { message_type: _m, source_snapshot: _s, target_snapshot: _t, ...stats } = restic.stats;
    assert.deepEqual(asRestic(cairn.summary), stats);
  });
}

test('the reverse diff swaps additions and removals', async () => {
  const restic = await resticDiff(fixtureDir, fixturePassword, snap2!.short_id, snap1!.short_id);
  const cairn = await cairnDiff(fixture, snap2!.tree, snap1!.tree);
  assert.deepEqual(cairn.changes, restic.changes);
  assert.deepEqual(cairn.changes.filter((c) => c.modifier === '-').map((c) => c.path), ['/notes/added.txt']);
});

test('folders with the same tree on both sides are skipped without loading them', async () => {
  const loaded: string[] = [];
  const counting: DiffRepository = {
    index: fixture.index,
    loadTree: (id: string): Promise<Tree> => {
      loaded.push(id);
      return fixture.loadTree(id);
    },
  };
  const t1 = await fixture.loadTree(snap1!.tree);
  const t2 = await fixture.loadTree(snap2!.tree);
  const unchanged = t1.nodes.filter((n) => n.type === 'dir' && t2.nodes.some((m) => m.name === n.name && m.subtree === n.subtree)).map((n) => n.subtree!);
  assert.ok(unchanged.length > 0, 'the fixture has folders that did not change');
  await cairnDiff(counting, snap1!.tree, snap2!.tree, { metadata: true });
  for (const id of unchanged) assert.ok(!loaded.includes(id), `unchanged tree ${id.slice(0, 8)} was not loaded`);
  loaded.length = 0;
  const same = await cairnDiff(counting, snap1!.tree, snap1!.tree);
  assert.deepEqual(same.changes, []);
  assert.equal(loaded.length, 0, 'a snapshot compared with itself loads nothing');
});

test('file sizes in and out add up to the change in total file size', async () => {
  const { summary } = await cairnDiff(fixture, snap1!.tree, snap2!.tree);
  const total = (manifest: { type: string; size?: number }[]) => manifest.filter((e) => e.type === 'file').reduce((s, e) => s + (e.size ?? 0), 0);
  const before = total(expected.manifest['source.tar']);
  const after = total(expected.manifest['source-2.tar']);
  // the fixture has one hard-linked file: both names count, as in a restore
  assert.equal(summary.logical_added - summary.logical_removed, after - before);
});

test('type changes, bitrot, whole folders and data moved into an unchanged folder are reported as restic reports them', async () => {
  const dir = path.join(work, 'handmade');
  const repo = await newScratchRepo(dir);
  const blob = async (text: string) => (await repo.saveBlob('data', Buffer.from(text))).id;
  const [x, y, z, big] = [await blob('x contents\n'), await blob('y contents\n'), await blob('z contents!\n'), await blob('a larger file that moves around\n'.repeat(20))];
  const file = (name: string, content: string[], extra = {}) => makeNode(name, 'file', { content, size: content.length * 11, ...extra });
  const keep = (await repo.saveTree([file('k1', [x]), file('k2', [big])])).id;
  const gone = (await repo.saveTree([file('g1', [y]), makeNode('sub', 'dir', { subtree: (await repo.saveTree([file('g2', [z])])).id })])).id;
  const fresh = (await repo.saveTree([file('n1', [z]), file('n2', [z, x])])).id;
  const rootA = (await repo.saveTree([
    makeNode('keep', 'dir', { subtree: keep }),
    makeNode('gone', 'dir', { subtree: gone }),
    file('becomes-link', [y]),
    file('rotten', [x]),
    file('touched', [y], { mode: 0o600 }),
    file('moved', [big]),
  ])).id;
  const rootB = (await repo.saveTree([
    makeNode('becomes-link', 'symlink', { linktarget: 'rotten' }),
    makeNode('fresh', 'dir', { subtree: fresh }),
    makeNode('keep', 'dir', { subtree: keep }),
    file('rotten', [y], { mtime: '2024-06-01T00:00:00Z' }),
    file('touched', [y], { mode: 0o644 }),
  ])).id;
  await repo.flush();
  const a = await repo.saveSnapshot({ time: '2024-01-01T00:00:00Z', tree: rootA, paths: ['/h'] });
  const b = await repo.saveSnapshot({ time: '2024-01-02T00:00:00Z', tree: rootB, paths: ['/h'] });
  await repo.loadIndex();
  for (const metadata of [false, true]) {
    const restic = await resticDiff(dir, 'scratch', a, b, metadata ? ['--metadata'] : []);
    const cairn = await cairnDiff(repo, rootA, rootB, { metadata, exactBlobStats: true });
    assert.deepEqual(cairn.changes, restic.changes, `changes${metadata ? ' with --metadata' : ''}`);
    const { message_type: _m, source_snapshot: _s, target_snapshot: _t, ...stats } = restic.stats;
    assert.deepEqual(asRestic(cairn.summary), stats, 'exact statistics');
  }
  const restic14 = (await resticDiff(dir, 'scratch', a, b)).changes;
  assert.ok(restic14.some((c) => c.path === '/becomes-link' && c.modifier === 'T'), 'file → symlink is a type change');
  assert.ok(restic14.some((c) => c.path === '/gone/sub/g2' && c.modifier === '-'), 'a removed folder lists its contents');
  // Without loading unchanged folders the moved file's blob (still in /keep) counts as removed.
  const quick = await cairnDiff(repo, rootA, rootB);
  const exact = await cairnDiff(repo, rootA, rootB, { exactBlobStats: true });
  assert.deepEqual(quick.changes, exact.changes);
  assert.equal(quick.summary.removed.data_blobs, exact.summary.removed.data_blobs + 1);
  await repo.close();
});

test('a file whose content changed while every other field stayed equal is flagged as probable bitrot', async () => {
  const dir = path.join(work, 'bitrot');
  const repo = await newScratchRepo(dir);
  const one = (await repo.saveBlob('data', Buffer.from('one'))).id;
  const two = (await repo.saveBlob('data', Buffer.from('two'))).id;
  const t1 = (await repo.saveTree([makeNode('f', 'file', { content: [one], size: 3 })])).id;
  const t2 = (await repo.saveTree([makeNode('f', 'file', { content: [two], size: 3 })])).id;
  const t3 = (await repo.saveTree([makeNode('f', 'file', { content: [two], size: 3, mtime: '2025-01-01T00:00:00Z' })])).id;
  await repo.flush();
  assert.deepEqual((await cairnDiff(repo, t1, t2)).changes, [{ path: '/f', modifier: 'M?' }]);
  assert.deepEqual((await cairnDiff(repo, t1, t3)).changes, [{ path: '/f', modifier: 'M' }]);
  await repo.close();
});
