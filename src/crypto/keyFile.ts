import { randomBytes, scrypt as scryptCb, createHash } from 'node:crypto';
import os from 'node:os';
import { keyFromDerived, masterKeyFromJson, masterKeyToJson, type CryptoKey } from './masterKey.js';
import { open, seal } from './sealedBox.js';

/** scrypt parameters as a key file records them. */
export interface KdfParams {
  N: number;
  r: number;
  p: number;
}

/** A key file's JSON (format §3.3), fields in restic's order. */
export interface KeyFileData {
  created: string;
  username: string;
  hostname: string;
  kdf: string;
  N: number;
  r: number;
  p: number;
  salt: string;
  data: string;
}

/** scrypt with restic's parameters and a 64-byte output. */
export function deriveKey(password: string, salt: Buffer, params: KdfParams): Promise<Buffer> {
  const maxmem = 128 * params.N * params.r * (params.p + 2) + 64 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    scryptCb(Buffer.from(password, 'utf8'), salt, 64, { N: params.N, r: params.r, p: params.p, maxmem }, (err, dk) => (err ? reject(err) : resolve(dk)));
  });
}

/** Checks scrypt parameters the way restic does; throws a plain Error naming the bad one. */
export function validateKdfParams(p: KdfParams): void {
  if (!Number.isInteger(p.N) || p.N <= 1 || (p.N & (p.N - 1)) !== 0) throw new Error(`scrypt N=${p.N} is not a power of two > 1`);
  if (!Number.isInteger(p.r) || p.r < 1) throw new Error(`scrypt r=${p.r} is invalid`);
  if (!Number.isInteger(p.p) || p.p < 1 || p.r * p.p >= 2 ** 30) throw new Error(`scrypt p=${p.p} is invalid`);
}

/**
 * Opens a key file with a password: returns the master key, or null when the
 * password does not fit this key (MAC failure). Malformed key files throw.
 */
export async function openKeyFile(data: KeyFileData, password: string): Promise<CryptoKey | null> {
  if (data.kdf !== 'scrypt') throw new Error(`unsupported key derivation "${data.kdf}"`);
  const params = { N: data.N, r: data.r, p: data.p };
  validateKdfParams(params);
  const salt = Buffer.from(data.salt, 'base64');
  if (salt.length !== 64) throw new Error(`key salt must be 64 bytes, got ${salt.length}`);
  const userKey = keyFromDerived(await deriveKey(password, salt, params));
  let plain: Buffer;
  try {
    plain = open(userKey, Buffer.from(data.data, 'base64'));
  } catch {
    return null;
  }
  return masterKeyFromJson(plain.toString('utf8'));
}

/** Default scrypt parameters for new keys: restic's N and r, p=1 (fast enough here, comparable to restic's). */
export const defaultKdfParams: KdfParams = { N: 32768, r: 8, p: 1 };

/** Creates a key file that wraps `master` under `password`; returns its bytes and storage id. */
export async function createKeyFile(master: CryptoKey, password: string, params: KdfParams = defaultKdfParams, created = new Date()): Promise<{ bytes: Buffer; id: string; data: KeyFileData }> {
  const salt = randomBytes(64);
  const userKey = keyFromDerived(await deriveKey(password, salt, params));
  const sealed = seal(userKey, Buffer.from(masterKeyToJson(master), 'utf8'));
  let username = 'unknown';
  try {
    username = os.userInfo().username;
  } catch {
    // no passwd entry: keep "unknown"
  }
  const data: KeyFileData = {
    created: created.toISOString(),
    username,
    hostname: os.hostname(),
    kdf: 'scrypt',
    N: params.N,
    r: params.r,
    p: params.p,
    salt: salt.toString('base64'),
    data: sealed.toString('base64'),
  };
  const bytes = Buffer.from(JSON.stringify(data), 'utf8');
  return { bytes, id: createHash('sha256').update(bytes).digest('hex'), data };
}
