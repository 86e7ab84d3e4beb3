// cairn and the real restic share a repository on restic's REST protocol (a real `rclone serve
// restic` with basic auth), through the CLI as a user runs it: `-r rest:http://user:pass@host:port/repo/`.
// Mistakes a user can make with such a location each get one line, a remedy and restic's exit code.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type RcloneRest, startRcloneRest } from '../helpers/rcloneRest.js';
import { assertCairnAndResticShare, assertOneLineAndRemedy, assertOk, cairnMistake, cairnOn, restTarget } from '../helpers/remoteEnv.js';
import { generateTree } from '../helpers/treeGen.js';

const password = 'remote-rest';
let server: RcloneRest;
let tmp: string;
let src: string;
/** `http://alice:pw@127.0.0.1:PORT/`: the base URL with the right credentials. */
let base: string;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-remote-rest-'));
  src = path.join(tmp, 'data', 'src');
  await generateTree(src, { seed: 41, files: 40, maxSize: 1024 * 1024 });
  server = await startRcloneRest({ user: 'alice', pass: 'pw' });
  base = `http://alice:pw@127.0.0.1:${server.port}/`;
});

after(async () => {
  await server?.stop();
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

describe('REST repository', () => {
  test('cairn backs up and restores over REST; restic checks, restores and writes the same repository; cairn restores restic\'s snapshot', async () => {
    await assertCairnAndResticShare(restTarget(`${base}shared/`), src, path.join(tmp, 'roundtrip'), password);
    assert.ok((await fs.readdir(path.join(server.dir, 'shared', 'data'))).length > 0, 'the packs are on the server');
  });
});

describe('REST mistakes get one line, a remedy and restic\'s exit code', () => {
  before(async () => {
    assertOk(await cairnOn(restTarget(`${base}existing/`), password, 'init'), 'cairn init');
  });

  test('a wrong REST password says the server refused the credentials and where to fix them (exit 1)', async () => {
    const r = await cairnMistake(restTarget(`http://alice:wrong@127.0.0.1:${server.port}/existing/`), password, 'snapshots');
    assertOneLineAndRemedy(r, 1, /refused .*wrong or missing user name\/password/, /user and password in the repository URL/);
    assert.doesNotMatch(r.stderr, /alice:wrong/, 'the password is not shown');
  });

  test('a wrong repository password exits 12', async () => {
    const r = await cairnMistake(restTarget(`${base}existing/`), 'not-the-password', 'snapshots');
    assertOneLineAndRemedy(r, 12, /wrong password/, /password/);
  });

  test('a URL without a repository exits 10 and suggests cairn init', async () => {
    const r = await cairnMistake(restTarget(`${base}nothing-here/`), password, 'snapshots');
    assertOneLineAndRemedy(r, 10, new RegExp(`no repository at rest:http://127\\.0\\.0\\.1:${server.port}/nothing-here/`), /cairn init/);
  });

  test('an unreachable server (nothing listens on the port) names the URL and says to check the server is running', async () => {
    const port = await closedPort();
    const r = await cairnMistake(restTarget(`http://127.0.0.1:${port}/repo/`), password, 'snapshots');
    assertOneLineAndRemedy(r, 1, new RegExp(`cannot reach the REST server at http://127\\.0\\.0\\.1:${port}/repo/: connection refused`), /server is running/);
  });
});
