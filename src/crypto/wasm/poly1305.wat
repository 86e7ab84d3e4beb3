;; Poly1305 (RFC 8439) in WebAssembly text: the MAC over every byte cairn stores or reads.
;; Built into poly1305Module.ts by scripts/build-wasm.mjs; driven by poly1305.ts.
;;
;; Arithmetic as in OpenSSL's portable poly1305.c: h and the clamped key r in radix 2^32 (h0..h3 and
;; a small h4), 64-bit products. Clamping makes r0 < 2^28 and r1..r3 multiples of 4 below 2^28, so
;; the 2^130 ≡ 5 wrap-around is a multiplication by s_i = r_i + r_i/4 (< 2^28.4) and 20 products
;; per 16-byte block suffice (26-bit limbs need 25). Between blocks h is only partly reduced (h0
;; < 2^33.4, h1..h3 < 2^32, h4 ≤ 3: no carry chain through the limbs), which keeps every column
;; sum of the next block below 2^63.5 (h0·r_i < 2^61.7, the other terms < 2^61.4 each).
;;
;; Memory (JS owns the layout above 64):
;;   0..31   one-time key (r ‖ s), read by $init
;;   32..47  tag, written by $finish
;;   48..63  scratch for the padded last partial block
;;   64..    message bytes
(module
  (memory (export "memory") 1)

  (global $h0 (mut i64) (i64.const 0))
  (global $h1 (mut i64) (i64.const 0))
  (global $h2 (mut i64) (i64.const 0))
  (global $h3 (mut i64) (i64.const 0))
  (global $h4 (mut i64) (i64.const 0))
  (global $r0 (mut i64) (i64.const 0))
  (global $r1 (mut i64) (i64.const 0))
  (global $r2 (mut i64) (i64.const 0))
  (global $r3 (mut i64) (i64.const 0))
  (global $padLo (mut i64) (i64.const 0))
  (global $padHi (mut i64) (i64.const 0))

  ;; Reads the key at 0..31, clamps r, clears the accumulator.
  (func (export "init")
    (global.set $r0 (i64.and (i64.load32_u (i32.const 0)) (i64.const 0x0fffffff)))
    (global.set $r1 (i64.and (i64.load32_u (i32.const 4)) (i64.const 0x0ffffffc)))
    (global.set $r2 (i64.and (i64.load32_u (i32.const 8)) (i64.const 0x0ffffffc)))
    (global.set $r3 (i64.and (i64.load32_u (i32.const 12)) (i64.const 0x0ffffffc)))
    (global.set $padLo (i64.load (i32.const 16)))
    (global.set $padHi (i64.load (i32.const 24)))
    (global.set $h0 (i64.const 0))
    (global.set $h1 (i64.const 0))
    (global.set $h2 (i64.const 0))
    (global.set $h3 (i64.const 0))
    (global.set $h4 (i64.const 0)))

  ;; Absorbs the floor(len/16) full blocks at ptr, each with 2^128 added when $hibit is 1 (0 for the
  ;; padded last block). Returns the number of bytes absorbed.
  (func $blocks (param $ptr i32) (param $len i32) (param $hibit i64) (result i32)
    (local $end i32)
    (local $h0 i64) (local $h1 i64) (local $h2 i64) (local $h3 i64) (local $h4 i64)
    (local $r0 i64) (local $r1 i64) (local $r2 i64) (local $r3 i64)
    (local $s1 i64) (local $s2 i64) (local $s3 i64)
    (local $d0 i64) (local $d1 i64) (local $d2 i64) (local $d3 i64)
    (local.set $end (i32.add (local.get $ptr) (i32.and (local.get $len) (i32.const -16))))
    (local.set $h0 (global.get $h0))
    (local.set $h1 (global.get $h1))
    (local.set $h2 (global.get $h2))
    (local.set $h3 (global.get $h3))
    (local.set $h4 (global.get $h4))
    (local.set $r0 (global.get $r0))
    (local.set $r1 (global.get $r1))
    (local.set $r2 (global.get $r2))
    (local.set $r3 (global.get $r3))
    (local.set $s1 (i64.add (local.get $r1) (i64.shr_u (local.get $r1) (i64.const 2))))
    (local.set $s2 (i64.add (local.get $r2) (i64.shr_u (local.get $r2) (i64.const 2))))
    (local.set $s3 (i64.add (local.get $r3) (i64.shr_u (local.get $r3) (i64.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        ;; h += m (limbs stay unnormalized: see the bounds above)
        (local.set $h0 (i64.add (local.get $h0) (i64.load32_u (local.get $ptr))))
        (local.set $h1 (i64.add (local.get $h1) (i64.load32_u offset=4 (local.get $ptr))))
        (local.set $h2 (i64.add (local.get $h2) (i64.load32_u offset=8 (local.get $ptr))))
        (local.set $h3 (i64.add (local.get $h3) (i64.load32_u offset=12 (local.get $ptr))))
        (local.set $h4 (i64.add (local.get $h4) (local.get $hibit)))
        ;; d = h·r, the parts at and above 2^130 folded back times 5 (s = 5r/4, r1..r3 being multiples of 4)
        (local.set $d0 (i64.add (i64.add (i64.mul (local.get $h0) (local.get $r0)) (i64.mul (local.get $h1) (local.get $s3))) (i64.add (i64.mul (local.get $h2) (local.get $s2)) (i64.mul (local.get $h3) (local.get $s1)))))
        (local.set $d1 (i64.add (i64.add (i64.add (i64.mul (local.get $h0) (local.get $r1)) (i64.mul (local.get $h1) (local.get $r0))) (i64.add (i64.mul (local.get $h2) (local.get $s3)) (i64.mul (local.get $h3) (local.get $s2)))) (i64.mul (local.get $h4) (local.get $s1))))
        (local.set $d2 (i64.add (i64.add (i64.add (i64.mul (local.get $h0) (local.get $r2)) (i64.mul (local.get $h1) (local.get $r1))) (i64.add (i64.mul (local.get $h2) (local.get $r0)) (i64.mul (local.get $h3) (local.get $s3)))) (i64.mul (local.get $h4) (local.get $s2))))
        (local.set $d3 (i64.add (i64.add (i64.add (i64.mul (local.get $h0) (local.get $r3)) (i64.mul (local.get $h1) (local.get $r2))) (i64.add (i64.mul (local.get $h2) (local.get $r1)) (i64.mul (local.get $h3) (local.get $r0)))) (i64.mul (local.get $h4) (local.get $s3))))
        (local.set $h4 (i64.mul (local.get $h4) (local.get $r0)))
        ;; carry the 32-bit columns; what lies above 2^130 comes back times 5 into h0
        (local.set $d1 (i64.add (local.get $d1) (i64.shr_u (local.get $d0) (i64.const 32))))
        (local.set $d2 (i64.add (local.get $d2) (i64.shr_u (local.get $d1) (i64.const 32))))
        (local.set $d3 (i64.add (local.get $d3) (i64.shr_u (local.get $d2) (i64.const 32))))
        (local.set $h4 (i64.add (local.get $h4) (i64.shr_u (local.get $d3) (i64.const 32))))
        (local.set $h1 (i64.and (local.get $d1) (i64.const 0xffffffff)))
        (local.set $h2 (i64.and (local.get $d2) (i64.const 0xffffffff)))
        (local.set $h3 (i64.and (local.get $d3) (i64.const 0xffffffff)))
        (local.set $h0 (i64.add (i64.and (local.get $d0) (i64.const 0xffffffff))
          (i64.add (i64.shr_u (local.get $h4) (i64.const 2)) (i64.and (local.get $h4) (i64.const -4)))))
        (local.set $h4 (i64.and (local.get $h4) (i64.const 3)))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 16)))
        (br $next)))
    (global.set $h0 (local.get $h0))
    (global.set $h1 (local.get $h1))
    (global.set $h2 (local.get $h2))
    (global.set $h3 (local.get $h3))
    (global.set $h4 (local.get $h4))
    (i32.and (local.get $len) (i32.const -16)))

  ;; Absorbs the full blocks of a middle piece of the message (len a multiple of 16).
  (func (export "update") (param $ptr i32) (param $len i32)
    (drop (call $blocks (local.get $ptr) (local.get $len) (i64.const 1))))

  ;; Absorbs the last len bytes at ptr (full blocks, then the rest padded with a 1 byte), adds s and
  ;; writes the 16-byte tag at 32.
  (func (export "finish") (param $ptr i32) (param $len i32)
    (local $n i32) (local $rest i32)
    (local $h0 i64) (local $h1 i64) (local $h2 i64) (local $h3 i64) (local $h4 i64)
    (local $g0 i64) (local $g1 i64) (local $g2 i64) (local $g3 i64) (local $g4 i64)
    (local $c i64) (local $mask i64) (local $lo i64) (local $hi i64) (local $sum i64)
    (local.set $n (call $blocks (local.get $ptr) (local.get $len) (i64.const 1)))
    (local.set $rest (i32.sub (local.get $len) (local.get $n)))
    (if (local.get $rest)
      (then
        ;; 16-byte scratch block: the rest, a 1 byte, zeros; no 2^128 bit
        (i64.store (i32.const 48) (i64.const 0))
        (i64.store (i32.const 56) (i64.const 0))
        (memory.copy (i32.const 48) (i32.add (local.get $ptr) (local.get $n)) (local.get $rest))
        (i32.store8 (i32.add (i32.const 48) (local.get $rest)) (i32.const 1))
        (drop (call $blocks (i32.const 48) (i32.const 16) (i64.const 0)))))
    (local.set $h0 (global.get $h0))
    (local.set $h1 (global.get $h1))
    (local.set $h2 (global.get $h2))
    (local.set $h3 (global.get $h3))
    (local.set $h4 (global.get $h4))
    ;; carry into 32-bit limbs, fold what is above 2^130 back (×5), carry again: h < 2^130 + 2^32·5
    (local.set $h1 (i64.add (local.get $h1) (i64.shr_u (local.get $h0) (i64.const 32))))
    (local.set $h0 (i64.and (local.get $h0) (i64.const 0xffffffff)))
    (local.set $h2 (i64.add (local.get $h2) (i64.shr_u (local.get $h1) (i64.const 32))))
    (local.set $h1 (i64.and (local.get $h1) (i64.const 0xffffffff)))
    (local.set $h3 (i64.add (local.get $h3) (i64.shr_u (local.get $h2) (i64.const 32))))
    (local.set $h2 (i64.and (local.get $h2) (i64.const 0xffffffff)))
    (local.set $h4 (i64.add (local.get $h4) (i64.shr_u (local.get $h3) (i64.const 32))))
    (local.set $h3 (i64.and (local.get $h3) (i64.const 0xffffffff)))
    (local.set $c (i64.mul (i64.shr_u (local.get $h4) (i64.const 2)) (i64.const 5)))
    (local.set $h4 (i64.and (local.get $h4) (i64.const 3)))
    (local.set $h0 (i64.add (local.get $h0) (local.get $c)))
    (local.set $h1 (i64.add (local.get $h1) (i64.shr_u (local.get $h0) (i64.const 32))))
    (local.set $h0 (i64.and (local.get $h0) (i64.const 0xffffffff)))
    (local.set $h2 (i64.add (local.get $h2) (i64.shr_u (local.get $h1) (i64.const 32))))
    (local.set $h1 (i64.and (local.get $h1) (i64.const 0xffffffff)))
    (local.set $h3 (i64.add (local.get $h3) (i64.shr_u (local.get $h2) (i64.const 32))))
    (local.set $h2 (i64.and (local.get $h2) (i64.const 0xffffffff)))
    (local.set $h4 (i64.add (local.get $h4) (i64.shr_u (local.get $h3) (i64.const 32))))
    (local.set $h3 (i64.and (local.get $h3) (i64.const 0xffffffff)))
    ;; now h < 2^131; g = h + 5: when g reaches 2^130, h ≥ p and h mod p = g − 2^130 (no branch)
    (local.set $g0 (i64.add (local.get $h0) (i64.const 5)))
    (local.set $g1 (i64.add (local.get $h1) (i64.shr_u (local.get $g0) (i64.const 32))))
    (local.set $g2 (i64.add (local.get $h2) (i64.shr_u (local.get $g1) (i64.const 32))))
    (local.set $g3 (i64.add (local.get $h3) (i64.shr_u (local.get $g2) (i64.const 32))))
    (local.set $g4 (i64.add (local.get $h4) (i64.shr_u (local.get $g3) (i64.const 32))))
    ;; mask: all ones when g ≥ 2^130
    (local.set $mask (i64.sub (i64.const 0) (i64.shr_u (local.get $g4) (i64.const 2))))
    (local.set $lo (i64.or
      (i64.and (i64.or (local.get $h0) (i64.shl (local.get $h1) (i64.const 32))) (i64.xor (local.get $mask) (i64.const -1)))
      (i64.and (i64.or (i64.and (local.get $g0) (i64.const 0xffffffff)) (i64.shl (local.get $g1) (i64.const 32))) (local.get $mask))))
    (local.set $hi (i64.or
      (i64.and (i64.or (local.get $h2) (i64.shl (local.get $h3) (i64.const 32))) (i64.xor (local.get $mask) (i64.const -1)))
      (i64.and (i64.or (i64.and (local.get $g2) (i64.const 0xffffffff)) (i64.shl (local.get $g3) (i64.const 32))) (local.get $mask))))
    ;; tag = (h mod p) + s mod 2^128
    (local.set $sum (i64.add (local.get $lo) (global.get $padLo)))
    (local.set $hi (i64.add (i64.add (local.get $hi) (global.get $padHi)) (i64.extend_i32_u (i64.lt_u (local.get $sum) (local.get $lo)))))
    (i64.store (i32.const 32) (local.get $sum))
    (i64.store (i32.const 40) (local.get $hi)))
)
