//===- WeightQuantizationTest.cpp - The fast weight rounding is exact -----===//

#include "flightllm/Dialect/LLM/WeightQuantization.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

using namespace flightllm::llm;

namespace {

int8_t reference(float value, float scale) {
  float r = std::nearbyint(value / scale);
  return static_cast<int8_t>(std::clamp(r, -127.0f, 127.0f));
}

TEST(WeightQuantization, MatchesNearbyintOnTiesAndEdges) {
  for (float scale : {1.0f, 0.5f, 0.0123f, 3.0f}) {
    for (int i = -300; i <= 300; ++i) {
      float v = (i * 0.5f) * scale; // every half-integer: the ties
      EXPECT_EQ(quantizeWeight(v, scale), reference(v, scale)) << v << " / " << scale;
      float next = std::nextafter(v, 1e9f), prev = std::nextafter(v, -1e9f);
      EXPECT_EQ(quantizeWeight(next, scale), reference(next, scale));
      EXPECT_EQ(quantizeWeight(prev, scale), reference(prev, scale));
    }
  }
  EXPECT_EQ(quantizeWeight(127.5f, 1.0f), 127);
  EXPECT_EQ(quantizeWeight(-127.5f, 1.0f), -127);
  EXPECT_EQ(quantizeWeight(1e30f, 1.0f), 127);
  EXPECT_EQ(quantizeWeight(-1e30f, 1.0f), -127);
  EXPECT_EQ(quantizeWeight(2.5f, 1.0f), 2); // ties to even
  EXPECT_EQ(quantizeWeight(-3.5f, 1.0f), -4);
}

TEST(WeightQuantization, MatchesNearbyintOnRandomWeights) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  for (int c = 0; c < 64; ++c) {
    float w[512], maxAbs = 0;
    for (float &x : w) {
      x = dist(rng);
      maxAbs = std::max(maxAbs, std::abs(x));
    }
    float s = weightChannelScale(maxAbs);
    for (float x : w)
      ASSERT_EQ(quantizeWeight(x, s), reference(x, s));
  }
}

TEST(WeightQuantization, GridsAndGroupParams) {
  WeightGrid int8{8, true}, int4{4, true}, uint4{4, false}, asym8{8, false};
  EXPECT_EQ(int8.minCode(), -127);
  EXPECT_EQ(int4.minCode(), -8);
  EXPECT_EQ(int4.maxCode(), 7);
  EXPECT_EQ(uint4.minCode(), 0);
  EXPECT_EQ(uint4.maxCode(), 15);
  EXPECT_EQ(asym8.minCode(), -128);
  // 8-bit symmetric is exactly the W8A8 channel rule.
  EXPECT_EQ(weightGroupParams(-3.0f, 254.0f, int8).scale,
            weightChannelScale(254.0f));
  EXPECT_EQ(quantizeWeightCode(-63.5f, {0.5f, 0}, int8),
            quantizeWeight(-63.5f, 0.5f));
  // 4-bit symmetric: max |w| / 7.
  EXPECT_EQ(weightGroupParams(-14.0f, 3.0f, int4).scale, 2.0f);
  EXPECT_EQ(quantizeWeightCode(-14.0f, {2.0f, 0}, int4), -7);
  EXPECT_EQ(quantizeWeightCode(100.0f, {2.0f, 0}, int4), 7);
  // Asymmetric: [-1, 14] in 15 steps of 1, zero point 1; 0 is exact.
  GroupParams p = weightGroupParams(-1.0f, 14.0f, uint4);
  EXPECT_EQ(p.scale, 1.0f);
  EXPECT_EQ(p.zeroPoint, 1);
  EXPECT_EQ(quantizeWeightCode(0.0f, p, uint4), 1);
  EXPECT_EQ(dequantizeWeightCode(quantizeWeightCode(0.0f, p, uint4), p), 0.0f);
  EXPECT_EQ(quantizeWeightCode(-5.0f, p, uint4), 0);
  EXPECT_EQ(quantizeWeightCode(20.0f, p, uint4), 15);
  // A range without 0 is widened to include it.
  GroupParams q = weightGroupParams(2.0f, 17.0f, uint4);
  EXPECT_EQ(q.zeroPoint, 0);
  EXPECT_EQ(dequantizeWeightCode(quantizeWeightCode(0.0f, q, uint4), q), 0.0f);
  // All zero: scale 1, zero code.
  EXPECT_EQ(weightGroupParams(0.0f, 0.0f, uint4).scale, 1.0f);
  EXPECT_EQ(weightGroupParams(0.0f, 0.0f, asym8).zeroPoint, 0);
}

} // namespace
