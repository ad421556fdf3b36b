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
    windows of at most `window` tokens, each from an empty KV cache). Tokens
    come from `text-file` (bytes, for byte-level models) or `tokens` (ids);
    with neither, from a built-in deterministic sequence (a fixed ~700-byte
    text of prose, license wording and C for vocabulary 256, otherwise 512
    ids of a fixed linear congruential sequence).

    - Every `llm.attention` gets `k_scales` / `v_scales` (`[Hkv*Dh]` f32): per
      key/value channel, `max |k| / 127` over all calibration tokens of its
      `key` operand (after rope), likewise for `value`; 1 for a channel that
      stayed 0. These are the int8 KV cache scales of the accelerator.
    - With `activations=static`, every quantized `llm.linear` and
      `llm.logits` gets `input_scale = max |x| / 127` from the largest
      magnitude its input `x` reached. With `activations=dynamic` (the
      default, what the accelerator computes) `input_scale` is left unset
      (an existing one is removed), so inputs are quantized per token.
  }];
  let options = [
    Option<"textFile", "text-file", "std::string", /*default=*/"\"\"",
           "Calibration text; each byte is a token (byte-level models)">,
    ListOption<"tokens", "tokens", "int64_t", "Calibration token ids">,
    Option<"maxTokens", "max-tokens", "unsigned", /*default=*/"1024",
           "Use at most this many calibration tokens">,
    Option<"window", "window", "unsigned", /*default=*/"128",
           "Tokens per calibration run">,
    Option<"activations", "activations", "std::string",
           /*default=*/"\"dynamic\"",
           "int8 activations of quantized projections: 'dynamic' (per token, "
           "no input_scale) or 'static' (calibrated input_scale)">
  ];
  let dependentDialects = ["flightllm::llm::LLMDialect"];
}

#endif // FLIGHTLLM_DIALECT_LLM_TRANSFORMS_PASSES_TD
