// forget + prune through the CLI, judged by the real restic (0.14, Debian):
// the repository shrinks by what the dry run predicted, `restic check
// --read-data` passes and every kept snapshot restores exactly; restic's own
// prune plans the same work on the same repository; a prune SIGKILLed at
// many different points leaves a repository both checks accept, and the
// next prune finishes the job; cairn prunes a repository restic wrote.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalBackend } from '../../src/backend/local.js';
import { backupPaths } from '../../src/engine/backup.js';
import { checkRepository } from '../../src/engine/checker.js';
import { preparePrune, pruneRepository, type PruneStep } from '../../src/engine/prune.js';
import { parseMaxUnused } from '../../src/engine/prunePlan.js';
import { removeLocks } from '../../src/repo/lock.js';
import { Repository } from '../../src/repo/repository.js';
import { cairnArgv, runCairn, runRestic } from '../helpers/cli.js';
import { newScratchRepo } from '../helpers/scratchRepo.js';
import { generateTree, manifest, type ManifestEntry } from '../helpers/treeGen.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const password = 'prune-compat';
const env = { CAIRN_PASSWORD: password, RESTIC_PASSWORD: password };
/** Repacked packs are small (16 KiB), so a prune writes many of them. */
const repackSize = 16 * 1024;
const smallPacks = ['--pack-size', String(repackSize / 1024 / 1024)];

let tmp = '';
let template = '';
const kept: { id: string; source: string; manifest: Record<string, ManifestEntry> }[] = [];

/** Bytes of every file of a repository (locks left out), and of its pack files alone. */
async function repoBytes(dir: string): Promise<{ all: number; packs: number }> {
  let all = 0;
  let packs = 0;
  for (const rel of await fs.readdir(dir, { recursive: true })) {
    if (rel.startsWith('locks')) continue;
    const st = await fs.stat(path.join(dir, rel));
    if (!st.isFile()) continue;
    all += st.size;
    if (rel.startsWith('data')) packs += st.size;
  }
  return { all, packs };
}

async function copyOf(name: string): Promise<string> {
  const dir = path.join(tmp, name);
  await fs.cp(template, dir, { recursive: true });
  return dir;
}

/**
 * The template: four backups of a changing folder in a repository with
 * 64 KiB packs; the first two snapshots' data is partly gone from the later
 * ones. Snapshots 3 and 4 are the ones `forget --keep-last 2` keeps.
 */
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-prune-compat-'));
  template = path.join(tmp, 'template');
  const src = path.join(tmp, 'data', 'src');
  const repo = await newScratchRepo(template, password);
  repo.setWriteOptions({ packSize: 64 * 1024 });
  const rounds: (() => Promise<void>)[] = [
    () => generateTree(path.join(src, 'a'), { seed: 11, files: 30, maxSize: 160 * 1024, bigFile: 1_300_000 }),
    () => generateTree(path.join(src, 'b'), { seed: 12, files: 60, maxSize: 160 * 1024, bigFile: 0 }),
    async () => {
      await fs.rm(path.join(src, 'a'), { recursive: true });
      await generateTree(path.join(src, 'c'), { seed: 13, files: 20, maxSize: 160 * 1024, bigFile: 0 });
    },
    async () => {
      // every even-numbered file of b/, in all its folders: many packs become partly used
      for (const f of await fs.readdir(path.join(src, 'b'), { recursive: true })) if (/(^|\/)file-\d*[02468]\./.test(f)) await fs.rm(path.join(src, 'b', f));
      await fs.writeFile(path.join(src, 'c', 'new.txt'), 'written for the fourth snapshot\n');
    },
  ];
  for (let i = 0; i < rounds.length; i++) {
    await rounds[i]!();
    const r = await backupPaths(repo, [src], { time: new Date(Date.UTC(2024, 0, i + 1)), tags: [`round${i + 1}`] });
    if (i >= 2) kept.push({ id: r.snapshot.id, source: src, manifest: await manifest(src) });
  }
  await repo.close();
});

