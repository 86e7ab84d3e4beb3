// The sftp backend against a real OpenSSH sshd (test/helpers/sshd.ts): the shared conformance suite,
// host key checking, authentication, and reconnection after the server dies.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { openBackend } from '../../../src/backend/open.js';
import { RetryBackend, type RetryEvent } from '../../../src/backend/retry.js';
import { SftpBackend, type SftpOptions } from '../../../src/backend/sftp.js';
import { CairnError } from '../../../src/errors.js';
import { runBackendConformance } from '../../helpers/backendConformance.js';
import { makeKeyPair, type Sshd, startSshd } from '../../helpers/sshd.js';

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

const pack = { type: 'pack' as const, name: 'ab'.repeat(32) };

async function repoDir(): Promise<string> {
  return path.join(await mkdtemp(path.join(sshd.dir, 'repos', 't-')), 'repo');
}

function assertCairnError(code: string, check?: (e: CairnError) => void): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof CairnError, `expected a CairnError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    check?.(err);
    return true;
  };
}

describe('sftp host keys', () => {
  test('an unknown host is refused with its fingerprint and the ssh-keyscan remedy', async () => {
    const empty = path.join(sshd.dir, 'known_hosts.empty');
    await writeFile(empty, '');
    const b = backendFor(await repoDir(), { knownHostsFile: empty });
    await assert.rejects(
      b.create(),
      assertCairnError('unknown-host-key', (e) => {
        assert.ok(e.message.includes(sshd.hostKeyFingerprint), e.message);
        assert.ok(e.message.includes(`[127.0.0.1]:${sshd.port}`), e.message);
        assert.ok(e.remedy.includes(`ssh-keyscan -p ${sshd.port} 127.0.0.1 >> ${empty}`), e.remedy);
      }),
    );
    await b.close();
  });

  test('a changed host key is refused, naming the known_hosts line and how to replace it', async () => {
    const other = makeKeyPair(await mkdtemp(path.join(sshd.dir, 'k-')), 'other');
    const otherLine = (await readFile(`${other}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
    const changed = path.join(sshd.dir, 'known_hosts.changed');
    await writeFile(changed, `# a comment\n[127.0.0.1]:${sshd.port} ${otherLine}\n`);
    const b = backendFor(await repoDir(), { knownHostsFile: changed });
    await assert.rejects(
      b.create(),
      assertCairnError('host-key-changed', (e) => {
        assert.match(e.message, /CHANGED/);
        assert.ok(e.message.includes(sshd.hostKeyFingerprint), e.message);
        assert.ok(e.message.includes(`${changed}:2`), e.message);
        assert.ok(e.remedy.includes(`ssh-keygen -R "[127.0.0.1]:${sshd.port}" -f ${changed}`), e.remedy);
      }),
    );
    await b.close();
  });

  test('a hashed known_hosts entry (ssh-keygen -H) is recognised', async () => {
    const hashed = path.join(sshd.dir, 'known_hosts.hashed');
    await copyFile(sshd.knownHostsFile, hashed);
    const r = spawnSync('ssh-keygen', ['-H', '-f', hashed]);
    assert.equal(r.status, 0, r.stderr.toString());
    assert.match(await readFile(hashed, 'utf8'), /^\|1\|/);
    const b = backendFor(await repoDir(), { knownHostsFile: hashed });
    await b.create();
    assert.equal(await b.exists({ type: 'config', name: 'config' }), false);
    await b.close();
  });
});

