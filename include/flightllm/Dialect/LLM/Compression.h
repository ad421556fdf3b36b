//===- Compression.h - Names and footprints of compressed projections -*- C++
//-*-===//
//
// What the compression passes and the compile report share: how a projection
// (`llm.linear`, `llm.logits`) is named and matched by the name patterns of
// the options (`keep-8bit=lm_head,layers.0.*`), and how much storage its
// weight takes in a given format (docs/compression.md).
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DIALECT_LLM_COMPRESSION_H
#define FLIGHTLLM_DIALECT_LLM_COMPRESSION_H

#include "mlir/IR/Operation.h"

#include <cstdint>
#include <string>

namespace flightllm::llm {

/// The name of a projection: its location's name with '/' as '.'
/// ("model.layers.0.mlp.down_proj.MatMul" for an ONNX node
/// "/model/layers.0/mlp/down_proj/MatMul"), else its weight's name, else
/// "lm_head" for `llm.logits`.
std::string projectionName(mlir::Operation *op);

/// Whether `pattern` (a glob) matches a run of the dot-separated parts of
/// the projection's name or of its weight's name; `lm_head` also matches
/// every `llm.logits`.
bool matchesProjectionPattern(llvm::StringRef pattern, mlir::Operation *op);

/// The storage of a projection's weight in its format.
struct ProjectionFootprint {
  int64_t weights = 0;
  /// Code bits (8 or 4), or the float width of an unquantized weight.
  int64_t bits = 32;
  int64_t groupSize = 0;
  bool zeroPoints = false;
  /// [S, M] of `sparsity`, 0 when dense.
  int64_t keep = 0, run = 0;
  /// [BK, BN, S, M] of `block_sparsity`, 0 when absent.
  int64_t blockKeep = 0, blockRun = 0;
  /// Dense codes, scales and zero points, per weight (what bits=auto
  /// budgets).
  double bitsPerWeight = 32;
  /// Bits of the stored form: sparse weights keep S of M codes with a
  /// ceil(log2 M)-bit index each (FlightLLM's 4-bit indices for M = 16);
  /// block-sparse weights keep S of M blocks. What bits=auto budgets.
  double storedBits = 0;
  /// storedBits in whole bytes.
  int64_t bytes = 0;
};

/// The footprint of `op`'s weight as it is in the IR (static shapes; 0
/// weights otherwise).
ProjectionFootprint projectionFootprint(mlir::Operation *op);

/// The footprint a weight of `weights` elements, `outputs` output channels
/// and reduction size `k` would have with `bits` and `groupSize`
/// (and zero points).
double denseBitsPerWeight(int64_t weights, int64_t outputs, int64_t k,
                          int64_t bits, int64_t groupSize, bool zeroPoints);

/// The stored bits (before rounding to bytes) of a quantized weight of
/// `weights` elements, `outputs` output channels and reduction size `k`
/// with `bits`-bit codes, `groupSize` and zero points, and, when `run` > 0,
/// `keep`:`run` sparsity: S of M codes with a ceil(log2 M)-bit index each.
/// ProjectionFootprint::bytes is its ceiling in bytes.
double storedWeightBits(int64_t weights, int64_t outputs, int64_t k,
                        int64_t bits, int64_t groupSize, bool zeroPoints,
                        int64_t keep = 0, int64_t run = 0);

} // namespace flightllm::llm

#endif
