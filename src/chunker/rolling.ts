// The rolling Rabin hash of restic's chunker (restic-format.md §11.4, §11.7): the backup's hottest
// loop. Plain functions over typed arrays, no property loads or calls inside the loops, literals
// instead of module constants (each use of those costs V8 a hole check), `| 0` to keep int32.
import type { ChunkerTables } from './tables.js';

/** A cut is allowed where the fingerprint's low 20 bits are zero. */
export const SPLIT_MASK = 0xfffff;

/** Rolling state kept between calls: [digest bits 32–63, digest bits 0–31, window position]. */
export type RollingState = Int32Array;

/**
 * Rolls data[from..to) into the hash. Returns the index just after the first byte at or past
 * `checkFrom` after which the fingerprint matches the split mask, or -1; then `state` and `window`
 * (the last 64 bytes rolled, oldest at state[2]) describe everything rolled so far.
 */
export type Roll = (data: Uint8Array, from: number, to: number, checkFrom: number, window: Uint8Array, state: RollingState) => number;

/** The main loop for degree ≥ 40, from the 64th byte of a call on: the byte leaving the window is data[i − 64]. */
type MainLoop = (data: Uint8Array, from: number, to: number, checkFrom: number, state: RollingState) => number;

/** A fresh state (call `restartRolling` before hashing). */
export function newRollingState(): RollingState {
  return new Int32Array(3);
}

/** restic's state after a reset: an all-zero window into which one byte `1` has slid (digest 1). */
export function restartRolling(state: RollingState, window: Uint8Array): void {
  window.fill(0);
  window[0] = 1;
  state[0] = 0;
  state[1] = 1;
  state[2] = 1;
}

/** The rolling function for one polynomial's tables. */
export function rollerFor(t: ChunkerTables): Roll {
  const packed = t.packed;
  if (t.degree < 40) {
    const up = 40 - t.degree;
    const down = t.degree - 8;
    return (data, from, to, checkFrom, window, state) => rollLowDegree(data, from, to, checkFrom, packed, up, down, window, state);
  }
  const shift = t.degree - 40;
  const main: MainLoop = specializedMainLoop(t) ?? ((data, from, to, checkFrom, state) => mainLoop(data, from, to, checkFrom, packed, shift, state));
  return (data, from, to, checkFrom, window, state) => {
    const head = to - from < 64 ? to : from + 64;
    const cut = rollThroughWindow(data, from, head, checkFrom, packed, shift, window, state);
    if (cut >= 0 || head === to) return cut;
    const mainCut = main(data, head, to, checkFrom, state);
    if (mainCut < 0) {
      window.set(data.subarray(to - 64, to), 0);
      state[2] = 0;
    }
    return mainCut;
  };
}

/** The first bytes of a call (at most 64): the bytes leaving come from the window. */
function rollThroughWindow(
  data: Uint8Array,
  from: number,
  to: number,
  checkFrom: number,
  t: Int32Array,
  shift: number,
  window: Uint8Array,
  state: RollingState,
): number {
  let hi = state[0] | 0;
  let lo = state[1] | 0;
  let wpos = state[2] | 0;
  for (let i = from | 0; i < to; i++) {
    const b = data[i];
    const o = window[wpos];
    window[wpos] = b;
    wpos = (wpos + 1) & 63;
    hi ^= t[o];
    lo ^= t[(o + 256) | 0];
    const idx = (hi >>> shift) & 0xff;
    hi = (hi << 8) | (lo >>> 24);
    lo = (lo << 8) | b;
    hi ^= t[(idx + 512) | 0];
    lo ^= t[(idx + 768) | 0];
    if ((lo & 0xfffff) === 0 && i >= checkFrom) return i + 1;
  }
  state[0] = hi;
  state[1] = lo;
  state[2] = wpos;
  return -1;
}

/** The main loop with the tables passed in (`t` = ChunkerTables.packed, `shift` = degree − 40). */
function mainLoop(data: Uint8Array, from: number, to: number, checkFrom: number, t: Int32Array, shift: number, state: RollingState): number {
  from |= 0;
  to |= 0;
  checkFrom |= 0;
  let hi = state[0] | 0;
  let lo = state[1] | 0;
  for (let i = from; i < to; i++) {
    const o = data[(i - 64) | 0];
    hi ^= t[o];
    lo ^= t[(o + 256) | 0];
    const idx = (hi >>> shift) & 0xff;
    hi = (hi << 8) | (lo >>> 24);
    lo = (lo << 8) | data[i];
    hi ^= t[(idx + 512) | 0];
    lo ^= t[(idx + 768) | 0];
    if ((lo & 0xfffff) === 0 && i >= checkFrom) return i + 1;
  }
  state[0] = hi;
  state[1] = lo;
  return -1;
}

