//===- Calibration.h - Running llm programs on calibration tokens -*- C++
//-*-===//
//
// The calibration run the compression passes share: choose the tokens
// (a byte-level text file, explicit ids, or the built-in sequence), run the
// program on the reference interpreter in windows from an empty KV cache, and
// observe values. llm-calibrate takes activation ranges from it; llm-sparsify
// and llm-quantize-weights take per-projection input statistics (the
// second-moment matrix X^T X of each projection's input, whose diagonal is
// Wanda's squared input-channel norm and which is the Hessian of SparseGPT
// and GPTQ).
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DIALECT_LLM_TRANSFORMS_CALIBRATION_H
#define FLIGHTLLM_DIALECT_LLM_TRANSFORMS_CALIBRATION_H

#include "flightllm/Reference/HostTensor.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"

#include <functional>
#include <string>
#include <vector>

namespace flightllm::llm {

/// Where the calibration tokens come from (the passes' shared options).
struct CalibrationSource {
  /// Bytes of this file are the tokens (byte-level models).
  std::string textFile;
  /// Explicit token ids, after the text's.
  std::vector<int64_t> tokens;
  unsigned maxTokens = 1024;
  /// Tokens per run, each from an empty cache.
  unsigned window = 128;

  /// From the passes' options of the same names.
  template <typename TokenList>
  static CalibrationSource of(const std::string &textFile,
                              const TokenList &tokens, unsigned maxTokens,
                              unsigned window) {
    return {textFile, std::vector<int64_t>(tokens.begin(), tokens.end()),
            maxTokens, window};
  }
};

/// Runs `module`'s @forward on the calibration tokens, calling `observe`
/// with every op result. Errors are emitted on the module.
mlir::LogicalResult runCalibration(
    mlir::ModuleOp module, const CalibrationSource &source,
    std::function<void(mlir::Value, const reference::HostTensor &)> observe);

/// Raises `channelMax[j]` to the largest |value| of channel j (the last
/// dimension) of the f32 tensor `t`; sizes `channelMax` on first use.
void accumulateChannelMax(const reference::HostTensor &t,
                          std::vector<float> &channelMax);

/// Statistics of one projection input over the calibration tokens.
struct InputStatistics {
  int64_t channels = 0;
  /// Rows (tokens) seen.
  int64_t rows = 0;
  /// sum_rows x[i] * x[j], `channels x channels` row-major; empty unless
  /// requested (it is the size of the weight squared).
  std::vector<double> secondMoment;
  /// sum_rows x[i]^2.
  std::vector<double> sumSquares;
};

/// Collects the statistics of the `x` operand of every `llm.linear` and
/// `llm.logits` in `module` (projections that share an input share one
/// entry). `secondMoment` also gathers X^T X.
mlir::FailureOr<llvm::DenseMap<mlir::Value, InputStatistics>>
collectInputStatistics(mlir::ModuleOp module, const CalibrationSource &source,
                       bool secondMoment);

} // namespace flightllm::llm

#endif // FLIGHTLLM_DIALECT_LLM_TRANSFORMS_CALIBRATION_H
