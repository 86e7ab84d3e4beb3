// exportSnapshot and SplitWriter, checked by the system's own tools: GNU tar
// and Info-ZIP unzip extract what cairn wrote, and the extracted files carry
// the snapshot's names, modes, times, links and attributes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { exportSnapshot, type ExportOptions } from '../../../src/engine/export.js';
import { partName, SplitWriter, writeSha256Sums } from '../../../src/engine/splitWriter.js';
import { GoMode, type Node } from '../../../src/repo/node.js';
import type { Repository } from '../../../src/repo/repository.js';
import type { Snapshot } from '../../../src/repo/snapshot.js';
import { makeNode, newScratchRepo } from '../../helpers/scratchRepo.js';

let work = '';
let repo: Repository;
let snap: Snapshot;
const bigData = randomBytes(3 * 200_000 + 17);
const longName = 'a-very-long-file-name-'.repeat(6) + 'end.txt'; // 139 bytes: beyond ustar's 100
const oddNames = ['back\\slash.txt', 'café ü.txt', 'with "quotes" and spaces'];
const linkTarget = '../' + 'deep/'.repeat(25) + 'target'; // 134 bytes

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-export-'));
  repo = await newScratchRepo(path.join(work, 'repo'));
  const blob = async (b: Buffer) => (await repo.saveBlob('data', b)).id;
  const big = [await blob(bigData.subarray(0, 200_000)), await blob(bigData.subarray(200_000, 400_000)), await blob(bigData.subarray(400_000))];
  const hello = await blob(Buffer.from('hello\n'));
  const t = (s: string) => ({ mtime: s, atime: s, ctime: s });
  const file = (name: string, content: string[], size: number, extra: Partial<Node> = {}) => makeNode(name, 'file', { content, size, links: 1, mode: 0o644, uid: 0, gid: 0, user: 'root', group: 'root', ...t('2023-04-05T06:07:08.123456789Z'), ...extra });
  const deep = (await repo.saveTree([
    file(longName, [hello], 6, t('2021-02-03T04:05:06.5Z')),
    ...oddNames.map((n) => file(n, [hello], 6)),
    file('setgid-tool', [hello], 6, { mode: 0o755 + GoMode.setgid }),
  ])).id;
  const empty = (await repo.saveTree([])).id;
  const root = (await repo.saveTree([
    file('big.bin', big, bigData.length, t('2020-01-01T00:00:00.000000001+02:00')),
    makeNode('deep', 'dir', { subtree: deep, mode: GoMode.dir + 0o750, ...t('2022-02-02T02:02:02.222222222Z') }),
    makeNode('emptydir', 'dir', { subtree: empty, mode: GoMode.dir + 0o700, ...t('2019-09-09T09:09:09Z') }),
    file('empty.txt', [], 0, t('2018-08-08T08:08:08.8Z')),
    file('hard-a', [hello], 6, { links: 2, inode: 4242n, device_id: 7n }),
    file('hard-b', [hello], 6, { links: 2, inode: 4242n, device_id: 7n }),
    makeNode('long-link', 'symlink', { linktarget: linkTarget, mode: GoMode.symlink + 0o777 }),
    makeNode('old', 'file', { content: [hello], size: 6, mode: 0o600, ...t('1969-07-20T20:17:40.25Z') }),
    makeNode('pipe', 'fifo', { mode: GoMode.namedPipe + 0o640, ...t('2017-07-07T07:07:07Z') }),
    makeNode('sock', 'socket', { mode: GoMode.socket + 0o755 }),
    makeNode('sticky', 'dir', { subtree: empty, mode: GoMode.dir + GoMode.sticky + 0o777, ...t('2016-06-06T06:06:06Z') }),
    file('with-xattr', [hello], 6, { extended_attributes: [{ name: 'user.cairn.test', value: Buffer.from('xattr value').toString('base64') }] }),
  ])).id;
  await repo.flush();
  const id = await repo.saveSnapshot({ time: '2024-01-01T00:00:00Z', tree: root, paths: ['/data'] });
  snap = await repo.loadSnapshot(id);
});

after(async () => {
  await repo.close();
  await fs.rm(work, { recursive: true, force: true });
});

function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, maxBuffer: 1 << 26 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout)));
  });
}

/** Exports to a file; returns its path and what the export reported. */
async function exportTo(name: string, opts: ExportOptions): Promise<{ file: string; skipped: string[] }> {
  const file = path.join(work, name);
  const w = new SplitWriter(file);
  const skipped: string[] = [];
  await exportSnapshot(repo, snap, w, { ...opts, onSkip: (p) => skipped.push(p) });
  await w.close();
  return { file, skipped };
}

const ns = (s: string) => {
  const d = new Date(s.replace(/\.\d+/, ''));
  const frac = /\.(\d+)/.exec(s)?.[1] ?? '';
  return BigInt(d.getTime()) * 1_000_000n + BigInt(frac.padEnd(9, '0'));
};

