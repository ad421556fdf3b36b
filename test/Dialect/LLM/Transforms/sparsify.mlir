// RUN: flightllm-opt %s -split-input-file "-llm-sparsify=pattern=2:4 method=magnitude" | FileCheck %s
// RUN: flightllm-opt %s -split-input-file "-llm-sparsify=pattern=block2 method=magnitude" | FileCheck %s --check-prefix=BLOCK

// Magnitude 2:4: in each run of 4 inputs of each output channel the two
// largest |w| stay (ties keep the earlier input).
// CHECK-LABEL: func @nm
// CHECK: llm.weight "w" = dense<{{\[\[}}0.000000e+00, -5.000000e+00, 0.000000e+00, 4.000000e+00, 1.000000e+00, 1.000000e+00, 0.000000e+00, 0.000000e+00], [0.000000e+00, 0.000000e+00, 3.000000e+00, -3.000000e+00, 0.000000e+00, 2.000000e+00, 0.000000e+00, 7.000000e+00]]>
// CHECK: llm.linear {{.*}}sparsity = array<i64: 2, 4>
// Blocks of 2x2: of every two consecutive blocks along k of a block row,
// the one with the larger sum of |w| stays.
// BLOCK-LABEL: func @nm
// BLOCK: llm.weight "w" = dense<{{\[\[}}0.000000e+00, 0.000000e+00, 5.000000e-01, 4.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00, 0.000000e+00], [0.000000e+00, 0.000000e+00, 3.000000e+00, -3.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 7.000000e+00]]>
// BLOCK: llm.linear {{.*}}block_sparsity = array<i64: 2, 2, 1, 2>
func.func @nm(%x: tensor<1x8xf32>) -> tensor<1x2xf32> {
  %w = llm.weight "w" = dense<[[1.0, -5.0, 0.5, 4.0, 1.0, 1.0, 1.0, 0.0], [0.0, 1.0, 3.0, -3.0, 0.0, 2.0, 0.0, 7.0]]> : tensor<2x8xf32>
  %y = llm.linear %x, %w {transpose_weight = true} : (tensor<1x8xf32>, tensor<2x8xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// The LM head and quantized projections are left alone.
// CHECK-LABEL: func @untouched
// CHECK-NOT: sparsity
// BLOCK-LABEL: func @untouched
// BLOCK-NOT: sparsity
func.func @untouched(%x: tensor<1x4xf32>, %q: tensor<4x2xi8>) -> (tensor<1x2xf32>, tensor<1x2xf32>) {
  %w = llm.weight "lm_head.weight" = dense<1.0> : tensor<4x2xf32>
  %s = llm.logits %x, %w : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
  %y = llm.linear %x, %q {weight_scales = dense<1.0> : tensor<2xf32>} : (tensor<1x4xf32>, tensor<4x2xi8>) -> tensor<1x2xf32>
  return %s, %y : tensor<1x2xf32>, tensor<1x2xf32>
}
