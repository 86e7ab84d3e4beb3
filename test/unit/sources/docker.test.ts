// DockerSource against podman's Docker-compatible Engine API (`podman system
// service` on a unix socket in a throwaway podman storage, test/helpers/podman.ts),
// through dockerode, as cairn talks to a real Docker engine. A Compose project is
// set up the way `docker compose up` leaves it: volumes and containers labelled
// com.docker.compose.project. Stored items are kept in a plain directory
// (test/helpers/storedContentDir.ts).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { CairnError } from '../../../src/errors.js';
import { composeProjectLabel, dockerConnection, DockerSource, type DockerManifest, type DockerSourceOptions, type StoredDockerContainer } from '../../../src/sources/docker.js';
import { readOrEmpty, startPodman, writerScript, type TestPodman } from '../../helpers/podman.js';
import { DirStoredContent } from '../../helpers/storedContentDir.js';
import { manifestList, treeManifest } from '../../helpers/treeManifest.js';

let pm: TestPodman;
let socket: string;
let docker: Docker;
let work: string;
let composeDir: string;
let n = 0;
const scratch = (): string => path.join(work, `store-${++n}`);
const project = 'blog';

function source(extra: Partial<DockerSourceOptions> = {}): DockerSource {
  return new DockerSource({ host: `unix://${socket}`, project, composeFiles: [path.join(composeDir, 'compose.yaml'), path.join(composeDir, '.env')], stopTimeoutSeconds: 5, ...extra });
}

async function mountpoint(volume: string): Promise<string> {
  return (await docker.getVolume(volume).inspect()).Mountpoint;
}

async function running(container: string): Promise<boolean> {
  return (await docker.getContainer(container).inspect()).State.Running;
}

async function exists(container: string): Promise<boolean> {
  try {
    await docker.getContainer(container).inspect();
    return true;
  } catch {
    return false;
  }
}

/** Removes what an earlier (failed) test left of the project. */
async function composeDown(): Promise<void> {
  for (const c of await docker.listContainers({ all: true, filters: { label: [`${composeProjectLabel}=${project}`] } })) await docker.getContainer(c.Id).remove({ force: true });
  for (const v of ['db', 'uploads']) await docker.getVolume(`${project}_${v}`).remove().catch(() => undefined);
}

/** A Compose project as `docker compose up -d` leaves it: labelled volumes and containers, running. */
async function composeUp(): Promise<void> {
  await composeDown();
  for (const v of ['db', 'uploads']) await docker.createVolume({ Name: `${project}_${v}`, Labels: { [composeProjectLabel]: project, 'com.docker.compose.volume': v } });
  const service = async (svc: string, volume: string, dest: string): Promise<void> => {
    const c = await docker.createContainer({
      name: `${project}-${svc}-1`,
      Image: pm.image,
      Cmd: ['sh', '-c', writerScript(`${dest}/log`)],
      Labels: { [composeProjectLabel]: project, 'com.docker.compose.service': svc },
      HostConfig: { Binds: [`${project}_${volume}:${dest}`], NetworkMode: 'none' },
    });
    await c.start();
  };
  await service('db', 'db', '/var/lib/db');
  await service('web', 'uploads', '/srv/uploads');
}

/** Files like a web app's uploads: nested folders, modes, symlinks, a larger file. */
async function fillUploads(dir: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const d = path.join(dir, `2024-${String((i % 12) + 1).padStart(2, '0')}`);
    await fs.mkdir(d, { recursive: true });
    await fs.writeFile(path.join(d, `upload-${i}.txt`), `upload ${i}\n`.repeat(i % 13));
  }
  await fs.writeFile(path.join(dir, 'big.bin'), randomBytes(2 * 1024 * 1024 + 17));
  await fs.writeFile(path.join(dir, 'private'), 'p', { mode: 0o600 });
  await fs.chmod(path.join(dir, 'private'), 0o640);
  await fs.mkdir(path.join(dir, 'tmp'));
  await fs.chmod(path.join(dir, 'tmp'), 0o1777);
  await fs.symlink('2024-01/upload-0.txt', path.join(dir, 'latest'));
  await fs.symlink('/nowhere', path.join(dir, 'dangling'));
}

