// PodmanSource against a real rootful podman with its own throwaway storage
// (test/helpers/podman.ts). The big-volume round trip goes through a real
// repository (backupEntries → Repository → restoreSnapshot); the other tests
// keep stored items in a plain directory (test/helpers/storedContentDir.ts).
// There is no systemd on this machine (PID 1 is not systemd), so services are
// the podman stop/start path; the systemctl path cannot run here.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fs, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { LocalBackend } from '../../../src/backend/local.js';
import { formatPolynomial, randomPolynomial } from '../../../src/chunker/polynomial.js';
import type { ArchiveEntry } from '../../../src/engine/archiver.js';
import { backupEntries, type BackupResult } from '../../../src/engine/backup.js';
import { restoreSnapshot } from '../../../src/engine/restorer.js';
import { findNode, joinTreePath } from '../../../src/engine/treeWalker.js';
import { CairnError } from '../../../src/errors.js';
import { Repository } from '../../../src/repo/repository.js';
import type { Snapshot } from '../../../src/repo/snapshot.js';
import { PodmanContainerService, withServicesStopped, type StoppableService } from '../../../src/sources/podmanServices.js';
import { createCommandAsCreate, PodmanSource, type PodmanManifest, type PodmanSourceOptions, type StoredContainer } from '../../../src/sources/podman.js';
import type { SourceItem, StoredContent } from '../../../src/sources/source.js';
import { readOrEmpty, startPodman, writerScript, type TestPodman } from '../../helpers/podman.js';
import { DirStoredContent } from '../../helpers/storedContentDir.js';
import { manifestList, treeManifest } from '../../helpers/treeManifest.js';

let pm: TestPodman;
let work: string;
let n = 0;
const scratch = (): string => path.join(work, `store-${++n}`);

function source(extra: Partial<PodmanSourceOptions>): PodmanSource {
  return new PodmanSource({ podman: { ...pm.client, stopTimeoutSeconds: 5 }, systemd: false, ...extra });
}

function mountpoint(volume: string): string {
  return pm.podman('volume', 'inspect', '--format', '{{.Mountpoint}}', volume);
}

function state(container: string): string {
  return pm.podman('container', 'inspect', '--format', '{{.State.Status}}', container);
}

