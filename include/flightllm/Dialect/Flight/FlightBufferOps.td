//===- FlightBufferOps.td - Buffer-level flight ops --------*- tablegen -*-===//
//
// The buffer level of the lowering (docs/lowering.md, "Pass pipeline"): ops
// on !flight.buffer SSA values without addresses, inside regions for a
// bucket's stream, a prefill tile and the shared decoder-layer body. Each op
// is one instruction with its fields but without addresses: operands are
// buffers plus a row offset, and flight-plan-buffers gives every buffer its
// rows (docs/lowering.md).
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DIALECT_FLIGHT_FLIGHTBUFFEROPS_TD
#define FLIGHTLLM_DIALECT_FLIGHT_FLIGHTBUFFEROPS_TD

include "flightllm/Dialect/Flight/FlightDialect.td"
include "flightllm/Dialect/Flight/FlightAttrs.td"
include "flightllm/Dialect/Flight/FlightTypes.td"
include "mlir/IR/SymbolInterfaces.td"

//===----------------------------------------------------------------------===//
// Attributes of the buffer ops
//===----------------------------------------------------------------------===//

def Flight_Precision : I32Enum<"Precision", "weight and activation precision", [
  I32EnumCase<"W8A8", 0, "w8a8">,
  I32EnumCase<"W4A8", 1, "w4a8">
]> {
  let cppNamespace = "::flightllm::flight";
}
def Flight_PrecisionAttr : EnumAttr<Flight_Dialect, Flight_Precision, "precision"> {
  let summary = "Precision of a matrix op: INT8 or INT4 weights, INT8 activations";
  let assemblyFormat = "`<` $value `>`";
}

def Flight_Sparsity : I32Enum<"Sparsity", "N:M structured sparsity (M = 16)", [
  I32EnumCase<"Dense", 0, "dense">,
  I32EnumCase<"N8", 1, "n8">,
  I32EnumCase<"N4", 2, "n4">,
  I32EnumCase<"N2", 3, "n2">
]> {
  let cppNamespace = "::flightllm::flight";
}
def Flight_SparsityAttr : EnumAttr<Flight_Dialect, Flight_Sparsity, "sparsity"> {
  let summary = "Weights kept of every 16 along K (the ISA's MM sparsity field)";
  let assemblyFormat = "`<` $value `>`";
}

def Flight_BaseRegister : I32Enum<"BaseRegister", "an off-chip base register", [
  I32EnumCase<"Zero", 0, "zero">,
  I32EnumCase<"B1", 1, "B1">,
  I32EnumCase<"B2", 2, "B2">,
  I32EnumCase<"B3", 3, "B3">
]> {
  let cppNamespace = "::flightllm::flight";
}
def Flight_BaseRegisterAttr : EnumAttr<Flight_Dialect, Flight_BaseRegister, "base"> {
  let summary = "Base register added to an off-chip address (B1 layer weights, B2 KV cache)";
  let assemblyFormat = "`<` $value `>`";
}

def Flight_RunTimeParam : I32Enum<"RunTimeParam", "a run-time length parameter", [
  I32EnumCase<"Zero", 0, "zero">,
  I32EnumCase<"P", 1, "P">,
  I32EnumCase<"S", 2, "S">,
  I32EnumCase<"T", 3, "T">
]> {
  let cppNamespace = "::flightllm::flight";
}
def Flight_RunTimeParamAttr : EnumAttr<Flight_Dialect, Flight_RunTimeParam, "param"> {
  let summary = "Run-time parameter scaling an off-chip row offset (P cached, S new, T total tokens)";
  let assemblyFormat = "`<` $value `>`";
}

def Flight_Stage : I32Enum<"Stage", "the stage a bucket's stream serves", [
  I32EnumCase<"Prefill", 0, "prefill">,
  I32EnumCase<"Decode", 1, "decode">
]> {
  let cppNamespace = "::flightllm::flight";
}
def Flight_StageAttr : EnumAttr<Flight_Dialect, Flight_Stage, "stage"> {
  let summary = "Prefill (prompt tokens) or decode (one token)";
  let assemblyFormat = "`<` $value `>`";
}

