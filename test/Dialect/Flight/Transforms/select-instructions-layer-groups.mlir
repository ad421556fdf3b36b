// RUN: flightllm-opt %s -split-input-file --flight-select-instructions="max-context=32 buckets=decode:16 kv-range=8" | FileCheck %s
// RUN: flightllm-opt %s -split-input-file --pass-pipeline='builtin.module(flight-select-instructions{max-context=32 buckets=decode:16 kv-range=8},flight-hbm-layout)' | FileCheck %s --check-prefix=LAYOUT

// Layer groups (docs/lowering.md): layers that differ in their weight
// formats get one flight.layer_body per run of consecutive layers with the
// same formats, each from its first layer with its own tile plans and
// regions ("layerF." after its first layer F; the first group keeps
// "layer."), and the KV cache, the same in every group, shared.

// 8-bit layer 0, 4-bit layers 1-2: a 256 x 256 tile of 64 KiB, then 32 KiB.
// CHECK-LABEL: flight.bucket @decode_16
// CHECK: %[[W8:.*]] = flight.hbm_region "layer.linear0.w0" holds <params> : !flight.buffer<65536xi8, hbm>
// CHECK: %[[K:.*]] = flight.hbm_region "layer.attention1.k0" holds <kv_cache>
// CHECK: %[[W4:.*]] = flight.hbm_region "layer1.linear0.w0" holds <params> : !flight.buffer<32768xi8, hbm>
// CHECK: flight.hbm_region "layer1.attention1.kv_params0" holds <params>
// CHECK-NOT: flight.hbm_region "layer1.attention1.k0"
// CHECK: flight.layer_body layers = 1 {
// CHECK: flight.tile_load %[[W8]][0] -> %{{.*}}[0] length 65536 base <B1>
// CHECK: flight.buf_mv {{.*}} {k_blocks = 16 : i64, n = 256 : i64, out_stride = 4 : i64} :
// CHECK: flight.tile_store %{{.*}}[0] -> %[[K]][0] length 128 base <B2> param <P>
// CHECK: flight.layer_body layers = 2 first_layer = 1 {
// CHECK: flight.tile_load %[[W4]][0] -> %{{.*}}[0] length 32768 base <B1>
// CHECK: flight.buf_mv {{.*}} {k_blocks = 16 : i64, n = 256 : i64, out_stride = 4 : i64, precision = #flight.precision<w4a8>} :
// CHECK: flight.tile_store %{{.*}}[0] -> %[[K]][0] length 128 base <B2> param <P>
// CHECK-NOT: flight.layer_body
// Every slot has the largest group's stride (one B1 stride per stream).
// LAYOUT-LABEL: module attributes {flight.bases = {origin = array<i64: 20, 884, 0>, stride = array<i64: 288, 512, 0>}
// LAYOUT: flight.hbm_region "layer.linear0.w0.s0" holds <params> channel 0 offset 0 : !flight.buffer<8192xi8, hbm>
// LAYOUT: flight.hbm_region "layer1.linear0.w0.s0" holds <params> channel 0 offset 0 : !flight.buffer<4096xi8, hbm>
// LAYOUT: flight.layer_body layers = 1 weight_stride = 288 kv_stride = 512 {
// LAYOUT: flight.layer_body layers = 2 first_layer = 1 weight_stride = 288 kv_stride = 512 {

func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x256xf32>
  %e = llm.embedding %t, %ids : (tensor<8x256xf32>, tensor<1x?xi64>) -> tensor<1x?x256xf32>
  %w0 = llm.weight "layers.0.wq" = dense<1> : tensor<256x256xi8>
  %q0 = llm.linear %e, %w0 {weight_scales = dense<0.01> : tensor<256xf32>} : (tensor<1x?x256xf32>, tensor<256x256xi8>) -> tensor<1x?x256xf32>
  %o0, %pk0, %pv0 = llm.attention %q0, %q0, %q0 {causal = true, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f32} : (tensor<1x?x256xf32>, tensor<1x?x256xf32>, tensor<1x?x256xf32>) -> (tensor<1x?x256xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>)
  %r0 = llm.add %e, %o0 : tensor<1x?x256xf32>
  %w1 = llm.weight "layers.1.wq" = dense<1> : tensor<256x256xi8>
  %q1 = llm.linear %r0, %w1 {weight_bits = 4 : i64, weight_scales = dense<0.01> : tensor<256xf32>} : (tensor<1x?x256xf32>, tensor<256x256xi8>) -> tensor<1x?x256xf32>
  %o1, %pk1, %pv1 = llm.attention %q1, %q1, %q1 {causal = true, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f32} : (tensor<1x?x256xf32>, tensor<1x?x256xf32>, tensor<1x?x256xf32>) -> (tensor<1x?x256xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>)
  %r1 = llm.add %r0, %o1 : tensor<1x?x256xf32>
  %w2 = llm.weight "layers.2.wq" = dense<1> : tensor<256x256xi8>
  %q2 = llm.linear %r1, %w2 {weight_bits = 4 : i64, weight_scales = dense<0.01> : tensor<256xf32>} : (tensor<1x?x256xf32>, tensor<256x256xi8>) -> tensor<1x?x256xf32>
  %o2, %pk2, %pv2 = llm.attention %q2, %q2, %q2 {causal = true, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f32} : (tensor<1x?x256xf32>, tensor<1x?x256xf32>, tensor<1x?x256xf32>) -> (tensor<1x?x256xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>)
  %r2 = llm.add %r1, %o2 : tensor<1x?x256xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<256x8xf32>
  %l = llm.logits %r2, %wh : (tensor<1x?x256xf32>, tensor<256x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}

