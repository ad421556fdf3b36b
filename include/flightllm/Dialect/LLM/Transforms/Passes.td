//===- Passes.td - Transformations of llm programs --------*- tablegen -*-===//

#ifndef FLIGHTLLM_DIALECT_LLM_TRANSFORMS_PASSES_TD
#define FLIGHTLLM_DIALECT_LLM_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

// The calibration run's options, shared by every pass that runs one
// (flightllm/Dialect/LLM/Transforms/Calibration.h).
defvar LLM_CalibrationOptions = [
    Option<"textFile", "text-file", "std::string", /*default=*/"\"\"",
           "Calibration text; each byte is a token (byte-level models)">,
    ListOption<"tokens", "tokens", "int64_t", "Calibration token ids">,
    Option<"maxTokens", "max-tokens", "unsigned", /*default=*/"1024",
           "Use at most this many calibration tokens">,
    Option<"window", "window", "unsigned", /*default=*/"128",
           "Tokens per calibration run">
];

def QuantizeWeightsPass : Pass<"llm-quantize-weights", "mlir::ModuleOp"> {
  let summary = "Quantize linear and LM-head weights to 8 or 4 bits";
  let description = [{
    Every float weight of `llm.linear` and `llm.logits` becomes an `i8`
    weight of codes with `weight_scales` (and `weight_zero_points` when
    asymmetric), in the format of llm.linear's description. The default,
    `bits=8 group-size=0 symmetric=true method=rtn`, is W8A8 per output
    channel: `Wq = clamp(round_half_even(W / s), -127, 127)` with
    `s[n] = max_k |W[k, n]| / 127` (1 for an all-zero channel).
    Embedding tables, norm parameters and rotary tables stay in floating
    point (the SFU's domain).

    - `bits=4`: codes in [-8, 7], symmetric scale max |w| / 7, or with
      `symmetric=false` codes in [0, 15] with zero points (scale
      (max - min) / 15 over the range widened to include 0).
    - `group-size=G`: one scale per output channel and run of G consecutive
      k (G must divide K), `weight_scales` `[N, K/G]`.
    - `method=gptq`: GPTQ (Frantar et al. 2022) with the calibration run's
      input second moments H = X^T X: columns (k) in order (no act-order),
      lazy batch updates over blocks of 128 columns, dampening
      `damp` * mean(diag H). Zeros of a sparse weight (`sparsity`,
      `block_sparsity`) stay zero.
    - `bits=auto budget=B`: mixed precision. Each projection's candidate
      formats are 8 bits per channel and 4 bits (the requested group size
      and symmetry), and with `sparsity-candidates=8:16,4:16` also each
      of those N:M patterns (pruned by `sparsity-method`, `llm.linear`
      only; the LM head stays dense) at both widths. Every candidate's
      output error is measured on the calibration inputs
      (tr(dW H dW^T) / tr(W H W^T), dW against the float weight) and its
      storage counted as the accelerator stores it (codes, 4-bit N:16
      indices, 32-bit scales, zero points). The formats are chosen per
      projection to minimise the summed error with the average stored
      bits per weight at most B (multiple-choice knapsack: the greedy of
      its LP relaxation, least error increase per saved bit first, then a
      repair step that spends the remaining slack). `keep-8bit` patterns
      pin projections to dense 8 bits.

    Projections are named by their location (the ONNX node
    `/model/layers.0/mlp/up_proj/MatMul` gives
    `model.layers.0.mlp.up_proj.MatMul`) and by their weight's name;
    `llm.logits` also answers to `lm_head`. A pattern matches when it
    glob-matches a run of the dot-separated parts of either (`lm_head`,
    `layers.0.*`, `*.down_proj`).
  }];
  let options = !listconcat([
    Option<"bits", "bits", "std::string", /*default=*/"\"8\"",
           "Weight bits: 8, 4 or auto (mixed, under budget=)">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"0",
           "Weights per scale along K; 0: one scale per output channel">,
    Option<"symmetric", "symmetric", "bool", /*default=*/"true",
           "Symmetric codes; false adds zero points">,
    Option<"method", "method", "std::string", /*default=*/"\"rtn\"",
           "rtn (round to nearest) or gptq (calibrated)">,
    Option<"damp", "damp", "double", /*default=*/"0.01",
           "GPTQ/auto: dampening, a fraction of mean(diag H)">,
    Option<"budget", "budget", "double", /*default=*/"0",
           "bits=auto: the average bits per weight to stay under">,
    ListOption<"keep8Bit", "keep-8bit", "std::string",
               "Name patterns of projections kept at 8 bits (per channel)">,
    ListOption<"sparsityCandidates", "sparsity-candidates", "std::string",
               "bits=auto: N:M patterns each linear may also take (8:16,4:16)">,
    Option<"sparsityMethod", "sparsity-method", "std::string",
           /*default=*/"\"wanda\"",
           "bits=auto: pruning criterion of the sparse candidates "
           "(magnitude, wanda or sparsegpt)">
  ], LLM_CalibrationOptions);
  let dependentDialects = ["flightllm::llm::LLMDialect"];
}

def SparsifyPass : Pass<"llm-sparsify", "mlir::ModuleOp"> {
  let summary = "Prune linear weights to N:M or block-sparse structure";
  let description = [{
    Zeroes weights of every float `llm.linear` (the LM head stays dense) so
    that it satisfies a structured pattern, and records the pattern on the
    op (`sparsity = [S, M]` or `block_sparsity = [BK, BN, S, M]`, checked
    by the verifier):

    - `pattern=S:M` (2:4, 8:16, 4:16, 2:16, ...): in every run of M
      consecutive k of each output channel, the S weights with the highest
      score stay. M must divide K.
    - `pattern=blockB` (block16): B x B blocks; in each column of blocks,
      one of every two consecutive blocks along k stays (50%).

    Scores (`method`): `magnitude` |W|; `wanda` |W[k, n]| * ||X_k||_2 with
    the input-channel norms of the calibration run (Sun et al. 2023);
    `sparsegpt` (Frantar and Alistarh 2023) prunes the weights with the
    least w^2 / [H^-1]_kk^2 column by column and updates the remaining
    weights of each output channel to compensate (the OBS update, H = X^T X
    of the calibration inputs plus `damp` * mean(diag H), blocks of 128
    columns). Statistics come from one run of the dense model.
  }];
  let options = !listconcat([
    Option<"pattern", "pattern", "std::string", /*default=*/"\"2:4\"",
           "S:M (keep S of every M along K) or blockB">,
    Option<"method", "method", "std::string", /*default=*/"\"wanda\"",
           "magnitude, wanda or sparsegpt">,
    Option<"damp", "damp", "double", /*default=*/"0.01",
           "sparsegpt: dampening, a fraction of mean(diag H)">
  ], LLM_CalibrationOptions);
  let dependentDialects = ["flightllm::llm::LLMDialect"];
}

def SmoothActivationsPass : Pass<"llm-smooth-activations", "mlir::ModuleOp"> {
  let summary = "Move activation outliers into the weights (SmoothQuant)";
  let description = [{
    For every `llm.rms_norm` / `llm.layer_norm` whose result feeds only
    `llm.linear` ops with float weights, divides input channel j of the
    activations by `s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)` (folded into
    the norm's gamma and beta) and multiplies row j of every consumer's
    weight by it (Xiao et al. 2023). `max|X_j|` comes from the calibration
    run, `max|W_j|` over all consumers; channels where either is 0 keep
    s = 1. The program computes the same function in exact arithmetic; the
    int8 activations that follow have smaller outliers.
  }];
  let options = !listconcat([
    Option<"alpha", "alpha", "double", /*default=*/"0.5",
           "Migration strength in [0, 1]">
  ], LLM_CalibrationOptions);
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
    - With `kv-bits=4`, attention gets `kv_bits = 4` and its scales are
      `max / 7` (the 4-bit KV cache of docs/compression.md: static key
      scales, per-token value scales at run time).
  }];
  let options = !listconcat(LLM_CalibrationOptions, [
    Option<"activations", "activations", "std::string",
           /*default=*/"\"dynamic\"",
           "int8 activations of quantized projections: 'dynamic' (per token, "
           "no input_scale) or 'static' (calibrated input_scale)">,
    Option<"kvBits", "kv-bits", "int64_t", /*default=*/"8",
           "KV cache bits: 8, or 4 (KIVI layout, docs/compression.md)">
  ]);
  let dependentDialects = ["flightllm::llm::LLMDialect"];
}

#endif // FLIGHTLLM_DIALECT_LLM_TRANSFORMS_PASSES_TD
