// RUN: flightllm-opt %s -split-input-file -onnx-fold-constants | FileCheck %s
// RUN: flightllm-opt %s -split-input-file -onnx-fold-constants="max-elements=4" | FileCheck %s --check-prefix=LIMIT

// The exported shape arithmetic folds in one run: Shape of a static input,
// Gather of a dimension, Unsqueeze, Concat; the constants it used go away.
// CHECK-LABEL: func @shape_chain
// CHECK-SAME: (%[[X:.*]]: tensor<2x?x8xf32>, %{{.*}}: tensor<4x8xf32>)
// CHECK-NEXT: %[[S:.*]] = "onnx.Constant"() <{value = dense<[2, -1, 8]> : tensor<3xi64>}>
// CHECK-NEXT: %[[R:.*]] = "onnx.Reshape"(%[[X]], %[[S]])
// CHECK-NEXT: return %[[R]]
func.func @shape_chain(%x: tensor<2x?x8xf32>, %y: tensor<4x8xf32>) -> tensor<?x?x?xf32> {
  %s = "onnx.Shape"(%y) : (tensor<4x8xf32>) -> tensor<2xi64>
  %i = "onnx.Constant"() <{value = dense<1> : tensor<i64>}> : () -> tensor<i64>
  %g = "onnx.Gather"(%s, %i) <{axis = 0 : i64}> : (tensor<2xi64>, tensor<i64>) -> tensor<i64>
  %a = "onnx.Constant"() <{value = dense<0> : tensor<1xi64>}> : () -> tensor<1xi64>
  %u = "onnx.Unsqueeze"(%g, %a) : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %m = "onnx.Constant"() <{value = dense<[2, -1]> : tensor<2xi64>}> : () -> tensor<2xi64>
  %c = "onnx.Concat"(%m, %u) <{axis = 0 : i64}> : (tensor<2xi64>, tensor<1xi64>) -> tensor<3xi64>
  %r = "onnx.Reshape"(%x, %c) <{allowzero = 0 : i64}> : (tensor<2x?x8xf32>, tensor<3xi64>) -> tensor<?x?x?xf32>
  return %r : tensor<?x?x?xf32>
}

// -----

// Shape with start/end folds when the selected dimensions are static, even
// though other dimensions (and the data) are unknown.
// CHECK-LABEL: func @shape_partially_static
// CHECK-NEXT: %[[S:.*]] = "onnx.Constant"() <{value = dense<[3, 5]> : tensor<2xi64>}>
// CHECK-NEXT: return %[[S]]
func.func @shape_partially_static(%x: tensor<?x3x5xf32>) -> tensor<2xi64> {
  %s = "onnx.Shape"(%x) <{start = 1 : i64}> : (tensor<?x3x5xf32>) -> tensor<2xi64>
  return %s : tensor<2xi64>
}

// -----

// CHECK-LABEL: func @shape_dynamic_dimension
// CHECK-NEXT: "onnx.Shape"
func.func @shape_dynamic_dimension(%x: tensor<?x3x5xf32>) -> tensor<2xi64> {
  %s = "onnx.Shape"(%x) <{end = -1 : i64}> : (tensor<?x3x5xf32>) -> tensor<2xi64>
  return %s : tensor<2xi64>
}

// -----

// Gather of a Shape picks static dimensions (negative indices too) of an
// input whose other dimensions are dynamic; the Shape goes away with it.
// CHECK-LABEL: func @gather_static_dims_of_shape
// CHECK-NEXT: %[[D:.*]] = "onnx.Constant"() <{value = dense<[8, 4]> : tensor<2xi64>}>
// CHECK-NEXT: return %[[D]]
func.func @gather_static_dims_of_shape(%x: tensor<?x4x?x8xf32>) -> tensor<2xi64> {
  %s = "onnx.Shape"(%x) : (tensor<?x4x?x8xf32>) -> tensor<4xi64>
  %i = "onnx.Constant"() <{value = dense<[-1, 1]> : tensor<2xi64>}> : () -> tensor<2xi64>
  %g = "onnx.Gather"(%s, %i) <{axis = 0 : i64}> : (tensor<4xi64>, tensor<2xi64>) -> tensor<2xi64>
  return %g : tensor<2xi64>
}

