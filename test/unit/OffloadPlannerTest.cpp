//===- OffloadPlannerTest.cpp - The placement LP against brute force ------===//
//
// The LP's placement must be the cost model's optimum: no placement on a fine
// grid (evaluated without the LP) is faster at the same block size, and the
// LP's placement respects every tier's capacity.
//
//===----------------------------------------------------------------------===//

#include "flightllm/Offload/OffloadPlanner.h"

#include "gtest/gtest.h"

#include <random>

using namespace flightllm;
using namespace flightllm::offload;

namespace {

target::TargetDescription u280() {
  auto t = target::loadTarget("u280");
  EXPECT_TRUE(bool(t)) << llvm::toString(t.takeError());
  return *t;
}

/// LLaMA2-13B-shaped at INT8: 40 layers, hidden 5120, FFN 13824, 40 heads.
ModelFootprint llama13b() {
  ModelFootprint m;
  m.layers = 40;
  uint64_t h = 5120, ffn = 13824;
  m.linearMacsPerToken = 4 * h * h + 3 * h * ffn;
  m.layerWeightBytes = m.linearMacsPerToken + 4 * (4 * h + 2 * ffn + h) +
                       2 * 4 * h;
  m.globalWeightBytes = 32000 * h + 4 * 32000 + 4 * h;
  m.kvBytesPerToken = 2 * 40 * 128;
  m.attentionMacsPerPosition = 2 * 40 * 128;
  m.headMacsPerToken = 32000 * h;
  return m;
}

/// The fastest placement on a 10% grid (weights and KV cache over the
/// three tiers), evaluated by the cost model alone.
double bruteForceBest(const ModelFootprint &m, const target::TargetDescription &t,
                      const Workload &w, uint64_t b, uint64_t k) {
  double best = 0;
  for (int wh = 0; wh <= 10; ++wh)
    for (int wd = 0; wh + wd <= 10; ++wd)
      for (int kh = 0; kh <= 10; ++kh)
        for (int kd = 0; kh + kd <= 10; ++kd) {
          Placement p;
          p.weights = {wh / 10.0, wd / 10.0, (10 - wh - wd) / 10.0};
          p.kv = {kh / 10.0, kd / 10.0, (10 - kh - kd) / 10.0};
          auto plan = evaluatePlacement(m, t, w, p, b, k);
          if (!plan) {
            llvm::consumeError(plan.takeError());
            continue;
          }
          best = std::max(best, plan->tokensPerSecond);
        }
  return best;
}

TEST(OffloadPlanner, ModelThatFitsStaysInHBM) {
  ModelFootprint m = llama13b();
  m.layers = 4; // ~1 GB
  Workload w;
  auto plan = planOffload(m, u280(), w);
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  EXPECT_TRUE(plan->fitsInHBM());
  EXPECT_LE(plan->bytesUsed[0], plan->capacity[0]);
}

TEST(OffloadPlanner, LPMatchesBruteForceAtFixedBlocks) {
  target::TargetDescription t = u280();
  for (auto [b, k] : {std::pair<uint64_t, uint64_t>{1, 1}, {8, 4}, {32, 8},
                      {128, 2}}) {
    Workload w;
    w.batch = b, w.batches = k;
    auto plan = planOffload(llama13b(), t, w);
    ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
    double grid = bruteForceBest(llama13b(), t, w, b, k);
    // The LP is at least as good as every grid point, and the grid's best
    // is within a grid step's worth of it.
    EXPECT_GE(plan->tokensPerSecond, grid * (1 - 1e-9)) << b << "x" << k;
    EXPECT_LE(plan->tokensPerSecond, grid * 1.25) << b << "x" << k;
    for (int tier = 0; tier < kTiers; ++tier)
      EXPECT_LE(plan->bytesUsed[tier], plan->capacity[tier] + 1) << tier;
    // The LP's own placement, evaluated alone, gives the same time.
    auto again = evaluatePlacement(llama13b(), t, w, plan->placement, b, k);
    ASSERT_TRUE(bool(again)) << llvm::toString(again.takeError());
    EXPECT_NEAR(again->blockSeconds, plan->blockSeconds,
                1e-6 * plan->blockSeconds);
  }
}

TEST(OffloadPlanner, LargerModelsSpillToSlowerTiers) {
  // 13B at INT8 (13 GB) cannot stay in the U280's 8 GB of HBM.
  auto plan = planOffload(llama13b(), u280(), Workload());
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  EXPECT_FALSE(plan->fitsInHBM());
  EXPECT_GT(plan->placement.weights[1] + plan->placement.weights[2], 0.3);
  // Throughput needs a block bigger than one sequence.
  EXPECT_GT(plan->batch * plan->batches, 1u);
  // All weights streamed from DDR at batch 1 is slower.
  Placement ddr;
  ddr.weights = {0, 1, 0};
  Workload one;
  auto baseline = evaluatePlacement(llama13b(), u280(), one, ddr, 1, 1);
  ASSERT_TRUE(bool(baseline)) << llvm::toString(baseline.takeError());
  EXPECT_GT(plan->tokensPerSecond, baseline->tokensPerSecond);
}

TEST(OffloadPlanner, FixedPlacementThatDoesNotFitIsAnError) {
  Workload w;
  Placement all;
  all.weights = {1, 0, 0};
  w.placement = all;
  auto plan = planOffload(llama13b(), u280(), w);
  ASSERT_FALSE(bool(plan));
  std::string msg = llvm::toString(plan.takeError());
  EXPECT_NE(msg.find("HBM"), std::string::npos) << msg;
  EXPECT_NE(msg.find("GiB"), std::string::npos) << msg;
}

TEST(OffloadPlanner, ParsesPercentages) {
  auto p = parsePlacement("50,30,100,0");
  ASSERT_TRUE(bool(p)) << llvm::toString(p.takeError());
  EXPECT_DOUBLE_EQ(p->weights[2], 0.2);
  EXPECT_DOUBLE_EQ(p->kv[0], 1.0);
  for (const char *bad : {"50,30,100", "60,50,0,0", "x,0,0,0", "-1,0,0,0"}) {
    auto e = parsePlacement(bad);
    EXPECT_FALSE(bool(e)) << bad;
    llvm::consumeError(e.takeError());
  }
}

} // namespace
