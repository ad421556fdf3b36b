// RUN: flightllm-opt %s --convert-llm-to-flight="max-context=4096" --verify-diagnostics
// A 4-bit KV cache loads a bucket's rows with one LD iteration per token
// (LD row_align, loop1 at most 4095): longer contexts are refused.

// expected-error @below {{context 4096 (4096 cache rows) is beyond the 4095 tokens one LD moves of a 4-bit KV cache}}
func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x8xf32>
  %e = llm.embedding %t, %ids : (tensor<8x8xf32>, tensor<1x?xi64>) -> tensor<1x?x8xf32>
  %o, %pk2, %pv2 = llm.attention %e, %e, %e {causal = true, kv_bits = 4 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x8xf32>, tensor<1x?x8xf32>, tensor<1x?x8xf32>) -> (tensor<1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>)
  %r = llm.add %e, %o : tensor<1x?x8xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<8x8xf32>
  %l = llm.logits %r, %wh : (tensor<1x?x8xf32>, tensor<8x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}