test('GNU tar extracts long and odd names, nanosecond and pre-1970 mtimes, modes, links, fifos and xattrs exactly', async () => {
  const { file, skipped } = await exportTo('all.tar', { format: 'tar' });
  assert.deepEqual(skipped, ['sock'], 'tar cannot hold a socket');
  const out = path.join(work, 'tar-out');
  await fs.mkdir(out);
  await run('tar', ['-x', '--xattrs', '--xattrs-include=*', '-f', file, '-C', out]);
  const st = async (p: string) => fs.lstat(path.join(out, p), { bigint: true });
  assert.deepEqual(await fs.readFile(path.join(out, 'big.bin')), bigData);
  assert.equal((await st('big.bin')).mtimeNs, ns('2019-12-31T22:00:00.000000001Z'));
  assert.equal((await st(`deep/${longName}`)).mtimeNs, ns('2021-02-03T04:05:06.5Z'));
  for (const n of oddNames) assert.equal(await fs.readFile(path.join(out, 'deep', n), 'utf8'), 'hello\n', n);
  assert.equal(Number((await st('deep/setgid-tool')).mode) & 0o7777, 0o2755);
  assert.equal(Number((await st('deep')).mode) & 0o7777, 0o750);
  assert.equal((await st('deep')).mtimeNs, ns('2022-02-02T02:02:02.222222222Z'), 'folder times are set after their contents');
  assert.equal(Number((await st('emptydir')).mode) & 0o7777, 0o700);
  assert.equal(Number((await st('sticky')).mode) & 0o7777, 0o1777);
  assert.equal((await st('empty.txt')).size, 0n);
  assert.equal((await st('empty.txt')).mtimeNs, ns('2018-08-08T08:08:08.8Z'));
  assert.equal((await st('hard-a')).ino, (await st('hard-b')).ino, 'hard links stay one inode');
  assert.equal(await fs.readlink(path.join(out, 'long-link')), linkTarget);
  assert.equal((await st('old')).mtimeNs, ns('1969-07-20T20:17:40.25Z'), 'times before 1970');
  assert.ok((await st('pipe')).isFIFO());
  assert.equal(Number((await st('pipe')).mode) & 0o777, 0o640);
  const attrs = await run('getfattr', ['--only-values', '-n', 'user.cairn.test', path.join(out, 'with-xattr')]);
  assert.equal(attrs, 'xattr value');
  // the listing tar prints uses the owner names from the snapshot
  assert.match(await run('tar', ['-tvf', file]), /root\/root +6 2023-04-05 \d\d:\d\d hard-a/);
});

test('unzip extracts odd names, symlinks, modes, empty files and folders, with mtimes to the second', async () => {
  const { file, skipped } = await exportTo('all.zip', { format: 'zip' });
  assert.deepEqual(skipped.sort(), ['pipe', 'sock'], 'zip cannot hold fifos or sockets');
  const out = path.join(work, 'zip-out');
  await fs.mkdir(out);
  await run('unzip', ['-q', file, '-d', out]);
  const st = async (p: string) => fs.lstat(path.join(out, p));
  assert.deepEqual(await fs.readFile(path.join(out, 'big.bin')), bigData);
  assert.equal(Math.floor((await st('big.bin')).mtimeMs / 1000), Math.floor(Date.parse('2019-12-31T22:00:00Z') / 1000));
  for (const n of [...oddNames, longName]) assert.equal(await fs.readFile(path.join(out, 'deep', n), 'utf8'), 'hello\n', n);
  assert.equal(await fs.readlink(path.join(out, 'long-link')), linkTarget);
  assert.equal((await st('empty.txt')).size, 0);
  assert.ok((await st('emptydir')).isDirectory());
  assert.equal((await st('emptydir')).mode & 0o777, 0o700);
  assert.equal((await st('hard-b')).mode & 0o777, 0o644);
  assert.equal((await st('old')).mode & 0o777, 0o600);
  assert.equal(Math.floor((await st('deep')).mtimeMs / 1000), Math.floor(Date.parse('2022-02-02T02:02:02Z') / 1000), 'folder times');
  const listing = await run('unzip', ['-Z', file]);
  assert.match(listing, /^lrwxrwxrwx .* unx .* long-link$/m, 'symlinks are stored as Unix symlinks');
  await run('unzip', ['-tq', file]);
});

test('a stored (level 0) zip holds the same files as a deflated one', async () => {
  const { file } = await exportTo('stored.zip', { format: 'zip', zipLevel: 0 });
  const out = path.join(work, 'stored-out');
  await fs.mkdir(out);
  await run('unzip', ['-q', file, '-d', out]);
  assert.deepEqual(await fs.readFile(path.join(out, 'big.bin')), bigData);
  assert.ok((await fs.stat(file)).size > bigData.length, 'random data stored, not deflated');
});

test('exporting a folder inside the snapshot gives its contents; a single file gives that file', async () => {
  const folder = await exportTo('deep.tar', { format: 'tar', subpath: '/deep' });
  const names = (await run('tar', ['--quoting-style=literal', '-tf', folder.file])).trim().split('\n').sort();
  assert.deepEqual(names, [...oddNames, longName, 'setgid-tool'].sort());
  const single = await exportTo('one.zip', { format: 'zip', subpath: '/deep/setgid-tool' });
  assert.match(await run('unzip', ['-Z1', single.file]), /^setgid-tool\n$/);
  await assert.rejects(exportTo('none.tar', { format: 'tar', subpath: '/no/such' }), (err: Error & { code?: string }) => err.code === 'no-such-path');
});

