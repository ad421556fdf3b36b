// RUN: flightllm-opt %s --flight-select-instructions -split-input-file -verify-diagnostics

// A card's stage as flight-partition-stages writes it, and nothing else.
// expected-error @+1 {{'flight.stage' must be {first_layer = F, layer_count = N >= 1, prologue = true|false, epilogue = true|false} (flight-partition-stages sets it)}}
module attributes {flight.stage = {first_layer = 0 : i64, layer_count = 0 : i64, prologue = true, epilogue = false}} {
func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x4xf32>
  %x0 = llm.embedding %t, %ids : (tensor<8x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
  %wq0 = llm.weight "layers.0.wq" = dense<0.5> : tensor<4x4xf32>
  %q0 = llm.linear %x0, %wq0 : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  %o0, %pk0, %pv0 = llm.attention %q0, %q0, %q0 {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> (tensor<1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
  %x1 = llm.add %x0, %o0 : tensor<1x?x4xf32>
  %wq1 = llm.weight "layers.1.wq" = dense<0.5> : tensor<4x4xf32>
  %q1 = llm.linear %x1, %wq1 : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  %o1, %pk1, %pv1 = llm.attention %q1, %q1, %q1 {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> (tensor<1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
  %x2 = llm.add %x1, %o1 : tensor<1x?x4xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<4x8xf32>
  %l = llm.logits %x2, %wh : (tensor<1x?x4xf32>, tensor<4x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}
}

// -----

module attributes {flight.stage = {first_layer = 1 : i64, layer_count = 2 : i64, prologue = false, epilogue = true}} {
// expected-error @+1 {{pipeline stage layers [1, 3) exceed the model's 2 decoder layers}}
func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x4xf32>
  %x0 = llm.embedding %t, %ids : (tensor<8x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
  %wq0 = llm.weight "layers.0.wq" = dense<0.5> : tensor<4x4xf32>
  %q0 = llm.linear %x0, %wq0 : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  %o0, %pk0, %pv0 = llm.attention %q0, %q0, %q0 {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> (tensor<1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
  %x1 = llm.add %x0, %o0 : tensor<1x?x4xf32>
  %wq1 = llm.weight "layers.1.wq" = dense<0.5> : tensor<4x4xf32>
  %q1 = llm.linear %x1, %wq1 : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  %o1, %pk1, %pv1 = llm.attention %q1, %q1, %q1 {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> (tensor<1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
  %x2 = llm.add %x1, %o1 : tensor<1x?x4xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<4x8xf32>
  %l = llm.logits %x2, %wh : (tensor<1x?x4xf32>, tensor<4x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}
}

// -----

// A card's module without the program.
// expected-error @+1 {{the llm program has no func.func @forward}}
module attributes {flight.stage = {first_layer = 0 : i64, layer_count = 1 : i64, prologue = true, epilogue = false}} {
}

// -----

// A valid stage: with batch=2 (the BATCH run) an error, without it lowered.
module attributes {flight.stage = {first_layer = 1 : i64, layer_count = 1 : i64, prologue = false, epilogue = true}} {
func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x4xf32>
  %x0 = llm.embedding %t, %ids : (tensor<8x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
  %wq0 = llm.weight "layers.0.wq" = dense<0.5> : tensor<4x4xf32>
  %q0 = llm.linear %x0, %wq0 : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  %o0, %pk0, %pv0 = llm.attention %q0, %q0, %q0 {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> (tensor<1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
  %x1 = llm.add %x0, %o0 : tensor<1x?x4xf32>
  %wq1 = llm.weight "layers.1.wq" = dense<0.5> : tensor<4x4xf32>
  %q1 = llm.linear %x1, %wq1 : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  %o1, %pk1, %pv1 = llm.attention %q1, %q1, %q1 {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> (tensor<1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
  %x2 = llm.add %x1, %o1 : tensor<1x?x4xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<4x8xf32>
  %l = llm.logits %x2, %wh : (tensor<1x?x4xf32>, tensor<4x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}
}

