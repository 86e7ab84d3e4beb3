import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCairn, runRestic } from '../helpers/cli.js';
import { generateTree } from '../helpers/treeGen.js';

// Both tools write into the same repositories: each side's snapshots stay readable
// by the other, and identical data written by both is stored once.
let tmp: string;
let src: string;
const env = { CAIRN_PASSWORD: 'two-way', RESTIC_PASSWORD: 'two-way' };

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-twoway-'));
  src = path.join(tmp, 'data', 'src');
  await generateTree(src, { seed: 11, files: 30, maxSize: 2 * 1024 * 1024 });
});

after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function dataBlobCount(repo: string): Promise<number> {
  const r = await runRestic(['-r', repo, 'list', 'blobs'], env);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l.startsWith('data ')).length;
}

async function checkBoth(repo: string): Promise<void> {
  const rc = await runRestic(['-r', repo, 'check', '--read-data'], env);
  assert.equal(rc.code, 0, rc.stdout + rc.stderr);
  const cc = await runCairn(['check', '-r', repo, '--read-data'], { env });
  assert.equal(cc.code, 0, cc.stdout + cc.stderr);
}

for (const initBy of ['cairn', 'restic'] as const) {
  test(`in a repository ${initBy} initialised, cairn and restic back up the same data once and each restores the other's snapshot`, async () => {
    const repo = path.join(tmp, `repo-${initBy}`);
    const init = initBy === 'cairn' ? await runCairn(['init', '-r', repo], { env }) : await runRestic(['init', '-r', repo], env);
    assert.equal(init.code, 0, init.stderr);

    const c = await runCairn(['backup', '-r', repo, '--tag', 'by-cairn', src], { env });
    assert.equal(c.code, 0, c.stderr);
    const afterCairn = await dataBlobCount(repo);
    const r = await runRestic(['-r', repo, 'backup', '--tag', 'by-restic', src], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await dataBlobCount(repo), afterCairn, 'restic found every chunk already stored by cairn');

    const snaps = JSON.parse((await runRestic(['-r', repo, 'snapshots', '--json'], env)).stdout) as { id: string; tags: string[]; tree: string }[];
    const byCairn = snaps.find((s) => s.tags.includes('by-cairn'))!;
    const byRestic = snaps.find((s) => s.tags.includes('by-restic'))!;
    // same source, same metadata: the trees are byte-identical, so the root tree ids match
    assert.equal(byCairn.tree, byRestic.tree, 'cairn encodes trees exactly as restic does');

    const cairnRestore = path.join(tmp, `cr-${initBy}`);
    const cr = await runCairn(['restore', '-r', repo, byRestic.id, '--target', cairnRestore], { env });
    assert.equal(cr.code, 0, cr.stderr);
    const resticRestore = path.join(tmp, `rr-${initBy}`);
    const rr = await runRestic(['-r', repo, 'restore', byCairn.id, '--target', resticRestore], env);
    assert.equal(rr.code, 0, rr.stderr);
    const { manifest } = await import('../helpers/treeGen.js');
    assert.deepEqual(await manifest(path.join(cairnRestore, src)), await manifest(src));
    assert.deepEqual(await manifest(path.join(resticRestore, src)), await manifest(src));
    await checkBoth(repo);
  });
}
