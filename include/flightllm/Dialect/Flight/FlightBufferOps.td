//===- FlightBufferOps.td - Buffer-level flight ops --------*- tablegen -*-===//
//
// The buffer level of the lowering (docs/lowering.md, "Pass pipeline"): ops
// on !flight.buffer SSA values without addresses, inside regions for a
// bucket's stream, a prefill tile and the shared decoder-layer body. Later
// passes plan the buffers (flight.alloc offsets) and select instructions.
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

//===----------------------------------------------------------------------===//
// Buffers and tile transfers
//===----------------------------------------------------------------------===//

def Flight_BufferOp : Flight_Op<"buffer"> {
  let summary = "A buffer not yet placed";
  let description = [{
    A `!flight.buffer` value of its type's memory space without an offset:
    an activation, a weight tile or parameters on chip, or an HBM region
    (named after what it holds). On-chip buffer planning and the HBM layout
    give it its place (`flight.alloc`).

    ```mlir
    %w = flight.buffer "layers.0.q_proj[0:256]" : !flight.buffer<4096x256xi8, hbm>
    %t = flight.buffer : !flight.buffer<256x4096xi8, weight>
    ```
  }];
  let arguments = (ins OptionalAttr<StrAttr>:$name);
  let results = (outs Flight_BufferType:$result);
  let assemblyFormat = "($name^)? attr-dict `:` qualified(type($result))";
}

def Flight_TileLoadOp : Flight_Op<"tile_load"> {
  let summary = "Load an off-chip region into an on-chip buffer (LD)";
  let description = [{
    Copies `source` (in `hbm` or `ddr`) into a new buffer in `act`, `weight`
    or `meta`. The region's address is offset by the base register `base`
    (per layer: B1 weights, B2 KV cache) and by the run-time parameter
    `param` times one row (positions `P + ...`). Both buffers hold the same
    element type and the same number of bits; the shapes may differ (rows of
    HBM become rows of the tile).

    ```mlir
    %t = flight.tile_load %w base <B1> : !flight.buffer<4096x256xi8, hbm> -> !flight.buffer<256x4096xi8, weight>
    ```
  }];
  let arguments = (ins Flight_BufferType:$source,
                       DefaultValuedAttr<Flight_BaseRegisterAttr,
                           "::flightllm::flight::BaseRegister::Zero">:$base,
                       DefaultValuedAttr<Flight_RunTimeParamAttr,
                           "::flightllm::flight::RunTimeParam::Zero">:$param);
  let results = (outs Flight_BufferType:$result);
  let assemblyFormat = [{
    $source (`base` $base^)? (`param` $param^)? attr-dict `:`
    qualified(type($source)) `->` qualified(type($result))
  }];
  let hasVerifier = 1;
}

