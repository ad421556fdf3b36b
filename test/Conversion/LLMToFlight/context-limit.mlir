// A context the ISA cannot address (no llm.max_positions caps it here).
// RUN: flightllm-opt %s --convert-llm-to-flight="max-context=20000" --verify-diagnostics

// expected-error @below {{context 20000 is beyond the ISA's limits}}
func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x4xf32>
  %e = llm.embedding %t, %ids : (tensor<8x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
  %wq = llm.weight "wq" = dense<0.5> : tensor<4x4xf32>
  %q = llm.linear %e, %wq : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  %o, %pk, %pv = llm.attention %q, %q, %q {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> (tensor<1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
  %r = llm.add %e, %o : tensor<1x?x4xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<4x8xf32>
  %l = llm.logits %r, %wh : (tensor<1x?x4xf32>, tensor<4x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}