// -----

// CHECK-LABEL: func @gather_dynamic_dim_of_shape
// CHECK: "onnx.Shape"
// CHECK: "onnx.Gather"
func.func @gather_dynamic_dim_of_shape(%x: tensor<?x4xf32>) -> tensor<i64> {
  %s = "onnx.Shape"(%x) : (tensor<?x4xf32>) -> tensor<2xi64>
  %i = "onnx.Constant"() <{value = dense<0> : tensor<i64>}> : () -> tensor<i64>
  %g = "onnx.Gather"(%s, %i) <{axis = 0 : i64}> : (tensor<2xi64>, tensor<i64>) -> tensor<i64>
  return %g : tensor<i64>
}

// -----

// A result type more precise than the declared one goes to onnx users; the
// function's return keeps the op whose declared type it needs.
// CHECK-LABEL: func @range_refines_type
// CHECK-NEXT: %[[R:.*]] = "onnx.Constant"() <{value = dense<[0, 2, 4]> : tensor<3xi64>}>
// CHECK-NEXT: %[[N:.*]] = "onnx.Neg"(%[[R]]) : (tensor<3xi64>) -> tensor<?xi64>
// CHECK-NEXT: return %[[N]]
func.func @range_refines_type() -> tensor<?xi64> {
  %a = "onnx.Constant"() <{value = dense<0> : tensor<i64>}> : () -> tensor<i64>
  %b = "onnx.Constant"() <{value = dense<5> : tensor<i64>}> : () -> tensor<i64>
  %c = "onnx.Constant"() <{value = dense<2> : tensor<i64>}> : () -> tensor<i64>
  %r = "onnx.Range"(%a, %b, %c) : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %n = "onnx.Neg"(%r) : (tensor<?xi64>) -> tensor<?xi64>
  return %n : tensor<?xi64>
}

// -----

// CHECK-LABEL: func @where_constant_mask
// CHECK-NEXT: %[[W:.*]] = "onnx.Constant"() <{value = dense<{{\[\[}}1.500000e+00, -1.000000e+00, 1.500000e+00], [-2.000000e+00, -2.000000e+00, 1.500000e+00]]> : tensor<2x3xf32>}>
// CHECK-NEXT: return %[[W]]
func.func @where_constant_mask() -> tensor<2x3xf32> {
  %m = "onnx.Constant"() <{value = dense<[[true, false, true], [false, false, true]]> : tensor<2x3xi1>}> : () -> tensor<2x3xi1>
  %x = "onnx.Constant"() <{value = dense<1.5> : tensor<3xf32>}> : () -> tensor<3xf32>
  %y = "onnx.Constant"() <{value = dense<[[-1.0], [-2.0]]> : tensor<2x1xf32>}> : () -> tensor<2x1xf32>
  %w = "onnx.Where"(%m, %x, %y) : (tensor<2x3xi1>, tensor<3xf32>, tensor<2x1xf32>) -> tensor<2x3xf32>
  return %w : tensor<2x3xf32>
}

// -----

// The causal-mask idiom: lower triangle below the diagonal (k = -1).
// CHECK-LABEL: func @trilu_lower
// CHECK-NEXT: %[[T:.*]] = "onnx.Constant"() <{value = dense<{{\[\[}}0, 0, 0], [4, 0, 0], [7, 8, 0]]> : tensor<3x3xi32>}>
// CHECK-NEXT: return %[[T]]
func.func @trilu_lower() -> tensor<3x3xi32> {
  %x = "onnx.Constant"() <{value = dense<[[1, 2, 3], [4, 5, 6], [7, 8, 9]]> : tensor<3x3xi32>}> : () -> tensor<3x3xi32>
  %k = "onnx.Constant"() <{value = dense<-1> : tensor<i64>}> : () -> tensor<i64>
  %t = "onnx.Trilu"(%x, %k) <{upper = 0 : i64}> : (tensor<3x3xi32>, tensor<i64>) -> tensor<3x3xi32>
  return %t : tensor<3x3xi32>
}