def Flight_AllocPolicy : I32Enum<"AllocPolicy", "how flight-plan-buffers places an on-chip buffer", [
  I32EnumCase<"Value", 0, "value">,
  I32EnumCase<"Temporary", 1, "temporary">
]> {
  let cppNamespace = "::flightllm::flight";
}
def Flight_AllocPolicyAttr : EnumAttr<Flight_Dialect, Flight_AllocPolicy, "policy"> {
  let summary = "value (first-fit from the bottom) or temporary (next-fit, double buffering)";
  let assemblyFormat = "`<` $value `>`";
}

def Flight_HbmData : I32Enum<"HbmData", "what an HBM region holds", [
  I32EnumCase<"Params", 0, "params">,
  I32EnumCase<"Input", 1, "input">,
  I32EnumCase<"KVCache", 2, "kv_cache">,
  I32EnumCase<"Scratch", 3, "scratch">,
  I32EnumCase<"Logits", 4, "logits">
]> {
  let cppNamespace = "::flightllm::flight";
}
def Flight_HbmDataAttr : EnumAttr<Flight_Dialect, Flight_HbmData, "holds"> {
  let summary = "What an HBM region holds: parameters (the image), the input rows, the KV cache, the prefill spill area or the logits";
  let assemblyFormat = "`<` $value `>`";
}

//===----------------------------------------------------------------------===//
// Buffers and tile transfers
//===----------------------------------------------------------------------===//

def Flight_BufAllocOp : Flight_Op<"buf_alloc"> {
  let summary = "An on-chip buffer, not yet placed";
  let description = [{
    Starts the lifetime of a buffer of whole on-chip rows (128 bytes) in
    `act`, `weight` or `meta`; `flight.buf_dealloc` ends it (without one, it
    lasts until the end of the enclosing `flight.prefill_tile` for `act`,
    else of the bucket). `flight-plan-buffers` gives it its rows: `value`
    first-fit from the bottom of the buffer (long-lived activations pack
    together), `temporary` next-fit from where the previous temporary ended,
    in the upper half of a buffer that also holds values (a temporary freed
    and requested again lands elsewhere: double buffering).

    ```mlir
    %x = flight.buf_alloc <value> : !flight.buffer<128x256xi8, act>
    %w = flight.buf_alloc <temporary> : !flight.buffer<64x128xi8, weight>
    ```
  }];
  let arguments = (ins Flight_AllocPolicyAttr:$policy);
  let results = (outs Flight_BufferType:$result);
  let assemblyFormat = "$policy attr-dict `:` qualified(type($result))";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The buffer's size in on-chip rows.
    uint32_t getRows();
  }];
}

def Flight_BufDeallocOp : Flight_Op<"buf_dealloc"> {
  let summary = "End the lifetime of an on-chip buffer";
  let description = [{
    Its rows are free for later `flight.buf_alloc`s. The operand is a
    `flight.buf_alloc` result, deallocated once.

    ```mlir
    flight.buf_dealloc %w : !flight.buffer<64x128xi8, weight>
    ```
  }];
  let arguments = (ins Flight_BufferType:$buffer);
  let assemblyFormat = "$buffer attr-dict `:` qualified(type($buffer))";
  let hasVerifier = 1;
}

