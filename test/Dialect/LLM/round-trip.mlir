// RUN: flightllm-opt %s | flightllm-opt | FileCheck %s
// RUN: flightllm-opt %s -mlir-print-op-generic | flightllm-opt | FileCheck %s

// CHECK-LABEL: func @weight_dense
func.func @weight_dense() -> tensor<4x8xf32> {
  // CHECK: llm.weight "model.embed_tokens.weight" = dense<1.000000e+00> : tensor<4x8xf32>
  %w = llm.weight "model.embed_tokens.weight" = dense<1.0> : tensor<4x8xf32>
  return %w : tensor<4x8xf32>
}

// CHECK-LABEL: func @weight_resource_int
func.func @weight_resource_int() -> tensor<2xi8> {
  // CHECK: llm.weight "q_proj.qweight" = dense_resource<q_blob> : tensor<2xi8>
  %w = llm.weight "q_proj.qweight" = dense_resource<q_blob> : tensor<2xi8>
  return %w : tensor<2xi8>
}

// CHECK-LABEL: func @embedding
func.func @embedding(%table: tensor<100x16xf16>, %ids: tensor<2x?xi64>) -> tensor<2x?x16xf16> {
  // CHECK: llm.embedding %{{.*}}, %{{.*}} : (tensor<100x16xf16>, tensor<2x?xi64>) -> tensor<2x?x16xf16>
  %0 = llm.embedding %table, %ids : (tensor<100x16xf16>, tensor<2x?xi64>) -> tensor<2x?x16xf16>
  return %0 : tensor<2x?x16xf16>
}

// CHECK-LABEL: func @embedding_rank1_ids
func.func @embedding_rank1_ids(%table: tensor<?x16xf32>, %ids: tensor<5xi32>) -> tensor<5x16xf32> {
  // CHECK: llm.embedding %{{.*}}, %{{.*}} : (tensor<?x16xf32>, tensor<5xi32>) -> tensor<5x16xf32>
  %0 = llm.embedding %table, %ids : (tensor<?x16xf32>, tensor<5xi32>) -> tensor<5x16xf32>
  return %0 : tensor<5x16xf32>
}

// CHECK-LABEL: func @linear
func.func @linear(%x: tensor<1x?x64xf32>, %w: tensor<64x256xf32>) -> tensor<1x?x256xf32> {
  // CHECK: llm.linear %{{.*}}, %{{.*}} : (tensor<1x?x64xf32>, tensor<64x256xf32>) -> tensor<1x?x256xf32>
  %0 = llm.linear %x, %w : (tensor<1x?x64xf32>, tensor<64x256xf32>) -> tensor<1x?x256xf32>
  return %0 : tensor<1x?x256xf32>
}

// The default transpose_weight = false is elided when printing.
// CHECK-LABEL: func @linear_explicit_default
func.func @linear_explicit_default(%x: tensor<3x64xf32>, %w: tensor<64x8xf32>) -> tensor<3x8xf32> {
  // CHECK: llm.linear %{{.*}}, %{{.*}} : (tensor<3x64xf32>, tensor<64x8xf32>) -> tensor<3x8xf32>
  %0 = llm.linear %x, %w {transpose_weight = false} : (tensor<3x64xf32>, tensor<64x8xf32>) -> tensor<3x8xf32>
  return %0 : tensor<3x8xf32>
}

// CHECK-LABEL: func @linear_transposed_bias
func.func @linear_transposed_bias(%x: tensor<1x?x64xbf16>, %w: tensor<256x64xbf16>, %b: tensor<256xbf16>) -> tensor<1x?x256xbf16> {
  // CHECK: llm.linear %{{.*}}, %{{.*}}, %{{.*}} {transpose_weight = true} : (tensor<1x?x64xbf16>, tensor<256x64xbf16>, tensor<256xbf16>) -> tensor<1x?x256xbf16>
  %0 = llm.linear %x, %w, %b {transpose_weight = true} : (tensor<1x?x64xbf16>, tensor<256x64xbf16>, tensor<256xbf16>) -> tensor<1x?x256xbf16>
  return %0 : tensor<1x?x256xbf16>
}

