//===- Passes.td - Lowering llm programs to flight streams -*- tablegen -*-===//

#ifndef FLIGHTLLM_CONVERSION_LLMTOFLIGHT_PASSES_TD
#define FLIGHTLLM_CONVERSION_LLMTOFLIGHT_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertLLMToFlightPass : Pass<"convert-llm-to-flight", "mlir::ModuleOp"> {
  let summary = "Lower an llm program to one flight.stream per length bucket";
  let description = [{
    Runs the accelerator lowering (docs/lowering.md) on the module's
    `@forward` and replaces the module's contents with one `flight.stream`
    per bucket (attributes `stage`, `min_length`, `max_length`), as
    `flightllm-compile --emit=flight` prints them: the pipeline
    `flight-select-instructions`, the bucket pipeline (`flight-schedule`,
    `flight-fuse-swiglu`, `flight-share-quantize`, `flight-fuse-in-place`,
    `flight-fuse`, run by a pass manager on each bucket),
    `flight-hbm-layout`, `flight-share-layers`, `flight-plan-buffers` and
    `flight-insert-tokens` with their default
    options, run bucket by bucket (with `insert-tokens=false` the streams
    keep their access annotations instead of tokens);
    `flightllm-compile --emit=bin` runs the same steps and writes the binary
    instead. Weights must be INT8 with `weight_scales` (or float, then
    quantized per output channel) and every `llm.attention` needs calibrated
    `k_scales`/`v_scales` unless `kv-range` is set. A module with a
    `flight.stage` attribute (`flight-partition-stages`) lowers that pipeline
    stage's layers only.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"u280\"",
           "Hardware description: u280, vhk158 or a JSON file">,
    Option<"maxContext", "max-context", "unsigned", /*default=*/"0",
           "Longest context (0: the model's limit, at most 2048)">,
    Option<"prefillBucket", "prefill-bucket", "unsigned", /*default=*/"128",
           "Prefill bucket width in tokens">,
    Option<"decodeBucket", "decode-bucket", "unsigned", /*default=*/"16",
           "Decode bucket width in context tokens">,
    ListOption<"buckets", "buckets", "std::string",
               "Only these buckets, as prefill:MAXLEN or decode:MAXLEN">,
    Option<"kvRange", "kv-range", "float", /*default=*/"0.0f",
           "KV-cache range for attention without calibrated scales (0: error)">,
    Option<"cores", "cores", "unsigned", /*default=*/"1",
           "Cores each bucket runs on (0: all of the target's)">,
    Option<"batch", "batch", "unsigned", /*default=*/"1",
           "Sequences per decode run (1 to 16), each with its own KV-cache "
           "slot (docs/lowering.md, Batched decode)">,
    Option<"kvSlots", "kv-slots", "unsigned", /*default=*/"0",
           "KV-cache slots: sequences with their own cache (0: one per "
           "sequence of the batch)">,
    Option<"insertTokens", "insert-tokens", "bool", /*default=*/"true",
           "Set the dependency tokens (else annotate every instruction with "
           "what it accesses, for flight-insert-tokens)">,
    Option<"bucketPipeline", "bucket-pipeline", "std::string",
           /*default=*/"::flightllm::lowering::kDefaultBucketPipeline.str()",
           "The passes each bucket runs at the buffer level after instruction "
           "selection (a textual pipeline on flight.bucket)">
  ];
  let dependentDialects = ["flightllm::flight::FlightDialect"];
}

