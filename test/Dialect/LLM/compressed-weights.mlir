// RUN: flightllm-opt %s -split-input-file | FileCheck %s
// RUN: flightllm-opt %s -split-input-file | flightllm-opt -split-input-file | FileCheck %s

// Group-wise 4-bit symmetric codes: [N, K/G] scales, K = 32, G = 16.
// CHECK-LABEL: func @int4_grouped
func.func @int4_grouped(%x: tensor<1x?x32xf32>) -> tensor<1x?x2xf32> {
  %w = llm.weight "w" = dense<[[-8, 7, 0, 1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6, -7, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]]> : tensor<2x32xi8>
  // CHECK: llm.linear {{.*}} {group_size = 16 : i64, transpose_weight = true, weight_bits = 4 : i64, weight_scales = dense<{{.*}}> : tensor<2x2xf32>}
  %y = llm.linear %x, %w {transpose_weight = true, weight_bits = 4 : i64, group_size = 16 : i64, weight_scales = dense<[[0.5, 0.25], [1.0, 2.0]]> : tensor<2x2xf32>} : (tensor<1x?x32xf32>, tensor<2x32xi8>) -> tensor<1x?x2xf32>
  return %y : tensor<1x?x2xf32>
}

// -----

// Asymmetric 4-bit codes in [0, 15] with per-group zero points.
// CHECK-LABEL: func @int4_zero_points
func.func @int4_zero_points(%x: tensor<3x32xf32>, %w: tensor<32x4xi8>) -> tensor<3x4xf32> {
  // CHECK: weight_zero_points = dense<{{.*}}> : tensor<4x2xi8>
  %y = llm.linear %x, %w {weight_bits = 4 : i64, group_size = 16 : i64, weight_scales = dense<0.1> : tensor<4x2xf32>, weight_zero_points = dense<8> : tensor<4x2xi8>} : (tensor<3x32xf32>, tensor<32x4xi8>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

// Explicit defaults are not printed: W8A8 per channel looks as before.
// CHECK-LABEL: func @defaults_elided
func.func @defaults_elided(%x: tensor<3x16xf32>, %w: tensor<16x4xi8>) -> tensor<3x4xf32> {
  // CHECK: llm.linear %{{.*}}, %{{.*}} {weight_scales = dense<1.000000e-01> : tensor<4xf32>} :
  %y = llm.linear %x, %w {weight_bits = 8 : i64, group_size = 0 : i64, weight_scales = dense<0.1> : tensor<4xf32>} : (tensor<3x16xf32>, tensor<16x4xi8>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

// 2:4 sparsity on a float weight: every run of 4 consecutive k holds at
// most 2 nonzeros in each output channel (W is [K, N] = [8, 2]).
// CHECK-LABEL: func @sparse_2_4
func.func @sparse_2_4(%x: tensor<1x8xf32>) -> tensor<1x2xf32> {
  %w = llm.weight "w" = dense<[[1.0, 0.0], [0.0, 2.0], [3.0, 0.0], [0.0, 4.0], [0.0, 0.0], [5.0, 0.0], [0.0, 0.0], [6.0, 7.0]]> : tensor<8x2xf32>
  // CHECK: llm.linear {{.*}} {sparsity = array<i64: 2, 4>}
  %y = llm.linear %x, %w {sparsity = array<i64: 2, 4>} : (tensor<1x8xf32>, tensor<8x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// Sparsity of an asymmetric integer weight counts codes that differ from
// the zero point (here 8: codes equal to 8 are zero weights).
// CHECK-LABEL: func @sparse_zero_points
func.func @sparse_zero_points(%x: tensor<1x4xf32>) -> tensor<1x1xf32> {
  %w = llm.weight "w" = dense<[[8], [3], [8], [15]]> : tensor<4x1xi8>
  // CHECK: sparsity = array<i64: 2, 4>
  %y = llm.linear %x, %w {weight_bits = 4 : i64, weight_scales = dense<0.5> : tensor<1xf32>, weight_zero_points = dense<8> : tensor<1xi8>, sparsity = array<i64: 2, 4>} : (tensor<1x4xf32>, tensor<4x1xi8>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

// Block sparsity: 2x1 blocks, at most 1 nonzero block in each run of 2
// blocks along k (W is [K, N] = [4, 2]).
// CHECK-LABEL: func @block_sparse
func.func @block_sparse(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w = llm.weight "w" = dense<[[1.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 4.0]]> : tensor<4x2xf32>
  // CHECK: block_sparsity = array<i64: 2, 1, 1, 2>
  %y = llm.linear %x, %w {block_sparsity = array<i64: 2, 1, 1, 2>} : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// The LM head takes the same attributes.
// CHECK-LABEL: func @logits_int4
func.func @logits_int4(%h: tensor<1x?x32xf32>, %w: tensor<10x32xi8>) -> tensor<1x?x10xf32> {
  // CHECK: llm.logits {{.*}}group_size = 32 : i64{{.*}}weight_bits = 4 : i64
  %s = llm.logits %h, %w {transpose_weight = true, weight_bits = 4 : i64, group_size = 32 : i64, weight_scales = dense<1.0> : tensor<10x1xf32>} : (tensor<1x?x32xf32>, tensor<10x32xi8>) -> tensor<1x?x10xf32>
  return %s : tensor<1x?x10xf32>
}

// -----

// A 4-bit KIVI-layout KV cache.
// CHECK-LABEL: func @kv4
func.func @kv4(%q: tensor<1x?x16xf32>, %k: tensor<1x?x16xf32>, %v: tensor<1x?x16xf32>) -> tensor<1x?x16xf32> {
  // CHECK: kv_bits = 4 : i64
  %o, %pk, %pv = llm.attention %q, %k, %v {causal = true, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.35 : f32, kv_bits = 4 : i64, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> (tensor<1x?x16xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>)
  return %o : tensor<1x?x16xf32>
}