// -----

// Float to int truncates toward zero; to bool is "!= 0"; to f16 rounds.
// CHECK-LABEL: func @cast
// CHECK-NEXT: %[[I:.*]] = "onnx.Constant"() <{value = dense<[-2, 0, 0, 3]> : tensor<4xi32>}>
// CHECK-NEXT: %[[B:.*]] = "onnx.Constant"() <{value = dense<[true, true, false, true]> : tensor<4xi1>}>
// CHECK-NEXT: %[[H:.*]] = "onnx.Constant"() <{value = dense<[-2.699220e+00, -5.000000e-01, 0.000000e+00, 3.900390e+00]> : tensor<4xf16>}>
// CHECK-NEXT: return %[[I]], %[[B]], %[[H]]
func.func @cast() -> (tensor<4xi32>, tensor<4xi1>, tensor<4xf16>) {
  %x = "onnx.Constant"() <{value = dense<[-2.7, -0.5, 0.0, 3.9]> : tensor<4xf32>}> : () -> tensor<4xf32>
  %i = "onnx.Cast"(%x) <{to = 6 : i64}> : (tensor<4xf32>) -> tensor<4xi32>
  %b = "onnx.Cast"(%x) <{to = 9 : i64}> : (tensor<4xf32>) -> tensor<4xi1>
  %h = "onnx.Cast"(%x) <{to = 10 : i64}> : (tensor<4xf32>) -> tensor<4xf16>
  return %i, %b, %h : tensor<4xi32>, tensor<4xi1>, tensor<4xf16>
}

// -----

// CHECK-LABEL: func @split_multiple_results
// CHECK-NEXT: %[[A:.*]] = "onnx.Constant"() <{value = dense<{{\[\[}}1, 2]]> : tensor<1x2xi64>}>
// CHECK-NEXT: %[[B:.*]] = "onnx.Constant"() <{value = dense<{{\[\[}}3, 4], [5, 6]]> : tensor<2x2xi64>}>
// CHECK-NEXT: return %[[A]], %[[B]]
func.func @split_multiple_results() -> (tensor<1x2xi64>, tensor<2x2xi64>) {
  %x = "onnx.Constant"() <{value = dense<[[1, 2], [3, 4], [5, 6]]> : tensor<3x2xi64>}> : () -> tensor<3x2xi64>
  %s = "onnx.Constant"() <{value = dense<[1, 2]> : tensor<2xi64>}> : () -> tensor<2xi64>
  %a, %b = "onnx.Split"(%x, %s) <{axis = 0 : i64}> : (tensor<3x2xi64>, tensor<2xi64>) -> (tensor<1x2xi64>, tensor<2x2xi64>)
  return %a, %b : tensor<1x2xi64>, tensor<2x2xi64>
}

// -----

// Bool logic on a comparison: not(a == 2) and (a < 2).
// CHECK-LABEL: func @compare_and_logic
// CHECK-NEXT: %[[R:.*]] = "onnx.Constant"() <{value = dense<[true, false, false]> : tensor<3xi1>}>
// CHECK-NEXT: return %[[R]]
func.func @compare_and_logic() -> tensor<3xi1> {
  %a = "onnx.Constant"() <{value = dense<[1, 2, 3]> : tensor<3xi64>}> : () -> tensor<3xi64>
  %b = "onnx.Constant"() <{value = dense<2> : tensor<i64>}> : () -> tensor<i64>
  %e = "onnx.Equal"(%a, %b) : (tensor<3xi64>, tensor<i64>) -> tensor<3xi1>
  %n = "onnx.Not"(%e) : (tensor<3xi1>) -> tensor<3xi1>
  %l = "onnx.Less"(%a, %b) : (tensor<3xi64>, tensor<i64>) -> tensor<3xi1>
  %r = "onnx.And"(%n, %l) : (tensor<3xi1>, tensor<3xi1>) -> tensor<3xi1>
  return %r : tensor<3xi1>
}

// -----