def Flight_TileStoreOp : Flight_Op<"tile_store"> {
  let summary = "Store an on-chip buffer to an off-chip region (ST)";
  let description = [{
    Copies `value` (on chip) to `dest` (`hbm` or `ddr`), e.g. this run's K/V
    rows into the KV cache at `base <B2> param <P>`. Same element type and
    number of bits on both sides.

    ```mlir
    flight.tile_store %k, %cache base <B2> param <P> : !flight.buffer<128x128xi8, act>, !flight.buffer<128x128xi8, hbm>
    ```
  }];
  let arguments = (ins Flight_BufferType:$value, Flight_BufferType:$dest,
                       DefaultValuedAttr<Flight_BaseRegisterAttr,
                           "::flightllm::flight::BaseRegister::Zero">:$base,
                       DefaultValuedAttr<Flight_RunTimeParamAttr,
                           "::flightllm::flight::RunTimeParam::Zero">:$param);
  let assemblyFormat = [{
    $value `,` $dest (`base` $base^)? (`param` $param^)? attr-dict `:`
    qualified(type($value)) `,` qualified(type($dest))
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
                       Flight_BufferType:$scales,
                       Optional<Flight_BufferType>:$bias,
                       UnitAttr:$relu, UnitAttr:$b_kmajor,
                       DefaultValuedAttr<Flight_PrecisionAttr,
                           "::flightllm::flight::Precision::W8A8">:$precision,
                       DefaultValuedAttr<Flight_SparsityAttr,
                           "::flightllm::flight::Sparsity::Dense">:$sparsity);
  let results = (outs Flight_BufferType:$result);
  let assemblyFormat = [{
    $x `,` $w `,` $scales (`bias` $bias^)? attr-dict `:`
    qualified(type($x)) `,` qualified(type($w)) `,` qualified(type($scales))
    (`,` qualified(type($bias))^)? `->` qualified(type($result))
  }];
  let hasVerifier = 1;
}

def Flight_BufMMOp : Flight_BufferMatrixOp<"buf_mm", "Matrix-matrix product (MM)"> {
  let description = [{
    `result[t, n] = (sum_k x[t, k] * w[n, k]) * x_scale[t] * scales[n]
    (+ bias[n])`, ReLU when `relu` is set: `x` is INT8 `TxK` in `act` (its
    per-token scales come with it), `w` the weight tile in `weight`, `NxK`
    (or `KxN` with `b_kmajor`), INT8 for `w8a8` and INT4 for `w4a8`; with
    `sparsity` other than `dense` K is a multiple of 16. `scales` and `bias`
    are fp32 `N` in `meta`; the result is fp16 or fp32 `TxN` in `act`.

    ```mlir
    %y = flight.buf_mm %xq, %t, %s : !flight.buffer<128x4096xi8, act>, !flight.buffer<256x4096xi8, weight>, !flight.buffer<256xf32, meta> -> !flight.buffer<128x256xf16, act>
    ```
  }];
}

def Flight_BufMVOp : Flight_BufferMatrixOp<"buf_mv", "Matrix-vector product (MV)"> {
  let description = [{
    As `flight.buf_mm` for one token (decode): `x` is `1xK`.
  }];
}

def Flight_BufMiscOp : Flight_Op<"buf_misc"> {
  let summary = "An SFU operation on buffers (MISC)";
  let description = [{
    `kind` names a MISC operation of the ISA (docs/isa.md). Element-wise
    kinds with two operands (`add`, `mul`, `swiglu`) take `b` of `a`'s
    shape in `act`; `silu`, `gelu`, `gelu_tanh`, `relu` and `copy` take no
    `b`; the parameterised kinds (`softmax`, `layernorm`, `rmsnorm`, `rope`,
    `rope_interleaved`, `quantize`, `dequantize`) take their parameters `b`
    in `meta`. `a` is in `act` (or `acc` for `dequantize`), the result in
    `act` with `a`'s shape: INT8 for `quantize`/`quantize_dynamic`, fp32
    for `dequantize`, `a`'s element type for `copy`, fp16 otherwise.
    `masked` (softmax only) applies the causal mask at the positions given
    by the run-time parameter P.

    ```mlir
    %h = flight.buf_misc "swiglu" %g, %u : !flight.buffer<128x256xf16, act>, !flight.buffer<128x256xf16, act> -> !flight.buffer<128x256xf16, act>
    ```
  }];
  let arguments = (ins StrAttr:$kind, Flight_BufferType:$a,
                       Optional<Flight_BufferType>:$b, UnitAttr:$masked);
  let results = (outs Flight_BufferType:$result);
  let assemblyFormat = [{
    $kind $a (`,` $b^)? attr-dict `:` qualified(type($a))
    (`,` qualified(type($b))^)? `->` qualified(type($result))
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
    `base <B1>`/`base <B2>` for per-layer data.

    ```mlir
    flight.layer_body layers = 32 weight_stride = 344 kv_stride = 1024 { ... }
    ```
  }];
  let arguments = (ins I64Attr:$layers, I64Attr:$weight_stride,
                       I64Attr:$kv_stride);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `layers` `=` $layers `weight_stride` `=` $weight_stride
    `kv_stride` `=` $kv_stride attr-dict-with-keyword $body
  }];
  let hasVerifier = 1;
}

#endif // FLIGHTLLM_DIALECT_FLIGHT_FLIGHTBUFFEROPS_TD
