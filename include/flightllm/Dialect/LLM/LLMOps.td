//===- LLMOps.td - Operations of the llm dialect ----------*- tablegen -*-===//
//
// The semantics written in each description are normative: the reference
// interpreter and the accelerator lowering both implement exactly them.
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DIALECT_LLM_LLMOPS_TD
#define FLIGHTLLM_DIALECT_LLM_LLMOPS_TD

include "flightllm/Dialect/LLM/LLMAttrs.td"
include "flightllm/Dialect/LLM/LLMDialect.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Weights and embeddings
//===----------------------------------------------------------------------===//

def LLM_WeightOp : LLM_Op<"weight",
    [ConstantLike, Pure, AllTypesMatch<["value", "result"]>]> {
  let summary = "A named model parameter";
  let description = [{
    A constant tensor that came from an ONNX initializer. `name` is the
    initializer's name, kept so that the weight can be found again in the
    checkpoint and in the accelerator's weight image. `value` holds the data,
    usually as a `dense_resource` blob; the result has the value's type.

    Being constant-like, weights take part in folding and are uniqued by the
    canonicalizer: two weights with the same contents and type become one,
    which keeps the first name.

    ```mlir
    %w = llm.weight "model.norm.weight" = dense<1.0> : tensor<64xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, ElementsAttr:$value);
  let results = (outs LLM_Weight:$result);
  let assemblyFormat = "$name `=` $value attr-dict";
  let hasFolder = 1;
  let hasVerifier = 1;
}

def LLM_EmbeddingOp : LLM_Op<"embedding", [Pure]> {
  let summary = "Token embedding lookup";
  let description = [{
    Looks up one row of `table` (`[V, D]`) per id in `ids` (integer tensor of
    any rank, usually `[B, S]`):

    ```
    result[i..., d] = table[ids[i...], d]
    ```

    The result is `[ids dims..., D]` with the table's element type. An id
    outside `[0, V)` is undefined behaviour.

    ```mlir
    %h = llm.embedding %table, %ids
        : (tensor<32000x4096xf16>, tensor<1x?xi64>) -> tensor<1x?x4096xf16>
    ```
  }];
  let arguments = (ins LLM_Weight:$table, LLM_Indices:$ids);
  let results = (outs LLM_Weight:$result);
  let assemblyFormat = [{
    $table `,` $ids attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Matrix products
//===----------------------------------------------------------------------===//

// The compressed-weight attributes `llm.linear` and `llm.logits` share; their
// meaning is in llm.linear's description.
defvar LLM_CompressionAttrs = (ins
    DefaultValuedAttr<I64Attr, "8">:$weight_bits,
    DefaultValuedAttr<I64Attr, "0">:$group_size,
    OptionalAttr<ElementsAttr>:$weight_zero_points,
    OptionalAttr<DenseI64ArrayAttr>:$sparsity,
    OptionalAttr<DenseI64ArrayAttr>:$block_sparsity);

def LLM_LinearOp : LLM_Op<"linear", [Pure]> {
  let summary = "Fully connected layer";
  let description = [{
    Multiplies the last dimension of `x` (`[..., K]`) by `weight` and adds
    the optional `bias` (`[N]`):

    ```
    result[i..., n] = sum_k x[i..., k] * W[k, n] + bias[n]
    ```

    where `W = weight` (`[K, N]`, the layout of ONNX MatMul's B input) or,
    with `transpose_weight`, `W = transpose(weight)` for a `[N, K]` weight
    (the layout of PyTorch's nn.Linear and ONNX Gemm with transB). The result
    is `[..., N]` with `x`'s leading dimensions and element type. Products
    accumulate in f32.

    Quantized form (W8A8): an integer `weight` holds `Wq`, and
    `weight_scales` (`[N]` f32) its per-output-channel scales, so that the
    weight means `Wq[k, n] * weight_scales[n]`. With `input_scale` as well,
    x is quantized to int8 and the products are exact integers:

    ```
    xq[.., k]   = clamp(round_half_even(x[.., k] / input_scale), -127, 127)
    acc[.., n]  = sum_k xq[.., k] * Wq[k, n]                  (int32)
    result      = f32(acc) * (input_scale * weight_scales[n]) (+ bias[n])
    ```

    (the scale product is one f32 multiply, then one multiply and one add).
    Without `input_scale`, each row (token) of x is quantized dynamically
    (docs/execution-model.md, `quantize_dynamic`): `amax = max_k |x[k]|`,
    `xs = amax / 127`, `xq[k] = clamp(round_half_even(x[k] * (127 / amax)),
    -127, 127)` (`xs = 1`, `xq = 0` for an all-zero row), and the result is
    `f32(acc) * (xs * weight_scales[n]) (+ bias[n])`.

    Compressed forms (docs/compression.md). `weight_bits` (8 or 4) is the
    width of the codes `Wq` held in the i8 `weight`; `weight_zero_points`
    (optional, an integer tensor shaped like `weight_scales`) makes the
    format asymmetric. The ranges of `Wq`: 8 bits `[-127, 127]`, or
    `[-128, 127]` with zero points in `[-128, 127]`; 4 bits `[-8, 7]`, or
    `[0, 15]` with zero points in `[0, 15]`. `group_size` 0 gives one scale
    (and zero point) per output channel, `weight_scales` `[N]`; `G > 0` (a
    divisor of K) gives one per channel and run of G consecutive k,
    `weight_scales` `[N, K/G]`, so that

    ```
    W[k, n] = (Wq[k, n] - zp[n, k/G]) * weight_scales[n, k/G]
    ```

    (zp = 0 without zero points). The integer arithmetic, with xq and xs as
    above (flightllm/ISA/Numerics.h, `compressedDotValue`):

    ```
    G == 0: acc = sum_k xq[k] * (Wq[k, n] - zp[n])             (int32)
            result = f32(acc) * (xs * weight_scales[n]) (+ bias[n])
    G  > 0: for g = 0, 1, ..., K/G - 1 in this order, starting at f = 0.0:
              p = sum_{k in [gG, gG+G)} xq[k] * (Wq[k, n] - zp[n, g]) (int32)
              f = f + f32(p) * weight_scales[n, g]             (f32)
            result = f * xs (+ bias[n])
    ```

    Sparsity is recorded, not computed: the values are ordinary (zero)
    weights. `sparsity = [S, M]` states that, for every output channel n,
    each run of M consecutive k (`[jM, (j+1)M)`, M divides K) holds at most
    S nonzero weights (`Wq - zp != 0` for an integer weight, `W != 0` for a
    float one). `block_sparsity = [BK, BN, S, M]` tiles the weight into
    blocks of BK consecutive k by BN consecutive n (BK divides K, BN
    divides N) and states that in each column of blocks, every run of M
    consecutive blocks along k holds at most S blocks with a nonzero weight.
    The verifier checks these claims, and the ranges of `Wq` and zero
    points, against the weight's values when the weight is an `llm.weight`
    of at most 2^20 elements (larger ones are checked by the passes that
    produce them).

    ```mlir
    %y = llm.linear %x, %w, %b {transpose_weight = true}
        : (tensor<1x?x64xf32>, tensor<256x64xf32>, tensor<256xf32>)
        -> tensor<1x?x256xf32>
    ```
  }];
  let arguments = !con((ins LLM_Activation:$x, LLM_Weight:$weight,
                            Optional<LLM_Weight>:$bias,
                            DefaultValuedAttr<BoolAttr, "false">:$transpose_weight,
                            OptionalAttr<ElementsAttr>:$weight_scales,
                            OptionalAttr<F32Attr>:$input_scale),
                       LLM_CompressionAttrs);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $x `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  // The dense or W8A8 form, without the compression attributes.
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$x, "::mlir::Value":$weight, "::mlir::Value":$bias,
                   "bool":$transpose_weight, "::mlir::ElementsAttr":$weight_scales,
                   "::mlir::FloatAttr":$input_scale), [{
      build($_builder, $_state, result, x, weight, bias,
            $_builder.getBoolAttr(transpose_weight), weight_scales,
            input_scale, ::mlir::IntegerAttr(), ::mlir::IntegerAttr(),
            ::mlir::ElementsAttr(), ::mlir::DenseI64ArrayAttr(),
            ::mlir::DenseI64ArrayAttr());
    }]>
  ];
  let hasVerifier = 1;
}

