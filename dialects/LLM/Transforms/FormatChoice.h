//===- FormatChoice.h - Formats per projection under a bit budget -*- C++ -*-===//
//
// The optimiser of llm-quantize-weights bits=auto: every projection has a
// few candidate formats, each with its storage in bits and its measured
// output error; choose one per projection so that the total storage stays
// within a budget and the summed error is small. This is the
// multiple-choice knapsack problem; it is solved by the greedy of its LP
// relaxation (Sinha and Zoltners 1979) followed by a repair step.
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DIALECTS_LLM_TRANSFORMS_FORMATCHOICE_H
#define FLIGHTLLM_DIALECTS_LLM_TRANSFORMS_FORMATCHOICE_H

#include <cstddef>
#include <optional>
#include <vector>

namespace flightllm::llm::format_choice {

/// One format of one projection.
struct Candidate {
  /// Storage, in bits (codes, indices, scales, zero points).
  double bits = 0;
  /// Relative output error on the calibration inputs.
  double error = 0;
};

/// The smallest total storage reachable: every projection at its cheapest
/// candidate.
double floorBits(const std::vector<std::vector<Candidate>> &items);

/// The index of the chosen candidate per projection, total bits at most
/// `budgetBits`; nullopt when even floorBits(items) exceeds it.
///
/// Per projection, candidates that cost at least as much as another with at
/// most its error are dropped, and the rest reduced to the lower convex
/// hull of (bits, error). Starting from every projection's least-error
/// hull point, the step with the least error increase per saved bit over
/// all projections is taken until the total is within the budget (convex
/// hulls make each projection's steps come in order). That is the LP
/// relaxation's optimum except for the last step, which may save more than
/// needed; the repair step then spends the remaining slack, repeatedly
/// taking the single change of one projection to any candidate that fits
/// and lowers the summed error most.
std::optional<std::vector<size_t>>
choose(const std::vector<std::vector<Candidate>> &items, double budgetBits);

} // namespace flightllm::llm::format_choice

#endif