describe('sftp authentication', () => {
  test('a key the server does not accept gives a credentials error naming the server and the key', async () => {
    const wrong = makeKeyPair(await mkdtemp(path.join(sshd.dir, 'k-')), 'wrong');
    const b = backendFor(await repoDir(), { identityFile: wrong });
    await assert.rejects(
      b.create(),
      assertCairnError('credentials', (e) => {
        assert.ok(e.message.includes(`${sshd.user}@127.0.0.1:${sshd.port}`), e.message);
        assert.ok(e.message.includes(wrong), e.message);
        assert.match(e.remedy, /authorized_keys/);
      }),
    );
    await b.close();
  });

  test('without an identity file, ~/.ssh/id_ed25519 is used', async () => {
    const home = await mkdtemp(path.join(sshd.dir, 'home-'));
    await mkdir(path.join(home, '.ssh'));
    await copyFile(sshd.clientKey, path.join(home, '.ssh', 'id_ed25519'));
    const b = backendFor(await repoDir(), { identityFile: undefined, homeDir: home });
    await b.create();
    await b.write(pack, Buffer.from('hello'));
    assert.deepEqual(await b.read(pack), Buffer.from('hello'));
    await b.close();
  });

  test('a key held by ssh-agent (SSH_AUTH_SOCK) is used', async () => {
    const agentDir = await mkdtemp(path.join(sshd.dir, 'agent-'));
    const sock = path.join(agentDir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !(await stat(sock).catch(() => undefined)); i++) await new Promise((r) => setTimeout(r, 50));
      const add = spawnSync('ssh-add', [sshd.clientKey], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
      assert.equal(add.status, 0, add.stderr.toString());
      const emptyHome = await mkdtemp(path.join(sshd.dir, 'home-'));
      const saved = process.env.SSH_AUTH_SOCK;
      process.env.SSH_AUTH_SOCK = sock;
      try {
        const b = backendFor(await repoDir(), { identityFile: undefined, agent: undefined, homeDir: emptyHome });
        await b.create();
        assert.deepEqual(await collectNames(b), []);
        await b.close();
      } finally {
        if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
        else process.env.SSH_AUTH_SOCK = saved;
      }
    } finally {
      agent.kill();
    }
  });

  test('a host alias from ~/.ssh/config supplies host name, port, user, key and known_hosts file', async () => {
    const home = await mkdtemp(path.join(sshd.dir, 'home-'));
    await mkdir(path.join(home, '.ssh'));
    await copyFile(sshd.clientKey, path.join(home, '.ssh', 'nas_key'));
    await copyFile(sshd.knownHostsFile, path.join(home, '.ssh', 'nas_known_hosts'));
    await writeFile(
      path.join(home, '.ssh', 'config'),
      [
        'Host other',
        '  Port 1',
        'Host mynas',
        '  HostName 127.0.0.1',
        `  Port ${sshd.port}`,
        `  User ${sshd.user}`,
        '  IdentityFile ~/.ssh/nas_key',
        '  UserKnownHostsFile ~/.ssh/nas_known_hosts',
        'Host *',
        '  Port 2',
        '',
      ].join('\n'),
    );
    const repo = await repoDir();
    const b = await openBackend(`sftp:mynas:${repo}`, { sftp: { homeDir: home, agent: false }, retry: false });
    assert.equal(b.location, `sftp:mynas:${repo}`);
    await b.create();
    await b.write(pack, Buffer.from('via alias'));
    assert.deepEqual(await b.read(pack), Buffer.from('via alias'));
    await b.close();
  });

  test('with no key anywhere, the error says how to create and install one', async () => {
    const emptyHome = await mkdtemp(path.join(sshd.dir, 'home-'));
    const b = backendFor(await repoDir(), { identityFile: undefined, homeDir: emptyHome });
    await assert.rejects(
      b.create(),
      assertCairnError('credentials', (e) => {
        assert.match(e.message, /no SSH key/);
        assert.match(e.remedy, /ssh-keygen/);
        assert.match(e.remedy, /ssh-copy-id/);
      }),
    );
    await b.close();
  });
});

describe('sftp connection loss', () => {
  test('a server killed midway gives a clear error naming it, and the next call after a restart reconnects', async () => {
    const b = backendFor(await repoDir());
    await b.create();
    const kept = { type: 'snapshot' as const, name: 'cd'.repeat(32) };
    await b.write(kept, Buffer.from('kept'));
    const server = `${sshd.user}@127.0.0.1:${sshd.port}`;

    // Kill the server (and the connection it serves) while an 8 MiB upload is under way.
    let killing: Promise<void> | undefined;
    await assert.rejects(
      b.write(pack, randomBytes(8 * 1024 * 1024), {
        onProgress: (sent) => {
          if (sent > 1024 * 1024) killing ??= sshd.kill();
        },
      }),
      assertCairnError('connection-lost', (e) => assert.ok(e.message.includes(server), e.message)),
    );
    await killing;

    // While it is down: unreachable, naming the server.
    await assert.rejects(
      b.stat(kept),
      assertCairnError('server-unreachable', (e) => {
        assert.ok(e.message.includes(server), e.message);
        assert.match(e.message, /connection refused/);
      }),
    );

    await sshd.restart();
    assert.deepEqual(await b.read(kept), Buffer.from('kept'));
    assert.equal(await b.exists(pack), false, 'the interrupted upload is not visible');
    await b.close();
  });

  test('behind RetryBackend, an operation waits out a server restart', async () => {
    const b = backendFor(await repoDir());
    await b.create();
    await b.write(pack, Buffer.from('before'));
    await sshd.kill();
    const events: RetryEvent[] = [];
    let restarting: Promise<void> | undefined;
    const retrying = new RetryBackend(b, {
      // The server comes back after the second failure; each wait lasts until it is listening again.
      logger: (e) => {
        events.push(e);
        if (events.length === 2) restarting = sshd.restart();
      },
      sleep: async () => {
        await restarting;
      },
    });
    assert.deepEqual(await retrying.read(pack), Buffer.from('before'));
    assert.equal(events.length, 2);
    assert.equal(events[0]!.op, 'read');
    assert.equal(events[0]!.file, `data/ab/${pack.name}`);
    assert.ok(events.every((e) => e.error instanceof CairnError && ['server-unreachable', 'connection-lost'].includes(e.error.code)), 'the failures are the dropped connection and the refused reconnects');
    await b.close();
  });
});

async function collectNames(b: SftpBackend): Promise<string[]> {
  const out: string[] = [];
  for await (const fi of b.list('snapshot')) out.push(fi.name);
  return out;
}
