import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual, type Cipher } from 'node:crypto';
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

/** One AES-128-ECB context per MAC key: ECB keeps no state between blocks, so it is reused for every nonce. */
const ecbByKey = new WeakMap<Buffer, Cipher>();

function ecbFor(macK: Buffer): Cipher {
  let aes = ecbByKey.get(macK);
  if (!aes) {
    aes = createCipheriv('aes-128-ecb', macK, null);
    aes.setAutoPadding(false);
    ecbByKey.set(macK, aes);
  }
  return aes;
}

/** Random bytes drawn in batches: one 16-byte IV per blob would otherwise cost a call into the CSPRNG each. */
let ivPool = Buffer.alloc(0);
let ivPos = 0;

/** Writes a fresh random IV (never all zero) to out[0..16). */
function writeFreshIv(out: Buffer): void {
  for (;;) {
    if (ivPos + 16 > ivPool.length) {
      ivPool = randomBytes(64 * 1024);
      ivPos = 0;
    }
    ivPool.copy(out, 0, ivPos, ivPos + 16);
    ivPos += 16;
    for (let i = 0; i < 16; i++) if (out[i] !== 0) return;
  }
}

/** The one-time Poly1305 key r ‖ s, reused: poly1305Wasm copies it into its own memory. */
const oneTimeKey = Buffer.alloc(32);

/** Poly1305-AES over the ciphertext, exactly as restic computes it (format §3.2). */
function mac(key: CryptoKey, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  key.macR.copy(oneTimeKey, 0);
  oneTimeKey.set(ecbFor(key.macK).update(iv), 16);
  const tag = poly1305Wasm(ciphertext, oneTimeKey);
  oneTimeKey.fill(0);
  return tag;
}

/** Encrypts and authenticates `plaintext`: IV ‖ AES-256-CTR ciphertext ‖ Poly1305-AES tag. */
export function seal(key: CryptoKey, plaintext: Uint8Array): Buffer {
  const n = plaintext.length;
  const out = Buffer.allocUnsafe(n + sealOverhead);
  writeFreshIv(out);
  const iv = out.subarray(0, 16);
  const cipher = createCipheriv('aes-256-ctr', key.encrypt, iv);
  const written = cipher.update(plaintext).copy(out, 16);
  cipher.final();
  if (written !== n) throw new Error('aes-ctr produced a short ciphertext');
  out.set(mac(key, iv, out.subarray(16, 16 + n)), 16 + n);
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
