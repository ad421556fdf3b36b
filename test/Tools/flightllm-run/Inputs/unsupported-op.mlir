// An onnx op left in an llm program.
module {
  func.func @forward(%ids: tensor<?x?xi64>, %pk: tensor<?x1x?x4xf32>, %pv: tensor<?x1x?x4xf32>)
      -> (tensor<?x?x16xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>) {
    %t = llm.weight "t" = dense<1.0> : tensor<16x4xf32>
    %h = llm.embedding %t, %ids : (tensor<16x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
    %r = "onnx.Relu"(%h) : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32>
    %l = llm.logits %r, %t {transpose_weight = true} : (tensor<?x?x4xf32>, tensor<16x4xf32>) -> tensor<?x?x16xf32>
    return %l, %pk, %pv : tensor<?x?x16xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>
  }
}
