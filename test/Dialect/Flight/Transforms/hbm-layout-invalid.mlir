// RUN: flightllm-opt %s -split-input-file --flight-hbm-layout --verify-diagnostics

// A region the model's layout does not have.
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
    // expected-error @below {{'flight.hbm_region' op names no region of the model's HBM layout (its parameters, KV cache, 'input', 'logits' and 'spill')}}
    %w = flight.hbm_region "layer.linear7.w0" holds <params> : !flight.buffer<8192xi8, hbm>
  }
}

// -----

// A region of another size than the layout's.
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
    // expected-error @below {{'flight.hbm_region' op holds 4096 bytes but the layout's 'layer.attention1.k0' has 16384}}
    %k = flight.hbm_region "layer.attention1.k0" holds <kv_cache> : !flight.buffer<4096xi8, hbm>
  }
}

// -----

// Part of a striped weight tile: the stripes would not cover it.
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
    %t = flight.buf_alloc <temporary> : !flight.buffer<64x128xi8, weight>
    // expected-error @below {{'flight.tile_load' op must load the whole of 'layer.linear0.w0' (offset 0, length 8192): the HBM layout stripes it over 8 channels}}
    flight.tile_load %w[0] -> %t[0] length 1024 base <B1> : !flight.buffer<8192xi8, hbm>, !flight.buffer<64x128xi8, weight>
    flight.buf_dealloc %t : !flight.buffer<64x128xi8, weight>
  }
}

// -----

// Strides that are not the layout's.
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
    // expected-error @below {{'flight.layer_body' op has strides 8 and 512 but the HBM layout's are 40 and 512}}
    flight.layer_body layers = 1 weight_stride = 8 kv_stride = 512 {
    }
  }
}

// -----

// Not the output of flight-select-instructions: no options to size the
// regions with.
// expected-error @below {{no 'flight.lowering' attribute: flight-hbm-layout runs after flight-select-instructions, on the module it leaves (buckets and the llm program)}}
module {
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
  }
}
