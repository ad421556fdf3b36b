// The present key comes before the logits.
module {
  func.func @forward(%ids: tensor<?x?xi64> {llm.name = "input_ids"},
                     %pk: tensor<?x1x?x4xf32> {llm.name = "past_key_values.0.key"},
                     %pv: tensor<?x1x?x4xf32> {llm.name = "past_key_values.0.value"})
      -> (tensor<?x1x?x4xf32> {llm.name = "present.0.key"},
          tensor<?x?x16xf32> {llm.name = "logits"},
          tensor<?x1x?x4xf32> {llm.name = "present.0.value"}) {
    %t = llm.weight "t" = dense<1.0> : tensor<16x4xf32>
    %h = llm.embedding %t, %ids : (tensor<16x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
    %l = llm.logits %h, %t {transpose_weight = true} : (tensor<?x?x4xf32>, tensor<16x4xf32>) -> tensor<?x?x16xf32>
    return %pk, %l, %pv : tensor<?x1x?x4xf32>, tensor<?x?x16xf32>, tensor<?x1x?x4xf32>
  }
}
