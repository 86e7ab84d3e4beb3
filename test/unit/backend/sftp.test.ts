// The sftp backend against a real OpenSSH sshd (test/helpers/sshd.ts): the shared conformance suite,
// host key checking, authentication, and reconnection after the server dies.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SftpBackend, type SftpOptions } from '../../../src/backend/sftp.js';
import { runBackendConformance } from '../../helpers/backendConformance.js';
import { type Sshd, startSshd } from '../../helpers/sshd.js';

const sshd: Sshd = await startSshd();
after(() => sshd.stop());

function backendFor(repoPath: string, extra: Partial<SftpOptions> = {}): SftpBackend {
  return new SftpBackend({
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    path: repoPath,
    identityFile: sshd.clientKey,
    knownHostsFile: sshd.knownHostsFile,
    agent: false,
    ...extra,
  });
}

runBackendConformance('sftp', async () => {
  const dir = await mkdtemp(path.join(sshd.dir, 'repos', 'r-'));
  return { backend: backendFor(path.join(dir, 'repo')), cleanup: () => rm(dir, { recursive: true, force: true }) };
});
