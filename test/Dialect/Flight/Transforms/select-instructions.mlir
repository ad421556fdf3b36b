// RUN: flightllm-opt %s -split-input-file --flight-select-instructions="max-context=32 buckets=decode:16" | FileCheck %s
// RUN: flightllm-opt %s -split-input-file --flight-select-instructions="max-context=256 buckets=prefill:256" | FileCheck %s --check-prefix=PREFILL

// One decoder layer (a linear, attention, the residual add) and the logits:
// the program gets a decode bucket at the buffer level; the llm program
// stays for flight-hbm-layout, which reads the parameters from it, with the
// options it must size the regions with.
// CHECK-LABEL: module attributes {flight.lowering = {decode_bucket = 16 : i64, kv_range = 0.000000e+00 : f32, max_context = 32 : i64, prefill_bucket = 128 : i64}, flight.model
// CHECK-NOT: flight.hbm_image
// CHECK: func.func @forward
// CHECK: flight.bucket @decode_16 stage <decode> min_length = 1 max_length = 16 {
// The HBM regions first, named after what they hold, without a place (the
// HBM layout's); a weight tile is one region.
// CHECK-NEXT: %[[CONST:.*]] = flight.hbm_region "constants" holds <params> : !flight.buffer<640xi8, hbm>
// CHECK-NEXT: %[[IN:.*]] = flight.hbm_region "input" holds <input> : !flight.buffer<16384xi8, hbm>
// CHECK-NEXT: %[[W0:.*]] = flight.hbm_region "layer.linear0.w0" holds <params> : !flight.buffer<8192xi8, hbm>
// CHECK-NEXT: flight.hbm_region "layer.linear0.scales0" holds <params> :
// CHECK: %[[KCACHE:.*]] = flight.hbm_region "layer.attention1.k0" holds <kv_cache> :
// CHECK: %[[LOGITS:.*]] = flight.hbm_region "logits" holds <logits> :
// The constants for the whole stream, the token's input row (a value).
// CHECK-NEXT: %[[C:.*]] = flight.buf_alloc <temporary> : !flight.buffer<5x128xi8, meta>
// CHECK-NEXT: flight.tile_load %[[CONST]][0] -> %[[C]][0] length 640 :
// CHECK-NEXT: %[[X:.*]] = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
// CHECK-NEXT: flight.tile_load %[[IN]][0] -> %[[X]][0] length 128 :
// The layer once, shared by every layer (B1 weights, B2 KV cache); the
// strides are the HBM layout's.
// CHECK-NEXT: flight.layer_body layers = 1 {
// CHECK-NEXT: %[[Q:.*]] = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
// CHECK-NEXT: %[[XQ:.*]] = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, act>
// CHECK-NEXT: flight.buf_misc "quantize_dynamic" %[[X]][0] -> %[[XQ]][0]
// CHECK-NEXT: %[[W:.*]] = flight.buf_alloc <temporary> : !flight.buffer<64x128xi8, weight>
// CHECK-NEXT: %[[S:.*]] = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, meta>
// CHECK-NEXT: flight.tile_load %[[W0]][0] -> %[[W]][0] length 8192 base <B1>
// CHECK: flight.buf_mv %[[XQ]], %[[W]], %[[S]][0] -> %[[Q]][0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 1 : i64}
// CHECK-NEXT: flight.buf_dealloc %[[W]]
// CHECK-NEXT: flight.buf_dealloc %[[S]]
// The linear's own quantized copy of its input ends with it
// (flight-share-quantize shares copies, flight-fuse-in-place makes them in
// place).
// CHECK-NEXT: flight.buf_dealloc %[[XQ]]
// This token's K row, quantized with the static scales, into the cache at P.
// CHECK: flight.buf_misc "quantize" %[[Q]][0], %{{.*}}[1] -> %[[K:.*]][0]
// CHECK-NEXT: flight.tile_store %[[K]][0] -> %[[KCACHE]][0] length 128 base <B2> param <P> stride 128
// Attention stages come in plain per-head order, tagged for flight-schedule.
// CHECK: flight.buf_misc "softmax" {{.*}} {a_step = 1 : i64, flight.attention_stage = array<i64: 1, 0, 2>, k = 16 : i64, masked,
// CHECK: flight.buf_mv {{.*}} {b_kmajor,
// The residual add into rows of its own, the layer's output copied back to
// the input rows the next layer reads (flight-fuse-in-place makes the add
// write over the input and drops the copy).
// CHECK: flight.buf_misc "add" %[[X]][0], %{{.*}}[0] -> %[[SUM:[0-9]+]][0]
// CHECK: flight.buf_misc "copy" %[[SUM]][0] -> %[[X]][0] {a_step = 1 : i64, k = 128 : i64, out_step = 1 : i64, rows = 1 : i64}
// CHECK-NEXT: }
// The logits of the token, fp32, stored to their area.
// CHECK: flight.buf_mv {{.*}} -> %[[L:.*]][0] {k_blocks = 1 : i64, n = 8 : i64, out_format = "f32", out_stride = 1 : i64}
// CHECK: flight.tile_store %[[L]][0] -> %[[LOGITS]][0] length 32 :

