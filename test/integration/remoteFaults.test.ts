// A backup over a flaky link: cairn's library backup and restore run through
// RetryBackend(FaultBackend(SftpBackend)) against a real OpenSSH sftp server, with one call in 20
// failing (connection reset), some pack uploads cut halfway and some pack reads coming back short.
// The retries carry the backup through; the real restic then verifies every byte of what reached
// the server's disk, and a restore through the same flaky link equals the source.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { FaultBackend } from '../../src/backend/faults.js';
import { RetryBackend, type RetryEvent } from '../../src/backend/retry.js';
import { SftpBackend } from '../../src/backend/sftp.js';
import { formatPolynomial, randomPolynomial } from '../../src/chunker/polynomial.js';
import { backupPaths } from '../../src/engine/backup.js';
import { restoreSnapshot } from '../../src/engine/restorer.js';
import { Repository } from '../../src/repo/repository.js';
import type { Snapshot } from '../../src/repo/snapshot.js';
import { runRestic } from '../helpers/cli.js';
import { assertOk } from '../helpers/remoteEnv.js';
import { type Sshd, startSshd } from '../helpers/sshd.js';
import { generateTree, manifest } from '../helpers/treeGen.js';

const MiB = 1024 * 1024;
const password = 'remote-faults';
let sshd: Sshd;
let tmp: string;
let src: string;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-remote-faults-'));
  src = path.join(tmp, 'data', 'src');
  // About 200 MiB: an 80 MiB random file and ~120 MiB of files, two thirds of them random, one third text.
  await generateTree(src, { seed: 61, files: 80, maxSize: 6 * MiB, bigFile: 80 * MiB });
  sshd = await startSshd();
});

after(async () => {
  await sshd?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

/** Total size of the regular files below `dir`. */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await fs.readdir(dir, { recursive: true })) {
    const st = await fs.lstat(path.join(dir, name));
    if (st.isFile()) total += st.size;
  }
  return total;
}

/** The sftp repository behind injected faults and a retry policy with short waits; retries are recorded. */
function flakySftp(repoDir: string, events: RetryEvent[]): { faults: FaultBackend; backend: RetryBackend } {
  const sftp = new SftpBackend({
    host: '127.0.0.1',
    port: sshd.port,
    user: sshd.user,
    path: repoDir,
    identityFile: sshd.clientKey,
    knownHostsFile: sshd.knownHostsFile,
    agent: false,
    sshConfigFile: false,
  });
  const faults = new FaultBackend(
    sftp,
    [
      { action: 'fail', every: 20 },
      { action: 'cut-write', ops: ['write'], match: (h) => h.type === 'pack', every: 5 },
      { action: 'short-read', ops: ['read'], match: (h) => h.type === 'pack', every: 7 },
    ],
    { seed: 61 },
  );
  const backend = new RetryBackend(faults, { baseDelayMs: 20, maxDelayMs: 500, logger: (e) => events.push(e) });
  return { faults, backend };
}

/** How many retries were caused by each kind of fault. */
function retriesByKind(events: RetryEvent[]): { failed: number; cut: number; short: number } {
  const text = (e: RetryEvent): string => String((e.error as Error)?.message ?? e.error);
  return {
    cut: events.filter((e) => /cut after \d+ of \d+ bytes/.test(text(e))).length,
    short: events.filter((e) => /asked for \d+ bytes at offset \d+, got \d+/.test(text(e))).length,
    failed: events.filter((e) => /injected fault: connection reset/.test(text(e)) && !/cut after/.test(text(e))).length,
  };
}

test('with 1 call in 20 failing, cut uploads and short reads, a 200 MiB backup over sftp finishes, restic check --read-data passes and a restore through the same faults equals the source', async (t) => {
  const repoDir = path.join(sshd.dir, 'repos', 'flaky');
  const size = await treeBytes(src);
  assert.ok(size >= 180 * MiB && size <= 260 * MiB, `source is ${(size / MiB).toFixed(0)} MiB`);

  const backupEvents: RetryEvent[] = [];
  const { faults, backend } = flakySftp(repoDir, backupEvents);
  let snapshot: Snapshot;
  try {
    const repo = await Repository.init(backend, password, { newPolynomial: () => formatPolynomial(randomPolynomial()), kdf: { N: 1024, r: 8, p: 1 } });
    // restic's smallest --pack-size: more uploads, so 1 call in 20 means a few dozen chances to fail.
    repo.setWriteOptions({ packSize: 4 * MiB });
    const result = await backupPaths(repo, [src]);
    assert.deepEqual(result.errors, [], 'no file was lost to a storage fault');
    snapshot = result.snapshot;
  } finally {
    await backend.close();
  }
  const during = retriesByKind(backupEvents);
  t.diagnostic(`backup: ${JSON.stringify(faults.calls)} calls, ${faults.injected} faults, retries ${JSON.stringify(during)}`);
  assert.ok(during.failed >= 2, `failed calls were retried (${during.failed})`);
  assert.ok(during.cut >= 3, `cut uploads were retried (${during.cut})`);
  assert.ok(faults.injected >= during.failed + during.cut);

  // What reached the server's disk: restic reads the folder directly and verifies every blob.
  const leftovers = (await fs.readdir(repoDir, { recursive: true })).filter((n) => path.basename(n).startsWith('.tmp-'));
  assert.deepEqual(leftovers, [], 'cut uploads left no temporary files');
  assertOk(await runRestic(['-r', repoDir, 'check', '--read-data'], { RESTIC_PASSWORD: password }), 'restic check --read-data');
  const snaps = JSON.parse((await runRestic(['-r', repoDir, 'snapshots', '--json'], { RESTIC_PASSWORD: password })).stdout) as { id: string }[];
  assert.deepEqual(snaps.map((s) => s.id), [snapshot.id]);

  const restoreEvents: RetryEvent[] = [];
  const reading = flakySftp(repoDir, restoreEvents);
  const target = path.join(tmp, 'restored');
  try {
    const repo = await Repository.open(reading.backend, password);
    const summary = await restoreSnapshot(repo, snapshot, { target, xattrs: false });
    assert.deepEqual(summary.errors, []);
  } finally {
    await reading.backend.close();
  }
  const whileReading = retriesByKind(restoreEvents);
  t.diagnostic(`restore: ${JSON.stringify(reading.faults.calls)} calls, ${reading.faults.injected} faults, retries ${JSON.stringify(whileReading)}`);
  assert.ok(whileReading.short >= 2, `short reads were retried (${whileReading.short})`);
  assert.deepEqual(await manifest(path.join(target, src)), await manifest(src));
});