// -----

// The group that differs may come last: 4-bit layers 0-1, 8-bit layer 2.
// CHECK-LABEL: flight.bucket @decode_16
// CHECK: flight.hbm_region "layer.linear0.w0" holds <params> : !flight.buffer<32768xi8, hbm>
// CHECK: flight.hbm_region "layer2.linear0.w0" holds <params> : !flight.buffer<65536xi8, hbm>
// CHECK: flight.layer_body layers = 2 {
// CHECK: precision = #flight.precision<w4a8>
// CHECK: flight.layer_body layers = 1 first_layer = 2 {
// CHECK-NOT: precision = #flight.precision<w4a8>
// CHECK: flight.buf_mv {{.*}}n = 8 : i64, out_format = "f32"

func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x256xf32>
  %e = llm.embedding %t, %ids : (tensor<8x256xf32>, tensor<1x?xi64>) -> tensor<1x?x256xf32>
  %w0 = llm.weight "layers.0.wq" = dense<1> : tensor<256x256xi8>
  %q0 = llm.linear %e, %w0 {weight_bits = 4 : i64, weight_scales = dense<0.01> : tensor<256xf32>} : (tensor<1x?x256xf32>, tensor<256x256xi8>) -> tensor<1x?x256xf32>
  %o0, %pk0, %pv0 = llm.attention %q0, %q0, %q0 {causal = true, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f32} : (tensor<1x?x256xf32>, tensor<1x?x256xf32>, tensor<1x?x256xf32>) -> (tensor<1x?x256xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>)
  %r0 = llm.add %e, %o0 : tensor<1x?x256xf32>
  %w1 = llm.weight "layers.1.wq" = dense<1> : tensor<256x256xi8>
  %q1 = llm.linear %r0, %w1 {weight_bits = 4 : i64, weight_scales = dense<0.01> : tensor<256xf32>} : (tensor<1x?x256xf32>, tensor<256x256xi8>) -> tensor<1x?x256xf32>
  %o1, %pk1, %pv1 = llm.attention %q1, %q1, %q1 {causal = true, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f32} : (tensor<1x?x256xf32>, tensor<1x?x256xf32>, tensor<1x?x256xf32>) -> (tensor<1x?x256xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>)
  %r1 = llm.add %r0, %o1 : tensor<1x?x256xf32>
  %w2 = llm.weight "layers.2.wq" = dense<1> : tensor<256x256xi8>
  %q2 = llm.linear %r1, %w2 {weight_scales = dense<0.01> : tensor<256xf32>} : (tensor<1x?x256xf32>, tensor<256x256xi8>) -> tensor<1x?x256xf32>
  %o2, %pk2, %pv2 = llm.attention %q2, %q2, %q2 {causal = true, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f32} : (tensor<1x?x256xf32>, tensor<1x?x256xf32>, tensor<1x?x256xf32>) -> (tensor<1x?x256xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>)
  %r2 = llm.add %r1, %o2 : tensor<1x?x256xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<256x8xf32>
  %l = llm.logits %r2, %wh : (tensor<1x?x256xf32>, tensor<256x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}

// -----

// A sparsity that differs: 8:16 in layer 0 only.
// CHECK-LABEL: flight.bucket @decode_16
// CHECK: flight.layer_body layers = 1 {
// CHECK: flight.buf_mv {{.*}} {k_blocks = 16 : i64, n = 256 : i64, out_stride = 4 : i64, sparsity = #flight.sparsity<n8>} :
// CHECK: flight.layer_body layers = 2 first_layer = 1 {
// CHECK-NOT: sparsity = #flight.sparsity
// CHECK: flight.buf_mv {{.*}}n = 8 : i64, out_format = "f32"

