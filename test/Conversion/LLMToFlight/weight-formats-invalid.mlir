// RUN: flightllm-opt %s --convert-llm-to-flight --split-input-file --verify-diagnostics
// Weight formats the accelerator cannot encode: one error each, at
// the op (docs/execution-model.md, "Compressed B operand").

// Groups must be whole K blocks of 16.
func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x8xf32>
  %e = llm.embedding %t, %ids : (tensor<8x8xf32>, tensor<1x?xi64>) -> tensor<1x?x8xf32>
  %wq = llm.weight "wq" = dense<1> : tensor<8x8xi8>
  // expected-error @below {{group size 8 is not a multiple of the accelerator's K block (16): the DSP chain scales whole blocks}}
  %q = llm.linear %e, %wq {weight_bits = 4 : i64, group_size = 8 : i64, weight_scales = dense<0.1> : tensor<8x1xf32>} : (tensor<1x?x8xf32>, tensor<8x8xi8>) -> tensor<1x?x8xf32>
  %o, %pk2, %pv2 = llm.attention %q, %q, %q {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x8xf32>, tensor<1x?x8xf32>, tensor<1x?x8xf32>) -> (tensor<1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>)
  %r = llm.add %e, %o : tensor<1x?x8xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<8x8xf32>
  %l = llm.logits %r, %wh : (tensor<1x?x8xf32>, tensor<8x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}

// -----

// N:M sparsity runs on blocks of 16: M must divide 16 or be a multiple of it.
func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x24xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x24xf32>
  %e = llm.embedding %t, %ids : (tensor<8x24xf32>, tensor<1x?xi64>) -> tensor<1x?x24xf32>
  %wq = llm.weight "wq" = dense<0> : tensor<24x24xi8>
  // expected-error @below {{sparsity 1:12 does not map onto the accelerator's N:16 blocks (M must divide 16 or be a multiple of 16)}}
  %q = llm.linear %e, %wq {sparsity = array<i64: 1, 12>, weight_scales = dense<0.1> : tensor<24xf32>} : (tensor<1x?x24xf32>, tensor<24x24xi8>) -> tensor<1x?x24xf32>
  %o, %pk2, %pv2 = llm.attention %q, %q, %q {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x24xf32>, tensor<1x?x24xf32>, tensor<1x?x24xf32>) -> (tensor<1x?x24xf32>, tensor<1x1x?x24xf32>, tensor<1x1x?x24xf32>)
  %r = llm.add %e, %o : tensor<1x?x24xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<24x24xf32>
  %l = llm.logits %r, %wh : (tensor<1x?x24xf32>, tensor<24x24xf32>) -> tensor<1x?x24xf32>
  return %l : tensor<1x?x24xf32>
}
