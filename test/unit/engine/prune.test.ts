// prune: the plan as a pure function (restic's decisions on hand-made
// indexes), and the whole run on real repositories in temp directories —
// including a run stopped before each of its changes in turn, which must
// leave a repository that check accepts and that the next prune finishes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalBackend } from '../../../src/backend/local.js';
import { backupPaths } from '../../../src/engine/backup.js';
import { checkRepository } from '../../../src/engine/checker.js';
import { findUsedBlobs, preparePrune, pruneRepository, type PruneStep } from '../../../src/engine/prune.js';
import { blobKey, layoutNewPacks, maxUnusedBytes, parseMaxUnused, parseSize, planPrune, repackItems, type PrunePlanInput } from '../../../src/engine/prunePlan.js';
import { restoreSnapshot } from '../../../src/engine/restorer.js';
import { expectedPackSize, type PackedBlob } from '../../../src/repo/pack.js';
import { Repository } from '../../../src/repo/repository.js';
import { manifest, prng } from '../../helpers/treeGen.js';
import { newScratchRepo } from '../../helpers/scratchRepo.js';

// ---- the plan on hand-made indexes ----

let idCounter = 0;
/** A fresh 64-hex id. */
function newId(): string {
  return createHash('sha256').update(String(++idCounter)).digest('hex');
}

interface BlobSpec {
  id?: string;
  type?: 'data' | 'tree';
  length: number;
  compressed?: boolean;
}

/** A pack's blobs with contiguous offsets. */
function packOf(specs: BlobSpec[]): PackedBlob[] {
  let offset = 0;
  return specs.map((s) => {
    const b: PackedBlob = { id: s.id ?? newId(), type: s.type ?? 'data', offset, length: s.length };
    if (s.compressed !== false) b.uncompressedLength = s.length * 2;
    offset += s.length;
    return b;
  });
}

/** A plan input where every indexed pack exists with its right size. */
function inputOf(packs: PackedBlob[][], used: PackedBlob[], extraFiles: Record<string, number> = {}): PrunePlanInput & { ids: string[] } {
  const map = new Map<string, PackedBlob[]>();
  const files = new Map<string, number>();
  const ids: string[] = [];
  for (const blobs of packs) {
    const id = newId();
    ids.push(id);
    map.set(id, blobs);
    files.set(id, expectedPackSize(blobs));
  }
  for (const [id, size] of Object.entries(extraFiles)) files.set(id, size);
  return { packs: map, files, used: new Set(used.map((b) => blobKey(b.type, b.id))), repoVersion: 2, ids };
}

