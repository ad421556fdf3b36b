// RUN: flightllm-opt %s | flightllm-opt | FileCheck %s
// RUN: flightllm-opt %s -mlir-print-op-generic | flightllm-opt | FileCheck %s

// A decode bucket at the buffer level: per layer (B1) a weight tile and its
// scales stream through temporaries, the MV writes a value, the SFU works
// in place, this run's K rows go to the KV cache (B2, at position P).
// CHECK-LABEL: flight.bucket @decode_32 stage <decode> min_length = 17 max_length = 32 {
// CHECK-NEXT: %[[W:.*]] = flight.hbm_region "layer.linear0.w0.s0" holds <params> channel 3 offset 4096 : !flight.buffer<256xi8, hbm>
// CHECK-NEXT: %[[SH:.*]] = flight.hbm_region "layer.linear0.scales0" holds <params> channel 4 offset 0 : !flight.buffer<128xi8, hbm>
// CHECK-NEXT: %[[C:.*]] = flight.hbm_region "layer.attention1.k0" holds <kv_cache> channel 0 offset 0 : !flight.buffer<4096xi8, hbm>
// CHECK-NEXT: flight.layer_body layers = 32 weight_stride = 344 kv_stride = 1024 {
// CHECK-NEXT: %[[X:.*]] = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
// CHECK-NEXT: %[[T:.*]] = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, weight>
// CHECK-NEXT: %[[S:.*]] = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
// CHECK-NEXT: flight.tile_load %[[W]][0] -> %[[T]][0] length 256 base <B1> : !flight.buffer<256xi8, hbm>, !flight.buffer<2x128xi8, weight>
// CHECK-NEXT: flight.tile_load %[[SH]][0] -> %[[S]][0] length 128 base <B1> : !flight.buffer<128xi8, hbm>, !flight.buffer<1x128xi8, meta>
// CHECK-NEXT: %[[Y:.*]] = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
// CHECK-NEXT: flight.buf_mv %[[X]], %[[T]], %[[S]][0] -> %[[Y]][0] {k_blocks = 8 : i64, n = 2 : i64, out_stride = 1 : i64, relu} : !flight.buffer<1x128xi8, act>, !flight.buffer<2x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<1x128xi8, act>
// CHECK-NEXT: flight.buf_dealloc %[[T]] : !flight.buffer<2x128xi8, weight>
// CHECK-NEXT: flight.buf_misc "silu" %[[Y]][0] -> %[[Y]][0] {a_step = 1 : i64, k = 64 : i64, out_step = 1 : i64, rows = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
// CHECK-NEXT: flight.buf_misc "add" %[[X]][0], %[[Y]][0] -> %[[X]][0] {a_step = 1 : i64, b_step = 1 : i64, k = 64 : i64, out_step = 1 : i64, rows = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
// CHECK-NEXT: flight.buf_misc "quantize" %[[X]][0], %[[S]][0] -> %[[Y]][0] {a_step = 1 : i64, k = 64 : i64, out_step = 1 : i64, rows = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<1x128xi8, act>
// CHECK-NEXT: flight.tile_store %[[Y]][0] -> %[[C]][0] length 128 base <B2> param <P> stride 128 : !flight.buffer<1x128xi8, act>, !flight.buffer<4096xi8, hbm>
flight.bucket @decode_32 stage <decode> min_length = 17 max_length = 32 {
  %w = flight.hbm_region "layer.linear0.w0.s0" holds <params> channel 3 offset 4096 : !flight.buffer<256xi8, hbm>
  %sh = flight.hbm_region "layer.linear0.scales0" holds <params> channel 4 offset 0 : !flight.buffer<128xi8, hbm>
  %c = flight.hbm_region "layer.attention1.k0" holds <kv_cache> channel 0 offset 0 : !flight.buffer<4096xi8, hbm>
  flight.layer_body layers = 32 weight_stride = 344 kv_stride = 1024 {
    %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
    %t = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, weight>
    %s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
    flight.tile_load %w[0] -> %t[0] length 256 base <B1> : !flight.buffer<256xi8, hbm>, !flight.buffer<2x128xi8, weight>
    flight.tile_load %sh[0] -> %s[0] length 128 base <B1> : !flight.buffer<128xi8, hbm>, !flight.buffer<1x128xi8, meta>
    %y = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
    flight.buf_mv %x, %t, %s[0] -> %y[0] {k_blocks = 8 : i64, n = 2 : i64, out_stride = 1 : i64, relu} : !flight.buffer<1x128xi8, act>, !flight.buffer<2x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<1x128xi8, act>
    flight.buf_dealloc %t : !flight.buffer<2x128xi8, weight>
    flight.buf_misc "silu" %y[0] -> %y[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
    flight.buf_misc "add" %x[0], %y[0] -> %x[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, b_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
    flight.buf_misc "quantize" %x[0], %s[0] -> %y[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<1x128xi8, act>
    flight.tile_store %y[0] -> %c[0] length 128 base <B2> param <P> stride 128 : !flight.buffer<1x128xi8, act>, !flight.buffer<4096xi8, hbm>
  }
}

// A prefill tile: INT4, 4:16-sparse, K-major weights with a bias and fp32
// output (attributes for the later precision and sparsity work), and a
// masked softmax.
// CHECK-LABEL: flight.bucket @prefill_256 stage <prefill> min_length = 129 max_length = 256 {
// CHECK-NEXT: flight.prefill_tile index = 1 tokens = 128 {
// CHECK: flight.buf_mm %{{.*}}, %{{.*}}, %{{.*}}[0] -> %{{.*}}[0] {bias, grouped, k_blocks = 4 : i64, n = 32 : i64, out_format = "f32", out_stride = 1 : i64, precision = #flight.precision<w4a8>, sparsity = #flight.sparsity<n4>}
// CHECK: flight.buf_misc "softmax" %{{.*}}[0], %{{.*}}[0] -> %{{.*}}[0] {a_step = 4 : i64, k = 256 : i64, masked, out_step = 4 : i64, pos_off = 128 : i64, rows = 128 : i64}
flight.bucket @prefill_256 stage <prefill> min_length = 129 max_length = 256 {
  flight.prefill_tile index = 1 tokens = 128 {
    %x = flight.buf_alloc <value> : !flight.buffer<128x128xi8, act>
    %w = flight.buf_alloc <temporary> : !flight.buffer<16x128xi8, weight>
    %s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
    %y = flight.buf_alloc <value> : !flight.buffer<128x128xi8, act>
    flight.buf_mm %x, %w, %s[0] -> %y[0] {bias, grouped, k_blocks = 4 : i64, n = 32 : i64, out_stride = 1 : i64, out_format = "f32", precision = #flight.precision<w4a8>, sparsity = #flight.sparsity<n4>} : !flight.buffer<128x128xi8, act>, !flight.buffer<16x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<128x128xi8, act>
    %sc = flight.buf_alloc <temporary> : !flight.buffer<512x128xi8, act>
    flight.buf_misc "softmax" %sc[0], %s[0] -> %sc[0] {k = 256 : i64, rows = 128 : i64, a_step = 4 : i64, out_step = 4 : i64, masked, pos_off = 128 : i64} : !flight.buffer<512x128xi8, act>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<512x128xi8, act>
  }
}

// A batched decode bucket: sequence 1's row of x (x_row) and its KV-cache
// store after flight.select_seq.
// CHECK-LABEL: flight.bucket @decode_48 stage <decode> min_length = 33 max_length = 48 {
// CHECK: flight.buf_mv %{{.*}}, %{{.*}}, %{{.*}}[0] -> %{{.*}}[1] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 1 : i64, x_row = 2 : i64}
// CHECK-NEXT: flight.select_seq 1
// CHECK-NEXT: flight.tile_store
flight.bucket @decode_48 stage <decode> min_length = 33 max_length = 48 {
  %cache = flight.hbm_region "layer.attention0.k0" holds <kv_cache> channel 0 offset 0 : !flight.buffer<4096xi8, hbm>
  %x = flight.buf_alloc <value> : !flight.buffer<4x128xi8, act>
  %w = flight.buf_alloc <temporary> : !flight.buffer<64x128xi8, weight>
  %s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  %y = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  flight.buf_mv %x, %w, %s[0] -> %y[1] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 1 : i64, x_row = 2 : i64} : !flight.buffer<4x128xi8, act>, !flight.buffer<64x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.select_seq 1
  flight.tile_store %y[1] -> %cache[0] length 128 base <B2> param <P> stride 128 : !flight.buffer<2x128xi8, act>, !flight.buffer<4096xi8, hbm>
}
