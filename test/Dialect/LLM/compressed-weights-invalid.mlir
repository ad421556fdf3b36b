// RUN: flightllm-opt %s -split-input-file -verify-diagnostics

func.func @bits(%x: tensor<3x16xf32>, %w: tensor<16x4xi8>) -> tensor<3x4xf32> {
  // expected-error @+1 {{'llm.linear' op weight_bits must be 8 or 4, got 3}}
  %y = llm.linear %x, %w {weight_bits = 3 : i64, weight_scales = dense<0.1> : tensor<4xf32>} : (tensor<3x16xf32>, tensor<16x4xi8>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

func.func @bits_on_float(%x: tensor<3x16xf32>, %w: tensor<16x4xf32>) -> tensor<3x4xf32> {
  // expected-error @+1 {{'llm.linear' op weight_bits, group_size and weight_zero_points describe an integer (quantized) weight}}
  %y = llm.linear %x, %w {weight_bits = 4 : i64} : (tensor<3x16xf32>, tensor<16x4xf32>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

func.func @storage(%x: tensor<3x16xf32>, %w: tensor<16x4xi32>) -> tensor<3x4xf32> {
  // expected-error @+1 {{'llm.linear' op quantized weights are stored as i8, got 'i32'}}
  %y = llm.linear %x, %w {weight_scales = dense<0.1> : tensor<4xf32>} : (tensor<3x16xf32>, tensor<16x4xi32>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

func.func @group_divides(%x: tensor<3x48xf32>, %w: tensor<48x4xi8>) -> tensor<3x4xf32> {
  // expected-error @+1 {{'llm.linear' op group_size 32 does not divide the reduction size 48}}
  %y = llm.linear %x, %w {weight_bits = 4 : i64, group_size = 32 : i64, weight_scales = dense<0.1> : tensor<4x1xf32>} : (tensor<3x48xf32>, tensor<48x4xi8>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

func.func @group_scales_shape(%x: tensor<3x32xf32>, %w: tensor<32x4xi8>) -> tensor<3x4xf32> {
  // expected-error @+1 {{'llm.linear' op weight_scales must be f32 [4, 2] (one per output channel and group), got 'tensor<4xf32>'}}
  %y = llm.linear %x, %w {weight_bits = 4 : i64, group_size = 16 : i64, weight_scales = dense<0.1> : tensor<4xf32>} : (tensor<3x32xf32>, tensor<32x4xi8>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

func.func @zero_points_shape(%x: tensor<3x32xf32>, %w: tensor<32x4xi8>) -> tensor<3x4xf32> {
  // expected-error @+1 {{'llm.linear' op weight_zero_points must be integer [4, 2] like weight_scales, got 'tensor<4xi8>'}}
  %y = llm.linear %x, %w {weight_bits = 4 : i64, group_size = 16 : i64, weight_scales = dense<0.1> : tensor<4x2xf32>, weight_zero_points = dense<8> : tensor<4xi8>} : (tensor<3x32xf32>, tensor<32x4xi8>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

func.func @zero_point_range(%x: tensor<3x16xf32>, %w: tensor<16x4xi8>) -> tensor<3x4xf32> {
  // expected-error @+1 {{'llm.linear' op weight zero point 16 is outside [0, 15] of 4-bit weights}}
  %y = llm.linear %x, %w {weight_bits = 4 : i64, weight_scales = dense<0.1> : tensor<4xf32>, weight_zero_points = dense<16> : tensor<4xi8>} : (tensor<3x16xf32>, tensor<16x4xi8>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

func.func @code_range(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = llm.weight "w" = dense<[[1, -9], [0, 7]]> : tensor<2x2xi8>
  // expected-error @+1 {{'llm.linear' op weight code -9 at [k=0, n=1] is outside [-8, 7] of 4-bit weights}}
  %y = llm.linear %x, %w {weight_bits = 4 : i64, weight_scales = dense<0.1> : tensor<2xf32>} : (tensor<1x2xf32>, tensor<2x2xi8>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

func.func @code_range_zero_points(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = llm.weight "w" = dense<[[1, -1], [0, 7]]> : tensor<2x2xi8>
  // expected-error @+1 {{'llm.linear' op weight code -1 at [k=0, n=1] is outside [0, 15] of 4-bit weights with zero points}}
  %y = llm.linear %x, %w {weight_bits = 4 : i64, weight_scales = dense<0.1> : tensor<2xf32>, weight_zero_points = dense<8> : tensor<2xi8>} : (tensor<1x2xf32>, tensor<2x2xi8>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

func.func @sparsity_shape(%x: tensor<1x8xf32>, %w: tensor<8x2xf32>) -> tensor<1x2xf32> {
  // expected-error @+1 {{'llm.linear' op sparsity must be [S, M] with 0 <= S <= M and M > 0, got array<i64: 5, 4>}}
  %y = llm.linear %x, %w {sparsity = array<i64: 5, 4>} : (tensor<1x8xf32>, tensor<8x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

func.func @sparsity_divides(%x: tensor<1x6xf32>, %w: tensor<6x2xf32>) -> tensor<1x2xf32> {
  // expected-error @+1 {{'llm.linear' op sparsity group size 4 does not divide the reduction size 6}}
  %y = llm.linear %x, %w {sparsity = array<i64: 2, 4>} : (tensor<1x6xf32>, tensor<6x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// Transposed [N, K] weight: channel 1 has 3 nonzeros in k [0, 4).
func.func @sparsity_broken(%x: tensor<1x8xf32>) -> tensor<1x2xf32> {
  %w = llm.weight "w" = dense<[[1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<2x8xf32>
  // expected-error @+1 {{'llm.linear' op weight breaks sparsity 2:4: output channel 1 has 3 nonzeros in k [0, 4)}}
  %y = llm.linear %x, %w {transpose_weight = true, sparsity = array<i64: 2, 4>} : (tensor<1x8xf32>, tensor<2x8xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

func.func @block_sparsity_tiles(%x: tensor<1x4xf32>, %w: tensor<4x3xf32>) -> tensor<1x3xf32> {
  // expected-error @+1 {{'llm.linear' op block_sparsity blocks 2x2 do not tile the 4x3 weight (K x N)}}
  %y = llm.linear %x, %w {block_sparsity = array<i64: 2, 2, 1, 2>} : (tensor<1x4xf32>, tensor<4x3xf32>) -> tensor<1x3xf32>
  return %y : tensor<1x3xf32>
}

// -----

func.func @block_sparsity_broken(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w = llm.weight "w" = dense<[[1.0, 0.0], [0.0, 0.0], [0.0, 3.0], [1.0, 4.0]]> : tensor<4x2xf32>
  // expected-error @+1 {{'llm.linear' op weight breaks block_sparsity: block column 0 has 2 nonzero blocks among k blocks [0, 2), at most 1 allowed}}
  %y = llm.linear %x, %w {block_sparsity = array<i64: 2, 1, 1, 2>} : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

func.func @kv_bits(%q: tensor<1x?x16xf32>, %k: tensor<1x?x16xf32>, %v: tensor<1x?x16xf32>) -> tensor<1x?x16xf32> {
  // expected-error @+1 {{'llm.attention' op kv_bits must be 8 or 4, got 2}}
  %o, %pk, %pv = llm.attention %q, %k, %v {causal = true, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.35 : f32, kv_bits = 2 : i64} : (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> (tensor<1x?x16xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>)
  return %o : tensor<1x?x16xf32>
}
