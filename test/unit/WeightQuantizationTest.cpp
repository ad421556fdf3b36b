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

} // namespace
