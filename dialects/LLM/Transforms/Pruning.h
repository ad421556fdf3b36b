//===- Pruning.h - N:M and block pruning of a weight ------------*- C++ -*-===//
//
// The pruning criteria of llm-sparsify (magnitude, Wanda, SparseGPT) on one
// weight held as [N][K] rows, shared with llm-quantize-weights, whose
// bits=auto search also measures sparse candidates per projection.
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DIALECTS_LLM_TRANSFORMS_PRUNING_H
#define FLIGHTLLM_DIALECTS_LLM_TRANSFORMS_PRUNING_H

#include "SecondOrder.h"
#include "flightllm/Dialect/LLM/Transforms/Calibration.h"

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>

namespace flightllm::llm::pruning {

/// The structure to reach: S of every M along k, or one of every two
/// consecutive B x B blocks along k.
struct SparsityPattern {
  int64_t keep = 0, run = 0;
  int64_t block = 0; // > 0: block sparsity with B x B blocks, 1:2

  /// "S:M" or "blockB".
  std::string str() const;
};

/// Parses "S:M" (0 < S < M) or "blockB" (B > 0).
mlir::FailureOr<SparsityPattern> parsePattern(llvm::StringRef text);

/// The error message when pattern `p` does not fit a weight of `k` inputs
/// and `n` outputs, "" when it does.
std::string misfit(const SparsityPattern &p, int64_t k, int64_t n);

/// Whether `method` is magnitude, wanda or sparsegpt.
bool isMethod(llvm::StringRef method);

/// Zeroes the weights of `w` that `method` prunes to reach `p` (SparseGPT
/// also updates the kept ones). `stats` (the input's calibration
/// statistics, with the second moment for sparsegpt) may be null for
/// magnitude. Fails, with the reason in `error`, when SparseGPT's second
/// moment is not positive definite even after dampening.
mlir::LogicalResult prune(second_order::RowMatrix &w, const SparsityPattern &p,
                          llvm::StringRef method, const InputStatistics *stats,
                          double damp, std::string &error);

} // namespace flightllm::llm::pruning

#endif
