import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual } from 'node:crypto';
import type { CryptoKey } from './masterKey.js';
import { poly1305Wasm } from './wasm/poly1305.js';

/** Bytes a sealed box adds to its plaintext: 16-byte IV in front, 16-byte MAC behind. */
export const sealOverhead = 32;

/** Thrown when a MAC does not verify: wrong key or damaged bytes. Never returns garbage instead. */
export class MacError extends Error {
  constructor() {
    super('ciphertext verification failed');
    this.name = 'MacError';
  }
}

/** Poly1305-AES over the ciphertext, exactly as restic computes it (format §3.2). */
function mac(key: CryptoKey, iv: Buffer, ciphertext: Uint8Array): Buffer {
  const aes = createCipheriv('aes-128-ecb', key.macK, null);
  aes.setAutoPadding(false);
  const s = aes.update(iv);
  const oneTimeKey = Buffer.concat([key.macR, s]);
  const tag = poly1305Wasm(ciphertext, oneTimeKey);
  return Buffer.from(tag.buffer, tag.byteOffset, tag.length);
}

/** Encrypts and authenticates `plaintext`: IV ‖ AES-256-CTR ciphertext ‖ Poly1305-AES tag. */
export function seal(key: CryptoKey, plaintext: Uint8Array): Buffer {
  let iv = randomBytes(16);
  while (iv.every((b) => b === 0)) iv = randomBytes(16);
  const out = Buffer.allocUnsafe(plaintext.length + sealOverhead);
  iv.copy(out, 0);
  const cipher = createCipheriv('aes-256-ctr', key.encrypt, iv);
  const n = cipher.update(plaintext).copy(out, 16);
  cipher.final();
  if (n !== plaintext.length) throw new Error('aes-ctr produced a short ciphertext');
  const ct = out.subarray(16, 16 + plaintext.length);
  mac(key, iv, ct).copy(out, 16 + plaintext.length);
  return out;
}

/** Verifies the MAC, then decrypts. Throws MacError on any mismatch. */
export function open(key: CryptoKey, sealed: Uint8Array): Buffer {
  if (sealed.length < sealOverhead) throw new MacError();
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length);
  const iv = buf.subarray(0, 16);
  const ct = buf.subarray(16, buf.length - 16);
  const tag = buf.subarray(buf.length - 16);
  if (!timingSafeEqual(mac(key, iv, ct), tag)) throw new MacError();
  const decipher = createDecipheriv('aes-256-ctr', key.encrypt, iv);
  const out = decipher.update(ct);
  decipher.final();
  return out;
}
