//===- SecondOrderTest.cpp - dialects/LLM/Transforms/SecondOrder.h --------===//

#include "SecondOrder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace flightllm::llm::second_order;

namespace {

/// X^T X of `rows` correlated random inputs of `k` channels.
std::vector<double> secondMoment(int64_t k, int rows, std::mt19937 &rng) {
  std::normal_distribution<double> dist(0.0, 1.0);
  std::vector<double> h(size_t(k * k), 0.0), x(static_cast<size_t>(k));
  for (int r = 0; r < rows; ++r) {
    double shared = dist(rng);
    for (int64_t i = 0; i < k; ++i)
      x[size_t(i)] = dist(rng) + 2.0 * shared * (i % 3 == 0 ? 1 : 0.5);
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j)
        h[size_t(i * k + j)] += x[size_t(i)] * x[size_t(j)];
  }
  return h;
}

TEST(SecondOrder, InverseFactor) {
  std::mt19937 rng(3);
  int64_t k = 12;
  std::vector<double> h = secondMoment(k, 64, rng);
  std::vector<bool> dead;
  auto u = inverseFactor(h, k, 0.0, dead);
  ASSERT_TRUE(u);
  // (U^T U) H = I.
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) {
        double inv = 0;
        for (int64_t q = 0; q < k; ++q)
          inv += (*u)[size_t(q * k + i)] * (*u)[size_t(q * k + p)];
        s += inv * h[size_t(p * k + j)];
      }
      EXPECT_NEAR(s, i == j ? 1.0 : 0.0, 1e-8);
    }
  // A channel that never fired is dead and gets H_kk = 1.
  std::vector<double> withDead = h;
  for (int64_t i = 0; i < k; ++i)
    withDead[size_t(i * k + 4)] = withDead[size_t(4 * k + i)] = 0;
  ASSERT_TRUE(inverseFactor(withDead, k, 0.01, dead));
  EXPECT_TRUE(dead[4]);
  EXPECT_FALSE(dead[3]);
}

TEST(SecondOrder, OBSUpdateBeatsPlainPruningAndRounding) {
  std::mt19937 rng(5);
  int64_t k = 32, n = 8;
  std::vector<double> h = secondMoment(k, 256, rng);
  std::normal_distribution<double> dist(0.0, 1.0);
  RowMatrix w{n, k, std::vector<double>(size_t(n * k))};
  for (double &v : w.values)
    v = dist(rng);
  std::vector<bool> dead;
  auto u = inverseFactor(h, k, 0.01, dead);
  ASSERT_TRUE(u);

  // Pruning every other input: with the OBS update, and without.
  auto prune = [](int64_t, int64_t c, double v) { return c % 2 ? 0.0 : v; };
  RowMatrix obs = w;
  sweep(obs, *u, 8, [](int64_t, const RowMatrix &) {}, prune);
  RowMatrix plain = w;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c)
      plain.at(r, c) = prune(r, c, w.at(r, c));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 1; c < k; c += 2)
      EXPECT_EQ(obs.at(r, c), 0.0);
  EXPECT_LT(relativeOutputError(w, obs, h),
            0.8 * relativeOutputError(w, plain, h));

  // Rounding to a coarse grid: the same.
  auto round = [](int64_t, int64_t, double v) { return std::nearbyint(v); };
  RowMatrix gptq = w;
  sweep(gptq, *u, 8, [](int64_t, const RowMatrix &) {}, round);
  RowMatrix rtn = w;
  for (double &v : rtn.values)
    v = std::nearbyint(v);
  EXPECT_LT(relativeOutputError(w, gptq, h), relativeOutputError(w, rtn, h));

  // The identity projection changes nothing.
  RowMatrix same = w;
  sweep(same, *u, 8, [](int64_t, const RowMatrix &) {},
        [](int64_t, int64_t, double v) { return v; });
  EXPECT_EQ(relativeOutputError(w, same, h), 0.0);
}

} // namespace