func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x256xf32>
  %e = llm.embedding %t, %ids : (tensor<8x256xf32>, tensor<1x?xi64>) -> tensor<1x?x256xf32>
  %w0 = llm.weight "layers.0.wq" = dense<0> : tensor<256x256xi8>
  %q0 = llm.linear %e, %w0 {sparsity = array<i64: 8, 16>, weight_scales = dense<0.01> : tensor<256xf32>} : (tensor<1x?x256xf32>, tensor<256x256xi8>) -> tensor<1x?x256xf32>
  %o0, %pk0, %pv0 = llm.attention %q0, %q0, %q0 {causal = true, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f32} : (tensor<1x?x256xf32>, tensor<1x?x256xf32>, tensor<1x?x256xf32>) -> (tensor<1x?x256xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>)
  %r0 = llm.add %e, %o0 : tensor<1x?x256xf32>
  %w1 = llm.weight "layers.1.wq" = dense<1> : tensor<256x256xi8>
  %q1 = llm.linear %r0, %w1 {weight_scales = dense<0.01> : tensor<256xf32>} : (tensor<1x?x256xf32>, tensor<256x256xi8>) -> tensor<1x?x256xf32>
  %o1, %pk1, %pv1 = llm.attention %q1, %q1, %q1 {causal = true, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f32} : (tensor<1x?x256xf32>, tensor<1x?x256xf32>, tensor<1x?x256xf32>) -> (tensor<1x?x256xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>)
  %r1 = llm.add %r0, %o1 : tensor<1x?x256xf32>
  %w2 = llm.weight "layers.2.wq" = dense<1> : tensor<256x256xi8>
  %q2 = llm.linear %r1, %w2 {weight_scales = dense<0.01> : tensor<256xf32>} : (tensor<1x?x256xf32>, tensor<256x256xi8>) -> tensor<1x?x256xf32>
  %o2, %pk2, %pv2 = llm.attention %q2, %q2, %q2 {causal = true, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f32} : (tensor<1x?x256xf32>, tensor<1x?x256xf32>, tensor<1x?x256xf32>) -> (tensor<1x?x256xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>)
  %r2 = llm.add %r1, %o2 : tensor<1x?x256xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<256x8xf32>
  %l = llm.logits %r2, %wh : (tensor<1x?x256xf32>, tensor<256x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}

// -----

// One format in every layer: one body for all, as before.
// CHECK-LABEL: flight.bucket @decode_16
// CHECK-NOT: hbm_region "layer1.
// CHECK: flight.layer_body layers = 3 {
// CHECK-NOT: flight.layer_body

func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x256xf32>
  %e = llm.embedding %t, %ids : (tensor<8x256xf32>, tensor<1x?xi64>) -> tensor<1x?x256xf32>
  %w0 = llm.weight "layers.0.wq" = dense<1> : tensor<256x256xi8>
  %q0 = llm.linear %e, %w0 {weight_scales = dense<0.01> : tensor<256xf32>} : (tensor<1x?x256xf32>, tensor<256x256xi8>) -> tensor<1x?x256xf32>
  %o0, %pk0, %pv0 = llm.attention %q0, %q0, %q0 {causal = true, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f32} : (tensor<1x?x256xf32>, tensor<1x?x256xf32>, tensor<1x?x256xf32>) -> (tensor<1x?x256xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>)
  %r0 = llm.add %e, %o0 : tensor<1x?x256xf32>
  %w1 = llm.weight "layers.1.wq" = dense<1> : tensor<256x256xi8>
  %q1 = llm.linear %r0, %w1 {weight_scales = dense<0.01> : tensor<256xf32>} : (tensor<1x?x256xf32>, tensor<256x256xi8>) -> tensor<1x?x256xf32>
  %o1, %pk1, %pv1 = llm.attention %q1, %q1, %q1 {causal = true, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f32} : (tensor<1x?x256xf32>, tensor<1x?x256xf32>, tensor<1x?x256xf32>) -> (tensor<1x?x256xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>)
  %r1 = llm.add %r0, %o1 : tensor<1x?x256xf32>
  %w2 = llm.weight "layers.2.wq" = dense<1> : tensor<256x256xi8>
  %q2 = llm.linear %r1, %w2 {weight_scales = dense<0.01> : tensor<256xf32>} : (tensor<1x?x256xf32>, tensor<256x256xi8>) -> tensor<1x?x256xf32>
  %o2, %pk2, %pv2 = llm.attention %q2, %q2, %q2 {causal = true, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.5 : f32} : (tensor<1x?x256xf32>, tensor<1x?x256xf32>, tensor<1x?x256xf32>) -> (tensor<1x?x256xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>)
  %r2 = llm.add %r1, %o2 : tensor<1x?x256xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<256x8xf32>
  %l = llm.logits %r2, %wh : (tensor<1x?x256xf32>, tensor<256x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}
