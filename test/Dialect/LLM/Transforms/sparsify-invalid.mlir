// RUN: flightllm-opt %s -split-input-file -verify-diagnostics "-llm-sparsify=pattern=2:4 method=magnitude"
// RUN: not flightllm-opt %s "-llm-sparsify=pattern=4:4 method=magnitude" 2>&1 | FileCheck %s --check-prefix=PATTERN
// RUN: not flightllm-opt %s "-llm-sparsify=pattern=2:4 method=random" 2>&1 | FileCheck %s --check-prefix=METHOD
// PATTERN: error: pattern must be S:M with 0 < S < M (2:4, 8:16, 4:16, 2:16) or blockB (block16), got '4:4'
// METHOD: error: method must be magnitude, wanda or sparsegpt, got 'random'

func.func @indivisible(%x: tensor<1x6xf32>) -> tensor<1x2xf32> {
  %w = llm.weight "w" = dense<1.0> : tensor<6x2xf32>
  // expected-error @+1 {{cannot sparsify 'w' (6 inputs x 2 outputs) to pattern 2:4: M = 4 must divide K}}
  %y = llm.linear %x, %w : (tensor<1x6xf32>, tensor<6x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