test('file contents are read blob by blob as the output accepts them, not ahead of it', async () => {
  let loaded = 0;
  const original = repo.loadBlob.bind(repo);
  repo.loadBlob = async (type, id) => {
    if (type === 'data') loaded++;
    return original(type, id);
  };
  let accepted = 0;
  let stall = true;
  let stalled: (() => void) | undefined;
  const slow = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _e, cb) {
      accepted += chunk.length;
      if (stall && accepted >= 100_000) stalled = () => cb(); // the consumer stops reading
      else cb();
    },
  });
  try {
    const done = exportSnapshot(repo, snap, slow, { format: 'tar', subpath: '/big.bin' });
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(stalled, 'the output stalled');
    assert.ok(loaded <= 2, `while the output is stalled at most the current blob and one more are loaded (loaded ${loaded} of 3)`);
    stall = false;
    stalled();
    await done;
    assert.equal(loaded, 3);
  } finally {
    repo.loadBlob = original;
  }
});

test('a file whose content does not match the size in the snapshot stops the export with an error', async () => {
  const hello = (await repo.saveBlob('data', Buffer.from('hello\n'))).id;
  const root = (await repo.saveTree([makeNode('liar', 'file', { content: [hello], size: 7 })])).id;
  await repo.flush();
  const bad = await repo.loadSnapshot(await repo.saveSnapshot({ time: '2024-01-02T00:00:00Z', tree: root, paths: ['/x'] }));
  for (const format of ['tar', 'zip'] as const) {
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    await assert.rejects(exportSnapshot(repo, bad, sink, { format }), (err: Error & { code?: string }) => err.code === 'export-size-mismatch', format);
  }
});

test('SplitWriter cuts a stream into numbered parts that cat joins back, with a SHA-256 per part and for the whole', async () => {
  const data = randomBytes(250_000);
  const target = path.join(work, 'split', 'archive.tar');
  await fs.mkdir(path.dirname(target));
  const w = new SplitWriter(target, { partSize: 100_000 });
  await w.checkTargetFree();
  for (let off = 0; off < data.length; off += 7_000) w.write(data.subarray(off, off + 7_000));
  await w.close();
  assert.deepEqual(w.files.map((f) => path.basename(f.path)), ['archive.tar.part001', 'archive.tar.part002', 'archive.tar.part003']);
  assert.deepEqual(w.files.map((f) => f.size), [100_000, 100_000, 50_000]);
  const parts = await Promise.all(w.files.map((f) => fs.readFile(f.path)));
  assert.deepEqual(Buffer.concat(parts), data);
  for (const [i, f] of w.files.entries()) assert.equal(f.sha256, createHash('sha256').update(parts[i]!).digest('hex'));
  assert.equal(w.sha256, createHash('sha256').update(data).digest('hex'));
  assert.deepEqual((await fs.readdir(path.dirname(target))).sort(), ['archive.tar.part001', 'archive.tar.part002', 'archive.tar.part003'], 'no temporary files left');
  const sums = await writeSha256Sums(path.dirname(target), w.files);
  assert.match(await run('sha256sum', ['-c', sums], path.dirname(target)), /archive.tar.part003: OK/);
  await assert.rejects(new SplitWriter(target, { partSize: 100_000 }).checkTargetFree(), (err: Error & { code?: string }) => err.code === 'output-exists');
  assert.equal(partName('x', 1234), 'x.part1234');
});

test('SHA256SUMS keeps lines of other archives and replaces those of a re-exported one', async () => {
  const dir = path.join(work, 'sums');
  await fs.mkdir(dir);
  await writeSha256Sums(dir, [{ path: path.join(dir, 'a.tar'), sha256: '1'.repeat(64) }, { path: path.join(dir, 'b.zip'), sha256: '2'.repeat(64) }]);
  await writeSha256Sums(dir, [{ path: path.join(dir, 'a.tar'), sha256: '3'.repeat(64) }]);
  assert.equal(await fs.readFile(path.join(dir, 'SHA256SUMS'), 'utf8'), `${'2'.repeat(64)}  b.zip\n${'3'.repeat(64)}  a.tar\n`);
});

test('an export that fails leaves no part files behind', async () => {
  const target = path.join(work, 'failed', 'x.tar');
  await fs.mkdir(path.dirname(target));
  const w = new SplitWriter(target, { partSize: 1000 });
  w.write(randomBytes(2500));
  await new Promise((r) => w.write(Buffer.alloc(1), r));
  const errors: Error[] = [];
  w.on('error', (err) => errors.push(err));
  w.destroy(new Error('export failed'));
  await new Promise((r) => w.on('close', r));
  assert.deepEqual(errors.map((e) => e.message), ['export failed']);
  assert.deepEqual(await fs.readdir(path.dirname(target)), []);
});
