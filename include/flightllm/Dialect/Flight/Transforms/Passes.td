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

    The ReLU must already write over the product's rows
    (`flight-fuse-in-place` before this pass). The other fusions of the
    lowering are the passes `flight-fuse-swiglu`, `flight-share-quantize`
    and `flight-fuse-in-place`.
  }];
  let options = [
    Option<"relu", "relu", "bool", /*default=*/"true",
           "Fold a ReLU into the matrix products that produce its operand">
  ];
}

def FuseSwiGLUPass
    : Pass<"flight-fuse-swiglu", "::flightllm::flight::BucketOp"> {
  let summary = "One tile loop for a SwiGLU's gate and up linears";
  let description = [{
    Instruction selection lowers `swiglu(linear(x), linear(x))` as it
    lowers each op: a tile loop per linear writing its full-width result
    (`gate`, `up`), then a `flight.buf_misc "swiglu"` over both. This pass
    makes the two loops one at the place of the second: per output tile,
    both weight tiles load, both products (MM or MV) write two temporaries
    of the tile's width, and a SwiGLU of the tile writes its columns of the
    result, so the full-width `gate` and `up` never exist (less `act`, and
    the SFU starts after the first tile instead of after both linears).

    It fires when every op writing `gate` and `up` is a product of the two
    loops (paired tiles of equal width side by side from row 0, covering
    the SwiGLU's `k`, each with weight and scale buffers of its own, fp16,
    no ReLU, the SwiGLU's row step), both read the same quantized input (or
    two `quantize_dynamic` copies of the same rows: one then serves both),
    and the SwiGLU reads both from row 0; otherwise the ops stay as they are.
    With `flight.buf_exchange` after each loop (cores), one exchange of the
    result remains.

    ```mlir
    // Before (two 64-channel tiles per linear, the second tile shown once):
    %g = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
    %wg0 = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
    ...
    flight.buf_mv %xq, %wg0, %sg0[0] -> %g[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : ...
    ...
    flight.buf_mv %xq, %wu1, %su1[0] -> %u[1] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : ...
    flight.buf_misc "swiglu" %g[0], %u[0] -> %h[0] {k = 128 : i64, rows = 1 : i64, a_step = 2 : i64, b_step = 2 : i64, out_step = 2 : i64} : ...
    // After, per tile:
    %gt = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
    %ut = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
    flight.buf_mv %xq, %wg0, %sg0[0] -> %gt[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 1 : i64} : ...
    flight.buf_mv %xq, %wu0, %su0[0] -> %ut[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 1 : i64} : ...
    flight.buf_misc "swiglu" %gt[0], %ut[0] -> %h[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, b_step = 1 : i64, out_step = 2 : i64} : ...
    ```

    Errors: a buffer deallocated twice, outside its alloc's block or used
    after its dealloc (the rewrite moves lifetimes).
  }];
}

def ShareQuantizePass
    : Pass<"flight-share-quantize", "::flightllm::flight::BucketOp"> {
  let summary = "One quantized copy of a value for every linear reading it";
  let description = [{
    Instruction selection quantizes a linear's input for that linear alone:
    `flight.buf_misc "quantize_dynamic"` into a temporary that lives as long
    as the linear. When a later `quantize_dynamic` quantizes the same rows
    (same operand, rows, steps, `k`) into a buffer of the same type, with
    nothing writing the operand in between (q, k and v of one normed input,
    gate and up), it goes: its readers read the first copy, which lives
    until the last of them.

    ```mlir
    // Before:
    flight.buf_misc "quantize_dynamic" %h[0] -> %q1[0] {...} : ...
    flight.buf_mv %q1, ... ; flight.buf_dealloc %q1 : ...
    flight.buf_misc "quantize_dynamic" %h[0] -> %q2[0] {...} : ...
    flight.buf_mv %q2, ... ; flight.buf_dealloc %q2 : ...
    // After:
    flight.buf_misc "quantize_dynamic" %h[0] -> %q1[0] {...} : ...
    flight.buf_mv %q1, ...
    flight.buf_mv %q1, ... ; flight.buf_dealloc %q1 : ...
    ```

    Errors: as `flight-fuse-swiglu`.
  }];
}

def FuseInPlacePass
    : Pass<"flight-fuse-in-place", "::flightllm::flight::BucketOp"> {
  let summary = "SFU results written over an operand that dies";
  let description = [{
    Instruction selection gives every SFU result rows of its own (a
    `flight.buf_alloc <value>`). A MISC reads a row before writing it, so
    when an operand dies at the op its rows can take the result:

    * `element-wise` (`add`, `mul`, `swiglu`, `silu`, `gelu`, `gelu_tanh`,
      `relu`): the first operand with the result's type and allocation
      policy, read from row 0 with the result's step, that either is deallocated right after the op
      (nothing else uses it), or outlives the block (a layer's input) and
      is overwritten whole by a `copy` before anything reads it, after the
      result's last use. The residual adds then write into the layer's
      input, and the copy that kept the layer's output there goes.
    * `quantize`: a `quantize_dynamic` whose operand, a `value` (a
      linear's input), is deallocated right after it, when the INT8 rows
      take no more room per token (`out_step <= a_step`) nor in all. The
      attention's quantized temporaries keep rows of their own.

    ```mlir
    // Before:
    %y = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
    flight.buf_misc "add" %x[0], %a[0] -> %y[0] {...} : ...
    flight.buf_dealloc %x : ...
    // After:
    flight.buf_misc "add" %x[0], %a[0] -> %x[0] {...} : ...
    ```

    Errors: as `flight-fuse-swiglu`.
  }];
  let options = [
    Option<"elementWise", "element-wise", "bool", /*default=*/"true",
           "Element-wise results over an operand that dies">,
    Option<"quantize", "quantize", "bool", /*default=*/"true",
           "quantize_dynamic over its operand when that dies">
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
