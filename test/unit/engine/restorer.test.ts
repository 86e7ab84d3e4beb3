// The restorer on real repositories: the shared restic fixture (read-only or
// a damaged copy) and small repositories built here with hand-made trees.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalBackend } from '../../../src/backend/local.js';
import { CairnError } from '../../../src/errors.js';
import { Repository } from '../../../src/repo/repository.js';
import { restoreSnapshot, type RestoreError, type RestoreProgress } from '../../../src/engine/restorer.js';
import { expected, fixturePassword, fixtureRepo } from '../../helpers/fixture.js';
import { copyFixtureRepo, flipByte, makeNode, newScratchRepo, openFixtureCopy, packFile } from '../../helpers/scratchRepo.js';
import { manifestList, treeManifest } from '../../helpers/treeManifest.js';

const snap1 = expected.snapshots[0] as { id: string; short_id: string; source_tar: string };
const manifest1 = expected.manifest[snap1.source_tar] as { path: string; type: string; sha256?: string }[];

let work = '';
let repo: Repository;
let n = 0;
const target = (): string => path.join(work, `t${++n}`);

async function listTree(root: string): Promise<string[]> {
  return [...(await treeManifest(root, { xattrs: false })).keys()].sort();
}

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-restorer-'));
  repo = await Repository.open(new LocalBackend(fixtureRepo), fixturePassword);
});
after(async () => {
  await repo.close();
  await fs.rm(work, { recursive: true, force: true });
});

describe('choosing what to restore', () => {
  test('--include "*.txt" restores the matching files and only the folders that lead to them', async () => {
    const t = target();
    const s = await restoreSnapshot(repo, await repo.resolveSnapshot(snap1.id), { target: t, include: ['*.txt'] });
    assert.deepEqual(s.errors, []);
    const want = manifest1.filter((e) => e.path.endsWith('.txt')).map((e) => e.path);
    const dirs = new Set(want.flatMap((p) => p.split('/').slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join('/'))));
    assert.deepEqual(await listTree(t), [...want, ...dirs].sort());
  });

  test('--exclude of a folder skips it with everything inside; a pattern without / matches at any depth', async () => {
    const t = target();
    const s = await restoreSnapshot(repo, await repo.resolveSnapshot(snap1.id), { target: t, exclude: ['deep', '*.bin'] });
    assert.deepEqual(s.errors, []);
    const want = manifest1.map((e) => e.path).filter((p) => !p.startsWith('notes/deep') && !p.endsWith('.bin'));
    assert.deepEqual(await listTree(t), want.sort());
  });

  test('an include pattern starting with / is anchored at the snapshot root and takes the whole folder', async () => {
    const t = target();
    await restoreSnapshot(repo, await repo.resolveSnapshot(snap1.id), { target: t, include: ['/notes/deep'] });
    assert.deepEqual(await listTree(t), ['notes', 'notes/deep', 'notes/deep/nested', 'notes/deep/nested/leaf.txt']);
    // The folder that matched gets its recorded metadata.
    const st = await fs.stat(path.join(t, 'notes/deep'), { bigint: true });
    assert.equal(st.mode & 0o7777n, 0o750n);
  });

  test('snapshot:/sub/path restores the contents of that folder into the target', async () => {
    const t = target();
    const s = await restoreSnapshot(repo, await repo.resolveSnapshot(snap1.id), { target: t, subpath: '/notes' });
    assert.deepEqual(s.errors, []);
    const want = manifest1.filter((e) => e.path.startsWith('notes/')).map((e) => e.path.slice('notes/'.length));
    assert.deepEqual(await listTree(t), want.sort());
  });

  test('a subpath naming a file restores just that file', async () => {
    const t = target();
    await restoreSnapshot(repo, await repo.resolveSnapshot(snap1.id), { target: t, subpath: '/notes/deep/nested/leaf.txt' });
    assert.deepEqual(await listTree(t), ['leaf.txt']);
    const sha = createHash('sha256').update(await fs.readFile(path.join(t, 'leaf.txt'))).digest('hex');
    assert.equal(sha, manifest1.find((e) => e.path === 'notes/deep/nested/leaf.txt')!.sha256);
  });

  test('a subpath the snapshot does not have is a clear error', async () => {
    await assert.rejects(
      restoreSnapshot(repo, await repo.resolveSnapshot(snap1.id), { target: target(), subpath: '/no/such/thing' }),
      (err: unknown) => err instanceof CairnError && err.code === 'path-not-found' && err.message.includes('/no/such/thing'),
    );
  });
});

