// RUN: flightllm-opt %s -llm-quantize-weights | FileCheck %s

// Per output channel: column 0 has max |w| 254 (scale 2), column 1 is all
// zero (scale 1, all zeros); values round half to even (-63.5 -> -64 and
// 2.5 -> 2 after scaling).
// CHECK-LABEL: func @linear
// CHECK: %[[W:.*]] = llm.weight "w" = dense<{{\[\[}}127, 0], [-64, 0], [2, 0]]> : tensor<3x2xi8>
// CHECK: llm.linear %{{.*}}, %[[W]] {weight_scales = dense<[2.000000e+00, 1.000000e+00]> : tensor<2xf32>}
func.func @linear(%x: tensor<1x3xf32>) -> tensor<1x2xf32> {
  %w = llm.weight "w" = dense<[[254.0, 0.0], [-127.0, 0.0], [5.0, 0.0]]> : tensor<3x2xf32>
  %y = llm.linear %x, %w : (tensor<1x3xf32>, tensor<3x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// A transposed weight ([N, K]) has its channels in rows; the float table the
// embedding reads stays as it is.
// CHECK-LABEL: func @tied_head
// CHECK: %[[T:.*]] = llm.weight "table" = dense<{{.*}}> : tensor<2x2xf32>
// CHECK: %[[Q:.*]] = llm.weight "table" = dense<{{\[\[}}127, -64], [0, 127]]> : tensor<2x2xi8>
// CHECK: llm.embedding %[[T]]
// CHECK: llm.logits %{{.*}}, %[[Q]] {transpose_weight = true, weight_scales = dense<[2.000000e+00, 4.000000e+00]> : tensor<2xf32>}
func.func @tied_head(%ids: tensor<1x2xi64>) -> tensor<1x2x2xf32> {
  %t = llm.weight "table" = dense<[[254.0, -128.0], [0.0, 508.0]]> : tensor<2x2xf32>
  %h = llm.embedding %t, %ids : (tensor<2x2xf32>, tensor<1x2xi64>) -> tensor<1x2x2xf32>
  %l = llm.logits %h, %t {transpose_weight = true} : (tensor<1x2x2xf32>, tensor<2x2xf32>) -> tensor<1x2x2xf32>
  return %l : tensor<1x2x2xf32>
}
