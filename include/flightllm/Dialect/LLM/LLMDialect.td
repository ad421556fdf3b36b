//===- LLMDialect.td - The llm dialect --------------------*- tablegen -*-===//
//
// The dialect definition, the op base class and the type constraints the ops
// share. Kept apart from the ops so that the attribute file can include it.
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DIALECT_LLM_LLMDIALECT_TD
#define FLIGHTLLM_DIALECT_LLM_LLMDIALECT_TD

include "mlir/IR/OpBase.td"

def LLM_Dialect : Dialect {
  let name = "llm";
  let summary = "Model-level operations of decoder-only language models";
  let description = [{
    The layer vocabulary of a decoder-only transformer: embeddings, linear
    layers, normalizations, rotary embeddings, attention with a key/value
    cache, activations. The ONNX raising passes produce it from the onnx
    dialect; the lowering to the accelerator consumes it.

    Hidden states are `[B, S, D]` tensors (batch, new tokens, hidden size).
    Attention heads are not a tensor dimension at this level: ops that work
    per head (`llm.rope`, `llm.attention`) take head counts as attributes and
    split the last dimension themselves. The key/value cache is
    `[B, Hkv, P, Dh]` (batch, key/value heads, past length, head size).
    Dimensions may be dynamic; verifiers check only what is static.

    Activations are `f32`, `f16` or `bf16` tensors. Weights may be of any
    float or integer element type so that quantized weights fit the same ops.
    See docs/llm-dialect.md for the conventions in full.
  }];
  let cppNamespace = "::flightllm::llm";
  let useDefaultAttributePrinterParser = 1;
}

class LLM_Op<string mnemonic, list<Trait> traits = []>
    : Op<LLM_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

// Activations: the values flowing between layers.
def LLM_Activation : RankedTensorOf<[F32, F16, BF16]>;

// Weights: float now, integer once quantized.
def LLM_Weight : RankedTensorOf<[AnyFloat, AnyInteger]>;

// Token ids and positions.
def LLM_Indices : RankedTensorOf<[AnyInteger]>;

// Lookup tables computed from the model configuration (rotary cos/sin).
def LLM_FloatTable : RankedTensorOf<[AnyFloat]>;

def LLM_PositiveI64Attr : ConfinedAttr<I64Attr, [IntPositive]>;

#endif // FLIGHTLLM_DIALECT_LLM_LLMDIALECT_TD
