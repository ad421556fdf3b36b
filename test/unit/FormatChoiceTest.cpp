//===- FormatChoiceTest.cpp - dialects/LLM/Transforms/FormatChoice.h ------===//

#include "FormatChoice.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>

using namespace flightllm::llm::format_choice;

namespace {

using Items = std::vector<std::vector<Candidate>>;

double totalBits(const Items &items, const std::vector<size_t> &chosen) {
  double t = 0;
  for (size_t i = 0; i < items.size(); ++i)
    t += items[i][chosen[i]].bits;
  return t;
}

double totalError(const Items &items, const std::vector<size_t> &chosen) {
  double t = 0;
  for (size_t i = 0; i < items.size(); ++i)
    t += items[i][chosen[i]].error;
  return t;
}

/// The least summed error within the budget, by enumeration.
double bruteForce(const Items &items, double budget) {
  double best = std::numeric_limits<double>::infinity();
  std::vector<size_t> pick(items.size(), 0);
  for (;;) {
    if (totalBits(items, pick) <= budget)
      best = std::min(best, totalError(items, pick));
    size_t i = 0;
    while (i < items.size() && ++pick[i] == items[i].size())
      pick[i++] = 0;
    if (i == items.size())
      return best;
  }
}

/// Projections with the formats of bits=auto: dense 8 and 4 bits, 8:16 and
/// 4:16 at both widths (stored bits per weight 8.25, 4.25, 6.25, 4.25,
/// 3.25, 2.25), errors growing as storage shrinks plus noise.
Items randomItems(std::mt19937 &rng, size_t count) {
  std::uniform_real_distribution<double> scale(0.2, 5.0), noise(0.5, 2.0);
  std::uniform_int_distribution<int> size(1, 8);
  const double perWeight[] = {8.25, 4.25, 6.25, 4.25, 3.25, 2.25};
  const double baseError[] = {1e-4, 4e-3, 2e-2, 2.4e-2, 9e-2, 1e-1};
  Items items(count);
  for (auto &item : items) {
    double weights = 4096.0 * size(rng), s = scale(rng);
    for (int f = 0; f < 6; ++f)
      item.push_back({perWeight[f] * weights, s * baseError[f] * noise(rng)});
  }
  return items;
}

TEST(FormatChoice, WithinBudgetAndNearOptimal) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 60; ++trial) {
    Items items = randomItems(rng, 2 + trial % 5);
    double weights = 0, spread = 0;
    for (const auto &item : items) {
      weights += item[0].bits / 8.25;
      double lo = item[0].error, hi = item[0].error;
      for (const Candidate &c : item) {
        lo = std::min(lo, c.error);
        hi = std::max(hi, c.error);
      }
      spread = std::max(spread, hi - lo);
    }
    for (double perWeight : {2.25, 3.0, 4.5, 6.0, 8.25}) {
      double budget = perWeight * weights;
      auto chosen = choose(items, budget);
      ASSERT_TRUE(chosen);
      EXPECT_LE(totalBits(items, *chosen), budget * (1 + 1e-12));
      double optimum = bruteForce(items, budget);
      double got = totalError(items, *chosen);
      EXPECT_GE(got, optimum - 1e-15);
      // The LP greedy is off by at most one projection's error range.
      EXPECT_LE(got, optimum + spread + 1e-15);
    }
  }
}

TEST(FormatChoice, ExactWhenEveryStepFits) {
  // Equal sizes, a budget that stops between whole steps: the greedy order
  // (least error per saved bit) is the optimum.
  Items items = {{{8, 0.0}, {4, 1.0}}, {{8, 0.0}, {4, 3.0}},
                 {{8, 0.0}, {4, 2.0}}};
  auto chosen = choose(items, 16);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, (std::vector<size_t>{1, 0, 1}));
}

TEST(FormatChoice, DominatedAndRepaired) {
  // Candidate 2 of the first projection costs as much as 1 with more error
  // (8:16 + W4 against dense W4): never chosen. The greedy moves the second
  // projection first (least error per saved bit), then the first, which
  // overshoots the budget; the repair step moves the second one back.
  Items items = {{{8, 0.0}, {2, 3.0}, {2, 4.0}}, {{5, 0.0}, {1, 0.3}}};
  auto chosen = choose(items, 8);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, (std::vector<size_t>{1, 0}));
  EXPECT_DOUBLE_EQ(totalError(items, *chosen), bruteForce(items, 8));
}

TEST(FormatChoice, BelowTheFloor) {
  Items items = {{{8, 0.0}, {4, 1.0}}, {{8, 0.0}, {2, 1.0}}};
  EXPECT_DOUBLE_EQ(floorBits(items), 6.0);
  EXPECT_FALSE(choose(items, 5.9));
  auto chosen = choose(items, 6.0);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, (std::vector<size_t>{1, 1}));
}

} // namespace