// Quantized weights keep the activation's element type in the result.
// CHECK-LABEL: func @linear_int_weight_dynamic
func.func @linear_int_weight_dynamic(%x: tensor<?x?x?xf16>, %w: tensor<?x?xi8>) -> tensor<?x?x?xf16> {
  // CHECK: llm.linear %{{.*}}, %{{.*}} {input_scale = 5.000000e-01 : f32, weight_scales = dense<2.500000e-01> : tensor<4xf32>} : (tensor<?x?x?xf16>, tensor<?x?xi8>) -> tensor<?x?x?xf16>
  %0 = llm.linear %x, %w {input_scale = 0.5 : f32, weight_scales = dense<0.25> : tensor<4xf32>} : (tensor<?x?x?xf16>, tensor<?x?xi8>) -> tensor<?x?x?xf16>
  return %0 : tensor<?x?x?xf16>
}

// CHECK-LABEL: func @logits
func.func @logits(%x: tensor<1x?x64xf32>, %w: tensor<64x1000xf32>) -> tensor<1x?x1000xf32> {
  // CHECK: llm.logits %{{.*}}, %{{.*}} : (tensor<1x?x64xf32>, tensor<64x1000xf32>) -> tensor<1x?x1000xf32>
  %0 = llm.logits %x, %w : (tensor<1x?x64xf32>, tensor<64x1000xf32>) -> tensor<1x?x1000xf32>
  return %0 : tensor<1x?x1000xf32>
}

// Tied embeddings: the [V, D] table is the head's weight, transposed.
// CHECK-LABEL: func @logits_tied
func.func @logits_tied(%x: tensor<1x1x64xf32>, %table: tensor<1000x64xf32>) -> tensor<1x1x1000xf32> {
  // CHECK: llm.logits %{{.*}}, %{{.*}} {transpose_weight = true} : (tensor<1x1x64xf32>, tensor<1000x64xf32>) -> tensor<1x1x1000xf32>
  %0 = llm.logits %x, %table {transpose_weight = true} : (tensor<1x1x64xf32>, tensor<1000x64xf32>) -> tensor<1x1x1000xf32>
  return %0 : tensor<1x1x1000xf32>
}

