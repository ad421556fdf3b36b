//===- OffloadPlanner.h - Weight and KV placement over memory tiers -*- C++ -*-===//
//
// FlexGen's policy search (Sheng et al., ICML 2023) adapted to this
// accelerator: a linear program chooses which fraction of the weights and of
// the KV cache lives in HBM, in the board's DDR and in host memory behind the
// PCIe link, minimising the time of a block of k batches of b sequences run
// in FlexGen's zig-zag order (each layer's off-HBM weights are staged into
// HBM once per block and serve all k batches). The block size is searched
// around the LP. The cost model and its assumptions are docs/offloading.md.
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_OFFLOAD_OFFLOADPLANNER_H
#define FLIGHTLLM_OFFLOAD_OFFLOADPLANNER_H

#include "flightllm/Offload/ModelFootprint.h"
#include "flightllm/Target/TargetDescription.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace flightllm::offload {

enum class Tier { HBM = 0, DDR = 1, Host = 2 };
constexpr int kTiers = 3;
const char *tierName(Tier t);

/// Fractions of the weights and of the KV cache per tier (each sums to 1).
struct Placement {
  std::array<double, kTiers> weights{1, 0, 0};
  std::array<double, kTiers> kv{1, 0, 0};
};

/// What the plan is for (FlexGen's workload: prompt and generation lengths)
/// and what the search may choose.
struct Workload {
  uint64_t promptTokens = 512;
  uint64_t generatedTokens = 32;
  /// Sequences per batch (b) and batches per block (k); 0 = searched.
  uint64_t batch = 0, batches = 0;
  uint64_t maxBatch = 128, maxBatches = 64;
  /// Fraction of each tier's capacity the plan may fill (FlexGen relaxes
  /// its capacities by 0.8; HBM also holds the run-time areas).
  double capacityFraction = 0.9;
  /// A fixed placement (FlexGen's --percent); unset = chosen by the LP.
  std::optional<Placement> placement;
  /// Plan what `--emit=bin` emits today (docs/offloading.md, "Emission"):
  /// the KV cache in HBM, weights in HBM and DDR only, the DDR weights read
  /// in place by every MM tile or decode step (LD mem = ddr) instead of
  /// staged into HBM once per block.
  bool emitted = false;
  /// KV-cache positions per sequence the capacities must hold (0: prompt +
  /// generated tokens); a binary reserves its whole context.
  uint64_t kvCapacityTokens = 0;
};

/// The cost-model terms of one stage; the plan's time for the stage is
/// their maximum (the five queues overlap loads, stores and compute).
struct StageTerms {
  double compute = 0, hbm = 0, ddr = 0, host = 0; ///< seconds per layer
  double time() const;
  /// The largest term's name ("compute", "HBM", "DDR", "host link").
  const char *bound() const;
};

struct OffloadPlan {
  ModelFootprint model;
  uint64_t batch = 1, batches = 1;
  Placement placement;
  StageTerms prefill, decode; ///< per layer, per block, decode at mean context
  double headSeconds = 0;     ///< LM head, per block and step
  double blockSeconds = 0;    ///< the whole block: prefill + every decode step
  double tokensPerSecond = 0; ///< generated tokens of the block / blockSeconds
  std::array<uint64_t, kTiers> bytesUsed{};
  std::array<uint64_t, kTiers> capacity{};
  bool fitsInHBM() const {
    return placement.weights[0] >= 1 - 1e-9 && placement.kv[0] >= 1 - 1e-9;
  }
  llvm::json::Object toJSON() const;
  std::string describe() const;
};

/// Parses FlexGen-style percentages "W_HBM,W_DDR,KV_HBM,KV_DDR" (the host
/// tier takes the rest of each).
llvm::Expected<Placement> parsePlacement(llvm::StringRef text);

/// Plans the placement. Fails (naming the tier and bytes) when no block
/// size fits the capacities, or a fixed placement does not.
llvm::Expected<OffloadPlan> planOffload(const ModelFootprint &model,
                                        const target::TargetDescription &target,
                                        const Workload &workload);

/// Evaluates the cost model for a fixed placement and block (no LP): the
/// baseline and the check that the LP's optimum is one.
llvm::Expected<OffloadPlan> evaluatePlacement(
    const ModelFootprint &model, const target::TargetDescription &target,
    const Workload &workload, const Placement &placement, uint64_t batch,
    uint64_t batches);

} // namespace flightllm::offload

#endif
