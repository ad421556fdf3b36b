module {
  func.func @forward(%ids: tensor<?x?xi64>) -> tensor<?x?x16xf32> {
    %t = llm.weight "t" = dense<1.0> : tensor<16x4xf32>
    return %t : tensor<?x?x16xf32>
  }
}
