// RUN: flightllm-opt %s -split-input-file "-llm-quantize-weights=bits=4 group-size=4" | FileCheck %s
// RUN: flightllm-opt %s -split-input-file "-llm-quantize-weights=bits=4 group-size=4 symmetric=false" | FileCheck %s --check-prefix=ASYM
// RUN: flightllm-opt %s -split-input-file "-llm-quantize-weights=bits=4 keep-8bit=layers.1.*" | FileCheck %s --check-prefix=KEEP
// RUN: not flightllm-opt %s "-llm-quantize-weights=bits=4 sparsity-candidates=8:16" 2>&1 | FileCheck %s --check-prefix=CANDIDATES
// RUN: not flightllm-opt %s "-llm-quantize-weights=bits=auto budget=4 sparsity-candidates=8:16 sparsity-method=random" 2>&1 | FileCheck %s --check-prefix=CANDIDATE-METHOD
// CANDIDATES: error: sparsity-candidates applies to bits=auto
// CANDIDATE-METHOD: error: sparsity-method must be magnitude, wanda or sparsegpt, got 'random'

// Symmetric 4-bit groups of 4: scale max |w| / 7, codes rne(w / scale)
// (-3.5 rounds to even, -4). An all-zero group gets scale 1.
// CHECK-LABEL: func @int4
// CHECK: llm.weight "layers.0.w" = dense<{{\[\[}}7, -4, 0, 1, 7, 1, -7, 0], [7, 0, 0, -7, 0, 0, 0, 0]]> : tensor<2x8xi8>
// CHECK: llm.linear {{.*}}group_size = 4 : i64, transpose_weight = true, weight_bits = 4 : i64, weight_scales = dense<{{\[\[}}1.000000e+00, 2.000000e+00], [1.000000e-01, 1.000000e+00]]> : tensor<2x2xf32>}
// Without group-size, one scale per output channel; keep-8bit pins
// layers.1.* to 8 bits per channel.
// KEEP-LABEL: func @int4
// KEEP: llm.linear {{.*}}weight_bits = 4 : i64, weight_scales = dense<[2.000000e+00, 1.000000e-01]> : tensor<2xf32>
func.func @int4(%x: tensor<1x8xf32>) -> tensor<1x2xf32> {
  %w = llm.weight "layers.0.w" = dense<[[7.0, -3.5, 0.0, 1.0, 14.0, 2.0, -14.0, 0.5], [0.7, 0.0, 0.0, -0.7, 0.0, 0.0, 0.0, 0.0]]> : tensor<2x8xf32>
  %y = llm.linear %x, %w {transpose_weight = true} : (tensor<1x8xf32>, tensor<2x8xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// Asymmetric: the range widened to include 0, scale (max - min) / 15, zero
// point -rne(min / scale); codes rne(w / scale) + zero point in [0, 15].
// ASYM-LABEL: func @asym
// ASYM: llm.weight "w" = dense<{{\[\[}}0, 15, 1, 6, 0, 15, 6, 0]]> : tensor<1x8xi8>
// ASYM: llm.linear {{.*}}weight_scales = dense<{{\[\[}}1.000000e+00, 2.000000e-01]]> : tensor<1x2xf32>, weight_zero_points = dense<{{\[\[}}1, 0]]> : tensor<1x2xi8>}
func.func @asym(%x: tensor<1x8xf32>) -> tensor<1x1xf32> {
  %w = llm.weight "w" = dense<[[-1.0, 14.0, 0.0, 5.0, 0.0, 3.0, 1.2, 0.0]]> : tensor<1x8xf32>
  %y = llm.linear %x, %w {transpose_weight = true} : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

// CHECK-LABEL: func @kept
// KEEP-LABEL: func @kept
// KEEP: llm.linear {{.*}}{transpose_weight = true, weight_scales = dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>}
func.func @kept(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w = llm.weight "model.layers.1.mlp.w" = dense<[[127.0, 0.0, 0.0, 1.0], [254.0, 0.0, 0.0, 2.0]]> : tensor<2x4xf32>
  %y = llm.linear %x, %w {transpose_weight = true} : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