def LLM_LogitsOp : LLM_Op<"logits", [Pure]> {
  let summary = "Language-model head: hidden states to vocabulary scores";
  let description = [{
    The final projection of hidden states `x` (`[..., D]`) onto the
    vocabulary, with the shape rules of `llm.linear` without bias:

    ```
    result[i..., v] = sum_d x[i..., d] * W[d, v]
    ```

    where `W = weight` (`[D, V]`) or, with `transpose_weight`,
    `W = transpose(weight)` for a `[V, D]` weight. Models with tied
    embeddings pass the embedding table here with `transpose_weight = true`.
    The result is `[..., V]` with `x`'s element type. Kept apart from
    `llm.linear` because the accelerator streams its large weight and
    usually needs only the last position's scores. The quantized and
    compressed forms (`weight_scales`, `input_scale`, `weight_bits`,
    `group_size`, `weight_zero_points`, `sparsity`, `block_sparsity`) mean
    exactly what they mean on `llm.linear`.

    ```mlir
    %s = llm.logits %h, %table {transpose_weight = true}
        : (tensor<1x?x64xf32>, tensor<1000x64xf32>) -> tensor<1x?x1000xf32>
    ```
  }];
  let arguments = !con((ins LLM_Activation:$x, LLM_Weight:$weight,
                            DefaultValuedAttr<BoolAttr, "false">:$transpose_weight,
                            OptionalAttr<ElementsAttr>:$weight_scales,
                            OptionalAttr<F32Attr>:$input_scale),
                       LLM_CompressionAttrs);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $x `,` $weight attr-dict `:` functional-type(operands, results)
  }];
  // The dense or W8A8 form, without the compression attributes.
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$x, "::mlir::Value":$weight,
                   "bool":$transpose_weight, "::mlir::ElementsAttr":$weight_scales,
                   "::mlir::FloatAttr":$input_scale), [{
      build($_builder, $_state, result, x, weight,
            $_builder.getBoolAttr(transpose_weight), weight_scales,
            input_scale, ::mlir::IntegerAttr(), ::mlir::IntegerAttr(),
            ::mlir::ElementsAttr(), ::mlir::DenseI64ArrayAttr(),
            ::mlir::DenseI64ArrayAttr());
    }]>
  ];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Normalizations
