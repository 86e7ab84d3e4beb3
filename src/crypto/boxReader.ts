// Opening sealed boxes (IV ‖ AES-256-CTR ciphertext ‖ Poly1305-AES tag, format §3.2) in bulk, as
// restore and check --read-data do for every stored byte. Where sealedBox.open makes a cipher
// object and a plaintext buffer per box, a BoxReader walks the ciphertext in cache-sized pieces:
// each piece is MACed, decrypted and handed on (copied into the caller's reused buffer) while it
// is still in the CPU cache. OpenSSL's CTR output for a whole 1 MiB blob is a fresh allocation
// that a worker thread's malloc arena keeps (tens of MiB per worker); 64 KiB pieces reuse the same memory.
import { createCipheriv, createDecipheriv, timingSafeEqual, type Cipher } from 'node:crypto';
import type { CryptoKey } from './masterKey.js';
import { open } from './sealedBox.js';
import { POLY1305_WASM } from './wasm/poly1305Module.js';

/** Bytes of ciphertext handled per step: fits the L2 cache with its plaintext. */
const piece = 64 * 1024;

/** Boxes up to this many plaintext bytes go to sealedBox.open in one go: pieces only pay off on long ones. */
const smallBox = 16 * 1024;

/** The exports of poly1305.wat: key at 0..31, tag at 32..47, message from 64. */
interface Poly1305Exports {
  readonly memory: WebAssembly.Memory;
  init(): void;
  update(ptr: number, len: number): void;
  finish(ptr: number, len: number): void;
}

const KEY_AT = 0;
const TAG_AT = 32;
const MESSAGE_AT = 64;

let compiled: WebAssembly.Module | undefined;

function ecb(key: Buffer): Cipher {
  const c = createCipheriv(key.length === 32 ? 'aes-256-ecb' : 'aes-128-ecb', key, null);
  c.setAutoPadding(false);
  return c;
}

/**
 * Verifies and decrypts sealed boxes under one key into caller-owned memory.
 * Not for concurrent use (one per thread): it keeps its own Poly1305 instance
 * and scratch memory.
 */
export class BoxReader {
  private readonly wasm: Poly1305Exports;
  private readonly mem: Uint8Array;
  /** AES-128-ECB under the MAC key: IV → Poly1305 pad s. */
  private readonly macEcb: Cipher;

  constructor(private readonly key: CryptoKey) {
    compiled ??= new WebAssembly.Module(Buffer.from(POLY1305_WASM, 'base64'));
    this.wasm = new WebAssembly.Instance(compiled).exports as unknown as Poly1305Exports;
    const need = MESSAGE_AT + piece;
    const have = this.wasm.memory.buffer.byteLength;
    if (have < need) this.wasm.memory.grow(Math.ceil((need - have) / 65536));
    this.mem = new Uint8Array(this.wasm.memory.buffer);
    this.macEcb = ecb(key.macK);
  }

  /**
   * Checks the box's MAC and writes its plaintext to out[at..]; returns the
   * plaintext length, or -1 when the MAC does not verify (out then holds
   * garbage). `onPlain` sees each piece of plaintext as it is made (still
   * in cache), e.g. to hash it; its results mean nothing unless the box opens.
   */
  openInto(sealed: Uint8Array, out: Buffer, at = 0, onPlain?: (plain: Buffer) => void): number {
    const n = sealed.length - 32;
    if (n < 0 || out.length - at < n) return n < 0 ? -1 : this.tooSmall(out.length - at, n);
    if (n <= smallBox) {
      let plain: Buffer;
      try {
        plain = open(this.key, sealed);
      } catch {
        return -1;
      }
      plain.copy(out, at);
      onPlain?.(plain);
      return n;
    }
    const box = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length);
    const iv = box.subarray(0, 16);
    const mem = this.mem;
    const w = this.wasm;
    mem.set(this.key.macR, KEY_AT);
    mem.set(this.macEcb.update(iv), KEY_AT + 16);
    w.init();
    mem.fill(0, KEY_AT, KEY_AT + 32); // the one-time key lives on in the wasm state only
    const d = createDecipheriv('aes-256-ctr', this.key.encrypt, iv);
    let pos = 16;
    const end = 16 + n;
    while (pos < end) {
      const len = Math.min(piece, end - pos);
      const ct = box.subarray(pos, pos + len);
      mem.set(ct, MESSAGE_AT);
      if (pos + len < end) w.update(MESSAGE_AT, len);
      else w.finish(MESSAGE_AT, len);
      const plain = d.update(ct);
      plain.copy(out, at + pos - 16);
      onPlain?.(plain);
      pos += len;
    }
    d.final();
    return this.tagMatches(box) ? n : -1;
  }

  private tooSmall(room: number, n: number): never {
    throw new RangeError(`box of ${n} bytes does not fit the ${room} bytes given`);
  }

  private tagMatches(box: Buffer): boolean {
    const tag = Buffer.from(this.mem.buffer, TAG_AT, 16);
    return timingSafeEqual(tag, box.subarray(box.length - 16));
  }
}