/** Entries comparable across a tar round trip: content, type, mode, owner, link target (times are checked apart). */
async function uploadsManifest(dir: string): Promise<Record<string, unknown>[]> {
  return manifestList(await treeManifest(dir, { xattrs: false }))
    .filter((e) => e.path !== 'log')
    .map((e) => ({ ...e, mtime_unix_ns: undefined }));
}

/** Asserts two tree manifests are equal, naming only the entries that differ. */
function assertSameTree(actual: Record<string, unknown>[], expected: Record<string, unknown>[]): void {
  const byPath = (list: Record<string, unknown>[]) => new Map(list.map((e) => [String(e.path), JSON.stringify(e)]));
  const a = byPath(actual);
  const e = byPath(expected);
  const differences: string[] = [];
  for (const [p, want] of e) if (a.get(p) !== want) differences.push(`${p}: expected ${want}, got ${a.get(p) ?? 'nothing'}`);
  for (const [p, got] of a) if (!e.has(p)) differences.push(`${p}: not expected, got ${got}`);
  assert.deepEqual(differences.slice(0, 10), [], `${differences.length} entries differ`);
}

/** File modification times in milliseconds, by path. */
async function fileTimes(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const e of (await treeManifest(dir, { xattrs: false })).values()) if (e.type === 'file' && e.path !== 'log') out.set(e.path, Number(BigInt(e.mtime_unix_ns) / 1_000_000n));
  return out;
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'cairn-dockersrc-'));
  pm = await startPodman();
  socket = await pm.startService();
  docker = new Docker({ socketPath: socket });
  composeDir = path.join(work, 'blog');
  await fs.mkdir(composeDir);
  await fs.writeFile(path.join(composeDir, 'compose.yaml'), 'services:\n  db:\n    image: localhost/cairn-busybox:test\n    volumes: [db:/var/lib/db]\n  web:\n    image: localhost/cairn-busybox:test\n    volumes: [uploads:/srv/uploads]\nvolumes:\n  db: {}\n  uploads: {}\n');
  await fs.writeFile(path.join(composeDir, '.env'), 'SECRET=s3cret\n', { mode: 0o600 });
  // Something else on the same engine that the source must never touch.
  await docker.createVolume({ Name: 'other_data' });
  const other = await docker.createContainer({ name: 'other-1', Image: pm.image, Cmd: ['sh', '-c', writerScript('/data/log')], HostConfig: { Binds: ['other_data:/data'], NetworkMode: 'none' } });
  await other.start();
});

