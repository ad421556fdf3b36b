// RUN: flightllm-opt %s --convert-llm-to-flight --split-input-file --verify-diagnostics
// The same errors from the pipeline's first pass.
// RUN: flightllm-opt %s --flight-select-instructions --split-input-file --verify-diagnostics

// expected-error @below {{the program has no llm.attention: not a decoder}}
func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x4xf32>
  %e = llm.embedding %t, %ids : (tensor<8x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
  %w = llm.weight "head" = dense<1.0> : tensor<4x8xf32>
  %l = llm.logits %e, %w : (tensor<1x?x4xf32>, tensor<4x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}

// -----

func.func @forward(%ids: tensor<1x?xi64>, %pk: tensor<1x1x?x4xf32>, %pv: tensor<1x1x?x4xf32>) -> (tensor<1x?x8xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>) {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x4xf32>
  %e = llm.embedding %t, %ids : (tensor<8x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
  %wq = llm.weight "wq" = dense<0.5> : tensor<4x4xf32>
  %q = llm.linear %e, %wq : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  // expected-error @below {{attention has no calibrated KV-cache scales (k_scales/v_scales): compile with --calibration=FILE, or --calibration=none to use a fixed range}}
  %o, %pk2, %pv2 = llm.attention %q, %q, %q past(%pk, %pv) {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>) -> (tensor<1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
  %r = llm.add %e, %o : tensor<1x?x4xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<4x8xf32>
  %l = llm.logits %r, %wh : (tensor<1x?x4xf32>, tensor<4x8xf32>) -> tensor<1x?x8xf32>
  return %l, %pk2, %pv2 : tensor<1x?x8xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>
}

// -----

func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x4xf32>
  %e = llm.embedding %t, %ids : (tensor<8x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
  %wq = llm.weight "wq" = dense<0.5> : tensor<4x4xf32>
  %q = llm.linear %e, %wq : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  // expected-error @below {{only causal attention is supported}}
  %o, %pk2, %pv2 = llm.attention %q, %q, %q {causal = false, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> (tensor<1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
  %r = llm.add %e, %o : tensor<1x?x4xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<4x8xf32>
  %l = llm.logits %r, %wh : (tensor<1x?x4xf32>, tensor<4x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}

// -----

func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x4xf32>
  %e = llm.embedding %t, %ids : (tensor<8x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
  %wq = llm.weight "wq" = dense<0.5> : tensor<4x4xf32>
  %q = llm.linear %e, %wq : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  %o, %pk2, %pv2 = llm.attention %q, %q, %q {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> (tensor<1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
  %r = llm.add %e, %o : tensor<1x?x4xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<4x8xf32>
  // expected-error @below {{the program must end with llm.logits}}
  %l = llm.linear %r, %wh : (tensor<1x?x4xf32>, tensor<4x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}

// -----

// expected-error @below {{the accelerator runs batch 1}}
func.func @forward(%ids: tensor<2x?xi64>) -> tensor<2x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x4xf32>
  %e = llm.embedding %t, %ids : (tensor<8x4xf32>, tensor<2x?xi64>) -> tensor<2x?x4xf32>
  %wq = llm.weight "wq" = dense<0.5> : tensor<4x4xf32>
  %q = llm.linear %e, %wq : (tensor<2x?x4xf32>, tensor<4x4xf32>) -> tensor<2x?x4xf32>
  %o, %pk2, %pv2 = llm.attention %q, %q, %q {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<2x?x4xf32>, tensor<2x?x4xf32>, tensor<2x?x4xf32>) -> (tensor<2x?x4xf32>, tensor<2x1x?x4xf32>, tensor<2x1x?x4xf32>)
  %r = llm.add %e, %o : tensor<2x?x4xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<4x8xf32>
  %l = llm.logits %r, %wh : (tensor<2x?x4xf32>, tensor<4x8xf32>) -> tensor<2x?x8xf32>
  return %l : tensor<2x?x8xf32>
}

// -----

// expected-error @below {{the program does not start with a token embedding}}
func.func @forward(%x: tensor<1x?x4xf32>) -> tensor<1x?x8xf32> {
  %wh = llm.weight "head" = dense<1.0> : tensor<4x8xf32>
  %l = llm.logits %x, %wh : (tensor<1x?x4xf32>, tensor<4x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}

// -----

// Two layers that differ in an attribute cannot share one instruction body.
func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x4xf32>
  %e = llm.embedding %t, %ids : (tensor<8x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
  %wq = llm.weight "wq" = dense<0.5> : tensor<4x4xf32>
  %q = llm.linear %e, %wq : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  %o, %pk, %pv = llm.attention %q, %q, %q {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> (tensor<1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
  %r = llm.add %e, %o : tensor<1x?x4xf32>
  %q1 = llm.linear %r, %wq : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  // expected-error @below {{decoder layer 1 differs from layer 0 at its op 1 ('llm.attention'): the accelerator shares one instruction sequence between layers that differ at most in their weight formats}}
  %o1, %pk1, %pv1 = llm.attention %q1, %q1, %q1 {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.25 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> (tensor<1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
  %r1 = llm.add %r, %o1 : tensor<1x?x4xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<4x8xf32>
  %l = llm.logits %r1, %wh : (tensor<1x?x4xf32>, tensor<4x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}
