// The real restic and cairn's remote backends share repositories through the same test servers
// (OpenSSH sshd and `rclone serve restic`): cairn lists and reads what `restic init` wrote, and
// restic checks a repository that cairn uploaded file by file (the restic-made fixture).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Backend, FileInfo, FileType } from '../../../src/backend/backend.js';
import { LocalBackend } from '../../../src/backend/local.js';
import { openBackend } from '../../../src/backend/open.js';
import { expected, fixturePassword, fixtureRepo } from '../../helpers/fixture.js';
import { type RcloneRest, startRcloneRest } from '../../helpers/rcloneRest.js';
import { type Sshd, startSshd } from '../../helpers/sshd.js';

function restic(args: string[], password = 'cairn-test-password'): string {
  const r = spawnSync('restic', ['--no-cache', ...args], {
    env: { ...process.env, RESTIC_PASSWORD: password },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `restic ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const allTypes: FileType[] = ['config', 'key', 'snapshot', 'index', 'lock', 'pack'];

/** Copies the restic-made fixture repository into `b`, file by file, through the Backend interface. */
async function uploadFixture(b: Backend): Promise<number> {
  const src = new LocalBackend(fixtureRepo);
  await b.create();
  let n = 0;
  for (const t of allTypes) {
    for await (const fi of src.list(t)) {
      const h = { type: t, name: fi.name };
      await b.write(h, await src.read(h));
      n++;
    }
  }
  return n;
}

/** restic checks every byte of the uploaded fixture and finds its snapshots. */
function assertResticReadsFixture(repoArgs: string[]): void {
  restic([...repoArgs, 'check', '--read-data'], fixturePassword);
  const snaps = JSON.parse(restic([...repoArgs, 'snapshots', '--json'], fixturePassword)) as Array<{ id: string }>;
  const want = (expected.restic_snapshots_json as Array<{ id: string }> | undefined)?.map((s) => s.id).sort();
  assert.ok(snaps.length > 0);
  if (want) assert.deepEqual(snaps.map((s) => s.id).sort(), want);
}

async function collect(b: Backend, t: FileType): Promise<FileInfo[]> {
  const out: FileInfo[] = [];
  for await (const fi of b.list(t)) out.push(fi);
  return out;
}

/** Checks that cairn sees exactly the config and key files restic wrote into `dir`, byte for byte. */
async function assertSameAsOnDisk(b: Backend, dir: string): Promise<void> {
  const configOnDisk = await readFile(path.join(dir, 'config'));
  assert.equal(await b.exists({ type: 'config', name: 'config' }), true);
  assert.deepEqual(await b.stat({ type: 'config', name: 'config' }), { name: 'config', size: configOnDisk.length });
  assert.ok((await b.read({ type: 'config', name: 'config' })).equals(configOnDisk));

  const keyNames = await readdir(path.join(dir, 'keys'));
  assert.equal(keyNames.length, 1);
  const keys = await collect(b, 'key');
  assert.deepEqual(keys, [{ name: keyNames[0]!, size: (await stat(path.join(dir, 'keys', keyNames[0]!))).size }]);
  const keyJson = JSON.parse((await b.read({ type: 'key', name: keys[0]!.name })).toString('utf8')) as { kdf?: string };
  assert.equal(keyJson.kdf, 'scrypt');
  assert.deepEqual(await collect(b, 'snapshot'), []);
}

describe('restic and cairn share a repository over sftp', () => {
  let sshd: Sshd;
  before(async () => {
    sshd = await startSshd();
  });
  after(() => sshd.stop());
  const sftpCommand = (): string => ['ssh', ...sshd.sshArgs, `${sshd.user}@127.0.0.1`, '-s', 'sftp'].join(' ');

  test('restic checks and lists a repository that cairn uploaded over sftp', async () => {
    const repo = path.join(sshd.dir, 'repos', 'cairn-made');
    const b = await openBackend(`sftp://${sshd.user}@127.0.0.1:${sshd.port}/${repo}`, {
      sftp: { identityFile: sshd.clientKey, knownHostsFile: sshd.knownHostsFile, agent: false },
    });
    try {
      assert.ok((await uploadFixture(b)) >= 8);
    } finally {
      await b.close();
    }
    assertResticReadsFixture(['-r', `sftp:${sshd.user}@127.0.0.1:${repo}`, '-o', `sftp.command=${sftpCommand()}`]);
  });

  test('cairn lists and reads the config and key that restic wrote', async () => {
    const repo = path.join(sshd.dir, 'repos', 'restic-made');
    restic(['-r', `sftp:${sshd.user}@127.0.0.1:${repo}`, '-o', `sftp.command=${sftpCommand()}`, 'init']);
    const b = await openBackend(`sftp://${sshd.user}@127.0.0.1:${sshd.port}/${repo}`, {
      sftp: { identityFile: sshd.clientKey, knownHostsFile: sshd.knownHostsFile, agent: false },
    });
    try {
      await assertSameAsOnDisk(b, repo);
    } finally {
      await b.close();
    }
  });
});

describe('restic and cairn share a repository over REST (rclone serve restic)', () => {
  let server: RcloneRest;
  before(async () => {
    server = await startRcloneRest({ user: 'alice', pass: 'pw' });
  });
  after(() => server.stop());

  test('restic checks and lists a repository that cairn uploaded over REST', async () => {
    const url = `http://alice:pw@127.0.0.1:${server.port}/cairn-made/`;
    const b = await openBackend(`rest:${url}`);
    try {
      assert.ok((await uploadFixture(b)) >= 8);
    } finally {
      await b.close();
    }
    assertResticReadsFixture(['-r', `rest:${url}`]);
  });

  test('cairn lists and reads the config and key that restic wrote', async () => {
    const url = `http://alice:pw@127.0.0.1:${server.port}/restic-made/`;
    restic(['-r', `rest:${url}`, 'init']);
    const b = await openBackend(`rest:${url}`);
    try {
      await assertSameAsOnDisk(b, path.join(server.dir, 'restic-made'));
    } finally {
      await b.close();
    }
  });
});
