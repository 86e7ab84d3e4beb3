// cairn and the real restic share a repository on a real OpenSSH sftp server, through the CLI as a
// user runs it: `-r sftp:user@host:/path` with the port, key and known_hosts from ~/.ssh/config.
// Mistakes in that setup each get one line, a remedy and restic's exit code.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import net from 'node:net';
import { type RemoteTarget, assertCairnAndResticShare, assertOk, assertOneLineAndRemedy, cairnMistake, cairnOn, sftpTarget, sshHome } from '../helpers/remoteEnv.js';
import { type Sshd, fingerprintOf, makeKeyPair, startSshd } from '../helpers/sshd.js';
import { generateTree } from '../helpers/treeGen.js';

const password = 'remote-sftp';
let sshd: Sshd;
let tmp: string;
let src: string;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cairn-remote-sftp-'));
  src = path.join(tmp, 'data', 'src');
  await generateTree(src, { seed: 21, files: 40, maxSize: 1024 * 1024 });
  sshd = await startSshd();
});

after(async () => {
  await sshd?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('sftp repository', () => {
  test('cairn backs up and restores over sftp; restic checks, restores and writes the same repository; cairn restores restic\'s snapshot', async () => {
    const t = sftpTarget(sshd, path.join(tmp, 'home'), path.join(sshd.dir, 'repos', 'shared'));
    await assertCairnAndResticShare(t, src, path.join(tmp, 'roundtrip'), password);
    assert.ok((await fs.readdir(path.join(sshd.dir, 'repos', 'shared', 'data'))).length > 0, 'the packs are on the server');
  });
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

describe('sftp mistakes get one line, a remedy and restic\'s exit code', () => {
  let repo: string;
  let homes = 0;
  /** The existing repository, reached with a ~/.ssh set up as given. */
  const withSsh = (opts: Parameters<typeof sshHome>[2] = {}, repoPath = repo): RemoteTarget => ({
    location: `sftp:${sshd.user}@127.0.0.1:${repoPath}`,
    cairnEnv: sshHome(sshd, path.join(tmp, `home-${homes++}`), opts),
    resticArgs: [],
    resticEnv: {},
  });

  before(async () => {
    repo = path.join(sshd.dir, 'repos', 'existing');
    assertOk(await cairnOn(withSsh(), password, 'init'), 'cairn init');
  });

  test('a key the server does not accept says the login was refused, which key was tried, and how to install it (exit 1)', async () => {
    const wrongKey = makeKeyPair(tmp, 'not-authorized');
    const r = await cairnMistake(withSsh({ identityFile: wrongKey }), password, 'snapshots');
    assertOneLineAndRemedy(r, 1, new RegExp(`sftp server ${sshd.user}@127\\.0\\.0\\.1:${sshd.port} refused the login.*tried ${wrongKey}`), /authorized_keys.*ssh-copy-id/);
  });

  test('an unknown host key is refused with its fingerprint and the command to add it (exit 1)', async () => {
    const r = await cairnMistake(withSsh({ knownHosts: '' }), password, 'snapshots');
    assertOneLineAndRemedy(r, 1, new RegExp(`\\[127\\.0\\.0\\.1\\]:${sshd.port} is not in known_hosts.*${sshd.hostKeyFingerprint.replace(/[+/]/g, '\\$&')}`), new RegExp(`ssh-keyscan -p ${sshd.port} 127\\.0\\.0\\.1 >>`));
  });

  test('a changed host key is refused as a possible attack, with the fingerprint and how to replace the old key (exit 1)', async () => {
    const other = makeKeyPair(tmp, 'other-host-key');
    const otherLine = (await fs.readFile(`${other}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
    assert.notEqual(fingerprintOf(otherLine), sshd.hostKeyFingerprint);
    const r = await cairnMistake(withSsh({ knownHosts: `[127.0.0.1]:${sshd.port} ${otherLine}\n` }), password, 'snapshots');
    assertOneLineAndRemedy(r, 1, /host key of .* has CHANGED.*man-in-the-middle/, /ssh-keygen -R/);
    assert.ok(r.stderr.includes(sshd.hostKeyFingerprint), 'the new fingerprint is shown');
  });

  test('a path without a repository exits 10 and suggests cairn init', async () => {
    const r = await cairnMistake(withSsh({}, path.join(sshd.dir, 'repos', 'nothing-here')), password, 'snapshots');
    assertOneLineAndRemedy(r, 10, /no repository at sftp:.*nothing-here/, /cairn init/);
  });

  test('a wrong repository password exits 12', async () => {
    const r = await cairnMistake(withSsh(), 'not-the-password', 'snapshots');
    assertOneLineAndRemedy(r, 12, /wrong password/, /password/);
  });

  test('an unreachable server (nothing listens on the port) names user@host:port and says how to try ssh (exit 1)', async () => {
    const port = await closedPort();
    const r = await cairnMistake(withSsh({ port }), password, 'snapshots');
    assertOneLineAndRemedy(r, 1, new RegExp(`cannot connect to the sftp server ${sshd.user}@127\\.0\\.0\\.1:${port}: connection refused`), new RegExp(`ssh -p ${port} ${sshd.user}@127\\.0\\.0\\.1`));
  });
});
