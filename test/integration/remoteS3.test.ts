// cairn and the real restic share a repository in an S3 bucket on a real Ceph radosgw, through the
// CLI as a user runs it: `-r s3:http://host:port/bucket/prefix` with AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY. Mistakes a user can make each get one line, a remedy and restic's exit code.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Radosgw, startRadosgw } from '../helpers/radosgw.js';
import { type RemoteTarget, assertCairnAndResticShare, assertOk, assertOneLineAndRemedy, cairnMistake, cairnOn, s3Env, s3Target } from '../helpers/remoteEnv.js';
import { generateTree } from '../helpers/treeGen.js';

const password = 'remote-s3';
let rgw: Radosgw;
let tmp: string;
let src: string;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-remote-s3-'));
  src = path.join(tmp, 'data', 'src');
  await generateTree(src, { seed: 51, files: 40, maxSize: 1024 * 1024 });
  rgw = await startRadosgw();
});

after(async () => {
  await rgw?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

/** A TCP port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

describe('S3 repository', () => {
  test('cairn creates the bucket, backs up and restores; restic checks, restores and writes the same repository; cairn restores restic\'s snapshot', async () => {
    await assertCairnAndResticShare(s3Target(rgw, 'shared-bucket/hosts/nas'), src, path.join(tmp, 'roundtrip'), password);
  });
});

describe('S3 mistakes get one line, a remedy and restic\'s exit code', () => {
  const existing = (): RemoteTarget => s3Target(rgw, 'existing-bucket/repo');
  before(async () => {
    assertOk(await cairnOn(existing(), password, 'init'), 'cairn init');
  });

  test('a wrong secret key says S3 refused access and which variables to check (exit 1)', async () => {
    const t: RemoteTarget = { ...existing(), cairnEnv: s3Env(rgw, { secretAccessKey: 'not-the-secret' }) };
    const r = await cairnMistake(t, password, 'snapshots');
    assertOneLineAndRemedy(r, 1, new RegExp(`S3 at ${rgw.endpoint.replace(/\./g, '\\.')} refused access to repo/config \\((SignatureDoesNotMatch|HTTP 403)\\)$`), /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    assert.ok(!r.stderr.includes('not-the-secret'), 'the secret is not shown');
  });

  test('a bucket that does not exist exits 10, says the bucket is missing and where, and suggests cairn init', async () => {
    const r = await cairnMistake(s3Target(rgw, 'no-such-bucket/repo'), password, 'snapshots');
    assertOneLineAndRemedy(r, 10, new RegExp(`bucket "no-such-bucket" does not exist at ${rgw.endpoint.replace(/\./g, '\\.')}`), /cairn init/);
  });

  test('a bucket without a repository at the prefix exits 10', async () => {
    const r = await cairnMistake(s3Target(rgw, 'existing-bucket/other-prefix'), password, 'snapshots');
    assertOneLineAndRemedy(r, 10, /no repository at s3:.*\/existing-bucket\/other-prefix/, /cairn init/);
  });

  test('a wrong repository password exits 12', async () => {
    const r = await cairnMistake(existing(), 'not-the-password', 'snapshots');
    assertOneLineAndRemedy(r, 12, /wrong password/, /password/);
  });

  test('an unreachable endpoint (nothing listens on the port) names it and says what to check (exit 1)', async () => {
    const port = await closedPort();
    const r = await cairnMistake({ ...existing(), location: `s3:http://127.0.0.1:${port}/existing-bucket/repo` }, password, 'snapshots');
    assertOneLineAndRemedy(r, 1, new RegExp(`cannot reach S3 endpoint http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`), /S3 server is running/);
  });
});
