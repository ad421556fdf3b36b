// RUN: flightllm-opt %s -canonicalize -split-input-file | FileCheck %s

// Weights with the same contents and type are uniqued; the first name stays.
// CHECK-LABEL: func @weights_uniqued
// CHECK: %[[W:.*]] = llm.weight "layers.0.norm.weight" = dense<1.000000e+00> : tensor<8xf32>
// CHECK-NOT: llm.weight
// CHECK: return %[[W]], %[[W]]
func.func @weights_uniqued() -> (tensor<8xf32>, tensor<8xf32>) {
  %a = llm.weight "layers.0.norm.weight" = dense<1.0> : tensor<8xf32>
  %b = llm.weight "layers.1.norm.weight" = dense<1.0> : tensor<8xf32>
  return %a, %b : tensor<8xf32>, tensor<8xf32>
}

// -----

// Different contents or types keep their own weights.
// CHECK-LABEL: func @weights_distinct
// CHECK-DAG: llm.weight "a" = dense<1.000000e+00> : tensor<8xf32>
// CHECK-DAG: llm.weight "b" = dense<2.000000e+00> : tensor<8xf32>
// CHECK-DAG: llm.weight "c" = dense<1.000000e+00> : tensor<8xf16>
func.func @weights_distinct() -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf16>) {
  %a = llm.weight "a" = dense<1.0> : tensor<8xf32>
  %b = llm.weight "b" = dense<2.0> : tensor<8xf32>
  %c = llm.weight "c" = dense<1.0> : tensor<8xf16>
  return %a, %b, %c : tensor<8xf32>, tensor<8xf32>, tensor<8xf16>
}

// -----

// Unused weights and ops are pure, so they go away.
// CHECK-LABEL: func @dead
// CHECK-NEXT: return %arg0
func.func @dead(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %w = llm.weight "unused" = dense<1.0> : tensor<8x8xf32>
  %0 = llm.linear %x, %w : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  %1 = llm.silu %0 : tensor<2x8xf32>
  return %x : tensor<2x8xf32>
}

// -----

// add and mul are commutative: constants move to the right-hand side.
// CHECK-LABEL: func @commutative
// CHECK: %[[W:.*]] = llm.weight "bias"
// CHECK: %[[S:.*]] = llm.add %arg0, %[[W]] : tensor<8xf32>
// CHECK: llm.mul %[[S]], %[[W]] : tensor<8xf32>
func.func @commutative(%x: tensor<8xf32>) -> tensor<8xf32> {
  %w = llm.weight "bias" = dense<0.5> : tensor<8xf32>
  %0 = llm.add %w, %x : tensor<8xf32>
  %1 = llm.mul %w, %0 : tensor<8xf32>
  return %1 : tensor<8xf32>
}