def Flight_HbmRegionOp : Flight_Op<"hbm_region", [Pure]> {
  let summary = "A named region of one HBM channel";
  let description = [{
    `offset` bytes into channel `channel` (relative to the base register a
    transfer adds: B1 for a layer's parameters, B2 for its KV cache), holding
    `holds`: parameters of the HBM image, the input rows, the KV cache, the
    prefill spill area or the logits. Instruction selection names the regions
    without a place (symbolic: no `channel`/`offset`); `flight-hbm-layout`
    places them (and splits a weight tile into its per-channel stripes);
    `flight-plan-buffers` needs every region placed.

    ```mlir
    %w = flight.hbm_region "layer.linear0.w0" holds <params> : !flight.buffer<8192xi8, hbm>
    %q = flight.hbm_region "layer.linear0.w0.s0" holds <params> channel 3 offset 4096 : !flight.buffer<1024xi8, hbm>
    ```
  }];
  let arguments = (ins StrAttr:$name, Flight_HbmDataAttr:$holds,
                       OptionalAttr<I64Attr>:$channel,
                       OptionalAttr<I64Attr>:$offset);
  let results = (outs Flight_BufferType:$result);
  let assemblyFormat = [{
    $name `holds` $holds (`channel` $channel^ `offset` $offset)? attr-dict `:`
    qualified(type($result))
  }];
  let extraClassDeclaration = [{
    /// Has the HBM layout given it a channel and an offset?
    bool isPlaced() { return getChannelAttr() && getOffsetAttr(); }
  }];
  let hasVerifier = 1;
}

def Flight_TileLoadOp : Flight_Op<"tile_load"> {
  let summary = "Load bytes of an HBM region into rows of an on-chip buffer (LD)";
  let description = [{
    Copies `length` bytes from `offset` bytes into the region `source`
    (plus the base register `base`, plus the run-time parameter `param`
    times `stride` bytes: positions `P + ...`) to row `row` of `dest`
    (`act`, `weight` or `meta`). Offsets, lengths and strides are multiples
    of 32 bytes (HBM units), offsets and strides non-negative. With
    `chunk` c > 0 (a multiple of 32 dividing `length`) the bytes move in runs
    of c, each starting a new on-chip row with the rest of its last row
    zeroed (LD `row_align`): 4-bit KV-cache rows into MM/MV B rows.

    ```mlir
    flight.tile_load %q[0] -> %w[0] length 1024 base <B1> : !flight.buffer<1024xi8, hbm>, !flight.buffer<64x128xi8, weight>
    flight.tile_load %rope[0] -> %r[0] length 16384 param <P> stride 128 : !flight.buffer<262144xi8, hbm>, !flight.buffer<128x128xi8, meta>
    ```
  }];
  let arguments = (ins Flight_BufferType:$source, Flight_BufferType:$dest,
                       I64Attr:$offset, I64Attr:$row, I64Attr:$length,
                       DefaultValuedAttr<Flight_BaseRegisterAttr,
                           "::flightllm::flight::BaseRegister::Zero">:$base,
                       DefaultValuedAttr<Flight_RunTimeParamAttr,
                           "::flightllm::flight::RunTimeParam::Zero">:$param,
                       DefaultValuedAttr<I64Attr, "0">:$stride,
                       DefaultValuedAttr<I64Attr, "0">:$chunk);
  let assemblyFormat = [{
    $source `[` $offset `]` `->` $dest `[` $row `]` `length` $length
    (`base` $base^)? (`param` $param^)? (`stride` $stride^)?
    (`chunk` $chunk^)? attr-dict `:`
    qualified(type($source)) `,` qualified(type($dest))
  }];
  let hasVerifier = 1;
}

def Flight_TileStoreOp : Flight_Op<"tile_store"> {
  let summary = "Store rows of an on-chip buffer to an HBM region (ST)";
  let description = [{
    Copies `length` bytes from row `row` of `source` (`act`) to `offset`
    bytes into `dest` (plus `base`, plus `param` times `stride` bytes), e.g.
    this run's K rows into the KV cache at `base <B2> param <P>`.

    ```mlir
    flight.tile_store %k[0] -> %cache[0] length 16384 base <B2> param <P> stride 128 : !flight.buffer<128x128xi8, act>, !flight.buffer<262144xi8, hbm>
    ```
  }];
  let arguments = (ins Flight_BufferType:$source, Flight_BufferType:$dest,
                       I64Attr:$row, I64Attr:$offset, I64Attr:$length,
                       DefaultValuedAttr<Flight_BaseRegisterAttr,
                           "::flightllm::flight::BaseRegister::Zero">:$base,
                       DefaultValuedAttr<Flight_RunTimeParamAttr,
                           "::flightllm::flight::RunTimeParam::Zero">:$param,
                       DefaultValuedAttr<I64Attr, "0">:$stride);
  let assemblyFormat = [{
    $source `[` $row `]` `->` $dest `[` $offset `]` `length` $length
    (`base` $base^)? (`param` $param^)? (`stride` $stride^)? attr-dict `:`
    qualified(type($source)) `,` qualified(type($dest))
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Compute on buffers
//===----------------------------------------------------------------------===//

class Flight_BufferMatrixOp<string mnemonic, string what>
    : Flight_Op<mnemonic> {
  let summary = what # " on buffers";
  let arguments = (ins Flight_BufferType:$x, Flight_BufferType:$w,
                       Flight_BufferType:$scales, Flight_BufferType:$out,
                       I64Attr:$scales_row, I64Attr:$out_row,
                       I64Attr:$k_blocks, I64Attr:$n, I64Attr:$out_stride,
                       DefaultValuedAttr<StrAttr, "\"f16\"">:$out_format,
                       UnitAttr:$bias, UnitAttr:$relu, UnitAttr:$b_kmajor,
                       DefaultValuedAttr<Flight_PrecisionAttr,
                           "::flightllm::flight::Precision::W8A8">:$precision,
                       DefaultValuedAttr<Flight_SparsityAttr,
                           "::flightllm::flight::Sparsity::Dense">:$sparsity,
                       UnitAttr:$grouped,
                       DefaultValuedAttr<I64Attr, "0">:$x_row);
  let assemblyFormat = [{
    $x `,` $w `,` $scales `[` $scales_row `]` `->` $out `[` $out_row `]`
    attr-dict `:` qualified(type($x)) `,` qualified(type($w)) `,`
    qualified(type($scales)) `->` qualified(type($out))
  }];
  let hasVerifier = 1;
}

def Flight_BufMMOp : Flight_BufferMatrixOp<"buf_mm", "Matrix-matrix product (MM)"> {
  let description = [{
    `out[t, n] = (sum_k x[t, k] * w[n, k]) * x_scale[t] * scales[n]
    (+ bias[n])`, ReLU when `relu` is set, for the MM tile's tokens: `x` is
    the quantized input in `act` (INT8 rows with their per-token scale row),
    `w` the weight tile in `weight`, `k_blocks` blocks of 16 along K, `n`
    output channels (or `w` K-major with `b_kmajor`), `scales` (then the
    biases with `bias`) fp32 in `meta` from row `scales_row`, the result
    (`out_format` f16 or f32) from row `out_row` of `out`, `out_stride` rows
    per token. `precision` (INT8 or INT4 weights), `sparsity` (N:16: kept
    codes and 4-bit indices per block of 16) and `grouped` (group-wise
    scales and zero points behind a group header in `scales`) give the
    format of `w` (docs/execution-model.md); sparse and grouped `w` must be
    channel-major.

    ```mlir
    flight.buf_mm %xq, %w, %s[0] -> %y[0] {k_blocks = 4 : i64, n = 64 : i64, out_stride = 1 : i64} : !flight.buffer<128x128xi8, act>, !flight.buffer<64x128xi8, weight>, !flight.buffer<2x128xi8, meta> -> !flight.buffer<128x128xi8, act>
    ```
  }];
}

def Flight_BufMVOp : Flight_BufferMatrixOp<"buf_mv", "Matrix-vector product (MV)"> {
  let description = [{
    As `flight.buf_mm` for one token (decode); `x_row` (default 0) is the
    row of `x` holding that token's quantized vector (a batched decode
    bucket runs one MV per sequence on one weight tile).
  }];
}

def Flight_SelectSeqOp : Flight_Op<"select_seq"> {
  let summary = "Address sequence `index` of a batched decode run (SYS select_seq)";
  let description = [{
    The transfers and masks after it use sequence `index`'s length (`P`)
    and KV-cache slot (base `B2`), until the next `flight.select_seq`
    (docs/lowering.md, "Batched decode"). `index` is below the ISA's
    `MaxBatch`.

    ```mlir
    flight.select_seq 1
    flight.tile_store %k[0] -> %cache[0] length 128 base <B2> param <P> stride 128 : ...
    ```
  }];
  let arguments = (ins I64Attr:$index);
  let assemblyFormat = "$index attr-dict";
  let hasVerifier = 1;
}

def Flight_BufMiscOp : Flight_Op<"buf_misc"> {
  let summary = "An SFU operation on buffers (MISC)";
  let description = [{
    `kind` names a MISC operation of the ISA (docs/isa.md) over `rows` rows
    of `k` elements: `a` from row `a_row` (in `act`, `acc` for
    `dequantize`), advancing `a_step` rows per row; `b` (when the kind has
    one) from `b_row`, `b_step`; the result to `out` (in `act`) from
    `out_row`, `out_step`. Element-wise kinds with two operands (`add`,
    `mul`, `swiglu`) take `b` in `act` or `meta`; `silu`, `gelu`,
    `gelu_tanh`, `relu`, `copy` and `quantize_dynamic` take none; the
    parameterised kinds (`softmax`, `layernorm`, `rmsnorm`, `rope`,
    `rope_interleaved`, `quantize`, `dequantize`) their parameters in
    `meta`. `masked` (softmax only) applies the causal mask at positions
    `P + pos_off + row`. `out` may be `a` or `b` (in place).

    ```mlir
    flight.buf_misc "add" %x[0], %y[0] -> %x[0] {k = 64 : i64, rows = 128 : i64, a_step = 1 : i64, b_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<128x128xi8, act>, !flight.buffer<128x128xi8, act> -> !flight.buffer<128x128xi8, act>
    ```
  }];
  let arguments = (ins StrAttr:$kind, Flight_BufferType:$a,
                       Optional<Flight_BufferType>:$b, Flight_BufferType:$out,
                       I64Attr:$a_row, DefaultValuedAttr<I64Attr, "0">:$b_row,
                       I64Attr:$out_row, I64Attr:$k, I64Attr:$rows,
                       I64Attr:$a_step, DefaultValuedAttr<I64Attr, "0">:$b_step,
                       I64Attr:$out_step, UnitAttr:$masked,
                       DefaultValuedAttr<I64Attr, "0">:$pos_off);
  let assemblyFormat = [{
    $kind $a `[` $a_row `]` (`,` $b^ `[` $b_row `]`)? `->` $out `[` $out_row `]`
    attr-dict `:` qualified(type($a)) (`,` qualified(type($b))^)? `->`
    qualified(type($out))
  }];
  let hasVerifier = 1;
}

def Flight_BufExchangeOp : Flight_Op<"buf_exchange"> {
  let summary = "All-gather of a value's column slices between the cores";
  let description = [{
    Multi-core buckets (docs/lowering.md, cores): core `c` computed the bytes
    `[slices[c], slices[c+1])` of each of the `tokens` token rows of
    `buffer` (`act`; token `t` starts `row_stride` rows after token 0), and
    after the exchange every core holds all of them. flight-plan-buffers
    expands it on every core into SYS sync, one LD per other core and token
    from that core's `act` buffer (the inter-core link), SYS sync. Slice
    bounds are multiples of 32 bytes (the LD unit), non-decreasing, within
    the token's rows.

    ```mlir
    flight.buf_exchange %h tokens 1 row_stride 64 slices [0, 2816, 5632, 8192] : !flight.buffer<64x128xi8, act>
    ```
  }];
  let arguments = (ins Flight_BufferType:$buffer, I64Attr:$tokens,
                       I64Attr:$row_stride, DenseI64ArrayAttr:$slices);
  let assemblyFormat = [{
    $buffer `tokens` $tokens `row_stride` $row_stride `slices` $slices
    attr-dict `:` qualified(type($buffer))
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Regions
//===----------------------------------------------------------------------===//

def Flight_BucketOp : Flight_Op<"bucket", [
    Symbol, IsolatedFromAbove, SingleBlock, NoTerminator]> {
  let summary = "The buffer-level program of one length bucket";
  let description = [{
    What one stream computes, before instruction selection: lengths
    `[min_length, max_length]` of `stage` (prefill: prompt tokens; decode:
    context). Becomes one `flight.stream`.

    ```mlir
    flight.bucket @decode_32 stage <decode> min_length = 17 max_length = 32 {
      flight.layer_body layers = 32 weight_stride = 344 kv_stride = 1024 { ... }
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, Flight_StageAttr:$stage,
                       I64Attr:$min_length, I64Attr:$max_length);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $sym_name `stage` $stage `min_length` `=` $min_length
    `max_length` `=` $max_length attr-dict-with-keyword $body
  }];
  let hasVerifier = 1;
}

def Flight_PrefillTileOp : Flight_Op<"prefill_tile", [
    HasParent<"BucketOp">, SingleBlock, NoTerminator]> {
  let summary = "One tile of a prefill bucket";
  let description = [{
    Tokens `[index * tokens, (index + 1) * tokens)` of a prefill bucket (the
    MM tile, 128 tokens on the u280); tile `index` attends to
    `(index + 1) * tokens` key positions.

    ```mlir
    flight.prefill_tile index = 1 tokens = 128 { ... }
    ```
  }];
  let arguments = (ins I64Attr:$index, I64Attr:$tokens);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `index` `=` $index `tokens` `=` $tokens attr-dict-with-keyword $body
  }];
  let hasVerifier = 1;
}

def Flight_LayerBodyOp : Flight_Op<"layer_body", [
    ParentOneOf<["BucketOp", "PrefillTileOp"]>, SingleBlock, NoTerminator]> {
  let summary = "The decoder layer, shared by every layer (SYS loop)";
  let description = [{
    One decoder layer that runs `layers` times (`SYS loop`), each time with
    the base registers advanced: B1 by `weight_stride` (the layer's weights)
    and B2 by `kv_stride` (its KV cache), in 32-byte units. Loads inside use
    `base <B1>`/`base <B2>` for per-layer data. Instruction selection
    leaves the strides out; `flight-hbm-layout` sets them.

    ```mlir
    flight.layer_body layers = 32 weight_stride = 344 kv_stride = 1024 { ... }
    ```

    With weight tiles in the board's DDR (`flight-hbm-layout{ddr-weights=}`)
    B3 advances by `ddr_stride` too and those tiles load with `base <B3>`.

    A model whose layers differ in their weight formats (mixed precision)
    has one body per run of consecutive layers with the same formats, each
    starting at its `first_layer` (the layer register `L` it sets; absent:
    0), in order:

    ```mlir
    flight.layer_body layers = 1 weight_stride = 96 kv_stride = 512 { ... }
    flight.layer_body layers = 5 first_layer = 1 weight_stride = 96 kv_stride = 512 { ... }
    ```
  }];
  let arguments = (ins I64Attr:$layers, OptionalAttr<I64Attr>:$weight_stride,
                       OptionalAttr<I64Attr>:$kv_stride,
                       OptionalAttr<I64Attr>:$first_layer,
                       OptionalAttr<I64Attr>:$ddr_stride);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `layers` `=` $layers (`first_layer` `=` $first_layer^)?
    (`weight_stride` `=` $weight_stride^
    `kv_stride` `=` $kv_stride)? (`ddr_stride` `=` $ddr_stride^)?
    attr-dict-with-keyword $body
  }];
  let extraClassDeclaration = [{
    /// The layer register of the first iteration.
    int64_t getFirstLayerIndex() {
      return getFirstLayerAttr() ? getFirstLayerAttr().getInt() : 0;
    }
  }];
  let hasVerifier = 1;
}

#endif // FLIGHTLLM_DIALECT_FLIGHT_FLIGHTBUFFEROPS_TD