// A prefill bucket of two 128-token tiles: each runs the layer; the tiles
// that may hold the last prompt token spill their rows, and the last one
// loads row S - 1 back for the logits.
// PREFILL-LABEL: flight.bucket @prefill_256 stage <prefill> min_length = 129 max_length = 256 {
// PREFILL: %[[SPILL:.*]] = flight.hbm_region "spill" holds <scratch>
// PREFILL: flight.prefill_tile index = 0 tokens = 128 {
// PREFILL: flight.layer_body layers = 1
// PREFILL: flight.buf_mm
// PREFILL-NOT: %[[SPILL]]
// PREFILL: flight.prefill_tile index = 1 tokens = 128 {
// PREFILL: flight.layer_body layers = 1
// PREFILL: flight.tile_store %{{.*}}[0] -> %[[SPILL]][16512] length 16384 :
// PREFILL-NEXT: %[[LAST:.*]] = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
// PREFILL-NEXT: flight.tile_load %[[SPILL]][0] -> %[[LAST]][0] length 128 param <S> stride 128
func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x4xf32>
  %e = llm.embedding %t, %ids : (tensor<8x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
  %wq = llm.weight "wq" = dense<0.5> : tensor<4x4xf32>
  %q = llm.linear %e, %wq : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  %o, %pk, %pv = llm.attention %q, %q, %q {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> (tensor<1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
  %r = llm.add %e, %o : tensor<1x?x4xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<4x8xf32>
  %l = llm.logits %r, %wh : (tensor<1x?x4xf32>, tensor<4x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}

// -----

// A ReLU after a linear stays an SFU op into rows of its own
// (flight-fuse-in-place writes it over the linear's rows, flight-fuse then
// folds it into the MV).
// CHECK-LABEL: module attributes
// CHECK: flight.buf_mv {{.*}} -> %[[H:.*]][0] {k_blocks = 1 : i64, n = 4 : i64, out_stride = 1 : i64}
// CHECK: flight.buf_misc "relu" %[[H]][0] -> %[[R:[0-9]+]][0] {a_step = 1 : i64, k = 4 : i64, out_step = 1 : i64, rows = 1 : i64}
func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x4xf32>
  %e = llm.embedding %t, %ids : (tensor<8x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
  %wq = llm.weight "wq" = dense<0.5> : tensor<4x4xf32>
  %q = llm.linear %e, %wq : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  %o, %pk, %pv = llm.attention %q, %q, %q {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> (tensor<1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
  %r = llm.add %e, %o : tensor<1x?x4xf32>
  %w1 = llm.weight "fc1" = dense<0.25> : tensor<4x4xf32>
  %h = llm.linear %r, %w1 : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  %a = llm.relu %h : tensor<1x?x4xf32>
  %r2 = llm.add %r, %a : tensor<1x?x4xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<4x8xf32>
  %l = llm.logits %r2, %wh : (tensor<1x?x4xf32>, tensor<4x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}