//===----------------------------------------------------------------------===//

def LLM_LayerNormOp : LLM_Op<"layer_norm", [Pure]> {
  let summary = "Layer normalization over the last dimension";
  let description = [{
    Normalizes `x` (`[..., D]`) over its last dimension, then scales by
    `gamma` (`[D]`) and shifts by `beta` (`[D]`, zero when absent):

    ```
    mean = sum_d x[i..., d] / D
    var  = sum_d (x[i..., d] - mean)^2 / D
    result[i..., d] = (x[i..., d] - mean) / sqrt(var + epsilon)
                      * gamma[d] + beta[d]
    ```

    The variance is the biased one (divides by D). The result has `x`'s
    type. Reductions accumulate in f32.

    ```mlir
    %y = llm.layer_norm %x, %g, %b {epsilon = 1.0e-05 : f32}
        : (tensor<1x?x64xf32>, tensor<64xf32>, tensor<64xf32>)
        -> tensor<1x?x64xf32>
    ```
  }];
  let arguments = (ins LLM_Activation:$x, LLM_Weight:$gamma,
                       Optional<LLM_Weight>:$beta, F32Attr:$epsilon);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $x `,` $gamma (`,` $beta^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def LLM_RMSNormOp : LLM_Op<"rms_norm", [Pure]> {
  let summary = "Root-mean-square normalization over the last dimension";
  let description = [{
    Scales `x` (`[..., D]`) by the reciprocal root mean square of its last
    dimension, then by `gamma` (`[D]`), without centring:

    ```
    ms = sum_d x[i..., d]^2 / D
    result[i..., d] = x[i..., d] / sqrt(ms + epsilon) * gamma[d]
    ```

    The result has `x`'s type. Reductions accumulate in f32.

    ```mlir
    %y = llm.rms_norm %x, %g {epsilon = 1.0e-06 : f32}
        : (tensor<1x?x64xf32>, tensor<64xf32>) -> tensor<1x?x64xf32>
    ```
  }];
  let arguments = (ins LLM_Activation:$x, LLM_Weight:$gamma,
                       F32Attr:$epsilon);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $x `,` $gamma attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Rotary position embedding
//===----------------------------------------------------------------------===//

def LLM_PositionIdsOp : LLM_Op<"position_ids", [Pure]> {
  let summary = "Absolute positions of the new tokens";
  let description = [{
    The position of each new token when `P` tokens are already in the KV
    cache: `P` is dimension 2 of `past_key` (`[B, Hkv, P, Dh]`), `ids` is
    `[B, S]`, and

    ```
    result[b, s] = P + s + offset
    ```

    `offset` covers models whose learned position table starts later (OPT
    reserves its first two rows). The positions feed `llm.rope` and the
    position `llm.embedding` of GPT-2/OPT style models.

    ```mlir
    %pos = llm.position_ids %ids, %past_key_0
        : (tensor<1x?xi64>, tensor<1x2x?x8xf32>) -> tensor<1x?xi64>
    ```
  }];
  let arguments = (ins LLM_Indices:$ids, LLM_Activation:$past_key,
                       DefaultValuedAttr<I64Attr, "0">:$offset);
  let results = (outs LLM_Indices:$result);
  let assemblyFormat = [{
    $ids `,` $past_key attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def LLM_RopeOp : LLM_Op<"rope", [Pure]> {
  let summary = "Rotary position embedding, applied per head";
  let description = [{
    Rotates each head of `x` (`[B, S, H*Dh]`, `H = num_heads`) by the angles
    of its token's position. `cos` and `sin` are `[MaxPos, Dh]` tables with
    one full row per position; `positions` (`[B, S]`, or `[S]` shared by the
    batch) gives the row of each token. For b, s, head h and j in [0, Dh),
    with p = positions[b, s] (or positions[s]) and e = h*Dh + j:

    ```
    result[b, s, e] = x[b, s, e] * cos[p, j] + r[b, s, e] * sin[p, j]
    ```

    where `r` pairs the elements of each head according to `style`.
    `rotate_half` pairs j with j + Dh/2:

    ```
    r[.., h*Dh + j] = -x[.., h*Dh + j + Dh/2]   for j <  Dh/2
    r[.., h*Dh + j] =  x[.., h*Dh + j - Dh/2]   for j >= Dh/2
    ```

    and its tables are HF's `cos_cached` layout: both halves of a row hold
    the same Dh/2 values. `interleaved` pairs 2i with 2i+1:

    ```
    r[.., h*Dh + 2i]     = -x[.., h*Dh + 2i + 1]
    r[.., h*Dh + 2i + 1] =  x[.., h*Dh + 2i]
    ```

    and its tables repeat each value twice: cos[p, 2i] == cos[p, 2i+1].

    Dh must be even. A position outside `[0, MaxPos)` is undefined
    behaviour. The result has `x`'s type; arithmetic is done in f32.

    ```mlir
    %q = llm.rope rotate_half %x, %cos, %sin, %pos {num_heads = 4 : i64}
        : (tensor<1x?x64xf32>, tensor<2048x16xf32>, tensor<2048x16xf32>,
           tensor<1x?xi64>) -> tensor<1x?x64xf32>
    ```
  }];
  let arguments = (ins LLM_Activation:$x, LLM_FloatTable:$cos,
                       LLM_FloatTable:$sin, LLM_Indices:$positions,
                       LLM_PositiveI64Attr:$num_heads,
                       LLM_RopeStyleAttr:$style);
  let results = (outs LLM_Activation:$result);
  // The style attribute prints its own leading space; the empty literal
  // drops the one the op would print before it.
  let assemblyFormat = [{
    `` $style $x `,` $cos `,` $sin `,` $positions attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

def LLM_AttentionOp : LLM_Op<"attention", [Pure, AttrSizedOperandSegments]> {
  let summary = "Multi-head scaled dot-product attention with a KV cache";
  let description = [{
    Self-attention of S new tokens over the P cached ones and themselves.
    Shapes (Hq = num_heads, Hkv = num_kv_heads, T = P + S):

    ```
    query                      [B, S, Hq*Dh]
    key, value                 [B, S, Hkv*Dh]
    past_key, past_value       [B, Hkv, P, Dh]   (optional, both or neither)
    output                     [B, S, Hq*Dh]
    present_key, present_value [B, Hkv, T, Dh]
    ```

    Heads are split from the last dimension, head h taking elements
    [h*Dh, (h+1)*Dh). The present cache is the past one followed by the new
    keys/values, heads split (P = 0 without past):

    ```
    present_key[b, g, t, j] = past_key[b, g, t, j]          for t < P
    present_key[b, g, P + s, j] = key[b, s, g*Dh + j]
    (and likewise for present_value from past_value and value)
    ```

    Grouped-query attention: query head h reads key/value head
    g = h / (Hq / Hkv) (integer division); Hq must be a multiple of Hkv.
    New token s sits at absolute position P + s. For each b, h, s:

    ```
    score[t] = scale * sum_j query[b, s, h*Dh + j] * present_key[b, g, t, j]
    allowed  = t <= P + s if causal, every t in [0, T) otherwise;
               with a window W also t > P + s - W (the W newest positions)
    prob     = softmax of score over the allowed t (others get 0)
    output[b, s, h*Dh + j] = sum_t prob[t] * present_value[b, g, t, j]
    ```

    `scale` is usually 1/sqrt(Dh). There is no padding mask: every cached
    position is valid. `window` (sliding-window attention, Mistral) needs
    `causal`; the cache still keeps every position. Arithmetic is done in f32; outputs round to the
    element type shared by all operands and results.

    `k_scales` and `v_scales` (f32 `[Hkv*Dh]`, positive, both or neither)
    are the static per-channel scales of the int8 KV cache chosen by
    `llm-calibrate` (channel `g*Dh + j` of key/value head `g`). The fp32
    reference ignores them; the accelerator numerics
    (docs/execution-model.md, section 5) store `K8 = sat8(rne(k / k_scale))`.

    `kv_bits` (8, the default, or 4) is the width of the cache codes in the
    accelerator numerics. With 4 bits the cache follows KIVI's layout: keys
    per channel with the static `k_scales` (`max |k| / 7` from
    calibration), `K4 = clamp(rne(k * (1 / k_scale)), -7, 7)`; values per
    token and key/value head with a scale computed at run time when the
    token enters the cache, over its Dh channels:

    ```
    vs = h(max_j |v[j]| / 7)      (fp16; if vs < 2^-14 the row is stored
                                  as zeros with vs = 1)
    V4[j] = clamp(rne(v[j] / vs), -7, 7)
    ```

    `v_scales` is not used for values then. Attention folds the per-token
    scale into the probabilities, as the int8 path folds k_scales into q:
    `p'[t] = h(p[t] * vs[t])`, `quantize_dynamic(p')` gives `p8`, `ps`, and
    `out[j] = h(f32(sum_t p8[t] * V4[t][j]) * ps)`. The present caches of
    the accelerator numerics hold `K4` codes and the exact f32 products
    `V4[t][j] * vs[t]` (docs/compression.md).

    ```mlir
    %o, %pk, %pv = llm.attention %q, %k, %v past(%past_k, %past_v)
        {causal = true, num_heads = 8 : i64, num_kv_heads = 2 : i64,
         scale = 0.125 : f32}
        : (tensor<1x?x512xf16>, tensor<1x?x128xf16>, tensor<1x?x128xf16>,
           tensor<1x2x?x64xf16>, tensor<1x2x?x64xf16>)
        -> (tensor<1x?x512xf16>, tensor<1x2x?x64xf16>, tensor<1x2x?x64xf16>)
    ```
  }];
  let arguments = (ins LLM_Activation:$query, LLM_Activation:$key,
                       LLM_Activation:$value,
                       Optional<LLM_Activation>:$past_key,
                       Optional<LLM_Activation>:$past_value,
                       LLM_PositiveI64Attr:$num_heads,
                       LLM_PositiveI64Attr:$num_kv_heads,
                       F32Attr:$scale, BoolAttr:$causal,
                       OptionalAttr<LLM_PositiveI64Attr>:$window,
                       OptionalAttr<DenseF32ArrayAttr>:$k_scales,
                       OptionalAttr<DenseF32ArrayAttr>:$v_scales,
                       DefaultValuedAttr<I64Attr, "8">:$kv_bits);
  let results = (outs LLM_Activation:$output, LLM_Activation:$present_key,
                      LLM_Activation:$present_value);
  let assemblyFormat = [{
    $query `,` $key `,` $value
    (`past` `(` $past_key^ `,` $past_value `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  // With the default 8-bit KV cache.
  let builders = [
    OpBuilder<(ins "::mlir::TypeRange":$results, "::mlir::Value":$query, "::mlir::Value":$key,
                   "::mlir::Value":$value, "::mlir::Value":$past_key, "::mlir::Value":$past_value,
                   "::mlir::IntegerAttr":$num_heads, "::mlir::IntegerAttr":$num_kv_heads,
                   "::mlir::FloatAttr":$scale, "::mlir::BoolAttr":$causal,
                   "::mlir::IntegerAttr":$window, "::mlir::DenseF32ArrayAttr":$k_scales,
                   "::mlir::DenseF32ArrayAttr":$v_scales), [{
      build($_builder, $_state, results, query, key, value, past_key,
            past_value, num_heads, num_kv_heads, scale, causal, window,
            k_scales, v_scales, ::mlir::IntegerAttr());
    }]>
  ];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Element-wise ops
//===----------------------------------------------------------------------===//

// Element-wise ops see every operand with one type: broadcasting is made
// explicit by the raising, so shapes here never disagree.
class LLM_ElementwiseOp<string mnemonic, list<Trait> traits = []>
    : LLM_Op<mnemonic, !listconcat(traits, [Pure, Elementwise,
                                            SameOperandsAndResultType])> {
  let results = (outs LLM_Activation:$result);
}

class LLM_ActivationOp<string mnemonic, string formula>
    : LLM_ElementwiseOp<mnemonic> {
  let description = [{
    Applies, element by element:

    ```
    result = }] # formula # [{
    ```

    The operand and result have the same type; arithmetic is done in f32.
  }];
  let arguments = (ins LLM_Activation:$input);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def LLM_GeluOp : LLM_ActivationOp<"gelu",
    "0.5 * x * (1 + erf(x / sqrt(2)))"> {
  let summary = "GELU activation, exact form";
}

def LLM_GeluTanhOp : LLM_ActivationOp<"gelu_tanh",
    "0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))"> {
  let summary = "GELU activation, tanh approximation";
}

def LLM_SiluOp : LLM_ActivationOp<"silu", "x * sigmoid(x) = x / (1 + exp(-x))"> {
  let summary = "SiLU (swish) activation";
}

def LLM_ReluOp : LLM_ActivationOp<"relu", "max(x, 0)"> {
  let summary = "ReLU activation";
}

class LLM_BinaryOp<string mnemonic, string formula, list<Trait> traits = []>
    : LLM_ElementwiseOp<mnemonic, traits> {
  let description = [{
    Computes, element by element, with both operands and the result of one
    type (no broadcasting):

    ```
    result = }] # formula # [{
    ```
  }];
  let arguments = (ins LLM_Activation:$lhs, LLM_Activation:$rhs);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def LLM_SwiGLUOp : LLM_ElementwiseOp<"swiglu"> {
  let summary = "Gated SiLU: silu(gate) * up";
  let description = [{
    The gate of a SwiGLU feed-forward block, element by element:

    ```
    result = silu(gate) * up = gate / (1 + exp(-gate)) * up
    ```

    Both operands and the result have one type; arithmetic is done in f32.
  }];
  let arguments = (ins LLM_Activation:$gate, LLM_Activation:$up);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
}

def LLM_AddOp : LLM_BinaryOp<"add", "lhs + rhs", [Commutative]> {
  let summary = "Element-wise addition";
}

def LLM_MulOp : LLM_BinaryOp<"mul", "lhs * rhs", [Commutative]> {
  let summary = "Element-wise multiplication";
}

#endif // FLIGHTLLM_DIALECT_LLM_LLMOPS_TD
