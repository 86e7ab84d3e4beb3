// openBackend: a location string gives the matching backend, remote ones wrapped in RetryBackend.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalBackend } from '../../../src/backend/local.js';
import { openBackend } from '../../../src/backend/open.js';
import { RestBackend } from '../../../src/backend/rest.js';
import { RetryBackend } from '../../../src/backend/retry.js';
import { S3Backend } from '../../../src/backend/s3.js';
import { SftpBackend } from '../../../src/backend/sftp.js';
import { CairnError } from '../../../src/errors.js';

test('a local path opens a LocalBackend, without retries', async () => {
  const b = await openBackend('/tmp/cairn-open-test');
  assert.ok(b instanceof LocalBackend);
});

test('sftp, rest and s3 locations open their backend behind RetryBackend', async () => {
  const sftp = await openBackend('sftp://alice@nas:2222//srv/restic');
  assert.ok(sftp instanceof RetryBackend && sftp.inner instanceof SftpBackend);
  assert.equal(sftp.location, 'sftp://alice@nas:2222//srv/restic');

  const rest = await openBackend('rest:https://alice:secret@backup.lan:8000/alice/');
  assert.ok(rest instanceof RetryBackend && rest.inner instanceof RestBackend);
  assert.equal(rest.location, 'rest:https://backup.lan:8000/alice/');

  const s3 = await openBackend('s3:http://127.0.0.1:9000/bucket/prefix', { s3: { credentials: { accessKeyId: 'a', secretAccessKey: 'b' } } });
  assert.ok(s3 instanceof RetryBackend && s3.inner instanceof S3Backend);
  assert.equal(s3.inner.bucket, 'bucket');
  assert.equal(s3.inner.keyPrefix, 'prefix/');
  await s3.close();
});

test('retries can be turned off', async () => {
  const b = await openBackend('sftp:nas:/srv/restic', { retry: false });
  assert.ok(b instanceof SftpBackend);
});

test('a malformed location is a bad-location error', async () => {
  await assert.rejects(openBackend('rest:ftp://x/'), (e: unknown) => e instanceof CairnError && e.code === 'bad-location');
});
