// RUN: flightllm-opt %s -canonicalize | FileCheck %s

// CHECK-LABEL: func @identity
// CHECK-SAME: (%[[X:.*]]: tensor<2xf32>)
// CHECK-NEXT: return %[[X]]
func.func @identity(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = "onnx.Identity"(%x) : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// Constants are constant-like: duplicates are merged by the folder.
// CHECK-LABEL: func @constants
// CHECK: %[[C:.*]] = "onnx.Constant"() <{value = dense<[1, 2]> : tensor<2xi64>}>
// CHECK-NOT: onnx.Constant
// CHECK: return %[[C]], %[[C]]
func.func @constants() -> (tensor<2xi64>, tensor<2xi64>) {
  %0 = "onnx.Constant"() <{value = dense<[1, 2]> : tensor<2xi64>}> : () -> tensor<2xi64>
  %1 = "onnx.Constant"() <{value = dense<[1, 2]> : tensor<2xi64>}> : () -> tensor<2xi64>
  return %0, %1 : tensor<2xi64>, tensor<2xi64>
}
