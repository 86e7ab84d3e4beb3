// S3Backend against a real S3 server: Ceph radosgw on a throwaway one-node cluster (test/helpers/radosgw.ts),
// and the real restic reading and writing the same bucket.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Backend, FileType, Handle } from '../../../src/backend/backend.js';
import { FaultBackend } from '../../../src/backend/faults.js';
import { LocalBackend } from '../../../src/backend/local.js';
import { S3Backend, type S3BackendOptions } from '../../../src/backend/s3.js';
import { CairnError, ExitCode } from '../../../src/errors.js';
import { fixturePassword, fixtureRepo } from '../../helpers/fixture.js';
import { runBackendConformance } from '../../helpers/backendConformance.js';
import { type Radosgw, startRadosgw } from '../../helpers/radosgw.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const id = (): string => randomBytes(32).toString('hex');

let rgw: Radosgw;
const opened: Backend[] = [];
let bucketCounter = 0;

before(async () => {
  rgw = await startRadosgw();
  console.log(`# radosgw started in ${rgw.startupSeconds.toFixed(1)} s at ${rgw.endpoint}`);
}, { timeout: 180_000 });

after(async () => {
  for (const b of opened) await b.close();
  await rgw?.stop();
});

/** A backend on the test server; each call gets its own bucket unless one is given. */
function s3(extra: Partial<S3BackendOptions> = {}): S3Backend {
  const backend = new S3Backend({
    endpoint: rgw.endpoint,
    bucket: `cairn-test-${++bucketCounter}`,
    prefix: 'repo/one',
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
    ...extra,
  });
  opened.push(backend);
  return backend;
}

async function created(extra: Partial<S3BackendOptions> = {}): Promise<S3Backend> {
  const backend = s3(extra);
  await backend.create();
  return backend;
}

async function collect(backend: Backend, type: FileType): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const fi of backend.list(type)) out.set(fi.name, fi.size);
  return out;
}

