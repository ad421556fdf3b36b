// RUN: flightllm-opt %s -split-input-file --pass-pipeline='builtin.module(flight.bucket(flight-share-layers))' | FileCheck %s
// RUN: flightllm-opt %s -split-input-file --pass-pipeline='builtin.module(flight.bucket(flight-share-layers{share-layers=false}))' | FileCheck %s --check-prefix=UNROLL

// Two layers share one body: B1 (weights) from 20 by 40 units of 32 bytes,
// B2 (KV cache) from 60 by 512. By default the body stays; unrolled, each
// layer's copy loads from its own slot without a base register: weights at
// 640 + l * 1280 bytes, K rows at 1920 + l * 16384; what is not per layer
// (the input load, base <zero>) stays one region.
// CHECK-LABEL: flight.bucket @decode_16
// CHECK: flight.layer_body layers = 2 weight_stride = 40 kv_stride = 512 {
// CHECK: flight.tile_load %{{.*}}[0] -> %{{.*}}[0] length 1024 base <B1>
// UNROLL-LABEL: flight.bucket @decode_16
// UNROLL-NEXT: %[[IN:.*]] = flight.hbm_region "input" holds <input> channel 0 offset 35712
// UNROLL-NEXT: %[[W:.*]] = flight.hbm_region "layer.linear0.w0.s0" holds <params> channel 3 offset 0
// UNROLL-NEXT: %[[W0:.*]] = flight.hbm_region "layer.linear0.w0.s0.layer0" holds <params> channel 3 offset 640
// UNROLL-NEXT: %[[W1:.*]] = flight.hbm_region "layer.linear0.w0.s0.layer1" holds <params> channel 3 offset 1920
// UNROLL-NEXT: %[[K:.*]] = flight.hbm_region "layer.attention1.k0" holds <kv_cache> channel 0 offset 0
// UNROLL-NEXT: %[[K0:.*]] = flight.hbm_region "layer.attention1.k0.layer0" holds <kv_cache> channel 0 offset 1920
// UNROLL-NEXT: %[[K1:.*]] = flight.hbm_region "layer.attention1.k0.layer1" holds <kv_cache> channel 0 offset 18304
// UNROLL-NEXT: %[[X:.*]] = flight.buf_alloc <value>
// UNROLL-NEXT: flight.tile_load %[[IN]][0] -> %[[X]][0] length 128 :
// UNROLL-NOT: flight.layer_body
// UNROLL-NEXT: %[[T0:.*]] = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
// UNROLL-NEXT: flight.tile_load %[[W0]][0] -> %[[T0]][0] length 1024 :
// UNROLL-NEXT: flight.tile_store %[[X]][0] -> %[[K0]][0] length 128 param <P> stride 128 :
// UNROLL-NEXT: flight.buf_dealloc %[[T0]]
// UNROLL-NEXT: %[[T1:.*]] = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
// UNROLL-NEXT: flight.tile_load %[[W1]][0] -> %[[T1]][0] length 1024 :
// UNROLL-NEXT: flight.tile_store %[[X]][0] -> %[[K1]][0] length 128 param <P> stride 128 :
// UNROLL-NEXT: flight.buf_dealloc %[[T1]]
// UNROLL-NEXT: }
module attributes {flight.bases = {origin = array<i64: 20, 60, 0>, stride = array<i64: 40, 512, 0>}} {
  flight.bucket @decode_16 stage <decode> min_length = 1 max_length = 16 {
    %in = flight.hbm_region "input" holds <input> channel 0 offset 35712 : !flight.buffer<16384xi8, hbm>
    %w = flight.hbm_region "layer.linear0.w0.s0" holds <params> channel 3 offset 0 : !flight.buffer<1024xi8, hbm>
    %k = flight.hbm_region "layer.attention1.k0" holds <kv_cache> channel 0 offset 0 : !flight.buffer<16384xi8, hbm>
    %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
    flight.tile_load %in[0] -> %x[0] length 128 : !flight.buffer<16384xi8, hbm>, !flight.buffer<1x128xi8, act>
    flight.layer_body layers = 2 weight_stride = 40 kv_stride = 512 {
      %t = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
      flight.tile_load %w[0] -> %t[0] length 1024 base <B1> : !flight.buffer<1024xi8, hbm>, !flight.buffer<8x128xi8, weight>
      flight.tile_store %x[0] -> %k[0] length 128 base <B2> param <P> stride 128 : !flight.buffer<1x128xi8, act>, !flight.buffer<16384xi8, hbm>
      flight.buf_dealloc %t : !flight.buffer<8x128xi8, weight>
    }
  }
}

