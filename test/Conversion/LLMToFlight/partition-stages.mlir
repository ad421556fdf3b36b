// RUN: flightllm-opt %s --flight-partition-stages=system=u280x2 | FileCheck %s
// RUN: flightllm-opt %s --pass-pipeline='builtin.module(flight-partition-stages{system=u280x2},builtin.module(flight-select-instructions{max-context=32 buckets=decode:16}))' | FileCheck %s --check-prefix=SELECT

// flight-partition-stages: the program of a 2-layer model on two cards, one
// layer each, each card a module of its own with a copy of the program and
// its stage; the outer module keeps what the system binary needs.
// CHECK-LABEL: module attributes {flight.system = {card_link = {efficiency = {{.*}} : f64, latency_us = {{.*}} : f64, raw_gbps = {{.*}} : f64}, host_link = {{{.*}}}, name = "u280x2", num_layers = 2 : i64, target_fingerprint = {{-?[0-9]+}} : i64}} {
// CHECK-NEXT: module @card0 attributes {flight.stage = {epilogue = false, first_layer = 0 : i64, layer_count = 1 : i64, prologue = true}, llm.max_positions = 64 : i64} {
// CHECK-NEXT: func.func @forward
// CHECK: llm.weight "layers.1.wq"
// CHECK: llm.logits
// CHECK: module @card1 attributes {flight.stage = {epilogue = true, first_layer = 1 : i64, layer_count = 1 : i64, prologue = false}, llm.max_positions = 64 : i64} {
// CHECK-NEXT: func.func @forward
// CHECK-NOT: module @card2

// The lowering on each card's module: card 0 stores its layer's output rows
// for the next card and computes no logits; card 1 finds them in its input
// rows and computes the logits.
// SELECT-LABEL: module @card0
// SELECT: flight.bucket @decode_16
// SELECT: flight.layer_body layers = 1 {
// SELECT-NOT: "logits"
// SELECT: flight.tile_store {{.*}} -> %{{.*}}[0] length 128
// SELECT-LABEL: module @card1
// SELECT: flight.hbm_region "logits" holds <logits>
// SELECT: flight.layer_body layers = 1 {
module attributes {llm.max_positions = 64 : i64} {
func.func @forward(%ids: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %t = llm.weight "emb" = dense<1.0> : tensor<8x4xf32>
  %x0 = llm.embedding %t, %ids : (tensor<8x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
  %wq0 = llm.weight "layers.0.wq" = dense<0.5> : tensor<4x4xf32>
  %q0 = llm.linear %x0, %wq0 : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  %o0, %pk0, %pv0 = llm.attention %q0, %q0, %q0 {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> (tensor<1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
  %x1 = llm.add %x0, %o0 : tensor<1x?x4xf32>
  %wq1 = llm.weight "layers.1.wq" = dense<0.5> : tensor<4x4xf32>
  %q1 = llm.linear %x1, %wq1 : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
  %o1, %pk1, %pv1 = llm.attention %q1, %q1, %q1 {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32, k_scales = array<f32: 1.0, 1.0, 1.0, 1.0>, v_scales = array<f32: 1.0, 1.0, 1.0, 1.0>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> (tensor<1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
  %x2 = llm.add %x1, %o1 : tensor<1x?x4xf32>
  %wh = llm.weight "head" = dense<1.0> : tensor<4x8xf32>
  %l = llm.logits %x2, %wh : (tensor<1x?x4xf32>, tensor<4x8xf32>) -> tensor<1x?x8xf32>
  return %l : tensor<1x?x8xf32>
}
}