describe('the prune plan', () => {
  const big = 1024 * 1024; // large enough not to count as a small pack (16 MiB / 25)

  test('keeps fully used packs, deletes packs with no used blob and pack files no index lists', () => {
    const used = packOf([{ length: big }, { length: big }]);
    const unused = packOf([{ length: big }]);
    const input = inputOf([used, unused], used, { [newId()]: 5000 });
    const plan = planPrune(input);
    assert.deepEqual(plan.remove, [input.ids[1]]);
    assert.equal(plan.removeFirst.length, 1);
    assert.deepEqual(plan.repack, []);
    assert.equal(plan.stats.packs.keep, 1);
    assert.equal(plan.stats.size.unref, 5000);
    assert.equal(plan.prediction.packBytesDeleted, expectedPackSize(unused) + 5000);
    assert.equal(plan.prediction.packBytesWritten, 0);
    assert.equal(plan.prediction.packBytesAfter, expectedPackSize(used));
  });

  test('repacks a partly used data pack when the unused share is over --max-unused, and keeps it when under', () => {
    const mixedUse = packOf([{ length: big }, { length: big / 4 }]);
    const input = inputOf([mixedUse], [mixedUse[0]!]);
    const plan = planPrune(input); // 20% unused > 5%
    assert.deepEqual(plan.repack, [input.ids[0]]);
    assert.deepEqual([...plan.keepBlobs], [blobKey('data', mixedUse[0]!.id)]);
    assert.equal(plan.stats.size.repackrm, big / 4);
    // the new pack: the used blob, one header entry (41), seal overhead and length field
    assert.equal(plan.prediction.packBytesWritten, big + 41 + 32 + 4);
    const lenient = planPrune(input, { maxUnused: parseMaxUnused('30%') });
    assert.deepEqual(lenient.repack, []);
    assert.equal(lenient.stats.packs.keep, 1);
  });

  test('always repacks tree packs with unused blobs, whatever --max-unused says', () => {
    const trees = packOf([{ type: 'tree', length: big }, { type: 'tree', length: 100 }]);
    const input = inputOf([trees], [trees[0]!]);
    const plan = planPrune(input, { maxUnused: { kind: 'unlimited' } });
    assert.deepEqual(plan.repack, [input.ids[0]]);
  });

  test('repacks uncompressed tree packs in a v2 repository even when fully used', () => {
    const trees = packOf([{ type: 'tree', length: big, compressed: false }]);
    const input = inputOf([trees], trees);
    const plan = planPrune(input);
    assert.deepEqual(plan.repack, [input.ids[0]]);
    assert.ok(plan.mustCompress.has(input.ids[0]!));
    assert.deepEqual(planPrune({ ...input, repoVersion: 1 }).repack, []);
  });

  test('counts a blob stored twice as used in one pack only, so a pack holding just the second copy is deleted', () => {
    const shared = newId();
    const a = packOf([{ id: shared, length: big }, { length: big }]);
    const b = packOf([{ id: shared, length: big }]);
    const input = inputOf([a, b], [a[0]!, a[1]!]);
    const plan = planPrune(input);
    assert.equal(plan.stats.blobs.duplicate, 1);
    assert.deepEqual(plan.remove, [input.ids[1]]);
    assert.equal(plan.stats.packs.keep, 1);
  });

  test('--max-repack-size stops repacking before the limit', () => {
    const p1 = packOf([{ length: big }, { length: big }]);
    const p2 = packOf([{ length: big }, { length: big }]);
    const input = inputOf([p1, p2], [p1[0]!, p2[0]!]);
    assert.equal(planPrune(input).repack.length, 2);
    const limited = planPrune(input, { maxRepackBytes: parseSize('3M') });
    assert.equal(limited.repack.length, 1);
    assert.equal(limited.stats.packs.keep, 1);
  });

  test('repacks small fully used packs only when there are at least ten of them', () => {
    const few = Array.from({ length: 9 }, () => packOf([{ length: 1000 }]));
    assert.deepEqual(planPrune(inputOf(few, few.flat())).repack, []);
    const many = Array.from({ length: 10 }, () => packOf([{ length: 1000 }]));
    const plan = planPrune(inputOf(many, many.flat()));
    assert.equal(plan.repack.length, 10);
    // ten blobs of 1000 bytes go into one new pack
    assert.equal(plan.prediction.packFilesWritten, 1);
    assert.equal(plan.prediction.packBytesWritten, 10 * 1000 + 10 * 41 + 36);
  });

  test('drops missing packs that hold nothing used from the index, and refuses to run when a needed pack is missing', () => {
    const present = packOf([{ length: big }]);
    const gone = packOf([{ length: big }]);
    const input = inputOf([present, gone], present);
    input.files.delete(input.ids[1]!);
    const plan = planPrune(input);
    assert.deepEqual(plan.ignore, [input.ids[1]]);
    const needed = inputOf([present, gone], [...present, ...gone]);
    needed.files.delete(needed.ids[1]!);
    assert.throws(() => planPrune(needed), { code: 'packs-missing' });
  });

  test('refuses to run when a used blob is in no index, or a needed pack has another size than the index says', () => {
    const p = packOf([{ length: big }]);
    const orphan = packOf([{ length: 10 }])[0]!;
    assert.throws(() => planPrune(inputOf([p], [...p, orphan])), { code: 'index-incomplete' });
    const wrongSize = inputOf([p], p);
    wrongSize.files.set(wrongSize.ids[0]!, 12345);
    assert.throws(() => planPrune(wrongSize), { code: 'pack-size-mismatch' });
  });

  test('lays out new packs like the pack writer: finished at the target size, one open pack per type', () => {
    const d = packOf([{ length: 600 }, { length: 600 }, { length: 600 }]);
    const t = packOf([{ type: 'tree', length: 100 }]);
    const packs = new Map([
      ['a', d],
      ['b', t],
    ]);
    const keep = new Set([...d, ...t].map((b) => blobKey(b.type, b.id)));
    const layout = layoutNewPacks(repackItems(['a', 'b'], packs, keep), 1000);
    assert.deepEqual(
      layout.map((p) => p.map((i) => i.blob.length)),
      [[600, 600], [600], [100]],
    );
  });

  test('parses --max-unused and sizes like restic', () => {
    assert.deepEqual(parseMaxUnused('5%'), { kind: 'percent', percent: 5 });
    assert.deepEqual(parseMaxUnused('unlimited'), { kind: 'unlimited' });
    assert.deepEqual(parseMaxUnused('2G'), { kind: 'bytes', bytes: 2 * 1024 ** 3 });
    assert.throws(() => parseMaxUnused('100%'), { code: 'bad-max-unused' });
    assert.throws(() => parseMaxUnused('-1%'), { code: 'bad-max-unused' });
    assert.throws(() => parseMaxUnused(''), { code: 'bad-max-unused' });
    assert.equal(parseSize('500k'), 500 * 1024);
    assert.throws(() => parseSize('5 MB'), { code: 'bad-size' });
    // restic: p / (100 - p) * used
    assert.equal(maxUnusedBytes({ kind: 'percent', percent: 5 }, 1900), 100);
  });
});

