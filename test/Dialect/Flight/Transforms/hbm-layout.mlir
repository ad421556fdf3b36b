// RUN: flightllm-opt %s -split-input-file --flight-hbm-layout | FileCheck %s
// RUN: flightllm-opt %s -split-input-file --flight-hbm-layout=stripes=2 | FileCheck %s --check-prefix=TWO

// The module flight-select-instructions leaves: the llm program (one
// decoder layer: a linear, attention, the residual add; the logits) and a
// bucket whose HBM regions have no place yet. The layout places every
// region, fills the image and drops the program.
// CHECK-LABEL: module attributes {flight.bases = {origin = array<i64: 20, 60, 0>, stride = array<i64: 40, 512, 0>}
// CHECK-SAME: flight.hbm_image = [dense_resource<flight_hbm_0>
// CHECK-NOT: flight.lowering
// CHECK-NOT: func.func
// A weight tile of 64 channels (8 KiB) is striped over 8 channels, 8
// channel rows (1 KiB) each, its fp32 scales next to its first stripe; the
// load becomes one load per stripe into consecutive rows.
// CHECK: %[[S0:.*]] = flight.hbm_region "layer.linear0.w0.s0" holds <params> channel 0 offset 0 : !flight.buffer<1024xi8, hbm>
// CHECK-NEXT: %[[S1:.*]] = flight.hbm_region "layer.linear0.w0.s1" holds <params> channel 1 offset 0 : !flight.buffer<1024xi8, hbm>
// CHECK: %[[S7:.*]] = flight.hbm_region "layer.linear0.w0.s7" holds <params> channel 7 offset 0 : !flight.buffer<1024xi8, hbm>
// CHECK-NEXT: flight.hbm_region "layer.linear0.scales0" holds <params> channel 0 offset 1024 : !flight.buffer<256xi8, hbm>
// K and V of KV head 0 in channels 0 and 1, at the start of their slot
// (B2 adds the layer's).
// CHECK-NEXT: flight.hbm_region "layer.attention1.k0" holds <kv_cache> channel 0 offset 0 : !flight.buffer<16384xi8, hbm>
// CHECK-NEXT: flight.hbm_region "layer.attention1.v0" holds <kv_cache> channel 1 offset 0 : !flight.buffer<16384xi8, hbm>
// The layer's strides: 1280 bytes of weights per slot (channel 0: the
// stripe and the scales), 16 KiB of KV cache.
// CHECK-NEXT: flight.layer_body layers = 1 weight_stride = 40 kv_stride = 512 {
// CHECK-NEXT: %[[T:.*]] = flight.buf_alloc <temporary> : !flight.buffer<64x128xi8, weight>
// CHECK-NEXT: flight.tile_load %[[S0]][0] -> %[[T]][0] length 1024 base <B1>
// CHECK-NEXT: flight.tile_load %[[S1]][0] -> %[[T]][8] length 1024 base <B1>
// CHECK: flight.tile_load %[[S7]][0] -> %[[T]][56] length 1024 base <B1>
// CHECK-NEXT: flight.buf_dealloc %[[T]]

// stripes=2: two stripes of 32 channel rows; the scales follow in channel
// 0, the attention's parameters in channel 2; the layer slot grows to 4352
// bytes.
// TWO-LABEL: module attributes {flight.bases = {origin = array<i64: 20, 156, 0>, stride = array<i64: 136, 512, 0>}
// TWO: %[[S0:.*]] = flight.hbm_region "layer.linear0.w0.s0" holds <params> channel 0 offset 0 : !flight.buffer<4096xi8, hbm>
// TWO-NEXT: %[[S1:.*]] = flight.hbm_region "layer.linear0.w0.s1" holds <params> channel 1 offset 0 : !flight.buffer<4096xi8, hbm>
// TWO-NEXT: flight.hbm_region "layer.linear0.scales0" holds <params> channel 0 offset 4096
// TWO: flight.layer_body layers = 1 weight_stride = 136 kv_stride = 512 {
// TWO: flight.tile_load %[[S0]][0] -> %[[T:.*]][0] length 4096 base <B1>
// TWO-NEXT: flight.tile_load %[[S1]][0] -> %[[T]][32] length 4096 base <B1>
module attributes {flight.lowering = {decode_bucket = 16 : i64, kv_range = 0.0 : f32, max_context = 32 : i64, prefill_bucket = 128 : i64}} {
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
  flight.bucket @decode_16 stage <decode> min_length = 1 max_length = 16 {
    %w = flight.hbm_region "layer.linear0.w0" holds <params> : !flight.buffer<8192xi8, hbm>
    %s = flight.hbm_region "layer.linear0.scales0" holds <params> : !flight.buffer<256xi8, hbm>
    %k = flight.hbm_region "layer.attention1.k0" holds <kv_cache> : !flight.buffer<16384xi8, hbm>
    %v = flight.hbm_region "layer.attention1.v0" holds <kv_cache> : !flight.buffer<16384xi8, hbm>
    flight.layer_body layers = 1 {
      %t = flight.buf_alloc <temporary> : !flight.buffer<64x128xi8, weight>
      flight.tile_load %w[0] -> %t[0] length 8192 base <B1> : !flight.buffer<8192xi8, hbm>, !flight.buffer<64x128xi8, weight>
      flight.buf_dealloc %t : !flight.buffer<64x128xi8, weight>
      %m = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, meta>
      flight.tile_load %s[0] -> %m[0] length 256 base <B1> : !flight.buffer<256xi8, hbm>, !flight.buffer<2x128xi8, meta>
      flight.buf_dealloc %m : !flight.buffer<2x128xi8, meta>
      %kv = flight.buf_alloc <temporary> : !flight.buffer<16x128xi8, weight>
      flight.tile_load %k[0] -> %kv[0] length 2048 base <B2> : !flight.buffer<16384xi8, hbm>, !flight.buffer<16x128xi8, weight>
      flight.tile_load %v[0] -> %kv[0] length 2048 base <B2> : !flight.buffer<16384xi8, hbm>, !flight.buffer<16x128xi8, weight>
      flight.buf_dealloc %kv : !flight.buffer<16x128xi8, weight>
    }
  }
}