describe('restoring into a target that already has things in it', () => {
  test('symlinks in the way are replaced, never written through', async () => {
    const t = target();
    const outside = path.join(work, 'outside');
    await fs.mkdir(path.join(outside, 'dir'), { recursive: true });
    await fs.writeFile(path.join(outside, 'file'), 'precious');
    await fs.mkdir(t);
    await fs.symlink(path.join(outside, 'dir'), path.join(t, 'notes'));
    await fs.symlink(path.join(outside, 'file'), path.join(t, 'README.txt'));
    const s = await restoreSnapshot(repo, await repo.resolveSnapshot(snap1.id), { target: t });
    assert.deepEqual(s.errors, []);
    assert.deepEqual(await fs.readdir(path.join(outside, 'dir')), []);
    assert.equal(await fs.readFile(path.join(outside, 'file'), 'utf8'), 'precious');
    assert.ok((await fs.lstat(path.join(t, 'notes'))).isDirectory());
    assert.ok((await fs.lstat(path.join(t, 'README.txt'))).isFile());
  });

  test('a second restore over the first gives the same tree', async () => {
    const t = target();
    await restoreSnapshot(repo, await repo.resolveSnapshot(snap1.id), { target: t });
    const s = await restoreSnapshot(repo, await repo.resolveSnapshot(snap1.id), { target: t });
    assert.deepEqual(s.errors, []);
    assert.deepEqual(manifestList(await treeManifest(t)), manifestList(manifest1 as never));
  });
});

describe('file data', () => {
  test('--sparse leaves the all-zero chunks of zeros.bin as holes with the same content', async () => {
    const t = target();
    await restoreSnapshot(repo, await repo.resolveSnapshot(snap1.id), { target: t, include: ['/zeros.bin'], sparse: true });
    const p = path.join(t, 'zeros.bin');
    const sha = createHash('sha256').update(await fs.readFile(p)).digest('hex');
    assert.equal(sha, manifest1.find((e) => e.path === 'zeros.bin')!.sha256);
    const st = await fs.stat(p);
    assert.ok(st.blocks * 512 < st.size - 2 * 524288 + 65536, `expected holes, ${st.blocks * 512} bytes allocated of ${st.size}`);
  });

  test('progress ends with every byte and every file accounted for', async () => {
    const events: RestoreProgress[] = [];
    await restoreSnapshot(repo, await repo.resolveSnapshot(snap1.id), { target: target(), onProgress: (p) => events.push(p) });
    const last = events[events.length - 1]!;
    assert.equal(last.phase, 'done');
    assert.equal(last.bytesDone, last.bytesTotal);
    // Every inode once: a second name of a hard-linked file is a link, not data.
    const files = (manifest1 as { path: string; type: string; size?: number; hardlink_group?: string }[]).filter((e) => e.type === 'file' && (e.hardlink_group ?? e.path) === e.path);
    assert.equal(last.bytesTotal, files.reduce((sum, e) => sum + (e.size ?? 0), 0));
    assert.equal(last.filesDone, last.filesTotal);
  });

  test('a damaged blob: the file is named with the blob, every other file restores intact', async () => {
    const dir = await copyFixtureRepo(path.join(work, 'damaged-repo'));
    const readmeBlob = expected.files_by_snapshot[snap1.id]['/README.txt'].blobs[0].id as string;
    const damaged = await openFixtureCopy(dir);
    try {
      await damaged.loadIndex();
      const loc = damaged.index.lookup('data', readmeBlob)[0]!;
      await flipByte(packFile(dir, loc.packId), loc.offset + 20);
      const t = target();
      const reported: [string, RestoreError][] = [];
      const s = await restoreSnapshot(damaged, await damaged.resolveSnapshot(snap1.id), { target: t, onError: (p, e) => reported.push([p, e]) });
      assert.equal(s.errors.length, 1);
      const e = s.errors[0]!;
      assert.equal(e.path, '/README.txt');
      assert.equal(e.blobId, readmeBlob);
      assert.equal(e.packId, loc.packId);
      assert.match(e.message, /README\.txt/);
      assert.match(e.message, new RegExp(readmeBlob));
      assert.deepEqual(reported, [['/README.txt', e]]);
      const got = manifestList(await treeManifest(t)).filter((x) => x.path !== 'README.txt');
      assert.deepEqual(got, manifestList(manifest1 as never).filter((x) => x.path !== 'README.txt'));
    } finally {
      await damaged.close();
    }
  });
});