after(async () => {
  await pm?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('DockerSource over the Engine API (podman\'s compatible socket)', () => {
  for (const volumeData of ['api', 'mountpoint'] as const) {
  test(`a Compose project is backed up (volumes ${volumeData === 'api' ? 'through the archive endpoints' : 'from their mountpoints'}), torn down, and recovered: volumes with labels and files, containers running, Compose files in place`, async () => {
    await composeUp();
    await fillUploads(await mountpoint('blog_uploads'));
    const src = source({ volumeData });
    const items = await src.items();
    const volumeItem = (v: string): [string, string] => (volumeData === 'api' ? ['stream', `volume-${v}.tar`] : ['tree', `volume-${v}`]);
    assert.deepEqual(items.map((i) => [i.type, i.name]), [
      ['stream', 'compose-compose.yaml'],
      ['stream', 'compose-dot-env'],
      volumeItem('blog_db'),
      volumeItem('blog_uploads'),
      ['stream', 'volumes.json'],
      ['stream', 'containers.json'],
    ]);
    let dbLog = '';
    const stored = await src.quiesce(async () => {
      assert.equal(await running('blog-db-1'), false);
      assert.equal(await running('blog-web-1'), false);
      assert.equal(await running('other-1'), true, 'containers outside the project keep running');
      dbLog = await fs.readFile(path.join(await mountpoint('blog_db'), 'log'), 'utf8');
      return DirStoredContent.capture(await src.items(), scratch());
    });
    // Owners are not compared: podman's compatible archive endpoint records every file as root's (Docker's keeps
    // them), and the plain-directory store copies without owners. The repository round trip in podman.test.ts checks owners.
    const before = await uploadsManifest(await mountpoint('blog_uploads'));
    const timesBefore = await fileTimes(await mountpoint('blog_uploads'));
    const containers = JSON.parse(await fs.readFile(path.join(stored.dir, 'containers.json'), 'utf8')) as StoredDockerContainer[];
    assert.deepEqual(containers.map((c) => [c.name, c.running, c.volumes]), [['blog-db-1', true, ['blog_db']], ['blog-web-1', true, ['blog_uploads']]]);
    assert.equal(await fs.readFile(path.join(stored.dir, 'compose-dot-env'), 'utf8'), 'SECRET=s3cret\n');

    const report = await src.teardown();
    assert.deepEqual(report, { removedContainers: ['blog-db-1', 'blog-web-1'], removedVolumes: ['blog_db', 'blog_uploads'], missing: [] });
    assert.equal(await exists('blog-db-1'), false);
    assert.equal(await running('other-1'), true);
    assert.ok((await docker.getVolume('other_data').inspect()).Name, 'other volumes stay');
    await fs.rm(path.join(composeDir, '.env'));

    await src.restore(stored, {});
    assert.equal(await fs.readFile(path.join(composeDir, '.env'), 'utf8'), 'SECRET=s3cret\n');
    assert.equal((await fs.stat(path.join(composeDir, '.env'))).mode & 0o777, 0o600, 'the .env file comes back private, as it was');
    const uploads = await docker.getVolume('blog_uploads').inspect();
    assert.deepEqual(uploads.Labels, { [composeProjectLabel]: project, 'com.docker.compose.volume': 'uploads' });
    assertSameTree(await uploadsManifest(uploads.Mountpoint), before);
    // A tar keeps whole seconds; the engine's archive endpoint may round either way.
    const timesAfter = await fileTimes(uploads.Mountpoint);
    const off = [...timesBefore].filter(([p, t]) => Math.abs((timesAfter.get(p) ?? 0) - t) > 1000).map(([p]) => p);
    assert.deepEqual(off, [], 'file times come back to the second');
    assert.ok(dbLog.length > 0 && (await fs.readFile(path.join(await mountpoint('blog_db'), 'log'), 'utf8')).startsWith(dbLog), 'the database volume holds what it held at the backup');
    assert.equal(await running('blog-db-1'), true);
    assert.equal(await running('blog-web-1'), true);
    assert.equal((await docker.getContainer('blog-web-1').inspect()).Config.Labels[composeProjectLabel], project);
    const log = path.join(uploads.Mountpoint, 'log');
    const size = readOrEmpty(log).length;
    for (let i = 0; i < 100 && readOrEmpty(log).length === size; i++) await sleep(50);
    assert.ok(readOrEmpty(log).length > size, 'the recreated container writes to the restored volume');
    assert.deepEqual((await docker.listContainers({ all: true, filters: { label: ['cairn.helper=true'] } })).length, 0, 'no helper container is left behind');
    await src.teardown();
  });
  }

  test('a container writing to a project volume is stopped for the backup and running again after it, also when the backup fails; volumes are read from their mountpoints', async () => {
    await composeUp();
    const src = source();
    const items = await src.items();
    assert.deepEqual(items.filter((i) => i.name.startsWith('volume-')).map((i) => [i.type, i.name]), [['tree', 'volume-blog_db'], ['tree', 'volume-blog_uploads']]);
    const log = path.join(await mountpoint('blog_db'), 'log');
    await src.quiesce(async () => {
      assert.equal(await running('blog-db-1'), false);
      const size = readOrEmpty(log).length;
      await sleep(300);
      assert.equal(readOrEmpty(log).length, size, 'nothing writes while the volume is backed up');
    });
    assert.equal(await running('blog-db-1'), true);
    assert.equal(await running('blog-web-1'), true);
    const failure = new CairnError('repo-full', 'the repository is full', 'free space');
    await assert.rejects(src.quiesce(async () => {
      throw failure;
    }), (err) => err === failure);
    assert.equal(await running('blog-db-1'), true);
    assert.equal(await running('blog-web-1'), true);

    const meta = await src.metadata();
    assert.deepEqual(meta.composeFiles, [path.join(composeDir, 'compose.yaml'), path.join(composeDir, '.env')]);
    const volumes = meta.volumes as { name: string; sizeBytes?: number }[];
    assert.deepEqual(volumes.map((v) => v.name), ['blog_db', 'blog_uploads']);
    assert.ok(volumes.every((v) => typeof v.sizeBytes === 'number'));
    const image = await docker.getImage(pm.image).inspect();
    assert.deepEqual(meta.images, [{ image: pm.image, id: image.Id, digest: image.RepoDigests[0]!.split('@')[1] }]);
    await src.teardown();
  });

  test('restore --to writes the Compose files, volume data and records under a directory without touching the engine', async () => {
    await composeUp();
    await fs.writeFile(path.join(await mountpoint('blog_uploads'), 'kept.txt'), 'kept\n');
    const src = source({ volumes: ['never-created'] });
    const warnings: string[] = [];
    const noisy = source({ volumes: ['never-created'], onWarning: (m) => warnings.push(m) });
    await noisy.items();
    assert.ok(warnings.some((w) => /volume never-created does not exist/.test(w)));
    const stored = await DirStoredContent.capture(await src.items(), scratch());
    const manifest = JSON.parse(await fs.readFile(path.join(stored.dir, 'volumes.json'), 'utf8')) as DockerManifest;
    assert.deepEqual(manifest.missingVolumes, ['never-created']);
    const to = path.join(work, 'docker-to');
    await src.restore(stored, { to });
    assert.deepEqual((await fs.readdir(to)).sort(), ['compose-compose.yaml', 'compose-dot-env', 'containers.json', 'volume-blog_db', 'volume-blog_uploads', 'volumes.json']);
    assert.equal(await fs.readFile(path.join(to, 'volume-blog_uploads', 'kept.txt'), 'utf8'), 'kept\n');
    assert.equal(await running('blog-web-1'), true);
    const report = await src.teardown();
    assert.deepEqual(report.missing, ['volume never-created']);
  });

  test('the engine comes from DOCKER_HOST when the source names none; mistakes are CairnErrors with a remedy', async () => {
    assert.deepEqual(dockerConnection('unix:///run/docker.sock'), { socketPath: '/run/docker.sock' });
    assert.deepEqual(dockerConnection('tcp://10.0.0.5:2375'), { protocol: 'http', host: '10.0.0.5', port: 2375 });
    assert.deepEqual(dockerConnection('ssh://admin@nas'), { protocol: 'ssh', host: 'nas', username: 'admin' });
    assert.deepEqual(dockerConnection(undefined), { socketPath: '/var/run/docker.sock' });
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = `unix://${socket}`;
    try {
      await new DockerSource({ volumes: ['other_data'] }).health();
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
    assert.throws(() => new DockerSource({}), (err: unknown) => err instanceof CairnError && err.code === 'docker-config');
    assert.throws(() => dockerConnection('ftp://x'), (err: unknown) => err instanceof CairnError && err.code === 'docker-host');
    await assert.rejects(new DockerSource({ volumes: ['x'], host: `unix://${path.join(work, 'no.sock')}` }).items(), (err: unknown) => err instanceof CairnError && err.code === 'docker-unreachable' && /DOCKER_HOST/.test(err.remedy));
  });
});
