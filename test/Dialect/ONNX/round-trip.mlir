// RUN: flightllm-opt %s | flightllm-opt | FileCheck %s

// CHECK-LABEL: func @elementwise
func.func @elementwise(%a: tensor<2x?xf32>, %b: tensor<?xf32>) -> tensor<2x?xf32> {
  // CHECK: "onnx.Add"(%{{.*}}, %{{.*}}) : (tensor<2x?xf32>, tensor<?xf32>) -> tensor<2x?xf32>
  %0 = "onnx.Add"(%a, %b) : (tensor<2x?xf32>, tensor<?xf32>) -> tensor<2x?xf32>
  return %0 : tensor<2x?xf32>
}
