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
    `flightllm-compile --emit=flight` prints them. Tiling, HBM layout,
    liveness-based buffer planning and fusion happen here, then the
    dependency tokens as a separate step over each stream (the algorithm of
    `flight-insert-tokens`; with `insert-tokens=false` the streams keep
    their access annotations instead and that pass sets the tokens); `flightllm-compile --emit=bin` runs the same lowering and writes the
    binary instead. Weights must be INT8 with `weight_scales` (or float, then
    quantized per output channel) and every `llm.attention` needs calibrated
    `k_scales`/`v_scales` unless `kv-range` is set.
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
    Option<"insertTokens", "insert-tokens", "bool", /*default=*/"true",
           "Set the dependency tokens (else annotate every instruction with "
           "what it accesses, for flight-insert-tokens)">
  ];
  let dependentDialects = ["flightllm::flight::FlightDialect"];
}

#endif