// Uniform results are written as splats.
// CHECK-LABEL: func @constant_of_shape_splat
// CHECK-NEXT: %[[C:.*]] = "onnx.Constant"() <{value = dense<1.000000e+00> : tensor<2x2xf32>}>
// CHECK-NEXT: return %[[C]]
func.func @constant_of_shape_splat() -> tensor<2x2xf32> {
  %s = "onnx.Constant"() <{value = dense<[2, 2]> : tensor<2xi64>}> : () -> tensor<2xi64>
  %c = "onnx.ConstantOfShape"(%s) <{value = dense<1.0> : tensor<1xf32>}> : (tensor<2xi64>) -> tensor<2x2xf32>
  return %c : tensor<2x2xf32>
}

// -----

// Ops with a non-constant operand stay.
// CHECK-LABEL: func @non_constant_operand
// CHECK: "onnx.Add"
func.func @non_constant_operand(%x: tensor<2xf32>) -> tensor<2xf32> {
  %c = "onnx.Constant"() <{value = dense<1.0> : tensor<2xf32>}> : () -> tensor<2xf32>
  %a = "onnx.Add"(%x, %c) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  return %a : tensor<2xf32>
}

// -----

// The evaluator rejects the out-of-range index: the op stays, silently.
// CHECK-LABEL: func @gather_out_of_range
// CHECK: "onnx.Gather"
func.func @gather_out_of_range() -> tensor<i64> {
  %x = "onnx.Constant"() <{value = dense<[1, 2]> : tensor<2xi64>}> : () -> tensor<2xi64>
  %i = "onnx.Constant"() <{value = dense<5> : tensor<i64>}> : () -> tensor<i64>
  %g = "onnx.Gather"(%x, %i) <{axis = 0 : i64}> : (tensor<2xi64>, tensor<i64>) -> tensor<i64>
  return %g : tensor<i64>
}

// -----

// CHECK-LABEL: func @integer_division_by_zero
// CHECK: "onnx.Div"
func.func @integer_division_by_zero() -> tensor<2xi32> {
  %x = "onnx.Constant"() <{value = dense<[7, -7]> : tensor<2xi32>}> : () -> tensor<2xi32>
  %y = "onnx.Constant"() <{value = dense<[2, 0]> : tensor<2xi32>}> : () -> tensor<2xi32>
  %d = "onnx.Div"(%x, %y) : (tensor<2xi32>, tensor<2xi32>) -> tensor<2xi32>
  return %d : tensor<2xi32>
}

// -----

// A result above the default limit of 65536 elements is not materialized.
// CHECK-LABEL: func @result_above_limit
// CHECK: "onnx.ConstantOfShape"
func.func @result_above_limit() -> tensor<512x256xf32> {
  %s = "onnx.Constant"() <{value = dense<[512, 256]> : tensor<2xi64>}> : () -> tensor<2xi64>
  %c = "onnx.ConstantOfShape"(%s) <{value = dense<1.0> : tensor<1xf32>}> : (tensor<2xi64>) -> tensor<512x256xf32>
  return %c : tensor<512x256xf32>
}

// -----

// With max-elements=4, an 8-element weight is neither read nor transposed,
// while the 2-element shape arithmetic next to it still folds.
// LIMIT-LABEL: func @operand_above_limit
// LIMIT: "onnx.Transpose"
// LIMIT-NOT: "onnx.Mul"
// LIMIT: return
// CHECK-LABEL: func @operand_above_limit
// CHECK-NOT: "onnx.Transpose"
// CHECK-NOT: "onnx.Mul"
// CHECK: return
func.func @operand_above_limit() -> (tensor<4x2xf32>, tensor<2xi64>) {
  %w = "onnx.Constant"() <{value = dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]> : tensor<2x4xf32>}> : () -> tensor<2x4xf32>
  %t = "onnx.Transpose"(%w) <{perm = array<i64: 1, 0>}> : (tensor<2x4xf32>) -> tensor<4x2xf32>
  %a = "onnx.Constant"() <{value = dense<[3, 4]> : tensor<2xi64>}> : () -> tensor<2xi64>
  %m = "onnx.Mul"(%a, %a) : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  return %t, %m : tensor<4x2xf32>, tensor<2xi64>
}