/** Asserts that `promise` rejects with exactly one CairnError of this code, and returns it. */
async function cairnError(promise: Promise<unknown>, code: string): Promise<CairnError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof CairnError, `expected a CairnError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.ok(!err.message.includes('\n'), 'message is one line');
    assert.ok(err.remedy.length > 0);
    return err;
  }
  assert.fail(`expected CairnError ${code}, but it resolved`);
}

// Each conformance test gets a fresh bucket; the whole server is thrown away at the end.
runBackendConformance('S3Backend on radosgw', async () => ({ backend: s3(), cleanup: async () => {} }));

describe('S3Backend on a real radosgw', () => {
  test('files are stored in restic\'s layout under the prefix', async () => {
    const b = await created();
    const pack = id();
    const key = id();
    await b.write({ type: 'config', name: 'config' }, Buffer.from('c'));
    await b.write({ type: 'pack', name: pack }, Buffer.from('p'));
    await b.write({ type: 'key', name: key }, Buffer.from('k'));
    await b.write({ type: 'snapshot', name: key }, Buffer.from('s'));
    const res = await b.client.send(new ListObjectsV2Command({ Bucket: b.bucket }));
    const keys = (res.Contents ?? []).map((o) => o.Key).sort();
    assert.deepEqual(keys, ['repo/one/config', `repo/one/data/${pack.slice(0, 2)}/${pack}`, `repo/one/keys/${key}`, `repo/one/snapshots/${key}`].sort());
  });

  test('a missing file is not-found, a missing config is no-repository (exit 10)', async () => {
    const b = await created();
    await cairnError(b.stat({ type: 'pack', name: id() }), 'not-found');
    await cairnError(b.read({ type: 'index', name: id() }), 'not-found');
    const err = await cairnError(b.read({ type: 'config', name: 'config' }), 'no-repository');
    assert.equal(err.exitCode, ExitCode.noRepository);
    await cairnError(b.stat({ type: 'config', name: 'config' }), 'no-repository');
    assert.equal(await b.exists({ type: 'config', name: 'config' }), false);
  });

  test('list yields every valid id with its size and skips foreign objects and empty locks', async () => {
    const b = await created();
    const packs = [id(), id(), id()];
    for (const [i, name] of packs.entries()) await b.write({ type: 'pack', name }, randomBytes(10 + i));
    const lock = id();
    await b.write({ type: 'lock', name: lock }, Buffer.alloc(0));
    await b.write({ type: 'key', name: id() }, Buffer.from('{}'));
    // What a crashed or foreign writer might leave behind.
    for (const k of ['repo/one/data/zz/not-an-id', `repo/one/data/${packs[0]}`, 'repo/one/keys/tmp-123', 'repo/other/keys/' + id()]) {
      await b.client.send(new PutObjectCommand({ Bucket: b.bucket, Key: k, Body: 'x' }));
    }
    assert.deepEqual(await collect(b, 'pack'), new Map(packs.map((name, i) => [name, 10 + i])));
    assert.equal((await collect(b, 'key')).size, 1);
    assert.equal((await collect(b, 'lock')).size, 0);
    assert.equal((await collect(b, 'snapshot')).size, 0);
    await b.write({ type: 'config', name: 'config' }, Buffer.from('cfg'));
    assert.deepEqual(await collect(b, 'config'), new Map([['config', 3]]));
  });

  test('a large file is uploaded in parts and reads back identical', async () => {
    const b = await created({ multipartThreshold: 6 * MiB, partSize: 5 * MiB });
    const data = randomBytes(11 * MiB);
    const h: Handle = { type: 'pack', name: id() };
    const progress: number[] = [];
    await b.write(h, data, { onProgress: (sent) => progress.push(sent) });
    assert.equal(progress.at(-1), data.length, 'progress ends at the full size');
    const head = await b.client.send(new HeadObjectCommand({ Bucket: b.bucket, Key: b.key(h) }));
    assert.match(head.ETag ?? '', /-3"?$/, 'a 3-part multipart object');
    assert.equal((await b.stat(h)).size, data.length);
    assert.ok((await b.read(h)).equals(data));
    assert.ok((await b.read(h, 5 * MiB - 10, 20)).equals(data.subarray(5 * MiB - 10, 5 * MiB + 10)));
  });

  test('a multipart upload cut halfway leaves nothing visible and no parts behind', async () => {
    const b = await created({ multipartThreshold: 6 * MiB, partSize: 5 * MiB, partConcurrency: 1 });
    const faulty = new FaultBackend(b, [{ action: 'cut-write', ops: ['write'], nth: 1 }]);
    const h: Handle = { type: 'pack', name: id() };
    await assert.rejects(faulty.write(h, randomBytes(11 * MiB)), /injected fault/);
    assert.equal(await b.exists(h), false);
    assert.equal((await collect(b, 'pack')).size, 0);
    const uploads = await b.client.send(new ListMultipartUploadsCommand({ Bucket: b.bucket }));
    assert.equal(uploads.Uploads?.length ?? 0, 0, 'the upload was aborted');
  });

  test('a multipart upload the server rejects at completion leaves nothing visible', async () => {
    // 1 MiB parts are below S3's 5 MiB minimum: radosgw accepts the parts and refuses to complete.
    const b = await created({ multipartThreshold: 1 * MiB, partSize: 1 * MiB });
    const h: Handle = { type: 'pack', name: id() };
    await assert.rejects(b.write(h, randomBytes(2 * MiB + 1)), CairnError);
    assert.equal(await b.exists(h), false);
    const uploads = await b.client.send(new ListMultipartUploadsCommand({ Bucket: b.bucket }));
    assert.equal(uploads.Uploads?.length ?? 0, 0, 'the upload was aborted');
  });

  test('create() makes the bucket and is idempotent; the prefix may be empty', async () => {
    const b = s3({ prefix: '' });
    await b.create();
    await b.create();
    await b.write({ type: 'config', name: 'config' }, Buffer.from('x'));
    const res = await b.client.send(new ListObjectsV2Command({ Bucket: b.bucket }));
    assert.deepEqual((res.Contents ?? []).map((o) => o.Key), ['config']);
  });

  test('a missing bucket gives one clear no-bucket error', async () => {
    const b = s3({ bucket: 'no-such-bucket-here' });
    const err = await cairnError(b.stat({ type: 'config', name: 'config' }), 'no-bucket');
    assert.match(err.message, /no-such-bucket-here/);
    assert.match(err.remedy, /cairn init/);
    await cairnError(b.read({ type: 'key', name: id() }), 'no-bucket');
    await cairnError(b.write({ type: 'key', name: id() }, Buffer.from('x')), 'no-bucket');
    await cairnError(collect(b, 'snapshot'), 'no-bucket');
    assert.equal(await b.exists({ type: 'config', name: 'config' }), false, 'init can probe before creating the bucket');
  });

  test('wrong credentials give one clear credentials error naming the variables to set', async () => {
    const bucket = (await created()).bucket;
    for (const credentials of [
      { accessKeyId: 'NOSUCHKEY', secretAccessKey: 'whatever' },
      { accessKeyId: rgw.accessKeyId, secretAccessKey: 'wrong-secret' },
    ]) {
      const b = s3({ bucket, credentials });
      const err = await cairnError(b.stat({ type: 'config', name: 'config' }), 'credentials');
      assert.match(err.remedy, /AWS_ACCESS_KEY_ID/);
      assert.match(err.remedy, /AWS_SECRET_ACCESS_KEY/);
      await cairnError(b.write({ type: 'key', name: id() }, Buffer.from('x')), 'credentials');
      await cairnError(collect(b, 'key'), 'credentials');
    }
  });

  test('credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY when none are given', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = rgw.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = rgw.secretAccessKey;
    try {
      const b = new S3Backend({ endpoint: rgw.endpoint, bucket: `cairn-env-${bucketCounter++}` });
      opened.push(b);
      await b.create();
      await b.write({ type: 'config', name: 'config' }, Buffer.from('env'));
      assert.equal((await b.read({ type: 'config', name: 'config' })).toString(), 'env');
    } finally {
      restoreEnv('AWS_ACCESS_KEY_ID', saved.id);
      restoreEnv('AWS_SECRET_ACCESS_KEY', saved.secret);
    }
  });

  test('no credentials anywhere gives one clear credentials error naming the variables to set', async () => {
    const names = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_CONFIG_FILE', 'AWS_EC2_METADATA_DISABLED', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_WEB_IDENTITY_TOKEN_FILE'];
    const saved = new Map(names.map((n) => [n, process.env[n]]));
    for (const n of names) delete process.env[n];
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/credentials';
    process.env.AWS_CONFIG_FILE = '/nonexistent/config';
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    try {
      const b = new S3Backend({ endpoint: rgw.endpoint, bucket: 'whatever' });
      opened.push(b);
      const err = await cairnError(b.stat({ type: 'config', name: 'config' }), 'credentials');
      assert.match(err.remedy, /AWS_ACCESS_KEY_ID/);
    } finally {
      for (const [n, v] of saved) restoreEnv(n, v);
    }
  });

  test('an unreachable endpoint gives one clear unreachable error naming it', async () => {
    const port = await closedPort();
    const endpoint = `http://127.0.0.1:${port}`;
    const b = s3({ endpoint, maxAttempts: 2 });
    const err = await cairnError(b.stat({ type: 'config', name: 'config' }), 'unreachable');
    assert.ok(err.message.includes(endpoint), err.message);
    await cairnError(b.create(), 'unreachable');
    await cairnError(collect(b, 'pack'), 'unreachable');
  });

  test('virtual-host style requests reach the bucket as <bucket>.<host>', async () => {
    // *.localhost does not resolve on this machine, so the agent resolves every name to 127.0.0.1.
    const agent = new http.Agent({ lookup: (_host, _opts, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]) } as http.AgentOptions);
    const b = s3({ endpoint: `http://localhost:${rgw.port}`, forcePathStyle: false, agent });
    const hosts: string[] = [];
    b.client.middlewareStack.add(
      (next) => async (args) => {
        hosts.push((args.request as { hostname: string }).hostname);
        return next(args);
      },
      { step: 'finalizeRequest', name: 'recordHost' },
    );
    await b.create();
    await b.write({ type: 'config', name: 'config' }, Buffer.from('vhost'));
    assert.equal((await b.read({ type: 'config', name: 'config' })).toString(), 'vhost');
    assert.ok(hosts.length > 0 && hosts.every((h) => h === `${b.bucket}.localhost`), hosts.join(','));
  });

});

