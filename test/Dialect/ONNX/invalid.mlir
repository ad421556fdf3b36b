// RUN: flightllm-opt %s -split-input-file -verify-diagnostics

func.func @softmax_axis(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'onnx.Softmax' op axis 2 is out of range for a tensor of rank 2 (expected [-2, 1])}}
  %0 = "onnx.Softmax"(%x) <{axis = 2 : i64}> : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @gemm_rank(%a: tensor<2x3x4xf32>, %b: tensor<4x5xf32>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'onnx.Gemm' op operand A must be a matrix, got rank 3}}
  %0 = "onnx.Gemm"(%a, %b) <{alpha = 1.0 : f32, beta = 1.0 : f32, transA = 0 : i64, transB = 0 : i64}> : (tensor<2x3x4xf32>, tensor<4x5xf32>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

func.func @gather_axis(%x: tensor<2x3xf32>, %i: tensor<4xi64>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'onnx.Gather' op axis -3 is out of range for a tensor of rank 2 (expected [-2, 1])}}
  %0 = "onnx.Gather"(%x, %i) <{axis = -3 : i64}> : (tensor<2x3xf32>, tensor<4xi64>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

func.func @transpose_perm_length(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @+1 {{'onnx.Transpose' op perm has 3 entries but the input has rank 2}}
  %0 = "onnx.Transpose"(%x) <{perm = array<i64: 1, 0, 2>}> : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @transpose_perm_repeat(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @+1 {{'onnx.Transpose' op perm is not a permutation of [0, 2)}}
  %0 = "onnx.Transpose"(%x) <{perm = array<i64: 1, 1>}> : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @concat_empty() -> tensor<?xf32> {
  // expected-error @+1 {{'onnx.Concat' op needs at least one input}}
  %0 = "onnx.Concat"() <{axis = 0 : i64}> : () -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

func.func @concat_types(%a: tensor<2xf32>, %b: tensor<2xi64>) -> tensor<4xf32> {
  // expected-error @+1 {{'onnx.Concat' op inputs must share one element type}}
  %0 = "onnx.Concat"(%a, %b) <{axis = 0 : i64}> : (tensor<2xf32>, tensor<2xi64>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @concat_ranks(%a: tensor<2xf32>, %b: tensor<2x2xf32>) -> tensor<?xf32> {
  // expected-error @+1 {{'onnx.Concat' op inputs must share one rank}}
  %0 = "onnx.Concat"(%a, %b) <{axis = 0 : i64}> : (tensor<2xf32>, tensor<2x2xf32>) -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

func.func @concat_result(%a: tensor<2xf32>) -> tensor<4xf16> {
  // expected-error @+1 {{'onnx.Concat' op result element type must match the inputs}}
  %0 = "onnx.Concat"(%a, %a) <{axis = 0 : i64}> : (tensor<2xf32>, tensor<2xf32>) -> tensor<4xf16>
  return %0 : tensor<4xf16>
}

// -----

func.func @concat_axis(%a: tensor<2xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'onnx.Concat' op axis 1 is out of range for a tensor of rank 1 (expected [-1, 0])}}
  %0 = "onnx.Concat"(%a, %a) <{axis = 1 : i64}> : (tensor<2xf32>, tensor<2xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @cast_unsupported(%a: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'onnx.Cast' op cast to unsupported data type 8 (string)}}
  %0 = "onnx.Cast"(%a) <{to = 8 : i64}> : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @cast_result(%a: tensor<2xf32>) -> tensor<2xf16> {
  // expected-error @+1 {{'onnx.Cast' op result element type must be 'i64' to match 'to' = 7}}
  %0 = "onnx.Cast"(%a) <{to = 7 : i64}> : (tensor<2xf32>) -> tensor<2xf16>
  return %0 : tensor<2xf16>
}

// -----

func.func @constant_missing() -> tensor<2xf32> {
  // expected-error @+1 {{'onnx.Constant' op requires a 'value' attribute}}
  %0 = "onnx.Constant"() : () -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @constant_sugar() -> tensor<f32> {
  // expected-error @+1 {{'onnx.Constant' op 'value_float' must be normalized into 'value' at import}}
  %0 = "onnx.Constant"() <{value_float = 1.0 : f32}> : () -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @constant_type() -> tensor<3xf32> {
  // expected-error @+1 {{'onnx.Constant' op result type 'tensor<3xf32>' does not match the value's type 'tensor<2xf32>'}}
  %0 = "onnx.Constant"() <{value = dense<1.0> : tensor<2xf32>}> : () -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @layernorm_axis(%x: tensor<2x8xf32>, %g: tensor<8xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'onnx.LayerNormalization' op axis 2 is out of range for a tensor of rank 2 (expected [-2, 1])}}
  %0 = "onnx.LayerNormalization"(%x, %g) <{axis = 2 : i64, epsilon = 1.0e-5 : f32, stash_type = 1 : i64, resultSegmentSizes = array<i32: 1, 0, 0>}> : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

// Constraints generated from the schemas: element types bound to one type
// variable must agree.
func.func @add_types(%a: tensor<2xf32>, %b: tensor<2xf16>) -> tensor<2xf32> {
  // expected-error @+1 {{'onnx.Add' op failed to verify that all of {A, B, C} have same element type}}
  %0 = "onnx.Add"(%a, %b) : (tensor<2xf32>, tensor<2xf16>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// ... and only the schema's element types are accepted.
func.func @relu_int(%a: tensor<2xi1>) -> tensor<2xi1> {
  // expected-error @+1 {{'onnx.Relu' op operand #0 must be tensor of}}
  %0 = "onnx.Relu"(%a) : (tensor<2xi1>) -> tensor<2xi1>
  return %0 : tensor<2xi1>
}
