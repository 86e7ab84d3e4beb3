// The REST backend against a real restic REST server, `rclone serve restic` (test/helpers/rcloneRest.ts):
// the shared conformance suite, credentials, TLS with a private CA, and an unreachable server.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RestBackend } from '../../../src/backend/rest.js';
import { CairnError, ExitCode } from '../../../src/errors.js';
import { runBackendConformance } from '../../helpers/backendConformance.js';
import { type RcloneRest, startRcloneRest } from '../../helpers/rcloneRest.js';

const server: RcloneRest = await startRcloneRest();
after(() => server.stop());

runBackendConformance(
  'rest',
  async () => {
    const name = `r-${randomBytes(6).toString('hex')}`;
    return { backend: new RestBackend({ url: `${server.url}${name}/` }), cleanup: () => rm(path.join(server.dir, name), { recursive: true, force: true }) };
  },
  { knownFailures: { 'invisible-while-writing': 'rclone 1.60 writes uploads in place under the final name (it removes them if the upload fails)' } },
);

const config = { type: 'config' as const, name: 'config' };

function assertCairnError(code: string, check?: (e: CairnError) => void): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof CairnError, `expected a CairnError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    check?.(err);
    return true;
  };
}

describe('rest errors', () => {
  test('a URL without a repository gives no-repository (exit code 10)', async () => {
    const b = new RestBackend({ url: `${server.url}nothing-here/` });
    await assert.rejects(
      b.read(config),
      assertCairnError('no-repository', (e) => {
        assert.equal(e.exitCode, ExitCode.noRepository);
        assert.ok(e.message.includes(`${server.url}nothing-here/`), e.message);
      }),
    );
    await b.close();
  });

  test('a server that is not running gives "server unreachable" naming the URL', async () => {
    const down = await startRcloneRest();
    const url = `${down.url}repo/`;
    await down.stop();
    const b = new RestBackend({ url });
    await assert.rejects(
      b.stat(config),
      assertCairnError('server-unreachable', (e) => {
        assert.ok(e.message.includes(url), e.message);
        assert.match(e.message, /connection refused/);
      }),
    );
    await b.close();
  });

  test('after the server restarts, the next call works again', async () => {
    const s = await startRcloneRest();
    try {
      const b = new RestBackend({ url: `${s.url}repo/` });
      await b.create();
      await b.write(config, Buffer.from('cfg'));
      await s.kill();
      await assert.rejects(b.read(config), assertCairnError('server-unreachable'));
      await s.restart();
      assert.deepEqual(await b.read(config), Buffer.from('cfg'));
      await b.close();
    } finally {
      await s.stop();
    }
  });
});

describe('rest basic auth', () => {
  let authed: RcloneRest;
  before(async () => {
    authed = await startRcloneRest({ user: 'alice', pass: 's3cret' });
  });
  after(() => authed.stop());

  test('the user and password in the URL log in', async () => {
    const b = new RestBackend({ url: `http://alice:s3cret@127.0.0.1:${authed.port}/repo/` });
    assert.equal(b.location, `rest:${authed.url}repo/`, 'the location never shows the password');
    await b.create();
    await b.write(config, Buffer.from('cfg'));
    assert.deepEqual(await b.read(config), Buffer.from('cfg'));
    await b.close();
  });

  test('a wrong password gives a credentials error that does not show the password', async () => {
    const b = new RestBackend({ url: `http://alice:wrong-pw@127.0.0.1:${authed.port}/repo/` });
    await assert.rejects(
      b.stat(config),
      assertCairnError('credentials', (e) => {
        assert.ok(e.message.includes(`${authed.url}repo/`), e.message);
        assert.match(e.message, /401/);
        assert.ok(!e.message.includes('wrong-pw'));
        assert.match(e.remedy, /USER:PASSWORD/);
      }),
    );
    await b.close();
  });

  test('no credentials at all give the same credentials error', async () => {
    const b = new RestBackend({ url: `${authed.url}repo/` });
    await assert.rejects(b.exists(config), assertCairnError('credentials'));
    await b.close();
  });
});

describe('rest over TLS with a private CA', () => {
  let secure: RcloneRest;
  before(async () => {
    secure = await startRcloneRest({ tls: true });
  });
  after(() => secure.stop());

  test('an untrusted certificate is refused with the CA-file remedy', async () => {
    const b = new RestBackend({ url: `${secure.url}repo/` });
    await assert.rejects(
      b.create(),
      assertCairnError('tls', (e) => {
        assert.ok(e.message.includes(secure.url), e.message);
        assert.match(e.remedy, /CAIRN_CACERT/);
      }),
    );
    await b.close();
  });

  test('the CA file from the options makes the server trusted', async () => {
    const b = new RestBackend({ url: `${secure.url}repo/`, caFile: secure.caFile! });
    await b.create();
    await b.write(config, Buffer.from('over tls'));
    assert.deepEqual(await b.read(config), Buffer.from('over tls'));
    await b.close();
  });

  test('CAIRN_CACERT works like the CA file option', async () => {
    const saved = process.env.CAIRN_CACERT;
    process.env.CAIRN_CACERT = secure.caFile!;
    try {
      const b = new RestBackend({ url: `${secure.url}repo2/` });
      await b.create();
      assert.equal(await b.exists(config), false);
      await b.close();
    } finally {
      if (saved === undefined) delete process.env.CAIRN_CACERT;
      else process.env.CAIRN_CACERT = saved;
    }
  });
});