/**
 * The main loop with the tables and shift captured as constants. While only one closure of this
 * code exists, V8 compiles the captured typed arrays into the machine code (known lengths, fewer
 * registers): about 15% faster. A second closure would undo that for both, so only the first
 * polynomial a process rolls with (normally its only one) gets this loop; others use `mainLoop`.
 */
function specializedMainLoop(t: ChunkerTables): MainLoop | undefined {
  specialized ??= { polynomial: t.polynomial, loop: makeSpecializedLoop(t) };
  return specialized.polynomial === t.polynomial ? specialized.loop : undefined;
}
let specialized: { polynomial: bigint; loop: MainLoop } | undefined;

function makeSpecializedLoop(t: ChunkerTables): MainLoop {
  const outHi = new Int32Array(t.outHi.buffer, t.outHi.byteOffset, 256);
  const outLo = new Int32Array(t.outLo.buffer, t.outLo.byteOffset, 256);
  const modHi = new Int32Array(t.modHi.buffer, t.modHi.byteOffset, 256);
  const modLo = new Int32Array(t.modLo.buffer, t.modLo.byteOffset, 256);
  const shift = t.degree - 40;
  const loop = function specializedLoop(data: Uint8Array, from: number, to: number, checkFrom: number, state: RollingState): number {
    from |= 0;
    to |= 0;
    checkFrom |= 0;
    let hi = state[0] | 0;
    let lo = state[1] | 0;
    for (let i = from; i < to; i++) {
      const o = data[(i - 64) | 0];
      hi ^= outHi[o];
      lo ^= outLo[o];
      const idx = (hi >>> shift) & 0xff;
      hi = (hi << 8) | (lo >>> 24);
      lo = (lo << 8) | data[i];
      hi ^= modHi[idx];
      lo ^= modLo[idx];
      if ((lo & 0xfffff) === 0 && i >= checkFrom) return i + 1;
    }
    state[0] = hi;
    state[1] = lo;
    return -1;
  };
  warmUp((data, from, to, checkFrom, _window, state) => loop(data, from, to, checkFrom, state));
  return loop;
}

/**
 * Rolling for degrees 8–39, where the digest's top byte straddles the two halves
 * (`up` = 40 − degree, `down` = degree − 8). Rarely used: restic always makes degree 53.
 */
function rollLowDegree(
  data: Uint8Array,
  from: number,
  to: number,
  checkFrom: number,
  t: Int32Array,
  up: number,
  down: number,
  window: Uint8Array,
  state: RollingState,
): number {
  let hi = state[0] | 0;
  let lo = state[1] | 0;
  let wpos = state[2] | 0;
  for (let i = from | 0; i < to; i++) {
    const b = data[i];
    const o = window[wpos];
    window[wpos] = b;
    wpos = (wpos + 1) & 63;
    hi ^= t[o];
    lo ^= t[(o + 256) | 0];
    // JS shifts count mod 32: for degree ≤ 32 hi is 0, so `hi << 32` (= hi) adds nothing.
    const idx = ((hi << up) | (lo >>> down)) & 0xff;
    hi = (hi << 8) | (lo >>> 24);
    lo = (lo << 8) | b;
    hi ^= t[(idx + 512) | 0];
    lo ^= t[(idx + 768) | 0];
    if ((lo & 0xfffff) === 0 && i >= checkFrom) return i + 1;
  }
  state[0] = hi;
  state[1] = lo;
  state[2] = wpos;
  return -1;
}

/**
 * Runs every path of a rolling loop once on a small buffer. V8 compiles a long-running loop while
 * it runs (on-stack replacement) from the type feedback gathered so far; code after the loop that
 * never ran has none and then deoptimizes at every exit of the loop (seen: ~150 deopts per 64 MiB
 * and half the speed). All zeros roll to fingerprint 0, a match at every byte.
 */
function warmUp(roll: Roll): void {
  const data = new Uint8Array(256);
  const window = new Uint8Array(64);
  const state = newRollingState();
  for (let k = 0; k < 3; k++) {
    roll(data, 64, 256, 0x7fffffff, window, state); // no cut: runs to the end
    roll(data, 64, 256, 100, window, state); // cut at 101
  }
}
const zeroTables = new Int32Array(1024);
warmUp((data, from, to, checkFrom, window, state) => rollThroughWindow(data, from, to, checkFrom, zeroTables, 13, window, state));
warmUp((data, from, to, checkFrom, _window, state) => mainLoop(data, from, to, checkFrom, zeroTables, 13, state));
warmUp((data, from, to, checkFrom, window, state) => rollLowDegree(data, from, to, checkFrom, zeroTables, 5, 27, window, state));
