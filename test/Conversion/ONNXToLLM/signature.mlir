// RUN: flightllm-opt %s -split-input-file -llm-raise-signature -verify-diagnostics | FileCheck %s

// A prefill graph gets the past arguments of the program signature; their
// head count and size are probed from the presents when the types lack them.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%{{.*}}: tensor<?x?xi64> {llm.name = "input_ids"},
// CHECK-SAME: %{{.*}}: tensor<?x2x?x8xf32> {llm.name = "past_key_values.0.key"},
// CHECK-SAME: %{{.*}}: tensor<?x2x?x8xf32> {llm.name = "past_key_values.0.value"})
// CHECK-SAME: -> (tensor<?x?x16xf32> {llm.name = "logits"}, tensor<?x?x?x?xf32> {llm.name = "present.0.key"}, tensor<?x?x?x?xf32> {llm.name = "present.0.value"})
// CHECK-NOT: llm.graph_has_past
func.func @main(%ids: tensor<?x?xi64> {onnx.name = "input_ids"})
    -> (tensor<?x?x16xf32> {onnx.name = "logits"},
        tensor<?x?x?x?xf32> {onnx.name = "present.0.key"},
        tensor<?x?x?x?xf32> {onnx.name = "present.0.value"}) {
  %table = "onnx.Constant"() <{value = dense<1.0> : tensor<4x16xf32>}> : () -> tensor<4x16xf32>
  %h = "onnx.Gather"(%table, %ids) <{axis = 0 : i64}> : (tensor<4x16xf32>, tensor<?x?xi64>) -> tensor<?x?x16xf32>
  %shape = "onnx.Constant"() <{value = dense<[0, 0, 2, 8]> : tensor<4xi64>}> : () -> tensor<4xi64>
  %r = "onnx.Reshape"(%h, %shape) <{allowzero = 0 : i64}> : (tensor<?x?x16xf32>, tensor<4xi64>) -> tensor<*xf32>
  %k = "onnx.Transpose"(%r) <{perm = array<i64: 0, 2, 1, 3>}> : (tensor<*xf32>) -> tensor<?x?x?x?xf32>
  return %h, %k, %k : tensor<?x?x16xf32>, tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>
}

// -----

// A decoder-with-past graph keeps its arguments and is marked as reading them.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: {llm.name = "past_key_values.0.key"}
// CHECK-SAME: attributes {llm.graph_has_past}
func.func @main(%ids: tensor<?x?xi64> {onnx.name = "input_ids"},
                %pk: tensor<?x2x?x8xf32> {onnx.name = "past_key_values.0.key"},
                %pv: tensor<?x2x?x8xf32> {onnx.name = "past_key_values.0.value"})
    -> (tensor<?x?x16xf32> {onnx.name = "logits"},
        tensor<?x2x?x8xf32> {onnx.name = "present.0.key"},
        tensor<?x2x?x8xf32> {onnx.name = "present.0.value"}) {
  %table = "onnx.Constant"() <{value = dense<1.0> : tensor<4x16xf32>}> : () -> tensor<4x16xf32>
  %h = "onnx.Gather"(%table, %ids) <{axis = 0 : i64}> : (tensor<4x16xf32>, tensor<?x?xi64>) -> tensor<?x?x16xf32>
  return %h, %pk, %pv : tensor<?x?x16xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>
}

// -----

