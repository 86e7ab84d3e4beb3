import { randomBytes } from 'node:crypto';

/** The repository's master key (or a key derived from a password): AES-256 key plus Poly1305-AES key parts. */
export interface CryptoKey {
  /** 32 bytes: AES-256-CTR key. */
  encrypt: Buffer;
  /** 16 bytes: AES-128 key that turns the IV into the Poly1305 pad. */
  macK: Buffer;
  /** 16 bytes: Poly1305 multiplier r, stored unclamped. */
  macR: Buffer;
}

/** A fresh random master key. */
export function newMasterKey(): CryptoKey {
  const b = randomBytes(64);
  return { encrypt: b.subarray(0, 32), macK: b.subarray(32, 48), macR: b.subarray(48, 64) };
}

/** The key derived from a 64-byte scrypt output (format §3.3 step 3). */
export function keyFromDerived(dk: Buffer): CryptoKey {
  if (dk.length !== 64) throw new Error(`derived key must be 64 bytes, got ${dk.length}`);
  return { encrypt: dk.subarray(0, 32), macK: dk.subarray(32, 48), macR: dk.subarray(48, 64) };
}

/** The master key's JSON form, as restic stores it inside key files (format §3.1). */
export function masterKeyToJson(k: CryptoKey): string {
  return JSON.stringify({ mac: { k: k.macK.toString('base64'), r: k.macR.toString('base64') }, encrypt: k.encrypt.toString('base64') });
}

/** Parses the master key's JSON form; refuses all-zero or wrongly sized parts. */
export function masterKeyFromJson(json: string): CryptoKey {
  const o = JSON.parse(json) as { mac?: { k?: string; r?: string }; encrypt?: string };
  const encrypt = Buffer.from(o.encrypt ?? '', 'base64');
  const macK = Buffer.from(o.mac?.k ?? '', 'base64');
  const macR = Buffer.from(o.mac?.r ?? '', 'base64');
  if (encrypt.length !== 32 || macK.length !== 16 || macR.length !== 16) throw new Error('master key has wrong part sizes');
  for (const part of [encrypt, macK, macR]) if (part.every((b) => b === 0)) throw new Error('master key part is all zero');
  return { encrypt, macK, macR };
}
