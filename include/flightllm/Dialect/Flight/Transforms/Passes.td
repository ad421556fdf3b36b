//===- Passes.td - Transformations of flight programs ------*- tablegen -*-===//

#ifndef FLIGHTLLM_DIALECT_FLIGHT_TRANSFORMS_PASSES_TD
#define FLIGHTLLM_DIALECT_FLIGHT_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def InsertTokensPass
    : Pass<"flight-insert-tokens", "::flightllm::flight::StreamOp"> {
  let summary = "Dependency tokens between the accelerator's queues";
  let description = [{
    Sets the `wait` and `release` masks of every instruction of a
    `flight.stream` from what the instructions access: the on-chip rows in
    `flight.reads` / `flight.writes` (arrays of `#flight.rows`) and the
    off-chip data in `flight.hbm_read` / `flight.hbm_write`
    (`#flight.offchip`). A read after a write, a write after a read and a
    write after a write on different queues become a release on the exact
    producing instruction (the newest one of its queue that the consumer
    depends on) and a wait on the consumer; tokens are matched in program
    order, so a producer an earlier wait of the same queue pair covers is
    not released again. A SYS barrier completes everything before it. The
    cost is linear in the number of instructions (docs/lowering.md).

    ```mlir
    // Before:
    flight.ld buf = act, onchip_addr = 0, length = 4 {flight.writes = [#flight.rows<act, 0, 1>]}
    flight.misc kind = relu, a_addr = 0 {flight.reads = [#flight.rows<act, 0, 1>]}
    // After:
    flight.ld release [misc] buf = act, ...
    flight.misc wait [load] kind = relu, ...
    ```

    Instructions must not carry tokens already, and SYS instructions access
    nothing. The annotations are removed unless `keep-accesses` is set.
  }];
  let options = [
    Option<"keepAccesses", "keep-accesses", "bool", /*default=*/"false",
           "Keep the access annotations (for reading the result)">
  ];
}

def SchedulePass : Pass<"flight-schedule", "::flightllm::flight::BucketOp"> {
  let summary = "Order a bucket's buffer-level ops for overlap between queues";
  let description = [{
    Reorders the buffer-level ops of a `flight.bucket` (before
    `flight-plan-buffers`, which then places the buffers in the new order).
    Instruction selection emits each attention's per-head stages in plain
    order, A(h) B(h) C(h) D(h) (A: q times the K scales, quantized, SFU; B:
    scores, matrix; C: softmax, quantized, SFU; D: P·V, matrix), each op
    tagged `flight.attention_stage = array<i64: attention, head, stage>`.
    With `attention` (the default) they are software-pipelined across heads:
    A(0) B(0), then per head A(h+1) C(h) B(h+1) D(h), so the SFU and matrix
    queues each have the next head's work while the other finishes this
    one's. Only the order of whole stages changes, and every stage still
    follows the stages it reads from. The tags are removed either way.

    ```mlir
    // Before: A0 B0 C0 D0 A1 B1 C1 D1 (tagged)
    // After:  A0 B0 A1 C0 B1 D0 C1 D1
    ```
  }];
  let options = [
    Option<"attention", "attention", "bool", /*default=*/"true",
           "Software-pipeline attention across heads">
  ];
}

def FusePass : Pass<"flight-fuse", "::flightllm::flight::BucketOp"> {
  let summary = "Fuse buffer-level ops of a bucket into fewer instructions";
  let description = [{
    Rewrites a `flight.bucket` at the buffer level (before
    `flight-plan-buffers`). Each fusion has an option, on by default:

    * `relu`: a `flight.buf_misc "relu"` in place over a value that only
      matrix products wrote since its `flight.buf_alloc` becomes their
      `relu` flag, when the ReLU covers exactly the elements they wrote (its
      `k` is the sum of their `n`, tiles side by side from row 0, fp16 with
      the ReLU's row step, the tile's tokens).

    ```mlir
    // Before:
    flight.buf_mm %xq, %w, %s[0] -> %y[0] {k_blocks = 4 : i64, n = 64 : i64, out_stride = 1 : i64} : ...
    flight.buf_misc "relu" %y[0] -> %y[0] {k = 64 : i64, rows = 128 : i64, a_step = 1 : i64, out_step = 1 : i64} : ...
    // After:
    flight.buf_mm %xq, %w, %s[0] -> %y[0] {k_blocks = 4 : i64, n = 64 : i64, out_stride = 1 : i64, relu} : ...
    ```

    The other fusions of the lowering (the gate/up/SwiGLU tile loop, in-place
    element-wise ops, one quantized copy per value) are still made by
    `flight-select-instructions`.
  }];
  let options = [
    Option<"relu", "relu", "bool", /*default=*/"true",
           "Fold a ReLU into the matrix products that produce its operand">
  ];
}

def ShareLayersPass
    : Pass<"flight-share-layers", "::flightllm::flight::BucketOp"> {
  let summary = "Check the shared decoder layer's slots, or unroll the layers";
  let description = [{
    Runs after `flight-hbm-layout` on each `flight.bucket`. Instruction
    selection emits the decoder layer once, as a `flight.layer_body layers =
    L` whose per-layer transfers add a base register (`base <B1>`: the
    layer's weights, `base <B2>`: its KV cache; the layout's strides); a 7B
    model's 144 buckets with 32 unrolled layers each would hold 32 times the
    IR while they are lowered (docs/lowering.md, "Layer sharing").

    `share-layers=true` (the default) keeps the shared body and checks that
    it is shareable: every per-layer region lies inside one layer slot (its
    offset and size within the stride) and every fixed transfer inside its
    region, so layer `l` never reads or writes layer `l + 1`'s data.
    `share-layers=false` unrolls the body into `L` copies, one per layer,
    whose transfers address layer `l`'s copy directly (a region `NAME.layerL`
    at `origin + l * stride` of `flight.bases`, no base register): a longer
    stream without the `SYS loop`, computing the same results. A model with
    layer groups (weight formats that differ between layers) has one body
    per group; a body with `first_layer = F` unrolls into layers `F` to
    `F + L - 1`.

    ```mlir
    // Before (L = 2, B1 origin 20, stride 40: 32-byte units):
    flight.layer_body layers = 2 weight_stride = 40 kv_stride = 512 {
      flight.tile_load %s0[0] -> %t[0] length 1024 base <B1> : ...
    }
    // After, share-layers=false:
    %l0 = flight.hbm_region "layer.linear0.w0.s0.layer0" holds <params> channel 0 offset 640 : ...
    %l1 = flight.hbm_region "layer.linear0.w0.s0.layer1" holds <params> channel 0 offset 1920 : ...
    flight.tile_load %l0[0] -> %t0[0] length 1024 : ...
    flight.tile_load %l1[0] -> %t1[0] length 1024 : ...
    ```

    Errors: a layer body without strides or an unplaced region (run
    `flight-hbm-layout` first), a region or transfer beyond a layer slot,
    no `flight.bases` in the module when unrolling.
  }];
  let options = [
    Option<"shareLayers", "share-layers", "bool", /*default=*/"true",
           "Keep one layer body run L times (else unroll it per layer)">
  ];
}

#endif // FLIGHTLLM_DIALECT_FLIGHT_TRANSFORMS_PASSES_TD
