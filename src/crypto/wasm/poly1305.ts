// Poly1305 (RFC 8439) through the WebAssembly module built from poly1305.wat: Node's crypto has no
// raw Poly1305, and a pure-JS one is several times slower than the AES around it.
import { POLY1305_WASM } from './poly1305Module.js';

/** The exports of poly1305.wat (see its header for the memory layout). */
interface Poly1305Exports {
  readonly memory: WebAssembly.Memory;
  /** Reads the key at 0..31 and starts a new MAC. */
  init(): void;
  /** Absorbs `len` bytes (a multiple of 16) at `ptr`. */
  update(ptr: number, len: number): void;
  /** Absorbs the last `len` bytes at `ptr` and writes the tag at 32..47. */
  finish(ptr: number, len: number): void;
}

const KEY_AT = 0;
const TAG_AT = 32;
const MESSAGE_AT = 64;
/**
 * Longest stretch of a message copied into wasm memory at once (a multiple of 16): small enough
 * that the copy is still in the CPU cache when the MAC reads it (a whole 8 MiB blob would not be).
 */
export const POLY1305_PIECE = 256 * 1024;
const PAGE = 65536;

let wasm: Poly1305Exports | undefined;
let memory = new Uint8Array(0);

function instance(): Poly1305Exports {
  if (!wasm) {
    const module = new WebAssembly.Module(Buffer.from(POLY1305_WASM, 'base64'));
    wasm = new WebAssembly.Instance(module).exports as unknown as Poly1305Exports;
    memory = new Uint8Array(wasm.memory.buffer);
  }
  return wasm;
}

/** Grows wasm memory so that `bytes` of message fit at MESSAGE_AT. */
function reserve(w: Poly1305Exports, bytes: number): void {
  const need = MESSAGE_AT + bytes;
  if (need > memory.length) {
    w.memory.grow(Math.ceil((need - memory.length) / PAGE));
    memory = new Uint8Array(w.memory.buffer);
  }
}

/**
 * The 16-byte Poly1305 tag of `msg` under the one-time key `key32` (r ‖ s; r is clamped here, as
 * RFC 8439 says). Copies the message into wasm memory once, piece by piece.
 */
export function poly1305Wasm(msg: Uint8Array, key32: Uint8Array): Uint8Array {
  if (key32.length !== 32) throw new RangeError(`poly1305 key must be 32 bytes, got ${key32.length}`);
  const w = instance();
  reserve(w, Math.min(msg.length, POLY1305_PIECE));
  memory.set(key32, KEY_AT);
  w.init();
  memory.fill(0, KEY_AT, KEY_AT + 32); // the key lives on in the wasm state only
  let pos = 0;
  while (msg.length - pos > POLY1305_PIECE) {
    memory.set(msg.subarray(pos, pos + POLY1305_PIECE), MESSAGE_AT);
    w.update(MESSAGE_AT, POLY1305_PIECE);
    pos += POLY1305_PIECE;
  }
  memory.set(pos === 0 ? msg : msg.subarray(pos), MESSAGE_AT);
  w.finish(MESSAGE_AT, msg.length - pos);
  return memory.slice(TAG_AT, TAG_AT + 16);
}