// attention_mask and position_ids (optimum's order: before the caches) are
// replaced by their values for one unpadded sequence, computed from the
// sizes: ones [B, P + S] and P + s, P from the first past key.
// CHECK-LABEL: module attributes {llm.assumed_inputs = {attention_mask = "ones [batch, past + new tokens]", position_ids = "past + s for new token s"}}
// CHECK: func.func @forward(%[[IDS:[a-z0-9]*]]: tensor<?x?xi64> {llm.name = "input_ids"}, %[[PK:[a-z0-9]*]]: tensor<?x2x?x8xf32> {llm.name = "past_key_values.0.key"}, %{{[a-z0-9]*}}: tensor<?x2x?x8xf32> {llm.name = "past_key_values.0.value"})
// CHECK-DAG: %[[B:.*]] = "onnx.Shape"(%[[IDS]]) <{end = 1 : i64, start = 0 : i64}>
// CHECK-DAG: %[[S:.*]] = "onnx.Shape"(%[[IDS]]) <{end = 2 : i64, start = 1 : i64}>
// CHECK-DAG: %[[P:.*]] = "onnx.Shape"(%[[PK]]) <{end = 3 : i64, start = 2 : i64}>
// CHECK-DAG: %[[T:.*]] = "onnx.Add"(%[[P]], %[[S]])
// CHECK-DAG: %[[SHAPE:.*]] = "onnx.Concat"(%[[B]], %[[T]])
// CHECK-DAG: %[[MASK:.*]] = "onnx.ConstantOfShape"(%[[SHAPE]]) <{value = dense<1> : tensor<1xi64>}> : (tensor<2xi64>) -> tensor<?x?xi64>
// CHECK-DAG: %[[POS:.*]] = "onnx.Range"
// CHECK-DAG: "onnx.Expand"
// CHECK: return %[[MASK]], %{{.*}}, %{{.*}}
func.func @main(%ids: tensor<?x?xi64> {onnx.name = "input_ids"},
                %mask: tensor<?x?xi64> {onnx.name = "attention_mask"},
                %pos: tensor<?x?xi64> {onnx.name = "position_ids"},
                %pk: tensor<?x2x?x8xf32> {onnx.name = "past_key_values.0.key"},
                %pv: tensor<?x2x?x8xf32> {onnx.name = "past_key_values.0.value"})
    -> (tensor<?x?xi64> {onnx.name = "logits"},
        tensor<?x2x?x8xf32> {onnx.name = "present.0.key"},
        tensor<?x2x?x8xf32> {onnx.name = "present.0.value"}) {
  return %mask, %pk, %pv : tensor<?x?xi64>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>
}

// -----

func.func @main(%ids: tensor<?x?xi64> {onnx.name = "input_ids"},
                // expected-error @+1 {{model input 'attention_mask' has type 'tensor<?x?x?xi64>', expected a ranked [batch, length] tensor}}
                %mask: tensor<?x?x?xi64> {onnx.name = "attention_mask"}) {
  return
}

// -----

func.func @main(%ids: tensor<?x?xi64> {onnx.name = "input_ids"},
                // expected-error @+1 {{unsupported model input 'token_type_ids': the llm program takes input_ids and past_key_values.N.key/value (attention_mask, position_ids and cache_position are assumed for one unpadded sequence)}}
                %types: tensor<?x?xi64> {onnx.name = "token_type_ids"}) {
  return
}

// -----

// expected-error @+1 {{model output 'present.0.key' is at position 0, expected 1}}
func.func @main(%ids: tensor<?x?xi64> {onnx.name = "input_ids"},
                %pk: tensor<?x2x?x8xf32> {onnx.name = "past_key_values.0.key"},
                %pv: tensor<?x2x?x8xf32> {onnx.name = "past_key_values.0.value"})
    -> (tensor<?x2x?x8xf32> {onnx.name = "present.0.key"}) {
  return %pk : tensor<?x2x?x8xf32>
}

// -----

func.func @main(%ids: tensor<?x?xi64> {onnx.name = "input_ids"},
                // expected-error @+1 {{model input 'past_key_values.0.value' is at position 1, expected 2}}
                %pv: tensor<?x2x?x8xf32> {onnx.name = "past_key_values.0.value"}) {
  return
}

// -----

// expected-error @+1 {{unsupported model output 'hidden_states': the llm program returns logits and present.N.key/value only}}
func.func @main(%ids: tensor<?x?xi64> {onnx.name = "input_ids"})
    -> (tensor<?x?xi64> {onnx.name = "hidden_states"}) {
  return %ids : tensor<?x?xi64>
}

// -----

// expected-error @+1 {{expected present.N.key/value outputs for every layer}}
func.func @main(%ids: tensor<?x?xi64> {onnx.name = "input_ids"})
    -> (tensor<?x?xi64> {onnx.name = "logits"}) {
  return %ids : tensor<?x?xi64>
}

// -----

// expected-error @+1 {{present output 0 must be [batch, kv_heads, length, head_dim] with static heads and head size, got 'tensor<?x?x16xf32>'}}
func.func @main(%ids: tensor<?x?xi64> {onnx.name = "input_ids"})
    -> (tensor<?x?x16xf32> {onnx.name = "logits"},
        tensor<?x?x16xf32> {onnx.name = "present.0.key"},
        tensor<?x?x16xf32> {onnx.name = "present.0.value"}) {
  %table = "onnx.Constant"() <{value = dense<1.0> : tensor<4x16xf32>}> : () -> tensor<4x16xf32>
  %h = "onnx.Gather"(%table, %ids) <{axis = 0 : i64}> : (tensor<4x16xf32>, tensor<?x?xi64>) -> tensor<?x?x16xf32>
  return %h, %h, %h : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>
}

// -----

// expected-error @+1 {{expected one graph function, found 2}}
module {
  func.func @a() { return }
  func.func @b() { return }
}