describe('names that would leave the target', () => {
  test('"..", ".", "" and names with "/" are refused with the node path; the rest restores; nothing lands outside', async () => {
    const scratch = await newScratchRepo(path.join(work, 'evil-repo'));
    try {
      const data = Buffer.from('payload\n');
      const { id: blob } = await scratch.saveBlob('data', data);
      const file = (name: string) => makeNode(name, 'file', { content: [blob], size: data.length });
      const { id: inner } = await scratch.saveTree([file('evil.txt')]);
      const { id: sub } = await scratch.saveTree([file('..'), file('fine.txt')]);
      const { id: root } = await scratch.saveTree([
        makeNode('..', 'dir', { subtree: inner }),
        file('.'),
        file(''),
        file('a/b'),
        file('../escape.txt'),
        file('ok.txt'),
        makeNode('sub', 'dir', { subtree: sub }),
        makeNode('f\ufffd', 'file', { content: [blob], size: data.length, nameRaw: Buffer.from([0x66, 0xe9]) }),
      ]);
      await scratch.flush();
      const snapId = await scratch.saveSnapshot({ time: '2024-05-06T07:08:09Z', tree: root, paths: ['/evil'] });

      const base = path.join(work, 'evil-base');
      const t = path.join(base, 'target');
      const s = await restoreSnapshot(scratch, await scratch.resolveSnapshot(snapId), { target: t });
      const refused = s.errors.filter((e) => e.code === 'unsafe-path').map((e) => e.path).sort();
      assert.deepEqual(refused, ['/', '/.', '/..', '/../escape.txt', '/a/b', '/sub/..'].sort());
      for (const e of s.errors) {
        assert.equal(e.code, 'unsafe-path');
        assert.ok(e.message.includes(JSON.stringify(e.path)), e.message);
        assert.match(e.message, /outside the target/);
      }
      assert.deepEqual(await fs.readdir(base), ['target']);
      const names = (await fs.readdir(t, { encoding: 'buffer' })).map((b) => b.toString('hex')).sort();
      assert.deepEqual(names, [Buffer.from([0x66, 0xe9]).toString('hex'), Buffer.from('ok.txt').toString('hex'), Buffer.from('sub').toString('hex')].sort());
      assert.deepEqual(await fs.readdir(path.join(t, 'sub')), ['fine.txt']);
      assert.equal(await fs.readFile(path.join(t, 'ok.txt'), 'utf8'), 'payload\n');
      assert.equal(await fs.readFile(Buffer.concat([Buffer.from(t + '/'), Buffer.from([0x66, 0xe9])]), 'utf8'), 'payload\n');
      await assert.rejects(fs.access(path.join(work, 'evil.txt')));
      await assert.rejects(fs.access(path.join(base, 'escape.txt')));
    } finally {
      await scratch.close();
    }
  });

  test('a name a folder lists twice is restored once, from its first entry; the second is reported', async () => {
    const scratch = await newScratchRepo(path.join(work, 'twice-repo'));
    try {
      const first = Buffer.from('first\n');
      const second = Buffer.from('the second entry, longer\n');
      const { id: a } = await scratch.saveBlob('data', first);
      const { id: b } = await scratch.saveBlob('data', second);
      // cairn never writes such a tree (encodeTree refuses it), so it is spliced together from two
      const { encodeTree } = await import('../../../src/repo/treeCodec.js');
      const nodesOf = (nodes: Parameters<typeof encodeTree>[0]) => (JSON.parse(encodeTree(nodes).toString('utf8')) as { nodes: unknown[] }).nodes;
      const nodes = [...nodesOf([makeNode('other.txt', 'file', { content: [b], size: second.length }), makeNode('same.txt', 'file', { content: [a], size: first.length })]), ...nodesOf([makeNode('same.txt', 'file', { content: [b], size: second.length })])];
      const { id: root } = await scratch.saveBlob('tree', Buffer.from(JSON.stringify({ nodes }) + '\n'));
      await scratch.flush();
      const snapId = await scratch.saveSnapshot({ time: '2024-05-06T07:08:09Z', tree: root, paths: ['/twice'] });
      const t = target();
      const s = await restoreSnapshot(scratch, await scratch.resolveSnapshot(snapId), { target: t });
      assert.deepEqual(
        s.errors.map((e) => [e.code, e.path]),
        [['duplicate-name', '/same.txt']],
      );
      assert.equal(await fs.readFile(path.join(t, 'same.txt'), 'utf8'), first.toString());
      assert.equal(await fs.readFile(path.join(t, 'other.txt'), 'utf8'), second.toString());
    } finally {
      await scratch.close();
    }
  });
});

