// cairn restores what the real restic wrote, bit for bit: content, modes
// (setuid/setgid/sticky), nanosecond mtimes of files, directories and
// symlinks, hard links, fifos, xattrs, owners. Two oracles: the shared
// fixture (restic 0.14 repository + manifest of the source trees + the source
// tars) and a repository the real restic makes here from a generated tree.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalBackend } from '../../src/backend/local.js';
import { Repository } from '../../src/repo/repository.js';
import { restoreSnapshot } from '../../src/engine/restorer.js';
import { expected, fixtureDir, fixturePassword, fixtureRepo } from '../helpers/fixture.js';
import { manifestList, treeManifest } from '../helpers/treeManifest.js';
import { prng } from '../helpers/treeGen.js';

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { ...opts, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

let work = '';
before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-restore-compat-'));
});
after(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

describe('restoring the shared restic fixture', () => {
  let repo: Repository;
  before(async () => {
    repo = await Repository.open(new LocalBackend(fixtureRepo), fixturePassword);
  });
  after(async () => {
    await repo.close();
  });

  for (const snap of expected.snapshots as { id: string; short_id: string; source_tar: string }[]) {
    test(`snapshot ${snap.short_id} restores exactly as the manifest of ${snap.source_tar} records`, async () => {
      const target = path.join(work, `fixture-${snap.short_id}`);
      const summary = await restoreSnapshot(repo, await repo.resolveSnapshot(snap.id), { target });
      assert.deepEqual(summary.errors, []);
      assert.deepEqual(summary.warnings, []);
      const got = manifestList(await treeManifest(target));
      const want = manifestList(expected.manifest[snap.source_tar] as never);
      assert.deepEqual(got, want);
      // The restore root is the target itself: nothing else was created next to it.
      assert.deepEqual((await fs.readdir(work)).filter((n) => n.startsWith(`fixture-${snap.short_id}`)), [`fixture-${snap.short_id}`]);
    });

    test(`snapshot ${snap.short_id} equals ${snap.source_tar} unpacked by GNU tar`, async () => {
      const target = path.join(work, `fixture-${snap.short_id}`);
      const untarred = path.join(work, `tar-${snap.short_id}`);
      await fs.mkdir(untarred);
      await run('tar', ['--xattrs', '--xattrs-include=*', '--same-owner', '-xpf', path.join(fixtureDir, snap.source_tar), '-C', untarred]);
      const fromTar = await treeManifest(untarred);
      const fromRestore = await treeManifest(target);
      // tar gives symlinks and the extraction root no exact times, so compare symlink times with the manifest only (above).
      const strip = (m: Map<string, unknown>) => manifestList([...m.values()].map((e) => ({ ...(e as object), ...((e as { type: string }).type === 'symlink' ? { mtime_unix_ns: undefined } : {}) })) as never, { owners: true });
      assert.deepEqual(strip(fromRestore), strip(fromTar));
    });
  }
});

describe('restoring a repository the real restic writes here', () => {
  const password = 'restore-compat';
  const src = () => path.join(work, 'gen-src');
  const repoDir = () => path.join(work, 'gen-repo');
  const env = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, TZ: 'Asia/Kolkata', RESTIC_PASSWORD: password, RESTIC_REPOSITORY: repoDir() });
  const manifests: { id: string; want: Record<string, unknown>[] }[] = [];

  /** touch -h with an exact time, independent of the code under test. */
  const stamp = (p: string, ns: bigint) => run('touch', ['-h', '-d', `@${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`, p]);

  /** Nested folders, random sizes (one file of several chunks), empty files, symlinks, a hard link, a fifo, odd modes, owners, an xattr; every time with nanoseconds. */
  async function generate(root: string): Promise<void> {
    const rnd = prng(7);
    const dirs = ['', 'a', 'a/b', 'a/b/c', 'd', 'd/e', 'empty-dir', 'sticky'];
    for (const d of dirs) await fs.mkdir(path.join(root, d), { recursive: true });
    for (let i = 0; i < 24; i++) {
      const size = i % 7 === 0 ? 0 : Math.floor(rnd() ** 3 * 200_000);
      await fs.writeFile(path.join(root, dirs[i % dirs.length]!, `f${i}.dat`), randomBytes(size));
    }
    await fs.writeFile(path.join(root, 'a/b/large.bin'), randomBytes(2_600_000));
    await fs.writeFile(path.join(root, 'd/linked-1'), 'two names, one inode\n');
    await fs.link(path.join(root, 'd/linked-1'), path.join(root, 'd/e/linked-2'));
    await fs.symlink('../a/b/large.bin', path.join(root, 'd/rel-link'));
    await fs.symlink('/nowhere/at/all', path.join(root, 'dangling'));
    await run('mkfifo', ['-m', '0620', path.join(root, 'a/fifo')]);
    await fs.writeFile(path.join(root, 'a/suid'), '#!/bin/sh\n');
    await fs.chmod(path.join(root, 'a/suid'), 0o4751);
    await fs.chmod(path.join(root, 'sticky'), 0o1777);
    await fs.chmod(path.join(root, 'a/b/c'), 0o700);
    await fs.chmod(path.join(root, 'f0.dat'), 0o400);
    await fs.chown(path.join(root, 'd/e'), 1234, 5678);
    await fs.lchown(path.join(root, 'dangling'), 4321, 8765);
    await run('setfattr', ['-n', 'user.note', '-v', 'généré', path.join(root, 'a/b/large.bin')]);
    await stampAll(root, rnd);
  }

  /** Gives every entry a distinct nanosecond mtime, deepest first so directories keep theirs. */
  async function stampAll(root: string, rnd: () => number): Promise<void> {
    const all: string[] = [];
    const walk = async (d: string): Promise<void> => {
      for (const n of await fs.readdir(d)) {
        const p = path.join(d, n);
        if ((await fs.lstat(p)).isDirectory()) await walk(p);
        all.push(p);
      }
    };
    await walk(root);
    for (const p of all) await stamp(p, 1_600_000_000_000_000_000n + BigInt(Math.floor(rnd() * 1e15)) + BigInt(Math.floor(rnd() * 1e9)));
  }

  before(async () => {
    await generate(src());
    await run('restic', ['--no-cache', 'init'], { env: env() });
    const backup = async (tag: string) => {
      const want = manifestList(await treeManifest(src()), { owners: true });
      const out = await run('restic', ['--no-cache', 'backup', '--json', '--host', 'gen', '--tag', tag, '.'], { cwd: src(), env: env() });
      const summary = out.trim().split('\n').map((l) => JSON.parse(l) as { message_type: string; snapshot_id?: string }).find((m) => m.message_type === 'summary');
      manifests.push({ id: summary!.snapshot_id!, want });
    };
    await backup('one');
    // Second state: a file grows, one goes away, one is new, a folder's time changes.
    await fs.appendFile(path.join(src(), 'a/b/large.bin'), randomBytes(70_000));
    await fs.rm(path.join(src(), 'd/f4.dat'), { force: true });
    await fs.rm(path.join(src(), 'f0.dat'), { force: true });
    await fs.writeFile(path.join(src(), 'd/new.txt'), 'added later\n');
    await stampAll(src(), prng(8));
    await backup('two');
  });

  test('both snapshots restore to exactly the trees restic backed up (content, modes, ns times, owners, links, fifo, xattr)', async () => {
    const repo = await Repository.open(new LocalBackend(repoDir()), password);
    try {
      assert.equal(manifests.length, 2);
      for (const m of manifests) {
        const target = path.join(work, `gen-restore-${m.id.slice(0, 8)}`);
        const summary = await restoreSnapshot(repo, await repo.resolveSnapshot(m.id), { target });
        assert.deepEqual(summary.errors, []);
        assert.deepEqual(manifestList(await treeManifest(target), { owners: true }), m.want);
      }
      assert.notDeepEqual(manifests[0]!.want, manifests[1]!.want);
    } finally {
      await repo.close();
    }
  });
});
