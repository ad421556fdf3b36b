//===- ModelFootprint.h - What an llm program needs from memory -*- C++ -*-===//
//
// The sizes the offloading planner reasons about, read from a raised `llm`
// program: per decoder layer the weight bytes in the binary's formats, the
// KV-cache bytes per cached token and the multiply-accumulates per token;
// the global weights the accelerator reads (LM head, final norm, position
// table). The token embedding table is host-side (the runtime copies rows)
// and not counted.
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_OFFLOAD_MODELFOOTPRINT_H
#define FLIGHTLLM_OFFLOAD_MODELFOOTPRINT_H

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>

namespace flightllm::offload {

struct ModelFootprint {
  uint64_t layers = 0;
  /// Weight bytes of one decoder layer: integer weights at their bit width
  /// (8 unless the linear says `weight_bits`), fp32 scales, biases and norm
  /// parameters.
  uint64_t layerWeightBytes = 0;
  /// LM head, final norm and position tables.
  uint64_t globalWeightBytes = 0;
  /// K and V of one token in one layer, INT8 rows padded to 128 bytes per
  /// head (the lowering's KV layout, docs/lowering.md).
  uint64_t kvBytesPerToken = 0;
  /// KV heads per layer (their K and V rows are the layout's per-channel
  /// units of the KV cache).
  uint64_t kvHeads = 0;
  /// Multiply-accumulates of one token's linears in one layer.
  uint64_t linearMacsPerToken = 0;
  /// Multiply-accumulates of one token's attention per cached position
  /// (scores and values over all query heads: 2 * Hq * Dh).
  uint64_t attentionMacsPerPosition = 0;
  /// Multiply-accumulates of the LM head for one token.
  uint64_t headMacsPerToken = 0;

  uint64_t totalWeightBytes() const {
    return layers * layerWeightBytes + globalWeightBytes;
  }
};

/// Measures a raised (optionally quantized) `llm` program's @forward. Fails
/// with an error at the offending op when the decoder layers differ in size
/// or the program has no attention. `layerWeightBits` sizes the decoder
/// layers' linears that carry no `weight_bits` (what a compile with
/// --weight-bits would give, without quantizing a model too large to hold).
mlir::FailureOr<ModelFootprint> measureFootprint(mlir::ModuleOp module,
                                                 unsigned layerWeightBits = 8);

} // namespace flightllm::offload

#endif
