// RUN: flightllm-opt %s -split-input-file -verify-diagnostics

//===----------------------------------------------------------------------===//
// llm.weight
//===----------------------------------------------------------------------===//

func.func @weight_empty_name() {
  // expected-error @+1 {{'llm.weight' op name must not be empty}}
  %0 = llm.weight "" = dense<1.0> : tensor<2xf32>
  return
}

// -----

func.func @weight_type_mismatch() {
  // expected-error @+1 {{'llm.weight' op failed to verify that all of {value, result} have same type}}
  %0 = "llm.weight"() <{name = "w", value = dense<1.0> : tensor<2xf32>}> : () -> tensor<3xf32>
  return
}

//===----------------------------------------------------------------------===//
// llm.embedding
//===----------------------------------------------------------------------===//

// -----

func.func @embedding_table_rank(%t: tensor<16xf32>, %ids: tensor<2x3xi64>) {
  // expected-error @+1 {{'llm.embedding' op table must be [V, D], got rank 1}}
  %0 = llm.embedding %t, %ids : (tensor<16xf32>, tensor<2x3xi64>) -> tensor<2x3x16xf32>
  return
}

// -----

func.func @embedding_element_type(%t: tensor<100x16xf16>, %ids: tensor<2x3xi64>) {
  // expected-error @+1 {{'llm.embedding' op result element type 'f32' must equal the table's 'f16'}}
  %0 = llm.embedding %t, %ids : (tensor<100x16xf16>, tensor<2x3xi64>) -> tensor<2x3x16xf32>
  return
}

// -----

func.func @embedding_result_rank(%t: tensor<100x16xf32>, %ids: tensor<2x3xi64>) {
  // expected-error @+1 {{'llm.embedding' op result must be [ids dims..., D] of rank 3, got rank 2}}
  %0 = llm.embedding %t, %ids : (tensor<100x16xf32>, tensor<2x3xi64>) -> tensor<6x16xf32>
  return
}

// -----

func.func @embedding_ids_dims(%t: tensor<100x16xf32>, %ids: tensor<2x3xi64>) {
  // expected-error @+1 {{'llm.embedding' op dim 1 mismatch: result has 4, ids has 3}}
  %0 = llm.embedding %t, %ids : (tensor<100x16xf32>, tensor<2x3xi64>) -> tensor<2x4x16xf32>
  return
}

// -----

func.func @embedding_hidden(%t: tensor<100x16xf32>, %ids: tensor<2x?xi64>) {
  // expected-error @+1 {{'llm.embedding' op embedding size mismatch: result has 8, table has 16}}
  %0 = llm.embedding %t, %ids : (tensor<100x16xf32>, tensor<2x?xi64>) -> tensor<2x?x8xf32>
  return
}

//===----------------------------------------------------------------------===//
// llm.linear, llm.logits
//===----------------------------------------------------------------------===//

// -----

func.func @linear_scalar_x(%x: tensor<f32>, %w: tensor<4x8xf32>) {
  // expected-error @+1 {{'llm.linear' op x must have at least one dimension}}
  %0 = llm.linear %x, %w : (tensor<f32>, tensor<4x8xf32>) -> tensor<8xf32>
  return
}

// -----