def SelectInstructionsPass
    : Pass<"flight-select-instructions", "mlir::ModuleOp"> {
  let summary = "Select the instructions of every length bucket, on buffers";
  let description = [{
    Instruction selection of the accelerator lowering (docs/lowering.md):
    replaces the module's `@forward` with one `flight.bucket` per length
    bucket at the buffer level, and sets the module attributes the binary
    needs besides the streams (the HBM image, the device map, ...). In a
    bucket, per prefill tile (`flight.prefill_tile`) or for the decode token:
    the input rows, the decoder layer once in a `flight.layer_body`, the
    epilogue. Every value, weight tile and parameter block is an on-chip
    buffer (`flight.buf_alloc <value>` / `<temporary>` ...
    `flight.buf_dealloc`); loads and stores name `flight.hbm_region`s; MM in
    prefill tiles, MV in decode, SFU kinds as `flight.buf_misc`; the
    attention's stages come in plain per-head order, tagged for
    `flight-schedule`. Every op is lowered unfused, for the fusion passes to
    decide: each result gets rows of its own, each linear quantizes its
    input into a temporary of its own (`flight-share-quantize`,
    `flight-fuse-in-place`), a SwiGLU is a MISC over its gate and up
    linears' full results (`flight-fuse-swiglu`), a ReLU a MISC after its
    linear (`flight-fuse`), and the layer's output is copied back to the
    input rows (`flight-fuse-in-place` drops the copy). A module with a
    `flight.stage` attribute (`flight-partition-stages`) selects that
    pipeline stage's layers only, with or without the prologue and the
    epilogue.

    ```mlir
    // After: (decode, one layer op shown)
    flight.bucket @decode_32 stage <decode> min_length = 17 max_length = 32 {
      %w = flight.hbm_region "layer.linear2.w0.s0" holds <params> channel 0 offset 0 : !flight.buffer<512xi8, hbm>
      ...
      flight.layer_body layers = 2 weight_stride = 100 kv_stride = 64 {
        %t = flight.buf_alloc <temporary> : !flight.buffer<4x128xi8, weight>
        flight.tile_load %w[0] -> %t[0] length 512 base <B1> : ...
        flight.buf_mv %xq, %t, %s[0] -> %y[0] {k_blocks = 2 : i64, n = 4 : i64, out_stride = 1 : i64} : ...
        flight.buf_dealloc %t : !flight.buffer<4x128xi8, weight>
      }
    }
    ```
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"u280\"",
           "Hardware description: u280, vhk158 or a JSON file">,
    Option<"maxContext", "max-context", "unsigned", /*default=*/"0",
           "Longest context (0: the model's limit, at most 2048)">,
    Option<"prefillBucket", "prefill-bucket", "unsigned", /*default=*/"128",
           "Prefill bucket width in tokens">,
    Option<"decodeBucket", "decode-bucket", "unsigned", /*default=*/"16",
           "Decode bucket width in context tokens">,
    ListOption<"buckets", "buckets", "std::string",
               "Only these buckets, as prefill:MAXLEN or decode:MAXLEN">,
    Option<"kvRange", "kv-range", "float", /*default=*/"0.0f",
           "KV-cache range for attention without calibrated scales (0: error)">,
    Option<"cores", "cores", "unsigned", /*default=*/"1",
           "Cores each bucket runs on (0: all of the target's); ops get "
           "flight.core, linears and attention end in flight.buf_exchange">,
    Option<"batch", "batch", "unsigned", /*default=*/"1",
           "Sequences per decode run (1 to 16), each with its own KV-cache "
           "slot: one MV per sequence per weight tile, attention per "
           "sequence after flight.select_seq">,
    Option<"kvSlots", "kv-slots", "unsigned", /*default=*/"0",
           "KV-cache slots: sequences with their own cache, which the "
           "runtime selects by moving B2 one slot (0: one per sequence of "
           "the batch)">
  ];
  let dependentDialects = ["flightllm::flight::FlightDialect"];
}

def HbmLayoutPass : Pass<"flight-hbm-layout", "mlir::ModuleOp"> {
  let summary = "Place the HBM regions and build the HBM image";
  let description = [{
    The HBM layout of the accelerator lowering (docs/lowering.md, "HBM
    layout"), after `flight-select-instructions`, which leaves the `llm`
    program (`@forward`, the parameters) in the module and names every HBM
    region without a place. Lays out every channel as `[globals][layer
    0]...[layer L-1][KV cache, L slots][I/O]`: parameter blocks round-robin
    over the channels, a weight tile striped over `stripes` consecutive
    channels with its scales next to its first stripe, K and V of KV head
    `g` in channels `2g` and `2g + 1`. Gives every region its channel and
    offset (a weight tile's region becomes one region per stripe, each load
    of it one load per stripe), sets the `flight.layer_body` strides, fills
    the image and replaces `@forward` with the module attributes the binary
    needs (`flight.hbm_image`, `flight.embedding_table`, `flight.quant_params`,
    `flight.bases`, `flight.device_map`).

    ```mlir
    // Before:
    %w = flight.hbm_region "layer.linear0.w0" holds <params> : !flight.buffer<8192xi8, hbm>
    flight.tile_load %w[0] -> %t[0] length 8192 base <B1> : ...
    // After (stripes=2):
    %s0 = flight.hbm_region "layer.linear0.w0.s0" holds <params> channel 0 offset 0 : !flight.buffer<4096xi8, hbm>
    %s1 = flight.hbm_region "layer.linear0.w0.s1" holds <params> channel 1 offset 0 : !flight.buffer<4096xi8, hbm>
    flight.tile_load %s0[0] -> %t[0] length 4096 base <B1> : ...
    flight.tile_load %s1[0] -> %t[32] length 4096 base <B1> : ...
    ```

    With `ddr-weights=P`, about P% of every layer's weight-tile bytes (whole
    tiles, interleaved with the HBM ones, the same tiles in every layer of a
    layer group) go to the board's DDR instead: striped over the DDR
    channels from the end of the instruction memory's share of each, one
    slot per layer addressed by B3 (`flight.layer_body ... ddr_stride`), and
    their loads read DDR (`!flight.buffer<..., ddr>` regions, `base <B3>`);
    the module gets `flight.ddr_image`.

    Errors: a model that does not fit the target's channels, a region the
    layout does not have or of another size, a partial load of a striped
    tile, a target other than the one instructions were selected for.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"u280\"",
           "Hardware description (HBM channels and their size): u280, "
           "vhk158 or a JSON file; the one flight-select-instructions used">,
    Option<"stripes", "stripes", "unsigned", /*default=*/"8",
           "Channels each weight tile is striped over (1-64)">,
    Option<"ddrWeights", "ddr-weights", "unsigned", /*default=*/"0",
           "Percent (0-100) of each layer's weight-tile bytes placed in the "
           "board's DDR, read with LD mem = ddr through B3 "
           "(docs/offloading.md)">
  ];
}

def PlanBuffersPass : Pass<"flight-plan-buffers", "mlir::ModuleOp"> {
  let summary = "Place on-chip buffers and emit the addressed instructions";
  let description = [{
    Replaces every `flight.bucket` by a `flight.stream` of addressed
    instructions (attributes `stage`, `min_length`, `max_length`). Walks the
    bucket in program order: a `flight.buf_alloc <value>` gets rows
    first-fit from the bottom of its buffer, a `<temporary>` next-fit from
    where the previous temporary ended (upper half of a buffer that holds
    values too: a freed temporary is not reused at once, so the next tile's
    loads overlap the current tile's compute); `flight.buf_dealloc` frees the
    rows; a prefill tile's act rows are all free at its end. Every op then
    becomes its instruction (`flight.ld/st/mm/mv/misc`; a layer body becomes
    `SYS loop` with the base registers advanced per layer) with what it
    reads and writes in `flight.reads`/`flight.writes` and
    `flight.hbm_read`/`flight.hbm_write`, the input of
    `flight-insert-tokens`.

    ```mlir
    // Before:
    %t = flight.buf_alloc <temporary> : !flight.buffer<4x128xi8, weight>
    flight.tile_load %w[0] -> %t[0] length 512 base <B1> : ...
    // After:
    flight.ld onchip_addr = 0, buf = weight, ..., base = B1, ... {flight.writes = [#flight.rows<weight, 0, 4>]}
    ```

    Errors: a buffer that does not fit (`on-chip act buffer exhausted`), a
    field beyond the ISA's limits, streams beyond the instruction memory.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"u280\"",
           "Hardware description (on-chip buffer sizes, instruction memory): "
           "u280, vhk158 or a JSON file">
  ];
}

def PartitionStagesPass : Pass<"flight-partition-stages", "mlir::ModuleOp"> {
  let summary = "Split an llm program into one pipeline stage per card";
  let description = [{
    The whole-system step of `flightllm-compile --system=...`
    (docs/lowering.md, "Pipeline stages"): plans the pipeline of the
    system's cards over the `llm` program's decoder layers (contiguous
    stages of whole layers, the largest stage's decode weight bytes
    minimised; `lib/System/PipelinePlan.cpp`) and moves the program into one
    nested `builtin.module @cardC` per card, each a copy of the program with
    a `flight.stage` attribute (its layers, and whether it runs the prologue
    and the epilogue). The lowering then runs on each card's module (a
    nested `builtin.module(...)` pipeline), and `flightllm-translate
    --flight-to-flb` writes the system binary from the outer module's
    `flight.system` attribute (target, links, layers) and the cards'
    lowered modules.

    ```mlir
    // Before: the llm program of a 2-layer model
    module attributes {llm.max_positions = 64 : i64} {
      func.func @forward(...) { ... }
    }
    // After (system=u280x2):
    module attributes {flight.system = {card_link = {...}, host_link = {...}, name = "u280x2", num_layers = 2 : i64, target_fingerprint = ...}} {
      module @card0 attributes {flight.stage = {epilogue = false, first_layer = 0 : i64, layer_count = 1 : i64, prologue = true}, llm.max_positions = 64 : i64} {
        func.func @forward(...) { ... }
      }
      module @card1 attributes {flight.stage = {epilogue = true, first_layer = 1 : i64, layer_count = 1 : i64, prologue = false}, llm.max_positions = 64 : i64} {
        func.func @forward(...) { ... }
      }
    }
    ```

    Errors: a system that does not load, more cards than decoder layers, a
    module that is already partitioned.
  }];
  let options = [
    Option<"system", "system", "std::string", /*default=*/"\"\"",
           "The system: u280x2, u280x4, u280x8, u280x16 or a system "
           "description JSON file (docs/targets.md)">
  ];
}

#endif
