;; The rolling Rabin hash of restic's chunker (restic-format.md §11.4) in WebAssembly with native
;; i64 digests. Built into rollingModule.ts by scripts/build-wasm.mjs; driven by ../wasmRolling.ts.
;;
;; One byte's update has a serial chain (digest → top byte → MOD load → digest) of about 8 cycles,
;; which caps a single stream at a few hundred MiB/s. The digest after any byte is the fingerprint
;; of the 64 bytes before it and nothing else, so a stretch can be cut into 4 lanes that roll side
;; by side, each started by hashing the 64 bytes in front of it: 4 independent chains in one loop.
;; Only whether the mask matched is checked there; the block with a match is rolled again byte by
;; byte to find the first valid cut.
;;
;; For any degree k the digest is kept left-aligned, D' = D << (64 − k), and so are the tables: the
;; top byte is then always D' >> 56 and the bits shifted out of D' << 8 are simply gone, with no
;; shift by a variable count (x86 needs cl for that, a register the loop wants). Degree 53, the only
;; one restic makes, has its own 4-lane loop with §11.4's right-aligned digest and constant shifts.
;;
;; Memory (JS writes the tables and the bytes):
;;   0..2047     OUT'[256] as i64: OUT[b] << (64 − k), removes the byte leaving the window
;;   2048..4095  MOD'[256] as i64: (b·x^k mod P) << (64 − k), reduces the byte shifted out
;;   4096..6143  IN'[256] as i64: b << (64 − k), the byte entering
;;   6144..8191  OUT[256] as i64, right-aligned (§11.3), for degree 53 only
;;   8192..10239 MOD[256] as i64, right-aligned with the cancelling bits (§11.3), for degree 53 only
;;   10240..10247 D' after the last byte rolled, written when roll finds no cut
;;   10304..10367 the 64 bytes before the data (the window, oldest first)
;;   10368..      the data
(module
  (memory (export "memory") 5)

  ;; the split mask (low 20 bits of D) where it sits in D' (for k < 20 its bits above k fall off:
  ;; they are 0 in D anyway)
  (global $mask (mut i64) (i64.const 0))

  ;; 1 when the polynomial has degree 53 (its right-aligned tables are then at 6144 and 8192)
  (global $is53 (mut i32) (i32.const 0))

  ;; Sets the degree of the polynomial whose tables are in memory.
  (func (export "setDegree") (param $k i32)
    (global.set $is53 (i32.eq (local.get $k) (i32.const 53)))
    (global.set $mask (i64.shl (i64.const 0xfffff) (i64.extend_i32_u (i32.sub (i32.const 64) (local.get $k))))))

  ;; The fingerprint of the 64 bytes before $p (rolling them into a zero state: OUT[0] = 0).
  (func $fingerprint (param $p i32) (result i64)
    (local $d i64) (local $q i32)
    (local.set $q (i32.sub (local.get $p) (i32.const 64)))
    (loop $next
      (local.set $d (i64.xor (i64.xor (i64.shl (local.get $d) (i64.const 8))
            (i64.load offset=4096 (i32.shl (i32.load8_u (local.get $q)) (i32.const 3))))
          (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $d) (i64.const 56))) (i32.const 3)))))
      (local.set $q (i32.add (local.get $q) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $q) (local.get $p))))
    (local.get $d))

  ;; Rolls [$p, $end) one byte at a time from digest $d; returns the index after the first byte at
  ;; or past $checkFrom whose digest matches the mask, or -1 (then D' is stored at 10240).
  (func $rollOne (param $p i32) (param $end i32) (param $checkFrom i32) (param $d i64) (result i32)
    (local $mask i64)
    (local.set $mask (global.get $mask))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $d (i64.xor (local.get $d)
          (i64.load (i32.shl (i32.load8_u (i32.sub (local.get $p) (i32.const 64))) (i32.const 3)))))
        (local.set $d (i64.xor (i64.xor (i64.shl (local.get $d) (i64.const 8))
            (i64.load offset=4096 (i32.shl (i32.load8_u (local.get $p)) (i32.const 3))))
          (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $d) (i64.const 56))) (i32.const 3)))))
        (if (i64.eqz (i64.and (local.get $d) (local.get $mask)))
          (then
            (if (i32.ge_s (local.get $p) (local.get $checkFrom))
              (then (return (i32.add (local.get $p) (i32.const 1)))))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (i64.store (i32.const 10240) (local.get $d))
    (i32.const -1))

  ;; Rolls 4 lanes of $len bytes starting at $p, $p+len, $p+2len, $p+3len side by side; returns 1 as
  ;; soon as any digest matches the mask (the caller then rolls the block one byte at a time), else 0.
  (func $anyMatch (param $p i32) (param $len i32) (result i32)
    (local $a i32) (local $b i32) (local $c i32) (local $e i32) (local $stop i32)
    (local $da i64) (local $db i64) (local $dc i64) (local $de i64) (local $mask i64)
    (local.set $mask (global.get $mask))
    ;; lane pointers sit 64 bytes behind the byte entering, i.e. on the byte leaving
    (local.set $a (i32.sub (local.get $p) (i32.const 64)))
    (local.set $b (i32.add (local.get $a) (local.get $len)))
    (local.set $c (i32.add (local.get $b) (local.get $len)))
    (local.set $e (i32.add (local.get $c) (local.get $len)))
    (local.set $stop (local.get $b))
    ;; start digests: fingerprints of the 64 bytes before each lane, four chains at once
    (block $warm
      (loop $w
        (local.set $da (i64.xor (i64.xor (i64.shl (local.get $da) (i64.const 8))
            (i64.load offset=4096 (i32.shl (i32.load8_u (local.get $a)) (i32.const 3))))
          (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $da) (i64.const 56))) (i32.const 3)))))
        (local.set $db (i64.xor (i64.xor (i64.shl (local.get $db) (i64.const 8))
            (i64.load offset=4096 (i32.shl (i32.load8_u (local.get $b)) (i32.const 3))))
          (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $db) (i64.const 56))) (i32.const 3)))))
        (local.set $dc (i64.xor (i64.xor (i64.shl (local.get $dc) (i64.const 8))
            (i64.load offset=4096 (i32.shl (i32.load8_u (local.get $c)) (i32.const 3))))
          (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $dc) (i64.const 56))) (i32.const 3)))))
        (local.set $de (i64.xor (i64.xor (i64.shl (local.get $de) (i64.const 8))
            (i64.load offset=4096 (i32.shl (i32.load8_u (local.get $e)) (i32.const 3))))
          (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $de) (i64.const 56))) (i32.const 3)))))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (local.set $e (i32.add (local.get $e) (i32.const 1)))
        (br_if $w (i32.lt_u (local.get $a) (local.get $p)))))
    (local.set $a (i32.sub (local.get $p) (i32.const 64)))
    (local.set $b (i32.add (local.get $a) (local.get $len)))
    (local.set $c (i32.add (local.get $b) (local.get $len)))
    (local.set $e (i32.add (local.get $c) (local.get $len)))
    ;; a lane whose digest matches the mask ends the scan (the caller then rolls the block again)
    (block $found
    (loop $roll
      (local.set $da (i64.xor (local.get $da) (i64.load (i32.shl (i32.load8_u (local.get $a)) (i32.const 3)))))
      (local.set $db (i64.xor (local.get $db) (i64.load (i32.shl (i32.load8_u (local.get $b)) (i32.const 3)))))
      (local.set $dc (i64.xor (local.get $dc) (i64.load (i32.shl (i32.load8_u (local.get $c)) (i32.const 3)))))
      (local.set $de (i64.xor (local.get $de) (i64.load (i32.shl (i32.load8_u (local.get $e)) (i32.const 3)))))
      (local.set $da (i64.xor (i64.xor (i64.shl (local.get $da) (i64.const 8))
            (i64.load offset=4096 (i32.shl (i32.load8_u offset=64 (local.get $a)) (i32.const 3))))
          (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $da) (i64.const 56))) (i32.const 3)))))
      (local.set $db (i64.xor (i64.xor (i64.shl (local.get $db) (i64.const 8))
            (i64.load offset=4096 (i32.shl (i32.load8_u offset=64 (local.get $b)) (i32.const 3))))
          (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $db) (i64.const 56))) (i32.const 3)))))
      (local.set $dc (i64.xor (i64.xor (i64.shl (local.get $dc) (i64.const 8))
            (i64.load offset=4096 (i32.shl (i32.load8_u offset=64 (local.get $c)) (i32.const 3))))
          (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $dc) (i64.const 56))) (i32.const 3)))))
      (local.set $de (i64.xor (i64.xor (i64.shl (local.get $de) (i64.const 8))
            (i64.load offset=4096 (i32.shl (i32.load8_u offset=64 (local.get $e)) (i32.const 3))))
          (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $de) (i64.const 56))) (i32.const 3)))))
      (br_if $found (i64.eqz (i64.and (local.get $da) (local.get $mask))))
      (br_if $found (i64.eqz (i64.and (local.get $db) (local.get $mask))))
      (br_if $found (i64.eqz (i64.and (local.get $dc) (local.get $mask))))
      (br_if $found (i64.eqz (i64.and (local.get $de) (local.get $mask))))
      (local.set $a (i32.add (local.get $a) (i32.const 1)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (local.set $e (i32.add (local.get $e) (i32.const 1)))
      (br_if $roll (i32.lt_u (local.get $a) (local.get $stop))))
    (return (i32.const 0)))
    (i32.const 1))

  ;; $anyMatch for the common case, lanes of exactly 4096 bytes: one pointer serves all four lanes
  ;; (their bytes are at constant offsets from it), two bytes per lane per round.
  (func $anyMatch16K (param $p i32) (result i32)
    (local $a i32) (local $stop i32)
    (local $da i64) (local $db i64) (local $dc i64) (local $de i64) (local $mask i64)
    (local.set $mask (global.get $mask))
    (local.set $a (i32.sub (local.get $p) (i32.const 64)))
    (loop $w
      (local.set $da (i64.xor (i64.xor (i64.shl (local.get $da) (i64.const 8))
          (i64.load offset=4096 (i32.shl (i32.load8_u (local.get $a)) (i32.const 3))))
        (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $da) (i64.const 56))) (i32.const 3)))))
      (local.set $db (i64.xor (i64.xor (i64.shl (local.get $db) (i64.const 8))
          (i64.load offset=4096 (i32.shl (i32.load8_u offset=4096 (local.get $a)) (i32.const 3))))
        (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $db) (i64.const 56))) (i32.const 3)))))
      (local.set $dc (i64.xor (i64.xor (i64.shl (local.get $dc) (i64.const 8))
          (i64.load offset=4096 (i32.shl (i32.load8_u offset=8192 (local.get $a)) (i32.const 3))))
        (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $dc) (i64.const 56))) (i32.const 3)))))
      (local.set $de (i64.xor (i64.xor (i64.shl (local.get $de) (i64.const 8))
          (i64.load offset=4096 (i32.shl (i32.load8_u offset=12288 (local.get $a)) (i32.const 3))))
        (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $de) (i64.const 56))) (i32.const 3)))))
      (local.set $a (i32.add (local.get $a) (i32.const 1)))
      (br_if $w (i32.lt_u (local.get $a) (local.get $p))))
    (local.set $a (i32.sub (local.get $p) (i32.const 64)))
    (local.set $stop (i32.add (local.get $a) (i32.const 4096)))
    ;; a lane whose digest matches the mask ends the scan (the caller then rolls the block again)
    (block $found
    (loop $roll
      (local.set $da (i64.xor (local.get $da) (i64.load (i32.shl (i32.load8_u (local.get $a)) (i32.const 3)))))
      (local.set $db (i64.xor (local.get $db) (i64.load (i32.shl (i32.load8_u offset=4096 (local.get $a)) (i32.const 3)))))
      (local.set $dc (i64.xor (local.get $dc) (i64.load (i32.shl (i32.load8_u offset=8192 (local.get $a)) (i32.const 3)))))
      (local.set $de (i64.xor (local.get $de) (i64.load (i32.shl (i32.load8_u offset=12288 (local.get $a)) (i32.const 3)))))
      (local.set $da (i64.xor (i64.xor (i64.shl (local.get $da) (i64.const 8))
          (i64.load offset=4096 (i32.shl (i32.load8_u offset=64 (local.get $a)) (i32.const 3))))
        (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $da) (i64.const 56))) (i32.const 3)))))
      (local.set $db (i64.xor (i64.xor (i64.shl (local.get $db) (i64.const 8))
          (i64.load offset=4096 (i32.shl (i32.load8_u offset=4160 (local.get $a)) (i32.const 3))))
        (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $db) (i64.const 56))) (i32.const 3)))))
      (local.set $dc (i64.xor (i64.xor (i64.shl (local.get $dc) (i64.const 8))
          (i64.load offset=4096 (i32.shl (i32.load8_u offset=8256 (local.get $a)) (i32.const 3))))
        (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $dc) (i64.const 56))) (i32.const 3)))))
      (local.set $de (i64.xor (i64.xor (i64.shl (local.get $de) (i64.const 8))
          (i64.load offset=4096 (i32.shl (i32.load8_u offset=12352 (local.get $a)) (i32.const 3))))
        (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $de) (i64.const 56))) (i32.const 3)))))
      (br_if $found (i64.eqz (i64.and (local.get $da) (local.get $mask))))
      (br_if $found (i64.eqz (i64.and (local.get $db) (local.get $mask))))
      (br_if $found (i64.eqz (i64.and (local.get $dc) (local.get $mask))))
      (br_if $found (i64.eqz (i64.and (local.get $de) (local.get $mask))))
      (local.set $da (i64.xor (local.get $da) (i64.load (i32.shl (i32.load8_u offset=1 (local.get $a)) (i32.const 3)))))
      (local.set $db (i64.xor (local.get $db) (i64.load (i32.shl (i32.load8_u offset=4097 (local.get $a)) (i32.const 3)))))
      (local.set $dc (i64.xor (local.get $dc) (i64.load (i32.shl (i32.load8_u offset=8193 (local.get $a)) (i32.const 3)))))
      (local.set $de (i64.xor (local.get $de) (i64.load (i32.shl (i32.load8_u offset=12289 (local.get $a)) (i32.const 3)))))
      (local.set $da (i64.xor (i64.xor (i64.shl (local.get $da) (i64.const 8))
          (i64.load offset=4096 (i32.shl (i32.load8_u offset=65 (local.get $a)) (i32.const 3))))
        (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $da) (i64.const 56))) (i32.const 3)))))
      (local.set $db (i64.xor (i64.xor (i64.shl (local.get $db) (i64.const 8))
          (i64.load offset=4096 (i32.shl (i32.load8_u offset=4161 (local.get $a)) (i32.const 3))))
        (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $db) (i64.const 56))) (i32.const 3)))))
      (local.set $dc (i64.xor (i64.xor (i64.shl (local.get $dc) (i64.const 8))
          (i64.load offset=4096 (i32.shl (i32.load8_u offset=8257 (local.get $a)) (i32.const 3))))
        (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $dc) (i64.const 56))) (i32.const 3)))))
      (local.set $de (i64.xor (i64.xor (i64.shl (local.get $de) (i64.const 8))
          (i64.load offset=4096 (i32.shl (i32.load8_u offset=12353 (local.get $a)) (i32.const 3))))
        (i64.load offset=2048 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $de) (i64.const 56))) (i32.const 3)))))
      (br_if $found (i64.eqz (i64.and (local.get $da) (local.get $mask))))
      (br_if $found (i64.eqz (i64.and (local.get $db) (local.get $mask))))
      (br_if $found (i64.eqz (i64.and (local.get $dc) (local.get $mask))))
      (br_if $found (i64.eqz (i64.and (local.get $de) (local.get $mask))))
      (local.set $a (i32.add (local.get $a) (i32.const 2)))
      (br_if $roll (i32.lt_u (local.get $a) (local.get $stop))))
    (return (i32.const 0)))
    (i32.const 1))

  ;; $anyMatch16K for degree 53, the only degree restic makes: the digest right-aligned as in
  ;; §11.4 with the shifts as constants, so the entering byte is OR-ed in (no IN' lookup) and the
  ;; mask test is against an immediate. Tables OUT and MOD (with its cancelling bits) at 6144/8192.
  (func $anyMatch16K53 (param $p i32) (result i32)
    (local $a i32) (local $stop i32)
    (local $da i64) (local $db i64) (local $dc i64) (local $de i64)
    (local.set $a (i32.sub (local.get $p) (i32.const 64)))
    (loop $w
      (local.set $da (i64.xor (i64.or (i64.shl (local.get $da) (i64.const 8)) (i64.load8_u (local.get $a)))
        (i64.load offset=8192 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $da) (i64.const 45))) (i32.const 3)))))
      (local.set $db (i64.xor (i64.or (i64.shl (local.get $db) (i64.const 8)) (i64.load8_u offset=4096 (local.get $a)))
        (i64.load offset=8192 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $db) (i64.const 45))) (i32.const 3)))))
      (local.set $dc (i64.xor (i64.or (i64.shl (local.get $dc) (i64.const 8)) (i64.load8_u offset=8192 (local.get $a)))
        (i64.load offset=8192 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $dc) (i64.const 45))) (i32.const 3)))))
      (local.set $de (i64.xor (i64.or (i64.shl (local.get $de) (i64.const 8)) (i64.load8_u offset=12288 (local.get $a)))
        (i64.load offset=8192 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $de) (i64.const 45))) (i32.const 3)))))
      (local.set $a (i32.add (local.get $a) (i32.const 1)))
      (br_if $w (i32.lt_u (local.get $a) (local.get $p))))
    (local.set $a (i32.sub (local.get $p) (i32.const 64)))
    (local.set $stop (i32.add (local.get $a) (i32.const 4096)))
    ;; a lane whose digest matches the mask ends the scan (the caller then rolls the block again)
    (block $found
    (loop $roll
      (local.set $da (i64.xor (local.get $da) (i64.load offset=6144 (i32.shl (i32.load8_u (local.get $a)) (i32.const 3)))))
      (local.set $db (i64.xor (local.get $db) (i64.load offset=6144 (i32.shl (i32.load8_u offset=4096 (local.get $a)) (i32.const 3)))))
      (local.set $dc (i64.xor (local.get $dc) (i64.load offset=6144 (i32.shl (i32.load8_u offset=8192 (local.get $a)) (i32.const 3)))))
      (local.set $de (i64.xor (local.get $de) (i64.load offset=6144 (i32.shl (i32.load8_u offset=12288 (local.get $a)) (i32.const 3)))))
      (local.set $da (i64.xor (i64.or (i64.shl (local.get $da) (i64.const 8)) (i64.load8_u offset=64 (local.get $a)))
        (i64.load offset=8192 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $da) (i64.const 45))) (i32.const 3)))))
      (local.set $db (i64.xor (i64.or (i64.shl (local.get $db) (i64.const 8)) (i64.load8_u offset=4160 (local.get $a)))
        (i64.load offset=8192 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $db) (i64.const 45))) (i32.const 3)))))
      (local.set $dc (i64.xor (i64.or (i64.shl (local.get $dc) (i64.const 8)) (i64.load8_u offset=8256 (local.get $a)))
        (i64.load offset=8192 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $dc) (i64.const 45))) (i32.const 3)))))
      (local.set $de (i64.xor (i64.or (i64.shl (local.get $de) (i64.const 8)) (i64.load8_u offset=12352 (local.get $a)))
        (i64.load offset=8192 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $de) (i64.const 45))) (i32.const 3)))))
      (br_if $found (i64.eqz (i64.and (local.get $da) (i64.const 0xfffff))))
      (br_if $found (i64.eqz (i64.and (local.get $db) (i64.const 0xfffff))))
      (br_if $found (i64.eqz (i64.and (local.get $dc) (i64.const 0xfffff))))
      (br_if $found (i64.eqz (i64.and (local.get $de) (i64.const 0xfffff))))
      (local.set $da (i64.xor (local.get $da) (i64.load offset=6144 (i32.shl (i32.load8_u offset=1 (local.get $a)) (i32.const 3)))))
      (local.set $db (i64.xor (local.get $db) (i64.load offset=6144 (i32.shl (i32.load8_u offset=4097 (local.get $a)) (i32.const 3)))))
      (local.set $dc (i64.xor (local.get $dc) (i64.load offset=6144 (i32.shl (i32.load8_u offset=8193 (local.get $a)) (i32.const 3)))))
      (local.set $de (i64.xor (local.get $de) (i64.load offset=6144 (i32.shl (i32.load8_u offset=12289 (local.get $a)) (i32.const 3)))))
      (local.set $da (i64.xor (i64.or (i64.shl (local.get $da) (i64.const 8)) (i64.load8_u offset=65 (local.get $a)))
        (i64.load offset=8192 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $da) (i64.const 45))) (i32.const 3)))))
      (local.set $db (i64.xor (i64.or (i64.shl (local.get $db) (i64.const 8)) (i64.load8_u offset=4161 (local.get $a)))
        (i64.load offset=8192 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $db) (i64.const 45))) (i32.const 3)))))
      (local.set $dc (i64.xor (i64.or (i64.shl (local.get $dc) (i64.const 8)) (i64.load8_u offset=8257 (local.get $a)))
        (i64.load offset=8192 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $dc) (i64.const 45))) (i32.const 3)))))
      (local.set $de (i64.xor (i64.or (i64.shl (local.get $de) (i64.const 8)) (i64.load8_u offset=12353 (local.get $a)))
        (i64.load offset=8192 (i32.shl (i32.wrap_i64 (i64.shr_u (local.get $de) (i64.const 45))) (i32.const 3)))))
      (br_if $found (i64.eqz (i64.and (local.get $da) (i64.const 0xfffff))))
      (br_if $found (i64.eqz (i64.and (local.get $db) (i64.const 0xfffff))))
      (br_if $found (i64.eqz (i64.and (local.get $dc) (i64.const 0xfffff))))
      (br_if $found (i64.eqz (i64.and (local.get $de) (i64.const 0xfffff))))
      (local.set $a (i32.add (local.get $a) (i32.const 2)))
      (br_if $roll (i32.lt_u (local.get $a) (local.get $stop))))
    (return (i32.const 0)))
    (i32.const 1))

  ;; Rolls the bytes [$start, $end) (the 64 bytes before $start being the window) and returns the
  ;; index after the first byte at or past $checkFrom whose digest matches the mask, or -1; then the
  ;; digest (as D') of the last 64 bytes is at 10240.
  (func (export "roll") (param $start i32) (param $end i32) (param $checkFrom i32) (result i32)
    (local $p i32) (local $len i32) (local $cut i32)
    (local.set $p (local.get $start))
    (block $tail
      (loop $blocks
        ;; lanes of 4 KiB, or a quarter of what is left when that is shorter (but ≥ 256 bytes)
        (local.set $len (i32.shr_u (i32.sub (local.get $end) (local.get $p)) (i32.const 2)))
        (if (i32.gt_u (local.get $len) (i32.const 4096)) (then (local.set $len (i32.const 4096))))
        (br_if $tail (i32.lt_u (local.get $len) (i32.const 256)))
        (if (if (result i32) (i32.eq (local.get $len) (i32.const 4096))
              (then (if (result i32) (global.get $is53)
                (then (call $anyMatch16K53 (local.get $p)))
                (else (call $anyMatch16K (local.get $p)))))
              (else (call $anyMatch (local.get $p) (local.get $len))))
          (then
            (local.set $cut (call $rollOne (local.get $p) (i32.add (local.get $p) (i32.shl (local.get $len) (i32.const 2)))
              (local.get $checkFrom) (call $fingerprint (local.get $p))))
            (if (i32.ge_s (local.get $cut) (i32.const 0)) (then (return (local.get $cut))))))
        (local.set $p (i32.add (local.get $p) (i32.shl (local.get $len) (i32.const 2))))
        (br $blocks)))
    (call $rollOne (local.get $p) (local.get $end) (local.get $checkFrom) (call $fingerprint (local.get $p))))
)
