// RUN: flightllm-opt %s | flightllm-opt | FileCheck %s
// RUN: flightllm-opt %s -mlir-print-op-generic | flightllm-opt | FileCheck %s

// A decode bucket at the buffer level: the layer body loads a weight tile
// and its scales per layer (B1), multiplies, applies the SFU, stores K rows
// to the KV cache (B2, at position P).
// CHECK-LABEL: flight.bucket @decode_32 stage <decode> min_length = 17 max_length = 32 {
// CHECK-NEXT: flight.layer_body layers = 32 weight_stride = 344 kv_stride = 1024 {
// CHECK-NEXT: %[[X:.*]] = flight.buffer : !flight.buffer<1x4096xi8, act>
// CHECK-NEXT: %[[W:.*]] = flight.buffer "layers.q_proj[0:256]" : !flight.buffer<4096x256xi8, hbm>
// CHECK-NEXT: %[[T:.*]] = flight.tile_load %[[W]] base <B1> : !flight.buffer<4096x256xi8, hbm> -> !flight.buffer<256x4096xi8, weight>
// CHECK-NEXT: %[[SH:.*]] = flight.buffer "layers.q_proj.scales[0:256]" : !flight.buffer<256xf32, hbm>
// CHECK-NEXT: %[[S:.*]] = flight.tile_load %[[SH]] base <B1> : !flight.buffer<256xf32, hbm> -> !flight.buffer<256xf32, meta>
// CHECK-NEXT: %[[Y:.*]] = flight.buf_mv %[[X]], %[[T]], %[[S]] {relu} : !flight.buffer<1x4096xi8, act>, !flight.buffer<256x4096xi8, weight>, !flight.buffer<256xf32, meta> -> !flight.buffer<1x256xf16, act>
// CHECK-NEXT: %[[G:.*]] = flight.buf_misc "silu" %[[Y]] : !flight.buffer<1x256xf16, act> -> !flight.buffer<1x256xf16, act>
// CHECK-NEXT: %[[H:.*]] = flight.buf_misc "add" %[[G]], %[[Y]] : !flight.buffer<1x256xf16, act>, !flight.buffer<1x256xf16, act> -> !flight.buffer<1x256xf16, act>
// CHECK-NEXT: %[[KS:.*]] = flight.buffer : !flight.buffer<256xf32, meta>
// CHECK-NEXT: %[[Q:.*]] = flight.buf_misc "quantize" %[[H]], %[[KS]] : !flight.buffer<1x256xf16, act>, !flight.buffer<256xf32, meta> -> !flight.buffer<1x256xi8, act>
// CHECK-NEXT: %[[C:.*]] = flight.buffer "kv_cache.k" : !flight.buffer<1x256xi8, hbm>
// CHECK-NEXT: flight.tile_store %[[Q]], %[[C]] base <B2> param <P> : !flight.buffer<1x256xi8, act>, !flight.buffer<1x256xi8, hbm>
flight.bucket @decode_32 stage <decode> min_length = 17 max_length = 32 {
  flight.layer_body layers = 32 weight_stride = 344 kv_stride = 1024 {
    %x = flight.buffer : !flight.buffer<1x4096xi8, act>
    %w = flight.buffer "layers.q_proj[0:256]" : !flight.buffer<4096x256xi8, hbm>
    %t = flight.tile_load %w base <B1> : !flight.buffer<4096x256xi8, hbm> -> !flight.buffer<256x4096xi8, weight>
    %sh = flight.buffer "layers.q_proj.scales[0:256]" : !flight.buffer<256xf32, hbm>
    %s = flight.tile_load %sh base <B1> : !flight.buffer<256xf32, hbm> -> !flight.buffer<256xf32, meta>
    %y = flight.buf_mv %x, %t, %s {relu} : !flight.buffer<1x4096xi8, act>, !flight.buffer<256x4096xi8, weight>, !flight.buffer<256xf32, meta> -> !flight.buffer<1x256xf16, act>
    %g = flight.buf_misc "silu" %y : !flight.buffer<1x256xf16, act> -> !flight.buffer<1x256xf16, act>
    %h = flight.buf_misc "add" %g, %y : !flight.buffer<1x256xf16, act>, !flight.buffer<1x256xf16, act> -> !flight.buffer<1x256xf16, act>
    %ks = flight.buffer : !flight.buffer<256xf32, meta>
    %q = flight.buf_misc "quantize" %h, %ks : !flight.buffer<1x256xf16, act>, !flight.buffer<256xf32, meta> -> !flight.buffer<1x256xi8, act>
    %c = flight.buffer "kv_cache.k" : !flight.buffer<1x256xi8, hbm>
    flight.tile_store %q, %c base <B2> param <P> : !flight.buffer<1x256xi8, act>, !flight.buffer<1x256xi8, hbm>
  }
}

// A prefill tile with INT4, 4:16-sparse, K-major weights, a bias and fp32
// output, and a masked softmax.
// CHECK-LABEL: flight.bucket @prefill_256 stage <prefill> min_length = 129 max_length = 256 {
// CHECK-NEXT: flight.prefill_tile index = 1 tokens = 128 {
// CHECK: flight.buf_mm %{{.*}}, %{{.*}}, %{{.*}} bias %{{.*}} {b_kmajor, precision = #flight.precision<w4a8>, sparsity = #flight.sparsity<n4>} : !flight.buffer<128x64xi8, act>, !flight.buffer<64x32xi4, weight>, !flight.buffer<32xf32, meta>, !flight.buffer<32xf32, meta> -> !flight.buffer<128x32xf32, act>
// CHECK: flight.buf_misc "softmax" %{{.*}}, %{{.*}} {masked} : !flight.buffer<128x256xf16, act>, !flight.buffer<1xf32, meta> -> !flight.buffer<128x256xf16, act>
flight.bucket @prefill_256 stage <prefill> min_length = 129 max_length = 256 {
  flight.prefill_tile index = 1 tokens = 128 {
    %x = flight.buffer : !flight.buffer<128x64xi8, act>
    %w = flight.buffer : !flight.buffer<64x32xi4, weight>
    %s = flight.buffer : !flight.buffer<32xf32, meta>
    %b = flight.buffer : !flight.buffer<32xf32, meta>
    %y = flight.buf_mm %x, %w, %s bias %b {b_kmajor, precision = #flight.precision<w4a8>, sparsity = #flight.sparsity<n4>} : !flight.buffer<128x64xi8, act>, !flight.buffer<64x32xi4, weight>, !flight.buffer<32xf32, meta>, !flight.buffer<32xf32, meta> -> !flight.buffer<128x32xf32, act>
    %sc = flight.buffer : !flight.buffer<128x256xf16, act>
    %p = flight.buffer : !flight.buffer<1xf32, meta>
    %sm = flight.buf_misc "softmax" %sc, %p {masked} : !flight.buffer<128x256xf16, act>, !flight.buffer<1xf32, meta> -> !flight.buffer<128x256xf16, act>
  }
}
