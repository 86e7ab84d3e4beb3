// The rolling hash through the WebAssembly module built from wasm/rolling.wat (4 lanes of native
// i64 digests, see its header), behind the same `Roll` contract as the JS loop in rolling.ts.
import type { Roll, RollingState } from './rolling.js';
import type { ChunkerTables } from './tables.js';
import { ROLLING_WASM } from './wasm/rollingModule.js';

/** The exports of rolling.wat (see its header for the memory layout). */
interface RollingExports {
  readonly memory: WebAssembly.Memory;
  /** Tells the module the degree of the polynomial whose tables are in memory. */
  setDegree(degree: number): void;
  /** Rolls memory[start..end); returns the index after the first valid cut, or -1. */
  roll(start: number, end: number, checkFrom: number): number;
}

const DIGEST_AT = 10240;
const WINDOW_AT = 10304;
const DATA_AT = 10368;
/** Bytes copied into wasm memory per call: small enough that a cut early in a piece wastes little copying. */
const PIECE = 256 * 1024;

let wasm: RollingExports | undefined;
let memory = new Uint8Array(0);
let words = new Uint32Array(0);
// The tables now in wasm memory (one instance serves every polynomial; switching copies 4 KiB).
let loaded: ChunkerTables | undefined;

function instance(): RollingExports {
  if (!wasm) {
    const module = new WebAssembly.Module(Buffer.from(ROLLING_WASM, 'base64'));
    wasm = new WebAssembly.Instance(module).exports as unknown as RollingExports;
    if (wasm.memory.buffer.byteLength < DATA_AT + PIECE) throw new Error('rolling.wat declares too little memory');
    memory = new Uint8Array(wasm.memory.buffer);
    words = new Uint32Array(wasm.memory.buffer);
  }
  return wasm;
}

const converted = new WeakMap<ChunkerTables, Uint32Array>();

/**
 * The tables as rolling.wat wants them, as u32 pairs: OUT', MOD' and IN' (shifted to the top of 64
 * bits), then for degree 53 OUT and MOD as they are.
 */
function wasmTables(t: ChunkerTables): Uint32Array {
  let words = converted.get(t);
  if (words) return words;
  words = new Uint32Array(5 * 512);
  const up = BigInt(64 - t.degree);
  const low = (1n << BigInt(t.degree)) - 1n;
  const put = (at: number, value: bigint) => {
    const v = (value << up) & 0xffffffffffffffffn;
    words![at] = Number(v & 0xffffffffn);
    words![at + 1] = Number(v >> 32n);
  };
  for (let b = 0; b < 256; b++) {
    put(2 * b, (BigInt(t.outHi[b]) << 32n) | BigInt(t.outLo[b]));
    // Only the reduction: the bits that overflowed past k − 1 leave D' by themselves.
    put(512 + 2 * b, ((BigInt(t.modHi[b]) << 32n) | BigInt(t.modLo[b])) & low);
    put(1024 + 2 * b, BigInt(b));
    if (t.degree === 53) {
      words[1536 + 2 * b] = t.outLo[b];
      words[1536 + 2 * b + 1] = t.outHi[b];
      words[2048 + 2 * b] = t.modLo[b];
      words[2048 + 2 * b + 1] = t.modHi[b];
    }
  }
  converted.set(t, words);
  return words;
}

/** Puts `t`'s tables into wasm memory. */
function load(w: RollingExports, t: ChunkerTables): void {
  words.set(wasmTables(t), 0);
  w.setDegree(t.degree);
  loaded = t;
}

/** The digest D from the left-aligned D' the module stored (as the [bits 32–63, bits 0–31] halves). */
function storeDigest(t: ChunkerTables, state: RollingState): void {
  const d = ((BigInt(words[(DIGEST_AT >> 2) + 1]) << 32n) | BigInt(words[DIGEST_AT >> 2])) >> BigInt(64 - t.degree);
  state[0] = Number(d >> 32n);
  state[1] = Number(d & 0xffffffffn);
}

/** The WebAssembly rolling function for one polynomial's tables (same results as rollerFor's). */
export function wasmRollerFor(t: ChunkerTables): Roll {
  return (data, from, to, checkFrom, window, state) => rollWasm(t, data, from, to, checkFrom, window, state);
}

function rollWasm(t: ChunkerTables, data: Uint8Array, from: number, to: number, checkFrom: number, window: Uint8Array, state: RollingState): number {
  const w = instance();
  if (loaded !== t) load(w, t);
  // The window, oldest byte first, right in front of the data: the module reads the byte leaving
  // as the byte 64 places back and needs no window bookkeeping (nor the digest: it is the window's
  // fingerprint).
  const wpos = state[2];
  memory.set(window.subarray(wpos), WINDOW_AT);
  memory.set(window.subarray(0, wpos), WINDOW_AT + 64 - wpos);
  for (let pos = from; pos < to; ) {
    const n = Math.min(PIECE, to - pos);
    memory.set(data.subarray(pos, pos + n), DATA_AT);
    // Where cuts become allowed, relative to the piece and clamped to it (the module takes i32s).
    const allowFrom = Math.min(Math.max(checkFrom - pos, 0), n);
    const cut = w.roll(DATA_AT, DATA_AT + n, DATA_AT + allowFrom);
    if (cut >= 0) return pos + (cut - DATA_AT);
    // The last 64 bytes rolled become the window of the next piece.
    memory.copyWithin(WINDOW_AT, DATA_AT + n - 64, DATA_AT + n);
    pos += n;
  }
  window.set(memory.subarray(WINDOW_AT, DATA_AT));
  state[2] = 0;
  if (to > from) storeDigest(t, state);
  return -1;
}
