// `cairn copy` between repositories, judged by the real restic (0.14): the
// source is written by restic; one target shares its chunker polynomial
// (blobs copied as they are, and restic's own copy sees cairn's copies as
// done), the other has its own (contents cut again, so restic's backup of the
// same files into it adds no data). Copies restore exactly with restic,
// `restic check --read-data` passes on both targets, copying twice copies
// nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCairn, runRestic } from '../helpers/cli.js';
import { generateTree, manifest, type ManifestEntry } from '../helpers/treeGen.js';

const srcPw = 'copy-source';
const dstPw = 'copy-target';
let tmp = '';
let source = '';
let data = '';
const snaps: { id: string; manifest: Record<string, ManifestEntry> }[] = [];

const resticSrc = { RESTIC_PASSWORD: srcPw };
const resticDst = { RESTIC_PASSWORD: dstPw };
/** cairn on the target, with the source password given the way copy reads it. */
const cairnEnv = { CAIRN_PASSWORD: dstPw, CAIRN_FROM_PASSWORD: srcPw };

interface ResticSnapshot {
  id: string;
  original?: string;
  tree: string;
}

async function resticSnapshots(repo: string, env: NodeJS.ProcessEnv): Promise<ResticSnapshot[]> {
  const r = await runRestic(['-r', repo, '--no-cache', 'snapshots', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ResticSnapshot[];
}

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-copy-compat-'));
  source = path.join(tmp, 'source');
  data = path.join(tmp, 'data', 'src');
  assert.equal((await runRestic(['-r', source, 'init'], resticSrc)).code, 0);
  await generateTree(data, { seed: 31, files: 25, maxSize: 300 * 1024, bigFile: 2_500_000 });
  for (const [tag, change] of [
    ['daily', async () => {}],
    ['manual', async () => fs.writeFile(path.join(data, 'added.txt'), 'added before the second backup\n')],
  ] as const) {
    await change();
    const b = await runRestic(['-r', source, '--no-cache', 'backup', '--json', '--host', 'nas', '--tag', tag, data], resticSrc);
    assert.equal(b.code, 0, b.stderr);
    // restic 0.14's summary gives a short id; the full one comes from the listing
    const summary = JSON.parse(b.stdout.trim().split('\n').pop()!) as { snapshot_id: string };
    const full = (await resticSnapshots(source, resticSrc)).find((sn) => sn.id.startsWith(summary.snapshot_id))!;
    snaps.push({ id: full.id, manifest: await manifest(data) });
  }
});

after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** Copies the whole source into `target` with cairn; returns the JSON summary. */
async function cairnCopy(target: string, extra: string[] = []): Promise<{ copied: { source: string; target: string }[]; skipped: unknown[]; rechunked: boolean }> {
  const r = await runCairn(['copy', '-r', target, '--from-repo', source, '--json', ...extra], { env: cairnEnv });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { copied: { source: string; target: string }[]; skipped: unknown[]; rechunked: boolean };
}

/** restic check --read-data on the target, and restic restores of every copy compared with the source at backup time. */
async function verifyTarget(target: string, name: string): Promise<void> {
  const check = await runRestic(['-r', target, '--no-cache', 'check', '--read-data'], resticDst);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const copies = await resticSnapshots(target, resticDst);
  for (const s of snaps) {
    const copy = copies.find((c) => c.original === s.id);
    assert.ok(copy, `a copy of ${s.id.slice(0, 8)} naming it as original`);
    const dir = path.join(tmp, 'restore', name, s.id.slice(0, 8));
    const r = await runRestic(['-r', target, '--no-cache', 'restore', copy.id, '--target', dir], resticDst);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await manifest(path.join(dir, data)), s.manifest, `copy of ${s.id.slice(0, 8)} restored by restic`);
  }
}

describe('cairn copy', () => {
  test('into a repository with the same polynomial: copies restore exactly, restic check passes, and neither cairn nor restic copies them again', async () => {
    const target = path.join(tmp, 'same');
    const init = await runCairn(['init', '-r', target, '--copy-chunker-params-from', source], { env: cairnEnv });
    assert.equal(init.code, 0, init.stderr);
    const first = await cairnCopy(target);
    assert.equal(first.rechunked, false);
    assert.equal(first.copied.length, 2);
    await verifyTarget(target, 'same');
    const copies = await resticSnapshots(target, resticDst);
    const sourceSnaps = await resticSnapshots(source, resticSrc);
    for (const c of copies) assert.equal(c.tree, sourceSnaps.find((s) => s.id === c.original)!.tree, 'trees copied byte for byte');

    const second = await cairnCopy(target);
    assert.deepEqual([second.copied.length, second.skipped.length], [0, 2]);
    const restic = await runRestic(['-r', target, '--no-cache', 'copy', '--from-repo', source], { ...resticDst, RESTIC_FROM_PASSWORD: srcPw });
    assert.equal(restic.code, 0, restic.stderr);
    assert.equal((await resticSnapshots(target, resticDst)).length, 2, `restic's copy found nothing new:\n${restic.stdout}`);
  });

  test("into a repository with another polynomial: contents are cut again, copies restore exactly, restic check passes, and restic's backup of the same files adds no data", async () => {
    const target = path.join(tmp, 'other');
    assert.equal((await runCairn(['init', '-r', target], { env: cairnEnv })).code, 0);
    const first = await cairnCopy(target);
    assert.equal(first.rechunked, true);
    assert.equal(first.copied.length, 2);
    await verifyTarget(target, 'other');

    const second = await cairnCopy(target);
    assert.deepEqual([second.copied.length, second.skipped.length], [0, 2]);
    assert.equal((await resticSnapshots(target, resticDst)).length, 2);

    // restic reads every file again (--force) and cuts with the target's polynomial: every chunk is already there.
    const b = await runRestic(['-r', target, '--no-cache', 'backup', '--json', '--force', '--host', 'nas', data], resticDst);
    assert.equal(b.code, 0, b.stderr);
    const summary = JSON.parse(b.stdout.trim().split('\n').pop()!) as { data_blobs: number; files_new: number; files_changed: number };
    assert.equal(summary.data_blobs, 0, 'no new data blob');
  });

  test('copies only the snapshots chosen by tag', async () => {
    const target = path.join(tmp, 'chosen');
    assert.equal((await runCairn(['init', '-r', target], { env: cairnEnv })).code, 0);
    const r = await cairnCopy(target, ['--tag', 'manual']);
    assert.deepEqual(
      r.copied.map((c) => c.source),
      [snaps[1]!.id],
    );
  });

  test('without a source password, it says how to give one', async () => {
    const r = await runCairn(['copy', '-r', path.join(tmp, 'same'), '--from-repo', source], { env: { CAIRN_PASSWORD: dstPw } });
    assert.equal(r.code, 12);
    assert.match(r.stderr, /--from-password-file/);
  });
});