describe('S3Backend and the real restic share a bucket', () => {
  const resticEnv = (): NodeJS.ProcessEnv => ({
    ...process.env,
    AWS_ACCESS_KEY_ID: rgw.accessKeyId,
    AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey,
    RESTIC_PASSWORD: fixturePassword,
  });
  const restic = async (repo: string, ...args: string[]): Promise<string> =>
    (await run('restic', ['--no-cache', '-r', repo, ...args], { env: resticEnv(), maxBuffer: 16 * MiB })).stdout;

  test('S3Backend lists and reads the config and key that restic init wrote', async () => {
    const repo = `s3:${rgw.endpoint}/restic-made/some/prefix`;
    await restic(repo, 'init');
    const b = s3({ bucket: 'restic-made', prefix: 'some/prefix' });
    const config = await b.read({ type: 'config', name: 'config' });
    assert.equal((await b.stat({ type: 'config', name: 'config' })).size, config.length);
    assert.ok(config.length > 32, 'an encrypted config');
    const keys = await collect(b, 'key');
    const resticKeys = JSON.parse(await restic(repo, 'key', 'list', '--json')) as { id: string }[];
    // restic 0.14 prints short (8-hex) key ids.
    assert.equal(keys.size, 1);
    const [keyId] = [...keys.keys()];
    assert.deepEqual(resticKeys.map((k) => keyId!.startsWith(k.id)), [true]);
    const keyFile = await b.read({ type: 'key', name: keyId! });
    assert.deepEqual(JSON.parse(keyFile.toString()), JSON.parse(await restic(repo, 'cat', 'key', keyId!)));
    assert.equal((JSON.parse(keyFile.toString()) as { kdf: string }).kdf, 'scrypt');
  });

  test('restic checks and reads a repository that S3Backend wrote', async () => {
    const local = new LocalBackend(fixtureRepo);
    const b = await created({ bucket: 'cairn-written', prefix: 'copied' });
    for (const type of ['config', 'key', 'snapshot', 'index', 'pack'] as const) {
      for await (const fi of local.list(type)) {
        const h: Handle = { type, name: fi.name };
        await b.write(h, await local.read(h));
      }
    }
    const repo = `s3:${rgw.endpoint}/cairn-written/copied`;
    await restic(repo, 'check', '--read-data');
    const snapshots = JSON.parse(await restic(repo, 'snapshots', '--json')) as unknown[];
    assert.ok(snapshots.length > 0);
  });
});

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/** A 127.0.0.1 port nothing listens on (taken and released). */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}
