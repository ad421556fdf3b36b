// An onnx-dialect module, not an llm program.
module {
  func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
    %y = "onnx.Relu"(%x) : (tensor<2xf32>) -> tensor<2xf32>
    return %y : tensor<2xf32>
  }
}