// CHECK-LABEL: func @layer_norm
func.func @layer_norm(%x: tensor<1x?x64xf32>, %g: tensor<64xf32>, %b: tensor<64xf32>) -> tensor<1x?x64xf32> {
  // CHECK: llm.layer_norm %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32} : (tensor<1x?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<1x?x64xf32>
  %0 = llm.layer_norm %x, %g, %b {epsilon = 1.0e-05 : f32} : (tensor<1x?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<1x?x64xf32>
  return %0 : tensor<1x?x64xf32>
}

// CHECK-LABEL: func @layer_norm_no_beta
func.func @layer_norm_no_beta(%x: tensor<?x?x?xf16>, %g: tensor<?xf16>) -> tensor<?x?x?xf16> {
  // CHECK: llm.layer_norm %{{.*}}, %{{.*}} {epsilon = 0.000000e+00 : f32} : (tensor<?x?x?xf16>, tensor<?xf16>) -> tensor<?x?x?xf16>
  %0 = llm.layer_norm %x, %g {epsilon = 0.0 : f32} : (tensor<?x?x?xf16>, tensor<?xf16>) -> tensor<?x?x?xf16>
  return %0 : tensor<?x?x?xf16>
}

// CHECK-LABEL: func @rms_norm
func.func @rms_norm(%x: tensor<1x?x64xbf16>, %g: tensor<64xbf16>) -> tensor<1x?x64xbf16> {
  // CHECK: llm.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.99999997E-7 : f32} : (tensor<1x?x64xbf16>, tensor<64xbf16>) -> tensor<1x?x64xbf16>
  %0 = llm.rms_norm %x, %g {epsilon = 1.0e-06 : f32} : (tensor<1x?x64xbf16>, tensor<64xbf16>) -> tensor<1x?x64xbf16>
  return %0 : tensor<1x?x64xbf16>
}

// CHECK-LABEL: func @rope_rotate_half
func.func @rope_rotate_half(%x: tensor<1x?x64xf32>, %cos: tensor<2048x16xf32>, %sin: tensor<2048x16xf32>, %pos: tensor<1x?xi64>) -> tensor<1x?x64xf32> {
  // CHECK: llm.rope rotate_half %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {num_heads = 4 : i64} : (tensor<1x?x64xf32>, tensor<2048x16xf32>, tensor<2048x16xf32>, tensor<1x?xi64>) -> tensor<1x?x64xf32>
  %0 = llm.rope rotate_half %x, %cos, %sin, %pos {num_heads = 4 : i64} : (tensor<1x?x64xf32>, tensor<2048x16xf32>, tensor<2048x16xf32>, tensor<1x?xi64>) -> tensor<1x?x64xf32>
  return %0 : tensor<1x?x64xf32>
}

// Positions shared by the batch; tables in f32 under f16 activations.
// CHECK-LABEL: func @rope_interleaved
func.func @rope_interleaved(%x: tensor<2x?x?xf16>, %cos: tensor<?x8xf32>, %sin: tensor<?x8xf32>, %pos: tensor<?xi32>) -> tensor<2x?x?xf16> {
  // CHECK: llm.rope interleaved %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {num_heads = 2 : i64} : (tensor<2x?x?xf16>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?xi32>) -> tensor<2x?x?xf16>
  %0 = llm.rope interleaved %x, %cos, %sin, %pos {num_heads = 2 : i64} : (tensor<2x?x?xf16>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?xi32>) -> tensor<2x?x?xf16>
  return %0 : tensor<2x?x?xf16>
}

// Prefill: no cache in, the present cache holds just the new tokens.
// CHECK-LABEL: func @attention_prefill
func.func @attention_prefill(%q: tensor<1x7x64xf32>, %k: tensor<1x7x64xf32>, %v: tensor<1x7x64xf32>) -> (tensor<1x7x64xf32>, tensor<1x4x7x16xf32>, tensor<1x4x7x16xf32>) {
  // CHECK: llm.attention %{{.*}}, %{{.*}}, %{{.*}} {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<1x7x64xf32>, tensor<1x7x64xf32>, tensor<1x7x64xf32>) -> (tensor<1x7x64xf32>, tensor<1x4x7x16xf32>, tensor<1x4x7x16xf32>)
  %o, %pk, %pv = llm.attention %q, %k, %v {causal = true, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f32} : (tensor<1x7x64xf32>, tensor<1x7x64xf32>, tensor<1x7x64xf32>) -> (tensor<1x7x64xf32>, tensor<1x4x7x16xf32>, tensor<1x4x7x16xf32>)
  return %o, %pk, %pv : tensor<1x7x64xf32>, tensor<1x4x7x16xf32>, tensor<1x4x7x16xf32>
}

// Decode with grouped-query heads: 8 query heads share 2 key/value heads;
// the cache grows from 5 to 6.
// CHECK-LABEL: func @attention_decode_gqa
func.func @attention_decode_gqa(%q: tensor<1x1x128xf16>, %k: tensor<1x1x32xf16>, %v: tensor<1x1x32xf16>, %past_k: tensor<1x2x5x16xf16>, %past_v: tensor<1x2x5x16xf16>) -> (tensor<1x1x128xf16>, tensor<1x2x6x16xf16>, tensor<1x2x6x16xf16>) {
  // CHECK: llm.attention %{{.*}}, %{{.*}}, %{{.*}} past(%{{.*}}, %{{.*}}) {causal = true, num_heads = 8 : i64, num_kv_heads = 2 : i64, scale = 2.500000e-01 : f32} : (tensor<1x1x128xf16>, tensor<1x1x32xf16>, tensor<1x1x32xf16>, tensor<1x2x5x16xf16>, tensor<1x2x5x16xf16>) -> (tensor<1x1x128xf16>, tensor<1x2x6x16xf16>, tensor<1x2x6x16xf16>)
  %o, %pk, %pv = llm.attention %q, %k, %v past(%past_k, %past_v) {causal = true, num_heads = 8 : i64, num_kv_heads = 2 : i64, scale = 0.25 : f32} : (tensor<1x1x128xf16>, tensor<1x1x32xf16>, tensor<1x1x32xf16>, tensor<1x2x5x16xf16>, tensor<1x2x5x16xf16>) -> (tensor<1x1x128xf16>, tensor<1x2x6x16xf16>, tensor<1x2x6x16xf16>)
  return %o, %pk, %pv : tensor<1x1x128xf16>, tensor<1x2x6x16xf16>, tensor<1x2x6x16xf16>
}

// Dynamic new-token count and past length, not causal.
// CHECK-LABEL: func @attention_dynamic
func.func @attention_dynamic(%q: tensor<?x?x64xf32>, %k: tensor<?x?x64xf32>, %v: tensor<?x?x64xf32>, %past_k: tensor<?x4x?x16xf32>, %past_v: tensor<?x4x?x16xf32>) -> (tensor<?x?x64xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) {
  // CHECK: llm.attention %{{.*}}, %{{.*}}, %{{.*}} past(%{{.*}}, %{{.*}}) {causal = false, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 1.000000e+00 : f32} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> (tensor<?x?x64xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>)
  %o, %pk, %pv = llm.attention %q, %k, %v past(%past_k, %past_v) {causal = false, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 1.0 : f32} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> (tensor<?x?x64xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>)
  return %o, %pk, %pv : tensor<?x?x64xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>
}

// CHECK-LABEL: func @activations
func.func @activations(%x: tensor<1x?x64xf32>) -> tensor<1x?x64xf32> {
  // CHECK: %[[A:.*]] = llm.gelu %{{.*}} : tensor<1x?x64xf32>
  // CHECK: %[[B:.*]] = llm.gelu_tanh %[[A]] : tensor<1x?x64xf32>
  // CHECK: %[[C:.*]] = llm.silu %[[B]] : tensor<1x?x64xf32>
  // CHECK: llm.relu %[[C]] : tensor<1x?x64xf32>
  %0 = llm.gelu %x : tensor<1x?x64xf32>
  %1 = llm.gelu_tanh %0 : tensor<1x?x64xf32>
  %2 = llm.silu %1 : tensor<1x?x64xf32>
  %3 = llm.relu %2 : tensor<1x?x64xf32>
  return %3 : tensor<1x?x64xf32>
}

// CHECK-LABEL: func @swiglu
func.func @swiglu(%gate: tensor<1x?x256xbf16>, %up: tensor<1x?x256xbf16>) -> tensor<1x?x256xbf16> {
  // CHECK: llm.swiglu %{{.*}}, %{{.*}} : tensor<1x?x256xbf16>
  %0 = llm.swiglu %gate, %up : tensor<1x?x256xbf16>
  return %0 : tensor<1x?x256xbf16>
}

// CHECK-LABEL: func @add_mul
func.func @add_mul(%a: tensor<2x3xf16>, %b: tensor<2x3xf16>) -> tensor<2x3xf16> {
  // CHECK: %[[S:.*]] = llm.add %{{.*}}, %{{.*}} : tensor<2x3xf16>
  // CHECK: llm.mul %[[S]], %{{.*}} : tensor<2x3xf16>
  %0 = llm.add %a, %b : tensor<2x3xf16>
  %1 = llm.mul %0, %b : tensor<2x3xf16>
  return %1 : tensor<2x3xf16>
}

{-#
  dialect_resources: {
    builtin: {
      q_blob: "0x04000000017F"
    }
  }
#-}

// CHECK-LABEL: func @position_ids
// CHECK: llm.position_ids %{{.*}}, %{{.*}} : (tensor<1x?xi64>, tensor<1x2x?x8xf32>) -> tensor<1x?xi64>
// CHECK: llm.position_ids %{{.*}}, %{{.*}} {offset = 2 : i64}
func.func @position_ids(%ids: tensor<1x?xi64>, %pk: tensor<1x2x?x8xf32>) -> (tensor<1x?xi64>, tensor<1x?xi64>) {
  %0 = llm.position_ids %ids, %pk : (tensor<1x?xi64>, tensor<1x2x?x8xf32>) -> tensor<1x?xi64>
  %1 = llm.position_ids %ids, %pk {offset = 2 : i64} : (tensor<1x?xi64>, tensor<1x2x?x8xf32>) -> tensor<1x?xi64>
  return %0, %1 : tensor<1x?xi64>, tensor<1x?xi64>
}
