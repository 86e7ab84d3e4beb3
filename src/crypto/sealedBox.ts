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

/** One AES-ECB context per key (the MAC's AES-128, the data's AES-256): ECB keeps no state between blocks, so it serves every nonce. */
const ecbByKey = new WeakMap<Buffer, Cipher>();

function ecbFor(aesKey: Buffer): Cipher {
  let aes = ecbByKey.get(aesKey);
  if (!aes) {
    aes = createCipheriv(aesKey.length === 32 ? 'aes-256-ecb' : 'aes-128-ecb', aesKey, null);
    aes.setAutoPadding(false);
    ecbByKey.set(aesKey, aes);
  }
  return aes;
}

/**
 * Plaintexts up to this size are encrypted with keystream from one long-lived
 * AES-256-ECB context per key (CTR by hand); bigger ones with a CTR cipher of
 * their own. A cipher object per blob costs several microseconds and a
 * finalizer for the garbage collector, which dominates for tiny blobs.
 */
const handCtrMax = 4 * 1024;
const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Counter blocks for handCtr, reused (the ECB context copies them). */
const counterBytes = Buffer.alloc(handCtrMax);
const counterWords = new Int32Array(counterBytes.buffer, counterBytes.byteOffset, handCtrMax >>> 2);
/** The IV as machine-order words. */
const ivWords = new Int32Array(4);
const ivBytes = new Uint8Array(ivWords.buffer);

function bswap(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/**
 * AES-256-CTR of plaintext[0..n) from `iv` into out[at..at+n) (at + out's
 * offset a multiple of 4) with keystream from the key's ECB context. The
 * counter is the whole IV as a big-endian number, as Go's cipher.NewCTR
 * counts; false (nothing written) when the low 32 bits would wrap, which
 * the caller leaves to OpenSSL's CTR.
 */
function handCtr(key: Buffer, iv: Uint8Array, plaintext: Uint8Array, out: Buffer, at: number): boolean {
  const n = plaintext.length;
  const blocks = (n + 15) >>> 4;
  const low = ((iv[12]! << 24) | (iv[13]! << 16) | (iv[14]! << 8) | iv[15]!) >>> 0;
  if (!littleEndian || low + blocks > 0xffffffff || (out.byteOffset + at) % 4 !== 0) return false;
  ivBytes.set(iv);
  const w0 = ivWords[0]!;
  const w1 = ivWords[1]!;
  const w2 = ivWords[2]!;
  const c = counterWords;
  for (let b = 0, o = 0; b < blocks; b++, o += 4) {
    c[o] = w0;
    c[o + 1] = w1;
    c[o + 2] = w2;
    c[o + 3] = bswap(low + b);
  }
  const stream = ecbFor(key).update(counterBytes.subarray(0, blocks << 4));
  out.set(plaintext, at);
  const words = n >>> 2;
  const o32 = new Int32Array(out.buffer, out.byteOffset + at, words);
  const s32 = new Int32Array(stream.buffer, stream.byteOffset, words);
  for (let i = 0; i < words; i++) o32[i]! ^= s32[i]!;
  for (let i = words << 2; i < n; i++) out[at + i]! ^= stream[i]!;
  return true;
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

/** Big plaintexts are encrypted in pieces of this size: each piece's output is small, never a blob-sized allocation. */
const ctrPiece = 64 * 1024;

/** Encrypts and authenticates `plaintext`: IV ‖ AES-256-CTR ciphertext ‖ Poly1305-AES tag. */
export function seal(key: CryptoKey, plaintext: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(plaintext.length + sealOverhead);
  sealInto(key, plaintext, out);
  return out;
}

/**
 * Like seal, but into out[0 .. plaintext.length + sealOverhead) of a buffer the caller reuses
 * (the pack writers: no allocation per blob, which glibc would keep as fragmented arenas); returns
 * the sealed length.
 */
export function sealInto(key: CryptoKey, plaintext: Uint8Array, out: Buffer): number {
  const n = plaintext.length;
  if (out.length < n + sealOverhead) throw new RangeError(`sealInto: ${out.length} bytes of room for ${n + sealOverhead}`);
  writeFreshIv(out);
  const iv = out.subarray(0, 16);
  if (n > handCtrMax || !handCtr(key.encrypt, iv, plaintext, out, 16)) {
    const cipher = createCipheriv('aes-256-ctr', key.encrypt, iv);
    let at = 16;
    for (let p = 0; p < n; p += ctrPiece) at += cipher.update(plaintext.subarray(p, Math.min(n, p + ctrPiece))).copy(out, at);
    cipher.final();
    if (at !== 16 + n) throw new Error('aes-ctr produced a short ciphertext');
  }
  out.set(mac(key, iv, out.subarray(16, 16 + n)), 16 + n);
  return n + sealOverhead;
}

/** Verifies the MAC, then decrypts. Throws MacError on any mismatch. */
export function open(key: CryptoKey, sealed: Uint8Array): Buffer {
  if (sealed.length < sealOverhead) throw new MacError();
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length);
  const iv = buf.subarray(0, 16);
  const ct = buf.subarray(16, buf.length - 16);
  const tag = buf.subarray(buf.length - 16);
  if (!timingSafeEqual(mac(key, iv, ct), tag)) throw new MacError();
  if (ct.length <= handCtrMax) {
    const out = Buffer.allocUnsafe(ct.length);
    if (handCtr(key.encrypt, iv, ct, out, 0)) return out; // CTR decryption is encryption
  }
  const decipher = createDecipheriv('aes-256-ctr', key.encrypt, iv);
  const out = decipher.update(ct);
  decipher.final();
  return out;
}
