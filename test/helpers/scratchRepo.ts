import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LocalBackend } from '../../src/backend/local.js';
import { Repository } from '../../src/repo/repository.js';
import type { Node } from '../../src/repo/node.js';
import { createKeyFile } from '../../src/crypto/keyFile.js';
import { masterKeyFromJson } from '../../src/crypto/masterKey.js';
import { expected, fixturePassword, fixtureRepo } from './fixture.js';

/**
 * Copies the shared fixture repository to `dest` (writable), so a test may
 * damage it. The copy's key file is replaced by one with cheap scrypt
 * parameters for the same master key and password, so opening it is fast.
 */
export async function copyFixtureRepo(dest: string): Promise<string> {
  await fs.cp(fixtureRepo, dest, { recursive: true });
  const master = masterKeyFromJson(JSON.stringify(expected.restic_cat_masterkey));
  const key = await createKeyFile(master, fixturePassword, { N: 1024, r: 8, p: 1 });
  await fs.rm(path.join(dest, 'keys'), { recursive: true });
  await fs.mkdir(path.join(dest, 'keys'));
  await fs.writeFile(path.join(dest, 'keys', key.id), key.bytes);
  const walk = async (p: string): Promise<void> => {
    const st = await fs.stat(p);
    await fs.chmod(p, (st.mode & 0o7777) | 0o600 | (st.isDirectory() ? 0o100 : 0));
    if (st.isDirectory()) for (const n of await fs.readdir(p)) await walk(path.join(p, n));
  };
  await walk(dest);
  return dest;
}

/** Opens a repository directory with the fixture's password. */
export function openFixtureCopy(dir: string): Promise<Repository> {
  return Repository.open(new LocalBackend(dir), fixturePassword);
}

/** The file of a pack inside a local repository. */
export function packFile(repoDir: string, packId: string): string {
  return path.join(repoDir, 'data', packId.slice(0, 2), packId);
}

/** Flips all bits of one byte of a file. */
export async function flipByte(file: string, offset: number): Promise<void> {
  const fh = await fs.open(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, offset);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, offset);
  } finally {
    await fh.close();
  }
}

/** A new empty repository (fast scrypt parameters, the fixture's chunker polynomial). */
export function newScratchRepo(dir: string, password = 'scratch'): Promise<Repository> {
  return Repository.init(new LocalBackend(dir), password, { newPolynomial: () => '2c2326e16dbe57', kdf: { N: 1024, r: 8, p: 1 } });
}

const t = '2024-03-04T05:06:07.123456789Z';

/** A node with plausible metadata for hand-built trees. */
export function makeNode(name: string, type: Node['type'], extra: Partial<Node> = {}): Node {
  const base: Node = { name, type, mode: type === 'dir' ? 0x80000000 + 0o755 : 0o644, mtime: t, atime: t, ctime: t, uid: 0, gid: 0, content: type === 'file' ? [] : null };
  return { ...base, ...extra };
}