after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('forget --prune', () => {
  test('the repository shrinks by what the dry run predicted, restic check --read-data passes, and every kept snapshot restores exactly', async (t) => {
    const dir = await copyOf('forget-prune');
    const dry = await runCairn(['forget', '-r', dir, '--keep-last', '2', '--prune', '--dry-run', '--json'], { env });
    assert.equal(dry.code, 0, dry.stderr);
    const [groupsLine, pruneLine] = dry.stdout.trim().split('\n');
    const groups = JSON.parse(groupsLine!) as { keep: { id: string }[]; remove: { id: string }[] }[];
    assert.deepEqual(groups.flatMap((g) => g.keep.map((s) => s.id)).sort(), kept.map((k) => k.id).sort());
    assert.equal(groups.flatMap((g) => g.remove).length, 2);
    const predicted = JSON.parse(pruneLine!) as { dry_run: boolean; expected: { bytes_freed: number; pack_bytes_after: number; pack_bytes_before: number } };
    assert.equal(predicted.dry_run, true);

    const before = await repoBytes(dir);
    assert.equal(before.packs, predicted.expected.pack_bytes_before);
    const run = await runCairn(['forget', '-r', dir, '--keep-last', '2', '--prune'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /removed 2 snapshots/);
    const after = await repoBytes(dir);
    const shrink = before.all - after.all;
    const packShrink = before.packs - after.packs;
    t.diagnostic(`predicted ${predicted.expected.bytes_freed} bytes freed; pack files shrank by ${packShrink}, the whole repository by ${shrink} (${before.all} → ${after.all})`);
    assert.ok(predicted.expected.bytes_freed > 1_000_000, 'the forgotten snapshots held over a MB of their own');
    assert.ok(Math.abs(shrink - predicted.expected.bytes_freed) <= 0.01 * predicted.expected.bytes_freed, `repository shrank by ${shrink}, predicted ${predicted.expected.bytes_freed}`);
    assert.ok(Math.abs(packShrink - predicted.expected.bytes_freed) <= 0.01 * predicted.expected.bytes_freed);

    const check = await runRestic(['-r', dir, '--no-cache', 'check', '--read-data'], env);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /no errors were found/);

    for (const k of kept) {
      const target = path.join(tmp, 'restore', k.id);
      const r = await runCairn(['restore', '-r', dir, k.id, '--target', target], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await manifest(path.join(target, k.source)), k.manifest, `snapshot ${k.id.slice(0, 8)} restored by cairn`);
    }
    const rtarget = path.join(tmp, 'restore-restic');
    const rr = await runRestic(['-r', dir, '--no-cache', 'restore', kept[0]!.id, '--target', rtarget], env);
    assert.equal(rr.code, 0, rr.stderr);
    assert.deepEqual(await manifest(path.join(rtarget, kept[0]!.source)), kept[0]!.manifest, 'restic restores the pruned repository too');
  });

  test("restic's own prune plans the same work on the same repository", async () => {
    const dir = await copyOf('same-plan');
    const forget = await runCairn(['forget', '-r', dir, '--keep-last', '2'], { env });
    assert.equal(forget.code, 0, forget.stderr);
    const restic = await runRestic(['-r', dir, '--no-cache', 'prune', '--dry-run', '--verbose=2'], env);
    assert.equal(restic.code, 0, restic.stderr);
    const count = (label: RegExp): number => {
      const m = label.exec(restic.stdout);
      assert.ok(m, `restic printed ${label}: ${restic.stdout}`);
      return Number(m[1]);
    };
    const repo = await Repository.open(new LocalBackend(dir), password);
    const { plan } = await preparePrune(repo);
    await repo.close();
    const s = plan.stats;
    assert.deepEqual(
      {
        used: s.blobs.used,
        unused: s.blobs.unused,
        repackBlobs: s.blobs.repack,
        repackRemoves: s.blobs.repackrm,
        deleteBlobs: s.blobs.remove,
        keepPacks: s.packs.keep,
        repackPacks: s.packs.repack,
        deletePacks: s.packs.remove,
      },
      {
        used: count(/^used:\s+(\d+) blobs/m),
        unused: count(/^unused:\s+(\d+) blobs/m),
        repackBlobs: count(/^to repack:\s+(\d+) blobs/m),
        repackRemoves: count(/^this removes:\s+(\d+) blobs/m),
        deleteBlobs: count(/^to delete:\s+(\d+) blobs/m),
        keepPacks: count(/^to keep:\s+(\d+) packs/m),
        repackPacks: count(/^to repack:\s+(\d+) packs/m),
        deletePacks: count(/^to delete:\s+(\d+) packs/m),
      },
    );
  });
});