describe('file metadata', () => {
  test('every file gets its recorded mode and nanosecond times: read-only files, hard-linked files and the folders holding them too', async () => {
    const scratch = await newScratchRepo(path.join(work, 'meta-repo'));
    try {
      const blob = async (text: string): Promise<string> => (await scratch.saveBlob('data', Buffer.from(text))).id;
      const ns = '2021-03-04T05:06:07.123456789Z';
      const us = '2020-01-02T03:04:05.5Z';
      const link = { links: 2, inode: 77n, device_id: 1n } as const;
      const sub = await scratch.saveBlob(
        'tree',
        (await import('../../../src/repo/treeCodec.js')).encodeTree([
          makeNode('ro.txt', 'file', { content: [await blob('read only\n')], size: 10, mode: 0o400, mtime: ns, atime: ns }),
          makeNode('run.sh', 'file', { content: [await blob('#!/bin/sh\n')], size: 10, mode: 0o755, mtime: us, atime: us }),
          makeNode('a.txt', 'file', { content: [await blob('linked\n')], size: 7, mode: 0o440, mtime: ns, atime: ns, ...link }),
          makeNode('b.txt', 'file', { content: [await blob('linked\n')], size: 7, mode: 0o440, mtime: ns, atime: ns, ...link }),
        ]),
      );
      const { encodeTree } = await import('../../../src/repo/treeCodec.js');
      const { id: root } = await scratch.saveBlob('tree', encodeTree([makeNode('d', 'dir', { subtree: sub.id, mode: 0x80000000 + 0o555, mtime: ns, atime: ns })]));
      await scratch.flush();
      const snapId = await scratch.saveSnapshot({ time: '2024-05-06T07:08:09Z', tree: root, paths: ['/meta'] });
      const t = target();
      const s = await restoreSnapshot(scratch, await scratch.resolveSnapshot(snapId), { target: t });
      assert.deepEqual(s.errors, []);
      const st = async (rel: string) => fs.lstat(path.join(t, rel), { bigint: true });
      const nsTime = 1614834367123456789n;
      assert.equal((await st('d/ro.txt')).mode & 0o777n, 0o400n);
      assert.equal((await st('d/ro.txt')).mtimeNs, nsTime);
      assert.equal((await st('d/run.sh')).mode & 0o777n, 0o755n);
      assert.equal((await st('d/run.sh')).mtimeNs, 1577934245500000000n);
      assert.equal((await st('d/a.txt')).ino, (await st('d/b.txt')).ino, 'b.txt is a hard link to a.txt');
      assert.equal((await st('d/a.txt')).mode & 0o777n, 0o440n);
      assert.equal((await st('d/b.txt')).mtimeNs, nsTime);
      assert.equal((await st('d')).mode & 0o777n, 0o555n);
      assert.equal((await st('d')).mtimeNs, nsTime, 'the folder keeps its time although files were linked into it');
      await fs.chmod(path.join(t, 'd'), 0o755); // so the work folder can be removed
    } finally {
      await scratch.close();
    }
  });
});

describe('special files', () => {
  test('devices are recreated with their major/minor numbers when running as root (else reported), sockets are skipped', async () => {
    const scratch = await newScratchRepo(path.join(work, 'special-repo'));
    try {
      // Linux dev_t of 1:3 (/dev/null) and of 259:65537 (big numbers use the split encoding).
      const small = (1n << 8n) | 3n;
      const big = ((259n & 0xfffn) << 8n) | ((259n & ~0xfffn) << 32n) | (65537n & 0xffn) | ((65537n & ~0xffn) << 12n);
      const { id: root } = await scratch.saveTree([
        makeNode('null', 'chardev', { device: small, mode: 0x04000000 + 0x00200000 + 0o666 }),
        makeNode('disk', 'dev', { device: big, mode: 0x04000000 + 0o660 }),
        makeNode('sock', 'socket', { mode: 0x01000000 + 0o755 }),
      ]);
      await scratch.flush();
      const t = target();
      const s = await restoreSnapshot(scratch, root, { target: t });
      assert.equal(s.skipped, 1);
      await assert.rejects(fs.lstat(path.join(t, 'sock')));
      if (process.getuid?.() === 0) {
        assert.deepEqual(s.errors, []);
        const nul = await fs.lstat(path.join(t, 'null'));
        assert.ok(nul.isCharacterDevice());
        assert.equal(nul.rdev, Number(small));
        assert.equal(nul.mode & 0o7777, 0o666);
        const disk = await fs.lstat(path.join(t, 'disk'), { bigint: true });
        assert.ok(disk.isBlockDevice());
        assert.equal(disk.rdev, big);
      } else {
        assert.deepEqual(s.errors.map((e) => [e.code, e.path]).sort(), [['needs-root', '/disk'], ['needs-root', '/null']]);
      }
    } finally {
      await scratch.close();
    }
  });
});