// ---- whole runs on real repositories ----

/** Prune everything unused, into packs as small as the template's. */
const opts0 = { maxUnused: parseMaxUnused('0%'), packSize: 8 * 1024 };

let work = '';
const password = 'scratch';

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-prune-'));
});
after(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

/** Writes `count` files of pseudo-random bytes (deterministic for the seed) below `dir`. */
async function writeFiles(dir: string, seed: number, count: number, size: number): Promise<void> {
  const rnd = prng(seed);
  await fs.mkdir(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const buf = Buffer.alloc(Math.floor(size * (0.5 + rnd())));
    for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(rnd() * 256);
    await fs.mkdir(path.join(dir, `d${i % 3}`), { recursive: true });
    await fs.writeFile(path.join(dir, `d${i % 3}`, `f${seed}-${i}.bin`), buf);
  }
}

/** Sum of the sizes of the pack files of a local repository. */
async function packBytes(dir: string): Promise<number> {
  let total = 0;
  for (const sub of await fs.readdir(path.join(dir, 'data'))) {
    for (const f of await fs.readdir(path.join(dir, 'data', sub))) total += (await fs.stat(path.join(dir, 'data', sub, f))).size;
  }
  return total;
}

interface Template {
  dir: string;
  /** The snapshot that stays, and the manifest of what it backed up. */
  keptId: string;
  keptManifest: Awaited<ReturnType<typeof manifest>>;
  forgotten: string[];
}

/**
 * A repository with small packs (8 KiB) and three snapshots of a changing
 * folder; the first two are then forgotten, so a prune has packs to delete
 * (old trees), many packs to repack (every other file of the first round is
 * gone) and index files to replace.
 */
async function makeTemplate(name: string): Promise<Template> {
  const dir = path.join(work, name);
  const src = path.join(work, `${name}-src`);
  const repo = await newScratchRepo(dir, password);
  repo.setWriteOptions({ packSize: 8 * 1024, compression: 'off' });
  await writeFiles(src, 1, 36, 4000);
  const s1 = await backupPaths(repo, [src], { time: new Date('2024-01-01T00:00:00Z') });
  await writeFiles(src, 2, 36, 4000);
  const s2 = await backupPaths(repo, [src], { time: new Date('2024-01-02T00:00:00Z') });
  // Every other file of the first round goes, so many packs end up partly used.
  for (let i = 0; i < 36; i += 2) await fs.rm(path.join(src, `d${i % 3}`, `f1-${i}.bin`));
  await writeFiles(src, 3, 12, 4000);
  const s3 = await backupPaths(repo, [src], { time: new Date('2024-01-03T00:00:00Z') });
  const keptManifest = await manifest(src);
  for (const s of [s1, s2]) await repo.backend.remove({ type: 'snapshot', name: s.snapshot.id });
  await repo.close();
  await fs.rm(src, { recursive: true });
  return { dir, keptId: s3.snapshot.id, keptManifest, forgotten: [s1.snapshot.id, s2.snapshot.id] };
}

async function open(dir: string): Promise<Repository> {
  return Repository.open(new LocalBackend(dir), password);
}

/** Check errors of a repository, from a freshly opened handle. */
async function checkErrors(dir: string, readData = false): Promise<string[]> {
  const repo = await open(dir);
  try {
    const r = await checkRepository(repo, { readData });
    return r.errors.map((e) => e.message);
  } finally {
    await repo.close();
  }
}

describe('pruning a repository', () => {
  let template: Template;
  before(async () => {
    template = await makeTemplate('template');
  });

  test('finds every tree and data blob the snapshots use', async () => {
    const repo = await open(template.dir);
    try {
      await repo.loadIndex();
      const snap = await repo.loadSnapshot(template.keptId);
      const used = await findUsedBlobs(repo, [snap.tree]);
      assert.ok(used.has(blobKey('tree', snap.tree)));
      const tree = await repo.loadTree(snap.tree);
      assert.ok(tree.nodes.length > 0);
      const usedData = [...used].filter((k) => k.startsWith('d')).length;
      assert.ok(usedData > 20, `${usedData} data blobs`);
    } finally {
      await repo.close();
    }
  });

  test('frees exactly the predicted pack bytes, and the kept snapshot still checks and restores', async () => {
    const dir = path.join(work, 'full');
    await fs.cp(template.dir, dir, { recursive: true });
    const before = await packBytes(dir);
    const repo = await open(dir);
    const dry = await pruneRepository(repo, { dryRun: true, ...opts0 });
    assert.equal(await packBytes(dir), before, 'a dry run changes nothing');
    const p = dry.plan.prediction;
    assert.equal(p.packBytesBefore, before);
    assert.ok(dry.plan.remove.length > 0 && dry.plan.repack.length > 0, 'the template has packs to delete and to repack');
    const run = await pruneRepository(repo, { ...opts0 });
    await repo.close();
    const after = await packBytes(dir);
    assert.equal(after, p.packBytesAfter, `predicted ${p.packBytesAfter}, found ${after}`);
    assert.equal(run.result!.packBytesDeleted - run.result!.packBytesWritten, before - after);
    assert.deepEqual(await checkErrors(dir, true), []);

    const again = await open(dir);
    const second = await preparePrune(again, { ...opts0 });
    assert.equal(second.plan.stats.size.unused, 0, 'nothing unused is left');
    const target = path.join(work, 'full-restore');
    const kept = await again.loadSnapshot(template.keptId);
    const summary = await restoreSnapshot(again, kept, { target, xattrs: false });
    await again.close();
    assert.deepEqual(summary.errors, []);
    const restored = await manifest(path.join(target, path.relative('/', kept.paths[0]!)));
    assert.deepEqual(restored, template.keptManifest);
  });

  test('announces every change in the crash-safe order: new packs, new index, old index removed, old packs removed', async () => {
    const dir = path.join(work, 'order');
    await fs.cp(template.dir, dir, { recursive: true });
    const repo = await open(dir);
    const steps: PruneStep[] = [];
    await pruneRepository(repo, { ...opts0, onStep: (s) => void steps.push(s) });
    await repo.close();
    const phases = steps.map((s) => s.action);
    const last = (a: string) => phases.lastIndexOf(a as PruneStep['action']);
    const first = (a: string) => phases.indexOf(a as PruneStep['action']);
    assert.ok(first('write-pack') >= 0 && first('write-index') >= 0 && first('delete-index') >= 0 && first('delete-pack') >= 0, phases.join(','));
    assert.ok(last('write-pack') < first('write-index'));
    assert.ok(last('write-index') < first('delete-index'));
    assert.ok(last('delete-index') < first('delete-pack'));
    assert.deepEqual(
      steps.map((s) => s.n),
      steps.map((_, i) => i + 1),
    );
  });

  test('a prune stopped before any one of its changes leaves a repository check accepts, and the next prune finishes the job', async () => {
    // How many changes a full run makes.
    const probe = path.join(work, 'probe');
    await fs.cp(template.dir, probe, { recursive: true });
    const probeRepo = await open(probe);
    let total = 0;
    await pruneRepository(probeRepo, { ...opts0, onStep: (s) => void (total = s.n) });
    await probeRepo.close();
    const reference = await open(probe);
    const usedBytes = (await preparePrune(reference)).plan.stats.size.used;
    await reference.close();
    assert.ok(total >= 20, `${total} changes`);

    for (let stopAt = 1; stopAt <= total; stopAt++) {
      const dir = path.join(work, `stop-${stopAt}`);
      await fs.cp(template.dir, dir, { recursive: true });
      const repo = await open(dir);
      await assert.rejects(
        pruneRepository(repo, {
          ...opts0,
          onStep: (s) => {
            if (s.n >= stopAt) throw new Error(`stopped at ${s.n}`);
          },
        }),
        /stopped at/,
      );
      await repo.close();
      // give deletions already under way a moment to settle, as a killed process's would have
      await new Promise((r) => setTimeout(r, 20));
      // the lock of the stopped run was released by pruneRepository's finally; a killed one is stale (see the compat test)
      assert.deepEqual(await checkErrors(dir), [], `after stopping before change ${stopAt}`);
      const rerun = await open(dir);
      await pruneRepository(rerun, { ...opts0 });
      const left = await preparePrune(rerun, { ...opts0 });
      await rerun.close();
      assert.deepEqual([left.plan.removeFirst, left.plan.remove, left.plan.repack], [[], [], []], `rerun after stop ${stopAt} left work`);
      const { size } = left.plan.stats;
      assert.deepEqual([size.used, size.unused, size.duplicate], [usedBytes, 0, 0], `rerun after stop ${stopAt}: the same blobs as an uninterrupted prune, nothing unused or duplicated`);
      assert.deepEqual(await checkErrors(dir, stopAt % 5 === 0), [], `after the rerun (stop ${stopAt})`);
      await fs.rm(dir, { recursive: true });
    }
  });

  test('snapshots given as ignored count as forgotten (forget --prune --dry-run predicts with them gone)', async () => {
    const dir = path.join(work, 'ignore');
    await fs.cp(template.dir, dir, { recursive: true });
    const repo = await open(dir);
    const all = await preparePrune(repo);
    const without = await preparePrune(repo, { ignoreSnapshots: [template.keptId] });
    await repo.close();
    assert.equal(without.snapshots, all.snapshots - 1);
    assert.equal(without.plan.stats.blobs.used, 0);
    assert.equal(without.plan.prediction.packBytesAfter, 0);
  });
});