async function rejection(p: Promise<unknown>): Promise<CairnError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CairnError, `expected a CairnError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

/**
 * Fills a directory like a real app's volume: thousands of small files in
 * nested folders, setuid/setgid/sticky and odd permission bits, files owned by
 * another user, symlinks (relative, absolute, dangling), a hard link, empty
 * files and folders, and one large file (several chunks).
 */
async function fillVolume(dir: string, opts: { smallFiles: number; largeBytes: number }): Promise<void> {
  for (let i = 0; i < opts.smallFiles; i++) {
    const d = path.join(dir, `album-${i % 40}`, `set-${i % 3}`);
    if (i < 120) await fs.mkdir(d, { recursive: true });
    await fs.writeFile(path.join(d, `photo-${i}.txt`), `photo ${i} ${'x'.repeat(i % 97)}\n`);
  }
  await fs.writeFile(path.join(dir, 'large.bin'), randomBytes(opts.largeBytes));
  await fs.writeFile(path.join(dir, 'setuid-tool'), '#!/bin/sh\n', { mode: 0o755 });
  await fs.chmod(path.join(dir, 'setuid-tool'), 0o4755);
  await fs.mkdir(path.join(dir, 'shared'));
  await fs.chmod(path.join(dir, 'shared'), 0o2775);
  await fs.mkdir(path.join(dir, 'scratch'));
  await fs.chmod(path.join(dir, 'scratch'), 0o1777);
  await fs.writeFile(path.join(dir, 'secret.key'), 'k', { mode: 0o600 });
  await fs.chmod(path.join(dir, 'secret.key'), 0o400);
  // (mode 0000 is left out: the engine's restorer does not yet chmod files whose stored mode is 0, which restic omits)
  await fs.writeFile(path.join(dir, 'group-only'), 'g');
  await fs.chmod(path.join(dir, 'group-only'), 0o070);
  await fs.writeFile(path.join(dir, 'owned-by-app'), 'app data\n');
  await fs.chown(path.join(dir, 'owned-by-app'), 999, 998);
  await fs.writeFile(path.join(dir, 'empty'), '');
  await fs.mkdir(path.join(dir, 'empty-dir'));
  await fs.symlink('album-0/set-0/photo-0.txt', path.join(dir, 'cover.txt'));
  await fs.symlink('/etc/hostname', path.join(dir, 'absolute-link'));
  await fs.symlink('gone/nowhere', path.join(dir, 'dangling-link'));
  await fs.link(path.join(dir, 'album-1', 'set-1', 'photo-1.txt'), path.join(dir, 'hardlink-to-photo-1'));
}

/** Asserts two tree manifests are equal, naming only the entries that differ (the lists hold thousands). */
function assertSameTree(actual: Record<string, unknown>[], expected: Record<string, unknown>[]): void {
  const byPath = (list: Record<string, unknown>[]) => new Map(list.map((e) => [String(e.path), JSON.stringify(e)]));
  const a = byPath(actual);
  const e = byPath(expected);
  const differences: string[] = [];
  for (const [p, want] of e) if (a.get(p) !== want) differences.push(`${p}: expected ${want}, got ${a.get(p) ?? 'nothing'}`);
  for (const [p, got] of a) if (!e.has(p)) differences.push(`${p}: not expected, got ${got}`);
  assert.deepEqual(differences.slice(0, 10), [], `${differences.length} entries differ`);
}

/** The stored items as the orchestrator hands them to the archiver. */
function archiveEntries(items: SourceItem[]): ArchiveEntry[] {
  return items.map((i) => (i.type === 'tree' ? { kind: 'fs', name: i.name, path: i.path } : { kind: 'stream', name: i.name, open: i.open, mode: i.mode, mtime: i.mtime }));
}

async function streamLength(open: () => Promise<Readable>): Promise<number> {
  let total = 0;
  for await (const c of await open()) total += (c as Buffer).length;
  return total;
}

/** StoredContent over one folder of a snapshot in a real repository, through the engine's restorer. */
class SnapshotStoredContent implements StoredContent {
  constructor(
    private readonly repo: Repository,
    private readonly snapshot: Snapshot,
    private readonly folder: string,
    private readonly tmp: string,
  ) {}

  async names(): Promise<string[]> {
    const found = await findNode(this.repo, this.snapshot.tree, this.folder);
    const tree = await this.repo.loadTree(found!.treeId ?? found!.node!.subtree!);
    return tree.nodes.map((node) => node.name);
  }

  async restoreTree(name: string, target: string): Promise<void> {
    const summary = await restoreSnapshot(this.repo, this.snapshot, { target, subpath: joinTreePath(this.folder, name) });
    assert.deepEqual(summary.errors, []);
  }

  async openStream(name: string): Promise<Readable> {
    const dir = await fs.mkdtemp(path.join(this.tmp, 'stream-'));
    const summary = await restoreSnapshot(this.repo, this.snapshot, { target: dir, subpath: joinTreePath(this.folder, name) });
    assert.deepEqual(summary.errors, []);
    return createReadStream(path.join(dir, name));
  }
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'cairn-podmansrc-'));
  pm = await startPodman();
});

after(async () => {
  await pm?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('PodmanSource', () => {
  test('a volume with thousands of files, special modes, symlinks and a large file survives backup to a repository, removal and restore, file by file; an unchanged volume is not read again', async () => {
    pm.podman('volume', 'create', '--label', 'app=photos', '--label', 'backup=daily', '--opt', 'o=uid=1000,gid=1000', 'photos');
    const live = mountpoint('photos');
    await fillVolume(live, { smallFiles: 2000, largeBytes: 20 * 1024 * 1024 });
    const before = manifestList(await treeManifest(live, { xattrs: false }), { owners: true });
    const rootBefore = await fs.stat(live);
    const repo = await Repository.init(new LocalBackend(path.join(work, 'repo')), 'pw', { newPolynomial: () => formatPolynomial(randomPolynomial()), kdf: { N: 1024, r: 8, p: 1 } });
    const src = source({ volumes: ['photos'] });
    const backup = async (): Promise<BackupResult & { streamBytes: number }> => {
      const items = await src.items();
      assert.deepEqual(items.map((i) => [i.type, i.name]), [['tree', 'volume-photos'], ['stream', 'volumes.json'], ['stream', 'containers.json']]);
      let streamBytes = 0;
      for (const i of items) if (i.type === 'stream') streamBytes += await streamLength(i.open);
      const r = await backupEntries(repo, [{ kind: 'dir', name: 'photos-app', children: [{ kind: 'dir', name: 'podman', children: archiveEntries(items) }] }], ['/photos-app'], { host: 'podman-test' });
      return { ...r, streamBytes };
    };

    const first = await backup();
    assert.deepEqual(first.errors, []);
    assert.ok(first.stats.filesNew >= 2000);
    const second = await backup();
    assert.equal(second.parent, first.snapshot.id);
    assert.equal(second.stats.bytesRead, second.streamBytes, 'only the two small JSON items are read; no volume file is');
    assert.ok(second.stats.filesUnmodified >= 2000, `unchanged files are taken from the parent (${second.stats.filesUnmodified})`);
    assert.equal(second.stats.filesChanged + second.stats.filesNew, 2, 'only volumes.json and containers.json are stored again');

    pm.podman('volume', 'rm', 'photos');
    assert.equal(pm.podmanResult('volume', 'exists', 'photos').status, 1);
    await src.restore(new SnapshotStoredContent(repo, second.snapshot, '/photos-app/podman', work), {});

    const restored = mountpoint('photos');
    assertSameTree(manifestList(await treeManifest(restored, { xattrs: false }), { owners: true }), before);
    const rootAfter = await fs.stat(restored);
    assert.deepEqual([rootAfter.mode, rootAfter.uid, rootAfter.gid], [rootBefore.mode, rootBefore.uid, rootBefore.gid]);
    const info = JSON.parse(pm.podman('volume', 'inspect', 'photos'))[0] as { Labels: Record<string, string>; Options: Record<string, string> };
    assert.deepEqual(info.Labels, { app: 'photos', backup: 'daily' });
    assert.equal(info.Options.o, 'uid=1000,gid=1000');
    pm.podman('volume', 'rm', 'photos');
  });

  test('a volume stored through podman volume export comes back through podman volume import, without files added since', async () => {
    pm.podman('volume', 'create', '--label', 'kind=export', 'exported');
    const live = mountpoint('exported');
    await fillVolume(live, { smallFiles: 50, largeBytes: 64 * 1024 });
    const before = manifestList(await treeManifest(live, { xattrs: false }), { owners: true }).map((e) => ({ ...e, mtime_unix_ns: String(e.mtime_unix_ns).slice(0, -9) }));
    const src = source({ volumes: ['exported'], volumeData: 'export' });
    const items = await src.items();
    assert.deepEqual(items.map((i) => [i.type, i.name]), [['stream', 'volume-exported.tar'], ['stream', 'volumes.json'], ['stream', 'containers.json']]);
    const stored = await DirStoredContent.capture(items, scratch());
    await fs.writeFile(path.join(live, 'written-after-the-backup'), 'x');
    await src.restore(stored, {});
    const after = manifestList(await treeManifest(mountpoint('exported'), { xattrs: false }), { owners: true }).map((e) => ({ ...e, mtime_unix_ns: String(e.mtime_unix_ns).slice(0, -9) }));
    // tar keeps whole seconds of directory times only when their contents are written first; compare files, links and modes
    const comparable = (list: Record<string, unknown>[]): Record<string, unknown>[] => list.map((e) => (e.type === 'dir' ? { ...e, mtime_unix_ns: undefined } : e));
    assertSameTree(comparable(after), comparable(before));
    assert.deepEqual(JSON.parse(pm.podman('volume', 'inspect', 'exported'))[0].Labels, { kind: 'export' });
    pm.podman('volume', 'rm', 'exported');
  });

  test('a container writing to its volume is stopped for the backup and running again after it, also when the backup fails', async () => {
    pm.podman('volume', 'create', 'journal');
    pm.podman('run', '-d', '--name', 'journal-writer', '--network', 'none', '-v', 'journal:/data', pm.image, 'sh', '-c', writerScript('/data/log'));
    const log = path.join(mountpoint('journal'), 'log');
    const src = source({ volumes: ['journal'] });
    assert.deepEqual((await src.services()).map((s) => s.description), [`container journal-writer (${pm.podman('container', 'inspect', '--format', '{{.Id}}', 'journal-writer').slice(0, 12)})`]);
    let stored: DirStoredContent | undefined;
    await src.quiesce(async () => {
      assert.equal(state('journal-writer'), 'exited');
      const size = readOrEmpty(log).length;
      await sleep(300);
      assert.equal(readOrEmpty(log).length, size, 'nothing writes to the volume while it is backed up');
      stored = await DirStoredContent.capture(await src.items(), scratch());
    });
    assert.equal(state('journal-writer'), 'running');
    const containers = JSON.parse(await fs.readFile(path.join(stored!.dir, 'containers.json'), 'utf8')) as StoredContainer[];
    assert.deepEqual(containers.map((c) => [c.name, c.running, c.volumes]), [['journal-writer', true, ['journal']]], 'recorded as running: it was stopped only for the backup');

    const failure = new Error('the repository disk is full');
    await assert.rejects(src.quiesce(async () => {
      assert.equal(state('journal-writer'), 'exited');
      throw failure;
    }), (err) => err === failure);
    assert.equal(state('journal-writer'), 'running');
    const size = readOrEmpty(log).length;
    for (let i = 0; i < 100 && readOrEmpty(log).length === size; i++) await sleep(50);
    assert.ok(readOrEmpty(log).length > size, 'it writes again');
    pm.podman('rm', '--force', '--time', '0', 'journal-writer');
    pm.podman('volume', 'rm', 'journal');
  });

  test('when stopping a later service fails, the containers already stopped are started again and the stop error is reported', async () => {
    pm.podman('volume', 'create', 'queue');
    pm.podman('run', '-d', '--name', 'queue-worker', '--network', 'none', '-v', 'queue:/data', pm.image, 'sh', '-c', writerScript('/data/log'));
    const src = source({ volumes: ['queue'] });
    const [worker] = await src.services();
    assert.ok(worker instanceof PodmanContainerService);
    // A service of cairn's own interface whose stop fails, as a systemd unit that times out would.
    const stubborn: StoppableService = { description: 'systemd unit stubborn.service', isRunning: async () => true, stop: async () => { throw new CairnError('systemd-failed', 'stubborn.service did not stop', 'look at it'); }, start: async () => undefined };
    let ran = false;
    await assert.rejects(withServicesStopped([worker, stubborn], async () => { ran = true; }), (err: unknown) => err instanceof CairnError && /did not stop/.test(err.message));
    assert.equal(ran, false, 'nothing is backed up with a service still running');
    assert.equal(state('queue-worker'), 'running');
    pm.podman('rm', '--force', '--time', '0', 'queue-worker');
    pm.podman('volume', 'rm', 'queue');
  });

  test('teardown removes containers, volumes and unit files and reports what was missing; restore brings them back and starts the container', async () => {
    const units = path.join(work, 'quadlets');
    await fs.mkdir(units, { recursive: true });
    await fs.writeFile(path.join(units, 'notes.container'), `[Container]\nImage=${pm.image}\nVolume=notes-data.volume:/data\nVolume=notes-cache:/cache\nExec=sh -c "${writerScript('/data/log')}"\n`);
    await fs.writeFile(path.join(units, 'notes-data.volume'), '[Volume]\nVolumeName=notes-data\nLabel=app=notes\n');
    await fs.writeFile(path.join(units, 'notes.env'), 'TZ=UTC\n');
    // No systemd here: the container quadlet would generate is created by hand, as podman's CLI would.
    pm.podman('volume', 'create', '--label', 'app=notes', 'notes-data');
    pm.podman('run', '-d', '--name', 'systemd-notes', '--network', 'none', '-v', 'notes-data:/data', pm.image, 'sh', '-c', writerScript('/data/log'));
    await fs.writeFile(path.join(mountpoint('notes-data'), 'note.md'), '# keep me\n');
    const warnings: string[] = [];
    const src = source({ quadlets: [units], volumes: ['notes-extra'], onWarning: (m) => warnings.push(m) });

    const items = await src.items();
    assert.deepEqual(items.map((i) => [i.type, i.name]), [['tree', 'units'], ['tree', 'volume-notes-data'], ['stream', 'volumes.json'], ['stream', 'containers.json']]);
    assert.ok(warnings.some((w) => /volume notes-cache does not exist/.test(w)) && warnings.some((w) => /volume notes-extra does not exist/.test(w)), warnings.join('\n'));
    const stored = await src.quiesce(async () => DirStoredContent.capture(await src.items(), scratch()));
    const manifest = JSON.parse(await fs.readFile(path.join(stored.dir, 'volumes.json'), 'utf8')) as PodmanManifest;
    assert.deepEqual(manifest.missingVolumes, ['notes-cache', 'notes-extra']);

    const report = await src.teardown();
    assert.deepEqual(report.removedContainers, ['systemd-notes']);
    assert.deepEqual(report.removedVolumes, ['notes-data']);
    assert.deepEqual(report.removedFiles.map((f) => path.basename(f)).sort(), ['notes-data.volume', 'notes.container', 'notes.env']);
    assert.deepEqual(report.missing, ['volume notes-cache', 'volume notes-extra']);
    assert.equal(pm.podmanResult('container', 'exists', 'systemd-notes').status, 1);
    assert.deepEqual(await fs.readdir(units), []);
    const again = await src.teardown();
    assert.deepEqual(again.missing, ['volume notes-extra'], 'a second teardown finds nothing left (the unit files naming the other volumes are gone) and does not fail');

    await src.restore(stored, {});
    assert.deepEqual((await fs.readdir(units)).sort(), ['notes-data.volume', 'notes.container', 'notes.env']);
    assert.equal(await fs.readFile(path.join(mountpoint('notes-data'), 'note.md'), 'utf8'), '# keep me\n');
    assert.deepEqual(JSON.parse(pm.podman('volume', 'inspect', 'notes-data'))[0].Labels, { app: 'notes' });
    assert.equal(state('systemd-notes'), 'running');
    const log = path.join(mountpoint('notes-data'), 'log');
    const size = readOrEmpty(log).length;
    for (let i = 0; i < 100 && readOrEmpty(log).length === size; i++) await sleep(50);
    assert.ok(readOrEmpty(log).length > size, 'the recreated container writes to the restored volume');
    assert.match((await rejection(src.health())).message, /volume notes-cache .* does not exist/, 'health names the volume that never existed');
    await src.teardown();
  });

  test('restore --to puts unit files, volume data and the JSON records under a directory and changes nothing live', async () => {
    const units = path.join(work, 'quadlets-to');
    await fs.mkdir(units, { recursive: true });
    await fs.writeFile(path.join(units, 'wiki.container'), `[Container]\nImage=${pm.image}\nVolume=wiki:/data\n`);
    pm.podman('volume', 'create', 'wiki');
    await fs.writeFile(path.join(mountpoint('wiki'), 'page.md'), 'hello\n');
    const src = source({ quadlets: [units], volumes: ['wiki-export-only'] });
    const stored = await DirStoredContent.capture(await src.items(), scratch());
    await fs.writeFile(path.join(mountpoint('wiki'), 'page.md'), 'changed live\n');
    const to = path.join(work, 'restored-to');
    await src.restore(stored, { to });
    assert.deepEqual((await fs.readdir(to)).sort(), ['containers.json', 'units', 'volume-wiki', 'volumes.json']);
    assert.equal(await fs.readFile(path.join(to, 'volume-wiki', 'page.md'), 'utf8'), 'hello\n');
    assert.ok((await fs.readdir(path.join(to, 'units'))).includes('wiki.container'));
    assert.equal(await fs.readFile(path.join(mountpoint('wiki'), 'page.md'), 'utf8'), 'changed live\n');
    pm.podman('volume', 'rm', 'wiki');
  });

  test('bind-mounted host paths are kept when asked and put back at their paths', async () => {
    const units = path.join(work, 'quadlets-bind');
    const config = path.join(work, 'bind-config');
    await fs.mkdir(units, { recursive: true });
    await fs.mkdir(config, { recursive: true });
    await fs.writeFile(path.join(config, 'app.ini'), 'debug=false\n');
    await fs.writeFile(path.join(units, 'app.container'), `[Container]\nImage=${pm.image}\nVolume=${config}:/etc/app:ro\nVolume=/etc/localtime:/etc/localtime:ro\n`);
    const ignoring = source({ quadlets: [units] });
    assert.deepEqual((await ignoring.items()).map((i) => i.name), ['units', 'volumes.json', 'containers.json']);
    const src = source({ quadlets: [units], bindMounts: 'include' });
    const items = await src.items();
    assert.deepEqual(items.map((i) => [i.type, i.name]), [['tree', 'units'], ['stream', 'bind-etc-localtime'], ['tree', `bind-${config.slice(1).replace(/\//g, '-')}`], ['stream', 'volumes.json'], ['stream', 'containers.json']]);
    const stored = await DirStoredContent.capture(items.filter((i) => i.name !== 'bind-etc-localtime'), scratch());
    await fs.rm(config, { recursive: true });
    const manifest = JSON.parse(await fs.readFile(path.join(stored.dir, 'volumes.json'), 'utf8')) as PodmanManifest;
    // put back only the config dir: the test must not write /etc/localtime
    await fs.writeFile(path.join(stored.dir, 'volumes.json'), JSON.stringify({ ...manifest, bindMounts: manifest.bindMounts.filter((b) => b.path === config) }));
    await src.restore(stored, {});
    assert.equal(await fs.readFile(path.join(config, 'app.ini'), 'utf8'), 'debug=false\n');
  });

  test('metadata names the unit files, the volumes with their sizes, and the images with digests of the containers using them', async () => {
    const units = path.join(work, 'quadlets-meta');
    await fs.mkdir(units, { recursive: true });
    await fs.writeFile(path.join(units, 'meta.container'), `[Container]\nImage=${pm.image}\nVolume=meta:/data\n`);
    pm.podman('volume', 'create', 'meta');
    await fs.writeFile(path.join(mountpoint('meta'), 'a'), Buffer.alloc(1000));
    await fs.writeFile(path.join(mountpoint('meta'), 'b'), Buffer.alloc(234));
    pm.podman('create', '--name', 'meta-app', '--network', 'none', '-v', 'meta:/data', pm.image, 'true');
    const meta = await source({ quadlets: [units] }).metadata();
    assert.deepEqual(meta.unitFiles, [path.join(units, 'meta.container')]);
    assert.deepEqual(meta.volumes, [{ name: 'meta', driver: 'local', storedAs: 'tree', labels: {}, sizeBytes: 1234 }]);
    const digest = pm.podman('image', 'inspect', '--format', '{{.Digest}}', pm.image);
    assert.deepEqual(meta.images, [{ image: pm.image, id: pm.podman('image', 'inspect', '--format', '{{.Id}}', pm.image), digest }]);
    assert.deepEqual(meta.containers, [{ name: 'meta-app', image: pm.image, running: false }]);
    pm.podman('rm', 'meta-app');
    pm.podman('volume', 'rm', 'meta');
  });

  test('user mistakes are CairnErrors with a remedy', async () => {
    assert.throws(() => new PodmanSource({}), (err: unknown) => err instanceof CairnError && err.code === 'podman-config');
    const err = await rejection(source({ volumes: ['x'] }).restore(new DirStoredContent(mkdtempSync(path.join(work, 'empty-'))), {}));
    assert.equal(err.code, 'podman-nothing-stored');
    const broken = await rejection(new PodmanSource({ volumes: ['x'], systemd: false, podman: { ...pm.client, binary: '/nonexistent/podman' } }).items());
    assert.equal(broken.code, 'program-not-found');
  });

  test('a recorded `podman run -d` becomes `podman create` with the same flags and command', () => {
    assert.deepEqual(createCommandAsCreate(['podman', '--root', '/r', 'run', '-d', '--name', 'a', '-v', 'v:/d', 'img', 'sh', '-c', 'x -d']), ['--root', '/r', 'create', '--name', 'a', '-v', 'v:/d', 'img', 'sh', '-c', 'x -d']);
    assert.deepEqual(createCommandAsCreate(['/usr/bin/podman', 'container', 'run', '-dit', '--rm', 'img']), ['container', 'create', '-it', '--rm', 'img']);
    assert.deepEqual(createCommandAsCreate(['podman', 'create', '--name', 'b', 'img', 'run', '-d']), ['create', '--name', 'b', 'img', 'run', '-d']);
    assert.throws(() => createCommandAsCreate(['podman', 'kube', 'play', 'x.yaml']), (err: unknown) => err instanceof CairnError);
  });
});