/** Starts `cairn prune` that stops before change `pauseAt` (or never, when undefined); resolves once it paused or exited. */
function startPrune(dir: string, pauseAt: number | undefined): { child: ReturnType<typeof spawn>; ready: Promise<'paused' | 'exited'>; exited: Promise<number | null> } {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (pauseAt !== undefined) childEnv.CAIRN_TEST_PRUNE_PAUSE = String(pauseAt);
  const child = spawn(process.execPath, [...cairnArgv(), 'prune', '-r', dir, '--max-unused', '0%', ...smallPacks], { cwd: root, env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<'paused' | 'exited'>((resolve) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('cairn-test: paused')) resolve('paused');
    });
    void exited.then(() => resolve('exited'));
  });
  return { child, ready, exited };
}

describe('prune killed with SIGKILL', () => {
  let forgotten = '';
  let total = 0;
  let steps: PruneStep[] = [];
  let usedBytes = 0;

  before(async () => {
    // The state every trial starts from: all but the last snapshot forgotten (half of b/ is
    // gone from it, so many packs are partly used), nothing pruned yet.
    forgotten = path.join(tmp, 'forgotten');
    await fs.cp(template, forgotten, { recursive: true });
    const f = await runCairn(['forget', '-r', forgotten, '--keep-last', '1'], { env });
    assert.equal(f.code, 0, f.stderr);
    // The changes an uninterrupted prune makes, in order (same plan as the CLI: same options).
    const probe = path.join(tmp, 'probe');
    await fs.cp(forgotten, probe, { recursive: true });
    const repo = await Repository.open(new LocalBackend(probe), password);
    steps = [];
    await pruneRepository(repo, { maxUnused: parseMaxUnused('0%'), packSize: repackSize, onStep: (s) => void steps.push(s) });
    usedBytes = (await preparePrune(repo)).plan.stats.size.used;
    await repo.close();
    total = steps.length;
  });

  /** Trial points: every phase's first and last change, the rest spread evenly, at least 24 in all (or every change when fewer). */
  function killPoints(): number[] {
    const want = Math.min(total, 24);
    const points = new Set<number>();
    for (const action of ['delete-unreferenced-pack', 'write-pack', 'write-index', 'delete-index', 'delete-pack'] as const) {
      const ns = steps.filter((s) => s.action === action).map((s) => s.n);
      if (ns.length > 0) points.add(ns[0]!).add(ns[ns.length - 1]!);
    }
    for (let k = 0; k < want; k++) points.add(1 + Math.round((k * (total - 1)) / Math.max(1, want - 1)));
    for (let n = 1; points.size < want && n <= total; n++) points.add(n);
    return [...points].sort((a, b) => a - b);
  }

  /**
   * After a kill: the dead process's lock is stale and is removed; both checks
   * pass; a new prune finishes the job (`cli`: check and prune through the
   * CLI, otherwise through the same library calls in this process).
   */
  async function verifyAndFinish(dir: string, label: string, cliCheck: boolean): Promise<void> {
    const repo = await Repository.open(new LocalBackend(dir), password);
    const removed = await removeLocks(repo, false);
    assert.ok(removed.length <= 1, `${label}: at most the killed process's lock was stale`);
    if (label.startsWith('killed before')) assert.equal(removed.length, 1, `${label}: the killed process's lock is stale and removed`);
    const cairn = await checkRepository(repo);
    assert.deepEqual(cairn.errors, [], `${label}: cairn check`);
    await repo.close();
    const restic = await runRestic(['-r', dir, 'check'], env);
    assert.equal(restic.code, 0, `${label}: restic check\n${restic.stdout}${restic.stderr}`);
    if (cliCheck) {
      const c = await runCairn(['check', '-r', dir], { env });
      assert.equal(c.code, 0, `${label}: cairn check (CLI)\n${c.stdout}${c.stderr}`);
    }
    if (cliCheck) {
      const rerun = startPrune(dir, undefined);
      assert.equal(await rerun.exited, 0, `${label}: the next prune (CLI)`);
    } else {
      const rerun = await Repository.open(new LocalBackend(dir), password);
      await pruneRepository(rerun, { maxUnused: parseMaxUnused('0%'), packSize: repackSize });
      await rerun.close();
    }
    const again = await Repository.open(new LocalBackend(dir), password);
    const left = await preparePrune(again, { maxUnused: parseMaxUnused('0%') });
    await again.close();
    assert.deepEqual([left.plan.removeFirst.length, left.plan.remove.length, left.plan.stats.size.unused, left.plan.stats.size.duplicate], [0, 0, 0, 0], `${label}: the rerun finished the job`);
    assert.equal(left.plan.stats.size.used, usedBytes, `${label}: every used blob is still there`);
  }

  test('killed before each of its changes in turn (at least 20 points, every phase), the repository stays valid for cairn check and restic check, and rerunning prune finishes', async (t) => {
    const points = killPoints();
    t.diagnostic(`an uninterrupted prune makes ${total} changes (${['write-pack', 'write-index', 'delete-index', 'delete-pack'].map((a) => `${steps.filter((s) => s.action === a).length} ${a}`).join(', ')}); killing before changes ${points.join(', ')}`);
    assert.ok(points.length >= 20, `${points.length} kill points`);
    for (const [i, n] of points.entries()) {
      const dir = path.join(tmp, `kill-${n}`);
      await fs.cp(forgotten, dir, { recursive: true });
      const run = startPrune(dir, n);
      assert.equal(await run.ready, 'paused', `prune paused before change ${n}`);
      run.child.kill('SIGKILL');
      await run.exited;
      await verifyAndFinish(dir, `killed before change ${n} (${steps[n - 1]!.action})`, i % 6 === 0);
      if (i % 6 === 3) {
        const rc = await runRestic(['-r', dir, 'check', '--read-data'], env);
        assert.equal(rc.code, 0, rc.stdout + rc.stderr);
      }
      await fs.rm(dir, { recursive: true });
    }
  });

  test('killed after varied delays while it runs, the repository stays valid and the next prune finishes', async (t) => {
    // How long a whole run takes here (startup included).
    const timing = path.join(tmp, 'timing');
    await fs.cp(forgotten, timing, { recursive: true });
    const started = Date.now();
    const full = startPrune(timing, undefined);
    assert.equal(await full.exited, 0);
    const duration = Date.now() - started;
    const delays = [0.6, 0.75, 0.88, 0.97].map((f) => Math.round(f * duration));
    t.diagnostic(`a prune run takes ${duration} ms here; killing after ${delays.join(', ')} ms`);
    for (const delay of delays) {
      const dir = path.join(tmp, `delay-${delay}`);
      await fs.cp(forgotten, dir, { recursive: true });
      const run = startPrune(dir, undefined);
      await new Promise((r) => setTimeout(r, delay));
      run.child.kill('SIGKILL');
      await run.exited;
      await verifyAndFinish(dir, `killed after ${delay} ms`, delay === delays[0]);
      await fs.rm(dir, { recursive: true });
    }
  });
});

