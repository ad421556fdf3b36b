// RUN: flightllm-opt %s --flight-partition-stages=system=u280x2 -split-input-file -verify-diagnostics
// RUN: not flightllm-opt %s -split-input-file --flight-partition-stages=system=u280x3 2>&1 | FileCheck %s --check-prefix=SYSTEM
// SYSTEM: error: system: unknown system 'u280x3'

// expected-error @+1 {{system 'u280x2': cannot split 1 decoder layers over 2 cards: every card runs at least one whole layer}}
module {
func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x4xf32>
  %x0 = llm.embedding %t, %ids : (tensor<8x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
  %wq0 = llm.weight "layers.0.wq" = dense<0.5> : tensor<4x4xf32>
  %q0 = llm.linear %x0, %wq0 : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  %o0, %pk0, %pv0 = llm.attention %q0, %q0, %q0 {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> (tensor<1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
  %x1 = llm.add %x0, %o0 : tensor<1x?x4xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<4x8xf32>
  %l = llm.logits %x1, %wh : (tensor<1x?x4xf32>, tensor<4x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}
}

// -----

// expected-error @+1 {{the module is partitioned already (it has 'flight.system', 'flight.stage' or nested modules)}}
module attributes {flight.stage = {first_layer = 0 : i64, layer_count = 1 : i64, prologue = true, epilogue = false}} {
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
