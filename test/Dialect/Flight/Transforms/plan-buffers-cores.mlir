// RUN: flightllm-opt %s -split-input-file --flight-plan-buffers | FileCheck %s
// RUN: flightllm-opt %s -split-input-file --flight-plan-buffers --flight-insert-tokens | FileCheck %s --check-prefix=TOKENS

// Two cores, one buffer plan: each core's MV (flight.core) is only in its
// stream, the ops without flight.core are in both; the exchange becomes
// SYS sync, an LD of the other core's slice (src_core = that core + 1, its
// act rows at the same address), SYS sync.
// CHECK-LABEL: flight.stream @decode_16 attributes {core = 0 : i64, max_length = 16 : i64, min_length = 1 : i64, stage = "decode"}
// CHECK-NEXT: flight.misc kind = quantize_dynamic
// CHECK-NEXT: flight.mv {{.*}}out_addr = 2, {{.*}}n = 64
// CHECK-NEXT: flight.sys {{.*}}kind = sync
// CHECK-NEXT: flight.ld onchip_addr = 3, buf = act, addr = 12, mem = hbm, zero_fill = 0, channel = 0, {{.*}}src_core = 2, {{.*}}length = 4, row_align = 0 {flight.writes = [#flight.rows<act, 3, 1>]}
// CHECK-NEXT: flight.sys {{.*}}kind = sync
// CHECK-NEXT: flight.misc kind = silu, {{.*}}a_addr = 2, {{.*}}k = 128
// CHECK-NEXT: flight.sys {{.*}}kind = end
// CHECK-LABEL: flight.stream @decode_16.core1 attributes {core = 1 : i64, max_length = 16 : i64, min_length = 1 : i64, stage = "decode"}
// CHECK-NEXT: flight.misc kind = quantize_dynamic
// CHECK-NEXT: flight.mv {{.*}}out_addr = 3, {{.*}}n = 64
// CHECK-NEXT: flight.sys {{.*}}kind = sync
// CHECK-NEXT: flight.ld onchip_addr = 2, buf = act, addr = 8, {{.*}}src_core = 1, {{.*}}length = 4, row_align = 0 {flight.writes = [#flight.rows<act, 2, 1>]}
// CHECK-NEXT: flight.sys {{.*}}kind = sync
// CHECK-NEXT: flight.misc kind = silu
// CHECK-NEXT: flight.sys {{.*}}kind = end
// flight-insert-tokens treats SYS sync as a barrier: the pull waits for
// nothing, and the SFU after the second sync needs no token from it.
// TOKENS-LABEL: flight.stream @decode_16 attributes
// TOKENS: flight.sys {{.*}}kind = sync
// TOKENS-NEXT: flight.ld onchip_addr = 3
// TOKENS-NEXT: flight.sys {{.*}}kind = sync
// TOKENS-NEXT: flight.misc kind = silu
flight.bucket @decode_16 stage <decode> min_length = 1 max_length = 16 {
  %x = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %y = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %w0 = flight.buf_alloc <temporary> {flight.core = 0 : i64} : !flight.buffer<8x128xi8, weight>
  %w1 = flight.buf_alloc <temporary> {flight.core = 1 : i64} : !flight.buffer<8x128xi8, weight>
  %s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.buf_misc "quantize_dynamic" %x[0] -> %x[0] {k = 16 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 2 : i64} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
  flight.buf_mv %x, %w0, %s[0] -> %y[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64, flight.core = 0 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_mv %x, %w1, %s[0] -> %y[1] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64, flight.core = 1 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_exchange %y tokens 1 row_stride 2 slices [0, 128, 256] : !flight.buffer<2x128xi8, act>
  flight.buf_misc "silu" %y[0] -> %y[0] {k = 128 : i64, rows = 1 : i64, a_step = 2 : i64, out_step = 2 : i64} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
}

// -----

// Tokens of a prefill tile: one LD per other core and token, the token's
// slice at its row stride; an empty slice (core 2 computed nothing) is not
// pulled.
// CHECK-LABEL: flight.stream @prefill_128 attributes {core = 0 : i64
// CHECK: flight.sys {{.*}}kind = sync
// CHECK-NEXT: flight.ld onchip_addr = 1, {{.*}}addr = 4, {{.*}}src_core = 2, {{.*}}length = 4, row_align = 0
// CHECK-NEXT: flight.ld onchip_addr = 4, {{.*}}addr = 16, {{.*}}src_core = 2, {{.*}}length = 4, row_align = 0
// CHECK-NEXT: flight.sys {{.*}}kind = sync
// CHECK-LABEL: flight.stream @prefill_128.core1
// CHECK: flight.sys {{.*}}kind = sync
// CHECK-NEXT: flight.ld onchip_addr = 0, {{.*}}addr = 0, {{.*}}src_core = 1, {{.*}}length = 4, row_align = 0
// CHECK-NEXT: flight.ld onchip_addr = 3, {{.*}}addr = 12, {{.*}}src_core = 1, {{.*}}length = 4, row_align = 0
// CHECK-NEXT: flight.sys {{.*}}kind = sync
// CHECK-LABEL: flight.stream @prefill_128.core2
// CHECK: flight.sys {{.*}}kind = sync
// CHECK-NEXT: flight.ld onchip_addr = 0, {{.*}}src_core = 1
// CHECK-NEXT: flight.ld onchip_addr = 3, {{.*}}src_core = 1
// CHECK-NEXT: flight.ld onchip_addr = 1, {{.*}}src_core = 2
// CHECK-NEXT: flight.ld onchip_addr = 4, {{.*}}src_core = 2
// CHECK-NEXT: flight.sys {{.*}}kind = sync
flight.bucket @prefill_128 stage <prefill> min_length = 1 max_length = 128 {
  %y = flight.buf_alloc <value> : !flight.buffer<6x128xi8, act>
  flight.buf_exchange %y tokens 2 row_stride 3 slices [0, 128, 256, 256] : !flight.buffer<6x128xi8, act>
}