describe('a repository restic wrote', () => {
  test('cairn prunes it after restic forget; restic check --read-data passes and restic restores the kept snapshot exactly', async () => {
    const dir = path.join(tmp, 'restic-made');
    const src = path.join(tmp, 'restic-src', 'src');
    assert.equal((await runRestic(['-r', dir, 'init'], env)).code, 0);
    await generateTree(path.join(src, 'x'), { seed: 21, files: 20, maxSize: 200 * 1024, bigFile: 1_100_000 });
    assert.equal((await runRestic(['-r', dir, '--no-cache', 'backup', src], env)).code, 0);
    await fs.rm(path.join(src, 'x'), { recursive: true });
    await generateTree(path.join(src, 'y'), { seed: 22, files: 20, maxSize: 200 * 1024, bigFile: 0 });
    assert.equal((await runRestic(['-r', dir, '--no-cache', 'backup', src], env)).code, 0);
    const want = await manifest(src);
    assert.equal((await runRestic(['-r', dir, '--no-cache', 'forget', '--keep-last', '1'], env)).code, 0);
    const before = await repoBytes(dir);

    const prune = await runCairn(['prune', '-r', dir], { env });
    assert.equal(prune.code, 0, prune.stderr);
    const after = await repoBytes(dir);
    assert.ok(before.packs - after.packs > 1_000_000, `pack files shrank by ${before.packs - after.packs}`);

    const check = await runRestic(['-r', dir, '--no-cache', 'check', '--read-data'], env);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const target = path.join(tmp, 'restic-made-restore');
    assert.equal((await runRestic(['-r', dir, '--no-cache', 'restore', 'latest', '--target', target], env)).code, 0);
    assert.deepEqual(await manifest(path.join(target, src)), want);
    const again = await runRestic(['-r', dir, '--no-cache', 'prune', '--dry-run', '--verbose=2'], env);
    assert.match(again.stdout, /^unused:\s+0 blobs/m, again.stdout);
  });
});
