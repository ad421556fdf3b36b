// RUN: flightllm-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// The int8 KV-cache scales of llm.attention: f32 arrays of Hkv*Dh positive
// finite values, both or neither.

// CHECK-LABEL: func.func @kv_scales
// CHECK: llm.attention {{.*}}k_scales = array<f32: 1.000000e+00, 5.000000e-01, 2.500000e-01, 1.250000e-01>{{.*}}v_scales = array<f32: 2.000000e+00, 2.000000e+00, 2.000000e+00, 2.000000e+00>
func.func @kv_scales(%q: tensor<1x3x8xf32>, %k: tensor<1x3x4xf32>) -> tensor<1x3x8xf32> {
  %o, %pk, %pv = llm.attention %q, %k, %k {causal = true, num_heads = 2 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 0.5, 0.25, 0.125>, v_scales = array<f32: 2.0, 2.0, 2.0, 2.0>} : (tensor<1x3x8xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> (tensor<1x3x8xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x4xf32>)
  return %o : tensor<1x3x8xf32>
}

// -----

func.func @kv_scales_alone(%q: tensor<1x3x8xf32>, %k: tensor<1x3x4xf32>) {
  // expected-error @+1 {{'llm.attention' op k_scales and v_scales must be given together}}
  %o, %pk, %pv = llm.attention %q, %k, %k {causal = true, num_heads = 2 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<1x3x8xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> (tensor<1x3x8xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x4xf32>)
  return
}

// -----

func.func @kv_scales_length(%q: tensor<1x3x8xf32>, %k: tensor<1x3x4xf32>) {
  // expected-error @+1 {{'llm.attention' op v_scales must have 4 elements (num_kv_heads * head size), got 3}}
  %o, %pk, %pv = llm.attention %q, %k, %k {causal = true, num_heads = 2 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0>} : (tensor<1x3x8xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> (tensor<1x3x8xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x4xf32>)
  return
}

// -----

func.func @kv_scales_zero(%q: tensor<1x3x8xf32>, %k: tensor<1x3x4xf32>) {
  // expected-error @+1 {{'llm.attention' op k_scales[2] must be positive and finite, got 0}}
  %o, %pk, %pv = llm.attention %q, %k, %k {causal = true, num_heads = 2 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 0.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<1x3x8xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> (tensor<1x3x8xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x4xf32>)
  return
}

// -----

func.func @kv_scales_inf(%q: tensor<1x3x8xf32>, %k: tensor<1x3x4xf32>) {
  // expected-error @+1 {{'llm.attention' op v_scales[0] must be positive and finite, got INF}}
  %o, %pk, %pv = llm.attention %q, %k, %k {causal = true, num_heads = 2 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 0x7F800000, 1.0, 1.0, 1.0>} : (tensor<1x3x8xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> (tensor<1x3x8xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x4xf32>)
  return
}