// -----

// Layer groups: a body starting at layer 1 (mixed precision across layers)
// unrolls into layers 1 and 2, at origin + l * stride (640 + l * 1280 bytes
// of weights, 1920 + l * 16384 of KV cache); shared, it is checked like any.
// CHECK-LABEL: flight.bucket @decode_16
// CHECK: flight.layer_body layers = 2 first_layer = 1 weight_stride = 40 kv_stride = 512 {
// UNROLL-LABEL: flight.bucket @decode_16
// UNROLL-NEXT: flight.hbm_region "layer1.linear0.w0.s0" holds <params> channel 3 offset 0
// UNROLL-NEXT: %[[W1:.*]] = flight.hbm_region "layer1.linear0.w0.s0.layer1" holds <params> channel 3 offset 1920
// UNROLL-NEXT: %[[W2:.*]] = flight.hbm_region "layer1.linear0.w0.s0.layer2" holds <params> channel 3 offset 3200
// UNROLL-NEXT: flight.hbm_region "layer.attention1.k0" holds <kv_cache> channel 0 offset 0
// UNROLL-NEXT: %[[K1:.*]] = flight.hbm_region "layer.attention1.k0.layer1" holds <kv_cache> channel 0 offset 18304
// UNROLL-NEXT: %[[K2:.*]] = flight.hbm_region "layer.attention1.k0.layer2" holds <kv_cache> channel 0 offset 34688
// UNROLL-NEXT: %[[X:.*]] = flight.buf_alloc <value>
// UNROLL-NOT: flight.layer_body
// UNROLL: flight.tile_load %[[W1]][0] -> %{{.*}}[0] length 512 :
// UNROLL-NEXT: flight.tile_store %[[X]][0] -> %[[K1]][0] length 128 param <P> stride 128 :
// UNROLL: flight.tile_load %[[W2]][0] -> %{{.*}}[0] length 512 :
// UNROLL-NEXT: flight.tile_store %[[X]][0] -> %[[K2]][0] length 128 param <P> stride 128 :
module attributes {flight.bases = {origin = array<i64: 20, 60, 0>, stride = array<i64: 40, 512, 0>}} {
  flight.bucket @decode_16 stage <decode> min_length = 1 max_length = 16 {
    %w = flight.hbm_region "layer1.linear0.w0.s0" holds <params> channel 3 offset 0 : !flight.buffer<512xi8, hbm>
    %k = flight.hbm_region "layer.attention1.k0" holds <kv_cache> channel 0 offset 0 : !flight.buffer<16384xi8, hbm>
    %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
    flight.layer_body layers = 2 first_layer = 1 weight_stride = 40 kv_stride = 512 {
      %t = flight.buf_alloc <temporary> : !flight.buffer<4x128xi8, weight>
      flight.tile_load %w[0] -> %t[0] length 512 base <B1> : !flight.buffer<512xi8, hbm>, !flight.buffer<4x128xi8, weight>
      flight.tile_store %x[0] -> %k[0] length 128 base <B2> param <P> stride 128 : !flight.buffer<1x128xi8, act>, !flight.buffer<16384xi8, hbm>
      flight.buf_dealloc %t : !flight.buffer<4x128xi8, weight>
    }
  }
}
