// Packs are written to staged files as they fill (not held in memory) and moved or streamed into the
// repository: what a user relies on is that the packs are valid restic packs and that no staged file
// outlives the backup, whether it succeeded or failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CairnError } from '../../../src/errors.js';
import { FaultBackend } from '../../../src/backend/faults.js';
import { LocalBackend } from '../../../src/backend/local.js';
import { stagedCount } from '../../../src/backend/staging.js';
import { formatPolynomial, randomPolynomial } from '../../../src/chunker/polynomial.js';
import { newMasterKey } from '../../../src/crypto/masterKey.js';
import { seal } from '../../../src/crypto/sealedBox.js';
import { decodeBlob } from '../../../src/repo/blobCodec.js';
import { sha256Hex } from '../../../src/repo/ids.js';
import { readPackHeader } from '../../../src/repo/pack.js';
import { PackFileWriter } from '../../../src/repo/packFileWriter.js';
import { Repository } from '../../../src/repo/repository.js';

async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'cairn-staged-'));
}

/** Every name under `dir` (recursively) that starts with `.tmp-`. */
async function leftovers(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.name.startsWith('.tmp-')) out.push(path.join(e.parentPath, e.name));
  }
  return out;
}

async function newRepo(root: string, wrap: (b: LocalBackend) => LocalBackend | FaultBackend = (b) => b): Promise<Repository> {
  const local = new LocalBackend(root);
  await Repository.init(local, 'pw', { newPolynomial: () => formatPolynomial(randomPolynomial()), kdf: { N: 1024, r: 8, p: 1 } });
  return Repository.open(wrap(local), 'pw');
}

test('a pack written to a staged file is a valid pack named by the SHA-256 of its bytes', async () => {
  const dir = await tempDir();
  try {
    const key = newMasterKey();
    const staged: string[] = [];
    const w = new PackFileWriter('data', path.join(dir, 'stage'), (p) => staged.push(p));
    // small blobs (gathered before writing) and big ones (written at once), in one pack
    const plains = [randomBytes(100), randomBytes(200 * 1024), randomBytes(10), randomBytes(70 * 1024), randomBytes(1)];
    for (const p of plains) w.add(sha256Hex(p), seal(key, p));
    const pack = w.finish(key);
    const bytes = await fs.readFile(pack.path);
    assert.deepEqual(staged, [pack.path]);
    assert.equal(pack.size, bytes.length);
    assert.equal(pack.id, createHash('sha256').update(bytes).digest('hex'));
    const blobs = await readPackHeader(key, pack.id, bytes.length, async (off, len) => bytes.subarray(off, off + len));
    assert.deepEqual(blobs, pack.blobs);
    for (const [i, b] of blobs.entries()) assert.ok(decodeBlob(key, bytes.subarray(b.offset, b.offset + b.length)).equals(plains[i]!));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('an abandoned pack leaves no file', async () => {
  const dir = await tempDir();
  try {
    const w = new PackFileWriter('tree', dir);
    w.add('0'.repeat(64), randomBytes(1000));
    const file = w.abandon();
    assert.ok(file);
    assert.deepEqual(await fs.readdir(dir), []);
    assert.equal(w.count, 0);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('after a backup, the repository holds packs and no staged file, and every blob loads back', async () => {
  const dir = await tempDir();
  const repo = await newRepo(path.join(dir, 'repo'));
  try {
    repo.setWriteOptions({ packSize: 512 * 1024 });
    const file = path.join(dir, 'big.bin');
    await fs.writeFile(file, Buffer.concat([randomBytes(3 * 1024 * 1024), Buffer.alloc(2 * 1024 * 1024, 'xyz')]));
    const saved = await repo.saveFile(file, () => {});
    const small = await repo.saveBlob('data', randomBytes(3000));
    const tree = await repo.saveBlob('tree', Buffer.from('{"nodes":[]}\n'));
    await repo.flush();
    assert.deepEqual(await leftovers(path.join(dir, 'repo')), []);
    assert.equal(stagedCount(), 0);
    assert.ok((await repo.listIds('pack')).length >= 2, 'data and tree packs');
    const back = Buffer.concat(await Promise.all(saved.blobs.map((b) => repo.loadBlob('data', b.id))));
    assert.ok(back.equals(await fs.readFile(file)));
    await repo.loadBlob('data', small.id);
    await repo.loadBlob('tree', tree.id);
  } finally {
    await repo.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('when packs cannot be stored, the backup fails and no staged file is left behind', async () => {
  const dir = await tempDir();
  const denied = (): Error => new CairnError('permission-denied', 'injected: permission denied', 'none');
  const repo = await newRepo(path.join(dir, 'repo'), (b) => new FaultBackend(b, [{ action: 'fail', ops: ['write'], match: (h) => h.type === 'pack', error: denied }]));
  try {
    repo.setWriteOptions({ packSize: 512 * 1024 });
    const file = path.join(dir, 'big.bin');
    await fs.writeFile(file, randomBytes(3 * 1024 * 1024));
    await repo.saveFile(file, () => {}).catch(() => {});
    await repo.saveBlob('tree', Buffer.from('{"nodes":[]}\n')).catch(() => {});
    await assert.rejects(repo.flush(), /permission denied/);
  } finally {
    await repo.close();
  }
  try {
    assert.deepEqual(await leftovers(path.join(dir, 'repo')), []);
    assert.equal(stagedCount(), 0);
    assert.deepEqual(await repo.listIds('pack'), []);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a backup interrupted with Ctrl-C (SIGINT) or killed with SIGTERM removes its staged files and still ends by that signal', async () => {
  const dir = await tempDir();
  try {
    const staging = fileURLToPath(new URL('../../../src/backend/staging.ts', import.meta.url));
    const script = path.join(dir, 'stager.ts');
    await fs.writeFile(
      script,
      `import fs from 'node:fs';\nimport { stagedPath, trackStaged } from ${JSON.stringify(staging)};\n` +
        `const f = stagedPath(process.argv[2]);\nfs.writeFileSync(f, 'pack');\ntrackStaged(f);\nconsole.log(f);\nsetInterval(() => {}, 1000);\n`,
    );
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      const child = spawn(process.execPath, ['--import', 'tsx', script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      const file = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
      assert.ok((await fs.stat(file)).isFile());
      const ended = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      child.kill(sig);
      assert.equal(await ended, sig);
      await assert.rejects(fs.stat(file), /ENOENT/, `${sig}: the staged file must be gone`);
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
