import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCairn, runRestic } from '../helpers/cli.js';
import { generateTree, manifest } from '../helpers/treeGen.js';

// cairn writes, the real restic (Debian package) reads: the compatibility promise.
let tmp: string;
let src: string;
let repo: string;
const pwEnv = { CAIRN_PASSWORD: 'compat-pw', RESTIC_PASSWORD: 'compat-pw' };

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-compat-'));
  // the source sits one level below tmp so restores next to it do not touch its parent folder
  src = path.join(tmp, 'data', 'src');
  repo = path.join(tmp, 'repo');
  await generateTree(src, { seed: 7, files: 60, maxSize: 3 * 1024 * 1024 });
  const init = await runCairn(['init', '-r', repo], { env: pwEnv });
  assert.equal(init.code, 0, init.stderr);
});

after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function resticRestoreEquals(snapshot: string, source: string): Promise<void> {
  const target = path.join(tmp, 'restores', `${snapshot}-${Date.now()}`);
  const r = await runRestic(['-r', repo, 'restore', snapshot, '--target', target], pwEnv);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await manifest(path.join(target, source)), await manifest(source));
  const got = await manifest(path.join(target, source), { mtimes: true });
  const want = await manifest(source, { mtimes: true });
  assert.deepEqual(got, want, 'file mtimes restored by restic equal the source');
}

test('restic check --read-data accepts a repository cairn wrote, and restic restores cairn\'s snapshot exactly', async () => {
  const b = await runCairn(['backup', '-r', repo, '--tag', 'first', '--tag', 'compat', '--json', src], { env: pwEnv });
  assert.equal(b.code, 0, b.stderr);
  const check = await runRestic(['-r', repo, 'check', '--read-data'], pwEnv);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /no errors were found/);
  const snaps = JSON.parse((await runRestic(['-r', repo, 'snapshots', '--json'], pwEnv)).stdout) as { id: string; tags: string[]; paths: string[] }[];
  assert.equal(snaps.length, 1);
  assert.deepEqual(snaps[0]!.tags, ['first', 'compat']);
  assert.deepEqual(snaps[0]!.paths, [src]);
  await resticRestoreEquals(snaps[0]!.id, src);
});

test('an unchanged second backup reads no file contents and adds no data blob', async () => {
  const b = await runCairn(['backup', '-r', repo, '--json', src], { env: pwEnv });
  assert.equal(b.code, 0, b.stderr);
  const summary = JSON.parse(b.stdout.trim().split('\n').pop()!) as Record<string, number>;
  assert.equal(summary.data_blobs, 0);
  assert.equal(summary.files_new, 0);
  assert.equal(summary.files_changed, 0);
  assert.ok(summary.files_unmodified! > 50);
  // Folders inside the source are unchanged, so their trees are byte-identical and not stored again;
  // only the folders above it (like /tmp, whose mtime others change) may give new trees.
  const ancestors = src.split('/').filter(Boolean).length - 1;
  assert.ok(summary.tree_blobs! <= ancestors + 1, `at most the ${ancestors} ancestor trees and the root are new, got ${summary.tree_blobs}`);
  assert.ok(summary.dirs_unmodified! >= 10, 'the source\'s folders are unmodified');
});

test('an incremental snapshot after edits, additions and deletions is valid for restic and restores exactly', async () => {
  await fs.appendFile(path.join(src, 'empty.txt'), 'no longer empty\n');
  await fs.writeFile(path.join(src, 'dir-0', 'added.txt'), 'added after the first backup\n');
  await fs.rm(path.join(src, 'script.sh'));
  const b = await runCairn(['backup', '-r', repo, '--tag', 'second', '--json', src], { env: pwEnv });
  assert.equal(b.code, 0, b.stderr);
  const summary = JSON.parse(b.stdout.trim().split('\n').pop()!) as Record<string, number>;
  assert.equal(summary.files_new, 1);
  assert.equal(summary.files_changed, 1);
  const check = await runRestic(['-r', repo, 'check', '--read-data'], pwEnv);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const snaps = JSON.parse((await runRestic(['-r', repo, 'snapshots', '--json'], pwEnv)).stdout) as { id: string; tags?: string[]; parent?: string }[];
  const second = snaps.find((s) => s.tags?.includes('second'))!;
  assert.ok(second.parent, 'the incremental snapshot names its parent');
  await resticRestoreEquals(second.id, src);
});

test('backup --stdin stores a stream restic restores byte for byte', async () => {
  const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
  const b = await runCairn(['backup', '-r', repo, '--stdin', '--stdin-filename', 'dump.sql'], { env: pwEnv, input: data });
  assert.equal(b.code, 0, b.stderr);
  const dump = await runRestic(['-r', repo, 'dump', 'latest', '/dump.sql'], pwEnv);
  assert.equal(dump.code, 0, dump.stderr);
  assert.equal(dump.stdout.length, data.length);
});
