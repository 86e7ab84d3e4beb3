// A remote server that dies in the middle of a `cairn backup` (real OpenSSH sshd and `rclone serve
// restic`, SIGKILLed with their connections once the first pack is on the server's disk): the backup
// gives up after its retries with one message naming the server and what to check, writes no
// snapshot, and a rerun once the server is back makes a snapshot that the real restic verifies.
// The two servers are tested side by side: most of each test is the backup waiting out its retries.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type TestContext, after, before, describe, test } from 'node:test';
import { type RcloneRest, startRcloneRest } from '../helpers/rcloneRest.js';
import { type RemoteTarget, assertOk, backupKilledMidway, cairnOn, restTarget, resticOn, resticSnapshots, sftpTarget } from '../helpers/remoteEnv.js';
import { type Sshd, startSshd } from '../helpers/sshd.js';
import { generateTree } from '../helpers/treeGen.js';

const password = 'remote-killed';
let tmp: string;
let src: string;
let sshd: Sshd;
let rest: RcloneRest;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-remote-killed-'));
  src = path.join(tmp, 'data', 'src');
  // About 100 MiB, two thirds incompressible: many packs, so the server dies with uploads in flight.
  await generateTree(src, { seed: 31, files: 60, maxSize: 4 * 1024 * 1024, bigFile: 40 * 1024 * 1024 });
  sshd = await startSshd();
  rest = await startRcloneRest();
});

after(async () => {
  await sshd?.stop();
  await rest?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

/** The lines of stderr that are not retry notices: what the user is left with. */
function finalMessage(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '' && !/; retry \d+\/\d+ in /.test(l));
}

async function snapshotFiles(repoDir: string): Promise<string[]> {
  return (await fs.readdir(path.join(repoDir, 'snapshots')).catch(() => [] as string[])).filter((n) => /^[0-9a-f]{64}$/.test(n));
}

/** The whole story for one server: killed midway, clear failure, no snapshot, restart, rerun, restic check. */
async function killAndRecover(t: TestContext, target: RemoteTarget, repoDir: string, server: { kill(): Promise<void>; restart(): Promise<void> }, serverName: RegExp): Promise<void> {
  assertOk(await cairnOn(target, password, 'init'), 'cairn init');

  const started = Date.now();
  const failed = await backupKilledMidway(target, password, src, path.join(repoDir, 'data'), () => server.kill());
  const message = finalMessage(failed.stderr);
  t.diagnostic(`gave up after ${((Date.now() - started) / 1000).toFixed(0)} s; ${failed.stderr.split('\n').length - message.length - 1} retry notices; final lines:\n${message.slice(-4).join('\n')}`);
  assert.equal(failed.code, 1, `the backup fails once the server is gone:\n${failed.stderr.slice(-3000)}`);
  assert.deepEqual(message.filter((l) => l.startsWith('error: ')), [], 'no file is blamed for a dead server');
  assert.equal(message.length, 2, `one line saying what happened and one remedy:\n${message.join('\n')}`);
  const [what, remedy] = message;
  assert.match(what!, /^cairn: write data\//, 'the message says an upload failed');
  assert.match(what!, serverName, 'the message names the server');
  assert.match(remedy!, /^ {2}remedy: Check that .* reachable/, 'the remedy says what to check');
  assert.doesNotMatch(failed.stderr, /\n\s+at .+:\d+:\d+\)?\n/, 'no stack trace');
  assert.deepEqual(await snapshotFiles(repoDir), [], 'the failed run wrote no snapshot');

  await server.restart();
  const rerun = await cairnOn(target, password, 'backup', src);
  assertOk(rerun, 'the rerun after the server is back');
  assert.equal((await snapshotFiles(repoDir)).length, 1);

  // The failed run could not remove its lock from a dead server; it is stale now (its process is gone).
  assertOk(await cairnOn(target, password, 'unlock'), 'cairn unlock');
  assertOk(await resticOn(target, password, 'check', '--read-data'), 'restic check --read-data');
  const snaps = await resticSnapshots(target, password);
  assert.equal(snaps.length, 1);
  assert.deepEqual(snaps[0]!.paths, [src]);
}

describe('a remote server killed during a backup', { concurrency: true }, () => {
  test('sftp: the backup fails naming host:port and what to check, leaves no snapshot; a rerun after the server is back succeeds and restic check --read-data passes', async (t) => {
    const repoDir = path.join(sshd.dir, 'repos', 'killed');
    const target = sftpTarget(sshd, path.join(tmp, 'home'), repoDir);
    await killAndRecover(t, target, repoDir, sshd, new RegExp(`127\\.0\\.0\\.1:${sshd.port}`));
  });

  test('rest: the backup fails naming the server URL and what to check, leaves no snapshot; a rerun after the server is back succeeds and restic check --read-data passes', async (t) => {
    await killAndRecover(t, restTarget(`${rest.url}killed/`), path.join(rest.dir, 'killed'), rest, new RegExp(`http://127\\.0\\.0\\.1:${rest.port}/`));
  });
});
