//===- Passes.td - Transformations of llm programs --------*- tablegen -*-===//

#ifndef FLIGHTLLM_DIALECT_LLM_TRANSFORMS_PASSES_TD
#define FLIGHTLLM_DIALECT_LLM_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def QuantizeWeightsPass : Pass<"llm-quantize-weights", "mlir::ModuleOp"> {
  let summary = "Quantize linear and LM-head weights to int8 per output channel";
  let description = [{
    Every f32 weight of `llm.linear` and `llm.logits` becomes an `i8` weight
    `Wq = clamp(round_half_even(W / s), -127, 127)` with the symmetric scale
    `s[n] = max_k |W[k, n]| / 127` of its output channel (1 for an all-zero
    channel), recorded as the op's `weight_scales`. Embedding tables, norm
    parameters and rotary tables stay in floating point (the SFU's domain).
  }];
  let dependentDialects = ["flightllm::llm::LLMDialect"];
}

def CalibratePass : Pass<"llm-calibrate", "mlir::ModuleOp"> {
  let summary = "Choose int8 activation scales by running calibration text";
  let description = [{
    Runs the program on the reference interpreter over calibration tokens (in
    windows of at most `window` tokens, each from an empty KV cache) and sets
    `input_scale = max |x| / 127` on every quantized `llm.linear` and
    `llm.logits`, from the largest magnitude its input `x` reached. Tokens come
    from `text-file` (bytes, for byte-level models) or `tokens` (ids).
  }];
  let options = [
    Option<"textFile", "text-file", "std::string", /*default=*/"\"\"",
           "Calibration text; each byte is a token (byte-level models)">,
    ListOption<"tokens", "tokens", "int64_t", "Calibration token ids">,
    Option<"maxTokens", "max-tokens", "unsigned", /*default=*/"1024",
           "Use at most this many calibration tokens">,
    Option<"window", "window", "unsigned", /*default=*/"128",
           "Tokens per calibration run">
  ];
  let dependentDialects = ["flightllm::llm::LLMDialect"];
}

#endif // FLIGHTLLM_DIALECT_LLM_TRANSFORMS_PASSES_TD
