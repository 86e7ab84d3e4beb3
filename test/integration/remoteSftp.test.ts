// cairn and the real restic share a repository on a real OpenSSH sftp server, through the CLI as a
// user runs it: `-r sftp:user@host:/path` with the port, key and known_hosts from ~/.ssh/config.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertCairnAndResticShare, sftpTarget } from '../helpers/remoteEnv.js';
import { type Sshd, startSshd } from '../helpers/sshd.js';
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