func.func @linear_weight_rank(%x: tensor<2x4xf32>, %w: tensor<1x4x8xf32>) {
  // expected-error @+1 {{'llm.linear' op weight must be [K, N], got rank 3}}
  %0 = llm.linear %x, %w : (tensor<2x4xf32>, tensor<1x4x8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @linear_weight_rank_transposed(%x: tensor<2x4xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'llm.linear' op weight must be [N, K] (transpose_weight), got rank 1}}
  %0 = llm.linear %x, %w {transpose_weight = true} : (tensor<2x4xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @linear_element_type(%x: tensor<2x4xf32>, %w: tensor<4x8xf32>) {
  // expected-error @+1 {{'llm.linear' op result element type 'f16' must equal x's 'f32'}}
  %0 = llm.linear %x, %w : (tensor<2x4xf32>, tensor<4x8xf32>) -> tensor<2x8xf16>
  return
}

// -----

func.func @linear_result_rank(%x: tensor<1x2x4xf32>, %w: tensor<4x8xf32>) {
  // expected-error @+1 {{'llm.linear' op result rank 2 must equal x's rank 3}}
  %0 = llm.linear %x, %w : (tensor<1x2x4xf32>, tensor<4x8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @linear_leading_dims(%x: tensor<1x2x4xf32>, %w: tensor<4x8xf32>) {
  // expected-error @+1 {{'llm.linear' op dim 1 mismatch: result has 3, x has 2}}
  %0 = llm.linear %x, %w : (tensor<1x2x4xf32>, tensor<4x8xf32>) -> tensor<1x3x8xf32>
  return
}

// -----

func.func @linear_reduction(%x: tensor<2x64xf32>, %w: tensor<4x8xf32>) {
  // expected-error @+1 {{'llm.linear' op reduction size mismatch: weight has 4, x has 64}}
  %0 = llm.linear %x, %w : (tensor<2x64xf32>, tensor<4x8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @linear_reduction_transposed(%x: tensor<2x4xf32>, %w: tensor<4x8xf32>) {
  // expected-error @+1 {{'llm.linear' op reduction size mismatch: weight has 8, x has 4}}
  %0 = llm.linear %x, %w {transpose_weight = true} : (tensor<2x4xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @linear_bias_rank(%x: tensor<2x4xf32>, %w: tensor<4x8xf32>, %b: tensor<1x8xf32>) {
  // expected-error @+1 {{'llm.linear' op bias must be [N], got rank 2}}
  %0 = llm.linear %x, %w, %b : (tensor<2x4xf32>, tensor<4x8xf32>, tensor<1x8xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @linear_bias_size(%x: tensor<2x4xf32>, %w: tensor<4x8xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{'llm.linear' op output size mismatch: bias has 3, weight has 8}}
  %0 = llm.linear %x, %w, %b : (tensor<2x4xf32>, tensor<4x8xf32>, tensor<3xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @linear_output_size(%x: tensor<2x4xf32>, %w: tensor<8x4xf32>) {
  // expected-error @+1 {{'llm.linear' op output size mismatch: result has 4, weight has 8}}
  %0 = llm.linear %x, %w {transpose_weight = true} : (tensor<2x4xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
  return
}

// -----

// With a dynamic weight the bias still fixes N.
func.func @linear_output_size_from_bias(%x: tensor<2x4xf32>, %w: tensor<?x?xi8>, %b: tensor<8xf32>) {
  // expected-error @+1 {{'llm.linear' op output size mismatch: result has 5, bias has 8}}
  %0 = llm.linear %x, %w, %b : (tensor<2x4xf32>, tensor<?x?xi8>, tensor<8xf32>) -> tensor<2x5xf32>
  return
}

// -----

func.func @linear_activation_type(%x: tensor<2x4xi8>, %w: tensor<4x8xi8>) {
  // expected-error @+1 {{'llm.linear' op operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<2x4xi8>'}}
  %0 = llm.linear %x, %w : (tensor<2x4xi8>, tensor<4x8xi8>) -> tensor<2x8xf32>
  return
}

// -----

func.func @logits_weight_rank(%x: tensor<1x1x64xf32>, %w: tensor<1000xf32>) {
  // expected-error @+1 {{'llm.logits' op weight must be [K, N], got rank 1}}
  %0 = llm.logits %x, %w : (tensor<1x1x64xf32>, tensor<1000xf32>) -> tensor<1x1x1000xf32>
  return
}

// -----

func.func @logits_tied_reduction(%x: tensor<1x1x64xf32>, %table: tensor<1000x32xf32>) {
  // expected-error @+1 {{'llm.logits' op reduction size mismatch: weight has 32, x has 64}}
  %0 = llm.logits %x, %table {transpose_weight = true} : (tensor<1x1x64xf32>, tensor<1000x32xf32>) -> tensor<1x1x1000xf32>
  return
}

// -----

func.func @logits_vocab(%x: tensor<1x1x64xf32>, %table: tensor<1000x64xf32>) {
  // expected-error @+1 {{'llm.logits' op output size mismatch: result has 999, weight has 1000}}
  %0 = llm.logits %x, %table {transpose_weight = true} : (tensor<1x1x64xf32>, tensor<1000x64xf32>) -> tensor<1x1x999xf32>
  return
}

//===----------------------------------------------------------------------===//
// llm.layer_norm, llm.rms_norm
//===----------------------------------------------------------------------===//

// -----

func.func @norm_scalar_x(%x: tensor<f32>, %g: tensor<1xf32>) {
  // expected-error @+1 {{'llm.rms_norm' op x must have at least one dimension}}
  %0 = llm.rms_norm %x, %g {epsilon = 1.0e-6 : f32} : (tensor<f32>, tensor<1xf32>) -> tensor<f32>
  return
}

// -----

func.func @norm_result_type(%x: tensor<2x64xf32>, %g: tensor<64xf32>) {
  // expected-error @+1 {{'llm.layer_norm' op result type 'tensor<2x64xf16>' must equal x's type 'tensor<2x64xf32>'}}
  %0 = llm.layer_norm %x, %g {epsilon = 1.0e-5 : f32} : (tensor<2x64xf32>, tensor<64xf32>) -> tensor<2x64xf16>
  return
}

// -----

func.func @norm_negative_epsilon(%x: tensor<2x64xf32>, %g: tensor<64xf32>) {
  // expected-error @+1 {{'llm.rms_norm' op epsilon must be non-negative, got -1}}
  %0 = llm.rms_norm %x, %g {epsilon = -1.0 : f32} : (tensor<2x64xf32>, tensor<64xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @norm_nan_epsilon(%x: tensor<2x64xf32>, %g: tensor<64xf32>) {
  // expected-error @+1 {{'llm.layer_norm' op epsilon must be non-negative, got nan}}
  %0 = llm.layer_norm %x, %g {epsilon = 0x7FC00000 : f32} : (tensor<2x64xf32>, tensor<64xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @norm_gamma_rank(%x: tensor<2x64xf32>, %g: tensor<1x64xf32>) {
  // expected-error @+1 {{'llm.rms_norm' op gamma must be [D], got rank 2}}
  %0 = llm.rms_norm %x, %g {epsilon = 1.0e-6 : f32} : (tensor<2x64xf32>, tensor<1x64xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @norm_gamma_size(%x: tensor<2x64xf32>, %g: tensor<32xf32>) {
  // expected-error @+1 {{'llm.rms_norm' op normalized size mismatch: gamma has 32, x has 64}}
  %0 = llm.rms_norm %x, %g {epsilon = 1.0e-6 : f32} : (tensor<2x64xf32>, tensor<32xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @norm_beta_rank(%x: tensor<2x64xf32>, %g: tensor<64xf32>, %b: tensor<f32>) {
  // expected-error @+1 {{'llm.layer_norm' op beta must be [D], got rank 0}}
  %0 = llm.layer_norm %x, %g, %b {epsilon = 1.0e-5 : f32} : (tensor<2x64xf32>, tensor<64xf32>, tensor<f32>) -> tensor<2x64xf32>
  return
}

// -----

// Gamma is dynamic, so beta is checked against x.
func.func @norm_beta_size(%x: tensor<2x64xf32>, %g: tensor<?xf32>, %b: tensor<32xf32>) {
  // expected-error @+1 {{'llm.layer_norm' op normalized size mismatch: beta has 32, x has 64}}
  %0 = llm.layer_norm %x, %g, %b {epsilon = 1.0e-5 : f32} : (tensor<2x64xf32>, tensor<?xf32>, tensor<32xf32>) -> tensor<2x64xf32>
  return
}

//===----------------------------------------------------------------------===//
// llm.rope
//===----------------------------------------------------------------------===//

// -----

func.func @rope_x_rank(%x: tensor<3x64xf32>, %c: tensor<128x16xf32>, %p: tensor<3xi64>) {
  // expected-error @+1 {{'llm.rope' op x must be [B, S, H*Dh], got rank 2}}
  %0 = llm.rope rotate_half %x, %c, %c, %p {num_heads = 4 : i64} : (tensor<3x64xf32>, tensor<128x16xf32>, tensor<128x16xf32>, tensor<3xi64>) -> tensor<3x64xf32>
  return
}

// -----

func.func @rope_result_type(%x: tensor<1x3x64xf32>, %c: tensor<128x16xf32>, %p: tensor<3xi64>) {
  // expected-error @+1 {{'llm.rope' op result type 'tensor<1x?x64xf32>' must equal x's type 'tensor<1x3x64xf32>'}}
  %0 = llm.rope rotate_half %x, %c, %c, %p {num_heads = 4 : i64} : (tensor<1x3x64xf32>, tensor<128x16xf32>, tensor<128x16xf32>, tensor<3xi64>) -> tensor<1x?x64xf32>
  return
}

// -----

func.func @rope_table_rank(%x: tensor<1x3x64xf32>, %c: tensor<1x128x16xf32>, %p: tensor<3xi64>) {
  // expected-error @+1 {{'llm.rope' op cos must be [MaxPos, Dh], got rank 3}}
  %0 = llm.rope rotate_half %x, %c, %c, %p {num_heads = 4 : i64} : (tensor<1x3x64xf32>, tensor<1x128x16xf32>, tensor<1x128x16xf32>, tensor<3xi64>) -> tensor<1x3x64xf32>
  return
}

// -----

func.func @rope_sin_type(%x: tensor<1x3x64xf32>, %c: tensor<128x16xf32>, %s: tensor<128x16xf16>, %p: tensor<3xi64>) {
  // expected-error @+1 {{'llm.rope' op sin type 'tensor<128x16xf16>' must equal cos's type 'tensor<128x16xf32>'}}
  %0 = llm.rope rotate_half %x, %c, %s, %p {num_heads = 4 : i64} : (tensor<1x3x64xf32>, tensor<128x16xf32>, tensor<128x16xf16>, tensor<3xi64>) -> tensor<1x3x64xf32>
  return
}

// -----

func.func @rope_heads_divide(%x: tensor<1x3x66xf32>, %c: tensor<128x16xf32>, %p: tensor<3xi64>) {
  // expected-error @+1 {{'llm.rope' op x hidden size 66 is not divisible by num_heads 4}}
  %0 = llm.rope rotate_half %x, %c, %c, %p {num_heads = 4 : i64} : (tensor<1x3x66xf32>, tensor<128x16xf32>, tensor<128x16xf32>, tensor<3xi64>) -> tensor<1x3x66xf32>
  return
}

// -----

func.func @rope_head_size(%x: tensor<1x3x64xf32>, %c: tensor<128x8xf32>, %p: tensor<3xi64>) {
  // expected-error @+1 {{'llm.rope' op head size mismatch: cos/sin has 8, x has 16}}
  %0 = llm.rope interleaved %x, %c, %c, %p {num_heads = 4 : i64} : (tensor<1x3x64xf32>, tensor<128x8xf32>, tensor<128x8xf32>, tensor<3xi64>) -> tensor<1x3x64xf32>
  return
}

// -----

func.func @rope_odd_head_size(%x: tensor<1x3x14xf32>, %c: tensor<128x?xf32>, %p: tensor<3xi64>) {
  // expected-error @+1 {{'llm.rope' op head size 7 must be even}}
  %0 = llm.rope rotate_half %x, %c, %c, %p {num_heads = 2 : i64} : (tensor<1x3x14xf32>, tensor<128x?xf32>, tensor<128x?xf32>, tensor<3xi64>) -> tensor<1x3x14xf32>
  return
}

// -----

func.func @rope_positions_rank(%x: tensor<1x3x64xf32>, %c: tensor<128x16xf32>, %p: tensor<1x1x3xi64>) {
  // expected-error @+1 {{'llm.rope' op positions must be [B, S] or [S], got rank 3}}
  %0 = llm.rope rotate_half %x, %c, %c, %p {num_heads = 4 : i64} : (tensor<1x3x64xf32>, tensor<128x16xf32>, tensor<128x16xf32>, tensor<1x1x3xi64>) -> tensor<1x3x64xf32>
  return
}

// -----

func.func @rope_positions_batch(%x: tensor<2x3x64xf32>, %c: tensor<128x16xf32>, %p: tensor<3x3xi64>) {
  // expected-error @+1 {{'llm.rope' op batch size mismatch: positions has 3, x has 2}}
  %0 = llm.rope rotate_half %x, %c, %c, %p {num_heads = 4 : i64} : (tensor<2x3x64xf32>, tensor<128x16xf32>, tensor<128x16xf32>, tensor<3x3xi64>) -> tensor<2x3x64xf32>
  return
}

// -----

func.func @rope_positions_seq(%x: tensor<2x5x64xf32>, %c: tensor<128x16xf32>, %p: tensor<3xi64>) {
  // expected-error @+1 {{'llm.rope' op sequence length mismatch: positions has 3, x has 5}}
  %0 = llm.rope rotate_half %x, %c, %c, %p {num_heads = 4 : i64} : (tensor<2x5x64xf32>, tensor<128x16xf32>, tensor<128x16xf32>, tensor<3xi64>) -> tensor<2x5x64xf32>
  return
}

// -----

func.func @rope_num_heads(%x: tensor<1x3x64xf32>, %c: tensor<128x16xf32>, %p: tensor<3xi64>) {
  // expected-error @+1 {{attribute 'num_heads' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %0 = llm.rope rotate_half %x, %c, %c, %p {num_heads = 0 : i64} : (tensor<1x3x64xf32>, tensor<128x16xf32>, tensor<128x16xf32>, tensor<3xi64>) -> tensor<1x3x64xf32>
  return
}

// -----

func.func @rope_style(%x: tensor<1x3x64xf32>, %c: tensor<128x16xf32>, %p: tensor<3xi64>) {
  // expected-error @+2 {{expected one of [rotate_half, interleaved] for how rotary embeddings pair elements, got: sideways}}
  // expected-error @+1 {{failed to parse LLM_RopeStyleAttr parameter 'value'}}
  %0 = llm.rope sideways %x, %c, %c, %p {num_heads = 4 : i64} : (tensor<1x3x64xf32>, tensor<128x16xf32>, tensor<128x16xf32>, tensor<3xi64>) -> tensor<1x3x64xf32>
  return
}

//===----------------------------------------------------------------------===//
// llm.attention
//===----------------------------------------------------------------------===//

// -----

func.func @attention_query_rank(%q: tensor<4x64xf32>, %k: tensor<1x4x64xf32>) {
  // expected-error @+1 {{'llm.attention' op query must be [B, S, Hq*Dh], got rank 2}}
  %o, %pk, %pv = llm.attention %q, %k, %k {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) -> (tensor<4x64xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>)
  return
}

// -----

func.func @attention_key_rank(%q: tensor<1x4x64xf32>, %k: tensor<1x4x4x16xf32>) {
  // expected-error @+1 {{'llm.attention' op key must be [B, S, Hkv*Dh], got rank 4}}
  %o, %pk, %pv = llm.attention %q, %k, %k {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x4x64xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>) -> (tensor<1x4x64xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>)
  return
}

// -----

func.func @attention_value_rank(%q: tensor<1x4x64xf32>, %v: tensor<4x64xf32>) {
  // expected-error @+1 {{'llm.attention' op value must be [B, S, Hkv*Dh], got rank 2}}
  %o, %pk, %pv = llm.attention %q, %q, %v {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<4x64xf32>) -> (tensor<1x4x64xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>)
  return
}

// -----

func.func @attention_output_type(%q: tensor<1x4x64xf32>) {
  // expected-error @+1 {{'llm.attention' op output type 'tensor<1x4x32xf32>' must equal query's type 'tensor<1x4x64xf32>'}}
  %o, %pk, %pv = llm.attention %q, %q, %q {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) -> (tensor<1x4x32xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>)
  return
}

// -----

// Only the generic form can give one past operand without the other.
func.func @attention_past_pair(%q: tensor<1x1x64xf32>, %past: tensor<1x4x3x16xf32>) {
  // expected-error @+1 {{'llm.attention' op past_key and past_value must be given together}}
  %0:3 = "llm.attention"(%q, %q, %q, %past) <{causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>, scale = 2.500000e-01 : f32}> : (tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x4x3x16xf32>) -> (tensor<1x1x64xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>)
  return
}

// -----

func.func @attention_operand_element_type(%q: tensor<1x4x64xf32>, %k: tensor<1x4x64xf16>) {
  // expected-error @+1 {{'llm.attention' op all operands and results must have element type 'f32' (the query's)}}
  %o, %pk, %pv = llm.attention %q, %k, %k {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x4x64xf32>, tensor<1x4x64xf16>, tensor<1x4x64xf16>) -> (tensor<1x4x64xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>)
  return
}

// -----

func.func @attention_result_element_type(%q: tensor<1x4x64xf32>) {
  // expected-error @+1 {{'llm.attention' op all operands and results must have element type 'f32' (the query's)}}
  %o, %pk, %pv = llm.attention %q, %q, %q {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) -> (tensor<1x4x64xf32>, tensor<1x4x4x16xbf16>, tensor<1x4x4x16xbf16>)
  return
}

// -----

func.func @attention_gqa_ratio(%q: tensor<1x4x96xf32>, %k: tensor<1x4x64xf32>) {
  // expected-error @+1 {{'llm.attention' op num_heads 6 is not a multiple of num_kv_heads 4}}
  %o, %pk, %pv = llm.attention %q, %k, %k {causal = true, num_heads = 6 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x4x96xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) -> (tensor<1x4x96xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>)
  return
}

// -----

func.func @attention_query_heads(%q: tensor<1x4x66xf32>, %k: tensor<1x4x64xf32>) {
  // expected-error @+1 {{'llm.attention' op query hidden size 66 is not divisible by num_heads 4}}
  %o, %pk, %pv = llm.attention %q, %k, %k {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x4x66xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) -> (tensor<1x4x66xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>)
  return
}

// -----

func.func @attention_key_heads(%q: tensor<1x4x64xf32>, %k: tensor<1x4x33xf32>) {
  // expected-error @+1 {{'llm.attention' op key hidden size 33 is not divisible by num_kv_heads 2}}
  %o, %pk, %pv = llm.attention %q, %k, %k {causal = true, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.25 : f32} : (tensor<1x4x64xf32>, tensor<1x4x33xf32>, tensor<1x4x33xf32>) -> (tensor<1x4x64xf32>, tensor<1x2x4x16xf32>, tensor<1x2x4x16xf32>)
  return
}

// -----

func.func @attention_value_heads(%q: tensor<1x4x64xf32>, %v: tensor<1x4x62xf32>) {
  // expected-error @+1 {{'llm.attention' op value hidden size 62 is not divisible by num_kv_heads 4}}
  %o, %pk, %pv = llm.attention %q, %q, %v {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x62xf32>) -> (tensor<1x4x64xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>)
  return
}

// -----

func.func @attention_batch(%q: tensor<1x4x64xf32>, %k: tensor<2x4x64xf32>) {
  // expected-error @+1 {{'llm.attention' op batch size mismatch: key has 2, query has 1}}
  %o, %pk, %pv = llm.attention %q, %k, %k {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x4x64xf32>, tensor<2x4x64xf32>, tensor<2x4x64xf32>) -> (tensor<1x4x64xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>)
  return
}

// -----

func.func @attention_seq(%q: tensor<1x4x64xf32>, %v: tensor<1x3x64xf32>) {
  // expected-error @+1 {{'llm.attention' op sequence length mismatch: value has 3, query has 4}}
  %o, %pk, %pv = llm.attention %q, %q, %v {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x3x64xf32>) -> (tensor<1x4x64xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>)
  return
}

// -----

// More key/value heads than query heads.
func.func @attention_head_size(%q: tensor<1x4x64xf32>) {
  // expected-error @+1 {{'llm.attention' op num_heads 4 is not a multiple of num_kv_heads 8}}
  %o, %pk, %pv = llm.attention %q, %q, %q {causal = true, num_heads = 4 : i64, num_kv_heads = 8 : i64, scale = 0.25 : f32} : (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) -> (tensor<1x4x64xf32>, tensor<1x8x4x8xf32>, tensor<1x8x4x8xf32>)
  return
}

// -----

func.func @attention_kv_head_size(%q: tensor<1x4x64xf32>, %k: tensor<1x4x32xf32>) {
  // expected-error @+1 {{'llm.attention' op head size mismatch: key has 8, query has 16}}
  %o, %pk, %pv = llm.attention %q, %k, %k {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x4x64xf32>, tensor<1x4x32xf32>, tensor<1x4x32xf32>) -> (tensor<1x4x64xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>)
  return
}

// -----

func.func @attention_past_rank(%q: tensor<1x1x64xf32>, %past: tensor<4x3x16xf32>) {
  // expected-error @+1 {{'llm.attention' op past_key must be [B, Hkv, P, Dh], got rank 3}}
  %o, %pk, %pv = llm.attention %q, %q, %q past(%past, %past) {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>) -> (tensor<1x1x64xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>)
  return
}

// -----

func.func @attention_past_value_rank(%q: tensor<1x1x64xf32>, %pk: tensor<1x4x3x16xf32>, %pv: tensor<1x4x3x4x4xf32>) {
  // expected-error @+1 {{'llm.attention' op past_value must be [B, Hkv, P, Dh], got rank 5}}
  %o, %k, %v = llm.attention %q, %q, %q past(%pk, %pv) {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x4x3x16xf32>, tensor<1x4x3x4x4xf32>) -> (tensor<1x1x64xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>)
  return
}

// -----

func.func @attention_past_batch(%q: tensor<1x1x64xf32>, %past: tensor<2x4x3x16xf32>) {
  // expected-error @+1 {{'llm.attention' op batch size mismatch: past_key has 2, query has 1}}
  %o, %pk, %pv = llm.attention %q, %q, %q past(%past, %past) {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<2x4x3x16xf32>, tensor<2x4x3x16xf32>) -> (tensor<1x1x64xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>)
  return
}

// -----

func.func @attention_past_heads(%q: tensor<1x1x64xf32>, %k: tensor<1x1x32xf32>, %past: tensor<1x4x3x16xf32>) {
  // expected-error @+1 {{'llm.attention' op key/value head count mismatch: past_key has 4, num_kv_heads has 2}}
  %o, %pk, %pv = llm.attention %q, %k, %k past(%past, %past) {causal = true, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.25 : f32} : (tensor<1x1x64xf32>, tensor<1x1x32xf32>, tensor<1x1x32xf32>, tensor<1x4x3x16xf32>, tensor<1x4x3x16xf32>) -> (tensor<1x1x64xf32>, tensor<1x2x4x16xf32>, tensor<1x2x4x16xf32>)
  return
}

// -----

func.func @attention_past_head_size(%q: tensor<1x1x64xf32>, %pk: tensor<1x4x3x16xf32>, %pv: tensor<1x4x3x8xf32>) {
  // expected-error @+1 {{'llm.attention' op head size mismatch: past_value has 8, query has 16}}
  %o, %k, %v = llm.attention %q, %q, %q past(%pk, %pv) {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x4x3x16xf32>, tensor<1x4x3x8xf32>) -> (tensor<1x1x64xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>)
  return
}

// -----

func.func @attention_past_length(%q: tensor<1x1x64xf32>, %pk: tensor<1x4x5x16xf32>, %pv: tensor<1x4x4x16xf32>) {
  // expected-error @+1 {{'llm.attention' op past length mismatch: past_value has 4, past_key has 5}}
  %o, %k, %v = llm.attention %q, %q, %q past(%pk, %pv) {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x4x5x16xf32>, tensor<1x4x4x16xf32>) -> (tensor<1x1x64xf32>, tensor<1x4x6x16xf32>, tensor<1x4x6x16xf32>)
  return
}

// -----

func.func @attention_present_key_rank(%q: tensor<1x4x64xf32>) {
  // expected-error @+1 {{'llm.attention' op present_key must be [B, Hkv, P+S, Dh], got rank 3}}
  %o, %pk, %pv = llm.attention %q, %q, %q {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) -> (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x4x16xf32>)
  return
}

// -----

func.func @attention_present_rank(%q: tensor<1x4x64xf32>) {
  // expected-error @+1 {{'llm.attention' op present_value must be [B, Hkv, P+S, Dh], got rank 3}}
  %o, %pk, %pv = llm.attention %q, %q, %q {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) -> (tensor<1x4x64xf32>, tensor<1x4x4x16xf32>, tensor<1x4x64xf32>)
  return
}

// -----

func.func @attention_present_heads(%q: tensor<1x4x64xf32>, %k: tensor<1x4x32xf32>) {
  // expected-error @+1 {{'llm.attention' op key/value head count mismatch: present_key has 4, num_kv_heads has 2}}
  %o, %pk, %pv = llm.attention %q, %k, %k {causal = true, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.25 : f32} : (tensor<1x4x64xf32>, tensor<1x4x32xf32>, tensor<1x4x32xf32>) -> (tensor<1x4x64xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>)
  return
}

// -----

func.func @attention_present_length(%q: tensor<1x1x64xf32>, %past: tensor<1x4x5x16xf32>) {
  // expected-error @+1 {{'llm.attention' op present length mismatch: present_key has 5, past length + sequence length has 6}}
  %o, %pk, %pv = llm.attention %q, %q, %q past(%past, %past) {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x1x64xf32>, tensor<1x4x5x16xf32>, tensor<1x4x5x16xf32>) -> (tensor<1x1x64xf32>, tensor<1x4x5x16xf32>, tensor<1x4x5x16xf32>)
  return
}

// -----

// Without a cache the present one holds exactly the new tokens.
func.func @attention_present_length_no_past(%q: tensor<1x4x64xf32>) {
  // expected-error @+1 {{'llm.attention' op present length mismatch: present_key has 5, past length + sequence length has 4}}
  %o, %pk, %pv = llm.attention %q, %q, %q {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) -> (tensor<1x4x64xf32>, tensor<1x4x5x16xf32>, tensor<1x4x5x16xf32>)
  return
}

// -----

// With a dynamic sequence the two present caches still have to agree.
func.func @attention_present_pair(%q: tensor<1x?x64xf32>, %past: tensor<1x4x5x16xf32>) {
  // expected-error @+1 {{'llm.attention' op present length mismatch: present_value has 7, present_key has 6}}
  %o, %pk, %pv = llm.attention %q, %q, %q past(%past, %past) {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x?x64xf32>, tensor<1x?x64xf32>, tensor<1x?x64xf32>, tensor<1x4x5x16xf32>, tensor<1x4x5x16xf32>) -> (tensor<1x?x64xf32>, tensor<1x4x6x16xf32>, tensor<1x4x7x16xf32>)
  return
}

// -----

func.func @attention_num_kv_heads(%q: tensor<1x4x64xf32>) {
  // expected-error @+1 {{attribute 'num_kv_heads' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %o, %pk, %pv = llm.attention %q, %q, %q {causal = true, num_heads = 4 : i64, num_kv_heads = 0 : i64, scale = 0.25 : f32} : (tensor<1x4x64xf32>, tensor<1x4x64xf32>, tensor<1x4x64xf32>) -> (tensor<1x4x64xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>)
  return
}

//===----------------------------------------------------------------------===//
// Element-wise ops
//===----------------------------------------------------------------------===//

// -----

func.func @activation_int(%x: tensor<2x3xi32>) {
  // expected-error @+1 {{'llm.gelu' op operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<2x3xi32>'}}
  %0 = llm.gelu %x : tensor<2x3xi32>
  return
}

// -----

func.func @add_element_types(%a: tensor<2x3xf32>, %b: tensor<2x3xf16>) {
  // expected-error @+1 {{'llm.add' op requires the same type for all operands and results}}
  %0 = "llm.add"(%a, %b) : (tensor<2x3xf32>, tensor<2x3xf16>) -> tensor<2x3xf32>
  return
}

// -----

// No broadcasting: the raising makes it explicit.
func.func @mul_broadcast(%a: tensor<2x3xf32>, %b: tensor<1x3xf32>) {
  // expected-error @+1 {{'llm.mul' op all non-scalar operands/results must have the same shape and base type}}
  %0 = "llm.mul"(%a, %b) : (tensor<2x3xf32>, tensor<1x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @swiglu_shapes(%g: tensor<2x8xf32>, %u: tensor<2x4xf32>) {
  // expected-error @+1 {{'llm.swiglu' op all non-scalar operands/results must have the same shape and base type}}
  %0 = "llm.swiglu"(%g, %u) : (tensor<2x8xf32>, tensor<2x4xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @position_ids_rank(%ids: tensor<?xi64>, %pk: tensor<1x2x?x8xf32>) -> tensor<?xi64> {
  // expected-error @+1 {{'llm.position_ids' op ids must be [B, S], got rank 1}}
  %0 = llm.position_ids %ids, %pk : (tensor<?xi64>, tensor<1x2x?x8xf32>) -> tensor<?xi64>
  return %0 : tensor<?xi64>
}

// -----

func.func @position_ids_past_rank(%ids: tensor<1x?xi64>, %pk: tensor<1x?x8xf32>) -> tensor<1x?xi64> {
  // expected-error @+1 {{'llm.position_ids' op past_key must be [B, Hkv, P, Dh], got rank 3}}
  %0 = llm.position_ids %ids, %pk : (tensor<1x?xi64>, tensor<1x?x8xf32>) -> tensor<1x?xi64>
  return %0 : tensor<1x?xi64>
}

// -----

func.func @position_ids_result(%ids: tensor<1x?xi64>, %pk: tensor<1x2x?x8xf32>) -> tensor<1x?xi32> {
  // expected-error @+1 {{'llm.position_ids' op result type 'tensor<1x?xi32>' must equal ids's type 'tensor<1x?xi64>'}}
  %0 = llm.position_ids %ids, %pk : (tensor<1x?xi64>, tensor<1x2x?x8xf32>) -> tensor<1x?xi32>
  return %0 : tensor<1x?xi32>
}

// -----

func.func @position_ids_offset(%ids: tensor<1x?xi64>, %pk: tensor<1x2x?x8xf32>) -> tensor<1x?xi64> {
  // expected-error @+1 {{'llm.position_ids' op offset must be non-negative, got -1}}
  %0 = llm.position_ids %ids, %pk {offset = -1 : i64} : (tensor<1x?xi64>, tensor<1x2x?x8xf32>) -> tensor<1x?xi64>
  return %0 : tensor<1x?xi64>
}

// -----

func.func @position_ids_batch(%ids: tensor<1x?xi64>, %pk: tensor<2x2x?x8xf32>) -> tensor<1x?xi64> {
  // expected-error @+1 {{'llm.position_ids' op batch size}}
  %0 = llm.position_ids %ids, %pk : (tensor<1x?xi64>, tensor<2x2x?x8xf32>) -> tensor<1x?xi64>
  return %0 : tensor<1x?xi64>
}

// -----

func.func @int_weight_without_scales(%x: tensor<1x2xf32>, %w: tensor<2x2xi8>) -> tensor<1x2xf32> {
  // expected-error @+1 {{'llm.linear' op an integer weight needs weight_scales}}
  %0 = llm.linear %x, %w : (tensor<1x2xf32>, tensor<2x2xi8>) -> tensor<1x2xf32>
  return %0 : tensor<1x2xf32>
}

// -----

func.func @scales_on_float_weight(%x: tensor<1x2xf32>, %w: tensor<2x2xf32>) -> tensor<1x2xf32> {
  // expected-error @+1 {{'llm.linear' op weight_scales needs an integer (quantized) weight}}
  %0 = llm.linear %x, %w {weight_scales = dense<1.0> : tensor<2xf32>} : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  return %0 : tensor<1x2xf32>
}

// -----

func.func @scales_per_channel(%x: tensor<1x2xf32>, %w: tensor<2x3xi8>) -> tensor<1x3xf32> {
  // expected-error @+1 {{'llm.linear' op weight_scales must be f32 [3] (one per output channel), got 'tensor<2xf32>'}}
  %0 = llm.linear %x, %w {weight_scales = dense<1.0> : tensor<2xf32>} : (tensor<1x2xf32>, tensor<2x3xi8>) -> tensor<1x3xf32>
  return %0 : tensor<1x3xf32>
}

// -----

func.func @input_scale_positive(%x: tensor<1x2xf32>, %w: tensor<2x2xi8>) -> tensor<1x2xf32> {
  // expected-error @+1 {{'llm.linear' op input_scale must be positive}}
  %0 = llm.linear %x, %w {input_scale = 0.0 : f32, weight_scales = dense<1.0> : tensor<2xf32>} : (tensor<1x2xf32>, tensor<2x2xi8>) -> tensor<1x2xf32>
  return %0 : tensor<1x2xf32>
}

// -----

func.func @input_scale_needs_quantized_weight(%x: tensor<1x2xf32>, %w: tensor<2x2xf32>) -> tensor<1x2xf32> {
  // expected-error @+1 {{'llm.logits' op input_scale needs a quantized weight}}
  %0 = llm.logits %x, %w {input_scale = 1.0 : f32} : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  return %0 : tensor<1x2xf32>
}
