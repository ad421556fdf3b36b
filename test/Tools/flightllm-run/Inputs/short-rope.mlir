// No llm.max_positions, and rotary tables of only 4 rows: the fifth position
// is an error of the rope op at run time.
module {
  func.func @forward(%ids: tensor<?x?xi64>, %pk: tensor<?x1x?x4xf32>, %pv: tensor<?x1x?x4xf32>)
      -> (tensor<?x?x16xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>) {
    %t = llm.weight "t" = dense<0.5> : tensor<16x4xf32>
    %c = llm.weight "cos" = dense<1.0> : tensor<4x4xf32>
    %s = llm.weight "sin" = dense<0.0> : tensor<4x4xf32>
    %h = llm.embedding %t, %ids : (tensor<16x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
    %p = llm.position_ids %ids, %pk : (tensor<?x?xi64>, tensor<?x1x?x4xf32>) -> tensor<?x?xi64>
    %q = llm.rope rotate_half %h, %c, %s, %p {num_heads = 1 : i64} : (tensor<?x?x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
    %o, %nk, %nv = llm.attention %q, %q, %h past(%pk, %pv) {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 5.000000e-01 : f32} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>)
    %l = llm.logits %o, %t {transpose_weight = true} : (tensor<?x?x4xf32>, tensor<16x4xf32>) -> tensor<?x?x16xf32>
    return %l, %nk, %nv : tensor<?x?x16xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>
  }
}
