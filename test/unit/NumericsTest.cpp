//===- NumericsTest.cpp - include/flightllm/ISA/Numerics.h -----------------===//

#include "flightllm/ISA/Numerics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

using namespace flightllm::numerics;

namespace {

std::vector<uint16_t> halves(const std::vector<float> &xs) {
  std::vector<uint16_t> out;
  for (float x : xs)
    out.push_back(toF16(x));
  return out;
}

TEST(NumericsF16, KnownBitPatterns) {
  EXPECT_EQ(toF16(0.0f), 0x0000);
  EXPECT_EQ(toF16(-0.0f), 0x8000);
  EXPECT_EQ(toF16(1.0f), 0x3C00);
  EXPECT_EQ(toF16(-2.0f), 0xC000);
  EXPECT_EQ(toF16(0.5f), 0x3800);
  EXPECT_EQ(toF16(65504.0f), 0x7BFF);
  EXPECT_EQ(toF16(0.33325195f), 0x3555);
  EXPECT_EQ(toF16(6.103515625e-05f), 0x0400); // smallest normal
  EXPECT_FLOAT_EQ(fromF16(0x3555), 0.33325195f);
  EXPECT_EQ(fromF16(0x7BFF), 65504.0f);
  EXPECT_EQ(fromF16(0xFBFF), -65504.0f);
}

TEST(NumericsF16, TiesToEven) {
  // Between 1 and 1 + 2^-10: the midpoint 1 + 2^-11 goes to 1 (even).
  EXPECT_EQ(toF16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  // Between 1 + 2^-10 (odd) and 1 + 2^-9: the midpoint goes up to even.
  EXPECT_EQ(toF16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  // Just above a midpoint rounds up.
  EXPECT_EQ(toF16(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3C01);
  // 2049 is a tie between 2048 and 2050 -> 2048; 2051 -> 2052.
  EXPECT_EQ(fromF16(toF16(2049.0f)), 2048.0f);
  EXPECT_EQ(fromF16(toF16(2051.0f)), 2052.0f);
  // Rounding up carries into the exponent.
  EXPECT_EQ(toF16(std::nextafter(2.0f, 0.0f)), 0x4000);
}

TEST(NumericsF16, Subnormals) {
  float tiny = std::ldexp(1.0f, -24); // smallest subnormal
  EXPECT_EQ(toF16(tiny), 0x0001);
  EXPECT_EQ(fromF16(0x0001), tiny);
  EXPECT_EQ(toF16(-tiny), 0x8001);
  EXPECT_EQ(fromF16(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(toF16(std::ldexp(1023.0f, -24)), 0x03FF);
  // 2^-25 is a tie between 0 and 2^-24: to 0 (even).
  EXPECT_EQ(toF16(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(toF16(-std::ldexp(1.0f, -25)), 0x8000);
  EXPECT_EQ(toF16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  // 1.5 * 2^-24 ties between 1 and 2 units -> 2; 2.5 units -> 2.
  EXPECT_EQ(toF16(std::ldexp(3.0f, -25)), 0x0002);
  EXPECT_EQ(toF16(std::ldexp(5.0f, -25)), 0x0002);
  EXPECT_EQ(toF16(std::ldexp(7.0f, -25)), 0x0004);
  // Rounding from the subnormal range into the smallest normal.
  EXPECT_EQ(toF16(std::ldexp(2047.0f, -25)), 0x0400);
  // fp32 subnormals become 0.
  EXPECT_EQ(toF16(std::numeric_limits<float>::denorm_min()), 0x0000);
  // Every half converts back to itself.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    uint16_t bits = static_cast<uint16_t>(h);
    if ((bits & 0x7C00) == 0x7C00)
      continue; // inf/NaN
    ASSERT_EQ(toF16(fromF16(bits)), bits) << h;
  }
}

TEST(NumericsF16, Saturation) {
  EXPECT_EQ(toF16(65519.0f), 0x7BFF);
  EXPECT_EQ(toF16(65520.0f), 0x7BFF);
  EXPECT_EQ(toF16(1e6f), 0x7BFF);
  EXPECT_EQ(toF16(-1e6f), 0xFBFF);
  EXPECT_EQ(toF16(std::numeric_limits<float>::infinity()), 0x7BFF);
  EXPECT_EQ(toF16(-std::numeric_limits<float>::infinity()), 0xFBFF);
  EXPECT_EQ(roundF16(1e30f), 65504.0f);
}

TEST(NumericsF16, NaN) {
  uint16_t h = toF16(std::nanf(""));
  EXPECT_EQ(h & 0x7C00, 0x7C00);
  EXPECT_NE(h & 0x03FF, 0);
  EXPECT_TRUE(std::isnan(fromF16(h)));
  EXPECT_TRUE(std::isnan(roundF16(-std::nanf(""))));
  EXPECT_TRUE(std::isinf(fromF16(0x7C00)));
}

TEST(NumericsInt, RneSat8) {
  EXPECT_EQ(rne(0.5f), 0.0f);
  EXPECT_EQ(rne(1.5f), 2.0f);
  EXPECT_EQ(rne(2.5f), 2.0f);
  EXPECT_EQ(rne(-2.5f), -2.0f);
  EXPECT_EQ(rne(-0.6f), -1.0f);
  EXPECT_EQ(sat8(200.0f), 127);
  EXPECT_EQ(sat8(-128.0f), -127);
  EXPECT_EQ(sat8(-5.0f), -5);
  EXPECT_EQ(quantizeOne(1.25f, 2.0f), 2); // 2.5 -> 2
}

TEST(NumericsQuantize, Dynamic) {
  std::vector<float> x = {0.5f, -1.0f, 0.25f, 2.0f, -2.0f, 0.0f};
  std::vector<int8_t> q(x.size());
  float s = quantizeDynamic(x.data(), q.data(), x.size());
  EXPECT_EQ(s, 2.0f / 127.0f);
  // r = 127/2 = 63.5: 0.5*63.5 = 31.75 -> 32; -63.5 -> -64 (tie to even);
  // 15.875 -> 16; 127; -127; 0.
  std::vector<int8_t> expect = {32, -64, 16, 127, -127, 0};
  EXPECT_EQ(q, expect);

  std::vector<float> zeros(5, 0.0f);
  std::vector<int8_t> qz(5, 9);
  EXPECT_EQ(quantizeDynamic(zeros.data(), qz.data(), 5), 1.0f);
  for (int8_t v : qz)
    EXPECT_EQ(v, 0);

  // The fp16 MISC kind gives the same as the fp32 function on h values.
  std::vector<uint16_t> hx = halves(x);
  std::vector<int8_t> q2(x.size());
  EXPECT_EQ(miscQuantizeDynamic(hx.data(), q2.data(), x.size()), s);
  EXPECT_EQ(q2, expect);

  // Masked: columns > pos are excluded from amax and written 0.
  std::vector<int8_t> q3(x.size());
  float s3 = miscQuantizeDynamic(hx.data(), q3.data(), x.size(), true, 2);
  EXPECT_EQ(s3, 1.0f / 127.0f);
  std::vector<int8_t> expect3 = {64, -127, 32, 0, 0, 0};
  EXPECT_EQ(q3, expect3);

  // A qvec is ceil(k/128) rows of int8 values and one scale row.
  EXPECT_EQ(qvecRows(1), 2u);
  EXPECT_EQ(qvecRows(128), 2u);
  EXPECT_EQ(qvecRows(129), 3u);
  EXPECT_EQ(qvecScaleOffset(100), 128u);
  EXPECT_EQ(qvecScaleOffset(128), 128u);
  EXPECT_EQ(qvecScaleOffset(129), 256u);
}

TEST(NumericsMisc, SoftmaxMasking) {
  std::vector<uint16_t> a = halves({1.0f, 2.0f, 3.0f, 100.0f, -4.0f});
  std::vector<uint16_t> out(5, 0xFFFF);
  miscSoftmax(a.data(), 0.5f, out.data(), 5, /*masked=*/true, /*pos=*/2);
  double e0 = std::exp(0.5 - 1.5), e1 = std::exp(1.0 - 1.5), e2 = 1.0;
  double s = e0 + e1 + e2;
  EXPECT_NEAR(fromF16(out[0]), e0 / s, 1e-3);
  EXPECT_NEAR(fromF16(out[1]), e1 / s, 1e-3);
  EXPECT_NEAR(fromF16(out[2]), e2 / s, 1e-3);
  EXPECT_EQ(out[3], 0x0000);
  EXPECT_EQ(out[4], 0x0000);

  // Unmasked: the large column dominates.
  miscSoftmax(a.data(), 0.5f, out.data(), 5);
  EXPECT_EQ(fromF16(out[3]), 1.0f);
  EXPECT_EQ(out[4], 0x0000); // underflows to +0

  // pos = 0 leaves one allowed column with probability 1.
  miscSoftmax(a.data(), 1.0f, out.data(), 5, true, 0);
  EXPECT_EQ(fromF16(out[0]), 1.0f);
  for (int i = 1; i < 5; ++i)
    EXPECT_EQ(out[i], 0x0000);
}

TEST(NumericsMisc, MaskedElementwise) {
  std::vector<uint16_t> a = halves({1.0f, -2.0f, 3.0f});
  std::vector<uint16_t> b = halves({0.5f, 0.5f, 0.5f});
  std::vector<uint16_t> out(3, 0xFFFF);
  miscAdd(a.data(), b.data(), out.data(), 3, true, 1);
  EXPECT_EQ(fromF16(out[0]), 1.5f);
  EXPECT_EQ(fromF16(out[1]), -1.5f);
  EXPECT_EQ(out[2], 0x0000);
  miscRelu(a.data(), out.data(), 3);
  EXPECT_EQ(out[1], 0x0000);
  uint16_t negZero = 0x8000;
  miscRelu(&negZero, out.data(), 1);
  EXPECT_EQ(out[0], 0x0000);
}

TEST(NumericsMisc, NormsAgainstDouble) {
  const uint32_t k = 96;
  std::vector<float> xs(k), gs(k), bs(k);
  for (uint32_t i = 0; i < k; ++i) {
    xs[i] = std::sin(0.37 * i) * 3.0f + 0.25f;
    gs[i] = 0.5f + 0.01f * i;
    bs[i] = 0.1f * std::cos(0.11 * i);
  }
  std::vector<uint16_t> a = halves(xs), g = halves(gs), be = halves(bs);
  std::vector<uint16_t> out(k);
  float eps = 1e-5f;

  miscLayerNorm(a.data(), g.data(), be.data(), eps, out.data(), k);
  double m = 0, v = 0;
  for (uint32_t i = 0; i < k; ++i)
    m += fromF16(a[i]);
  m /= k;
  for (uint32_t i = 0; i < k; ++i)
    v += (fromF16(a[i]) - m) * (fromF16(a[i]) - m);
  v /= k;
  for (uint32_t i = 0; i < k; ++i) {
    double ref = (fromF16(a[i]) - m) / std::sqrt(v + eps) * fromF16(g[i]) +
                 fromF16(be[i]);
    EXPECT_NEAR(fromF16(out[i]), ref, std::fabs(ref) * 1e-3 + 1e-4) << i;
  }

  miscRmsNorm(a.data(), g.data(), eps, out.data(), k);
  double ms = 0;
  for (uint32_t i = 0; i < k; ++i)
    ms += double(fromF16(a[i])) * fromF16(a[i]);
  ms /= k;
  for (uint32_t i = 0; i < k; ++i) {
    double ref = fromF16(a[i]) / std::sqrt(ms + eps) * fromF16(g[i]);
    EXPECT_NEAR(fromF16(out[i]), ref, std::fabs(ref) * 1e-3 + 1e-4) << i;
  }

  // Parameter lists start on 128-byte rows: gamma fp16[96] is 192 bytes,
  // two rows; cos fp32[96] is 384 bytes, three rows.
  EXPECT_EQ(layerNormBetaOffset(k), 256u);
  EXPECT_EQ(layerNormEpsOffset(k), 512u);
  EXPECT_EQ(rmsNormEpsOffset(k), 256u);
  EXPECT_EQ(ropeSinOffset(k), 384u);
  EXPECT_EQ(layerNormBetaOffset(64), 128u);
  EXPECT_EQ(ropeSinOffset(33), 256u);
}

TEST(NumericsMisc, RopeRotateHalf) {
  std::vector<uint16_t> a = halves({1.0f, 2.0f, 3.0f, 4.0f});
  float c[4] = {0.5f, 0.5f, 0.5f, 0.5f}, s[4] = {0.25f, 0.25f, 0.25f, 0.25f};
  std::vector<uint16_t> out(4);
  miscRope(a.data(), c, s, out.data(), 4);
  EXPECT_EQ(fromF16(out[0]), 1 * 0.5f - 3 * 0.25f);
  EXPECT_EQ(fromF16(out[1]), 2 * 0.5f - 4 * 0.25f);
  EXPECT_EQ(fromF16(out[2]), 3 * 0.5f + 1 * 0.25f);
  EXPECT_EQ(fromF16(out[3]), 4 * 0.5f + 2 * 0.25f);
  miscRopeInterleaved(a.data(), c, s, out.data(), 4);
  EXPECT_EQ(fromF16(out[0]), 1 * 0.5f - 2 * 0.25f);
  EXPECT_EQ(fromF16(out[1]), 2 * 0.5f + 1 * 0.25f);
}

TEST(NumericsMM, OutputRule) {
  int32_t acc = 1000;
  float as = 0.01f, ws = 0.002f;
  float expect = static_cast<float>(acc) * (as * ws);
  EXPECT_EQ(mmOutputF32(acc, as, ws), expect);
  EXPECT_EQ(mmOutputF32(acc, as, ws, true, 0.5f), expect + 0.5f);
  EXPECT_EQ(mmOutputF32(-acc, as, ws, false, 0.0f, true), 0.0f);
  EXPECT_EQ(mmOutputF16(acc, as, ws), toF16(expect));
  EXPECT_EQ(mmOutputI32(-5, 3, true, false), -2);
  EXPECT_EQ(mmOutputI32(-5, 3, true, true), 0);
  int8_t x[3] = {127, -127, 3}, y[3] = {127, 127, -2};
  EXPECT_EQ(dotI8(x, y, 3), -6);
  int32_t d[2] = {7, -3};
  float sc[2] = {0.5f, 0.25f};
  uint16_t o[2];
  miscDequantize(d, sc, o, 2);
  EXPECT_EQ(fromF16(o[0]), 3.5f);
  EXPECT_EQ(fromF16(o[1]), -0.75f);
}

TEST(NumericsCompressed, PerChannelIsTheW8A8Rule) {
  std::vector<int8_t> xq = {3, -5, 127, 0, -127, 9};
  std::vector<int8_t> w = {-127, 4, 7, 100, -3, 1};
  float ws = 0.013f;
  float expected = mmValue(dotI8(xq.data(), w.data(), 6), 0.25f, ws, true, 0.5f);
  EXPECT_EQ(floatBits(compressedDotValue(xq.data(), w.data(), 6, 0, &ws,
                                         nullptr, 0.25f, true, 0.5f)),
            floatBits(expected));
}

TEST(NumericsCompressed, GroupsWithZeroPoints) {
  // Two groups of 2: p0 = 1*(10-8) + 2*(8-8) = 2, p1 = 3*(0-2) + 4*(5-2) = 6.
  std::vector<int8_t> xq = {1, 2, 3, 4};
  std::vector<int8_t> w = {10, 8, 0, 5};
  float scales[2] = {0.5f, 0.25f};
  int8_t zps[2] = {8, 2};
  // f = 2 * 0.5 + 6 * 0.25 = 2.5, times xs = 2, plus bias 1.
  EXPECT_EQ(compressedDotValue(xq.data(), w.data(), 4, 2, scales, zps, 2.0f,
                               true, 1.0f),
            6.0f);
  // Without zero points: p0 = 10 + 16 = 26, p1 = 0 + 20 = 20.
  EXPECT_EQ(compressedDotValue(xq.data(), w.data(), 4, 2, scales, nullptr,
                               1.0f),
            26 * 0.5f + 20 * 0.25f);
}

// The compressed B operand: packing N of 16 codes with their indices (INT8
// and INT4, with per-block zero codes), then the DSP chain's partial sums,
// gives the dense sums of every group; the group rule through BRow equals
// the host engine's compressedDotValue.
TEST(NumericsCompressedB, PackedPartialsEqualDense) {
  const uint32_t K = 64;
  uint32_t seed = 12345;
  auto next = [&] {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) & 0x7FFF;
  };
  for (uint32_t kept : {16u, 8u, 4u, 2u})
    for (bool int4 : {false, true})
      for (bool zp : {false, true}) {
        std::vector<int8_t> a(K), w(K), blockZero(K / 16);
        for (uint32_t b = 0; b < K / 16; ++b)
          blockZero[b] = zp ? static_cast<int8_t>(int(next() % 9) - 4) : 0;
        for (uint32_t k = 0; k < K; ++k) {
          a[k] = static_cast<int8_t>(int(next() % 255) - 127);
          w[k] = blockZero[k / 16];
        }
        // `kept` random positions per block hold other codes.
        for (uint32_t b = 0; b < K / 16; ++b)
          for (uint32_t j = 0; j < kept; ++j) {
            uint32_t pos = b * 16 + (j * 7 + b) % 16;
            w[pos] = static_cast<int8_t>(int4 ? int(next() % 16) - 8
                                              : int(next() % 255) - 127);
          }
        std::vector<uint8_t> row(K * 2, 0);
        ASSERT_TRUE(packBRow(w.data(), K, kept, int4, blockZero.data(),
                             row.data()));
        BRow b{row.data(), K, kept, int4};
        EXPECT_EQ(b.bytes(), (int4 ? K * kept / 32 : K * kept / 16) +
                                 (kept < 16 ? K * kept / 32 : 0));
        for (uint32_t g = 0; g < K / 16; ++g) {
          int32_t dense = 0;
          for (uint32_t k = 16 * g; k < 16 * g + 16; ++k)
            dense += int32_t(a[k]) * (int32_t(w[k]) - blockZero[g]);
          EXPECT_EQ(b.partial(a.data(), 16 * g, 16 * g + 16, blockZero[g]), dense)
              << "kept " << kept << " int4 " << int4 << " block " << g;
        }
        float scales[4] = {0.5f, 0.25f, 2.0f, 0.125f};
        float viaRow = groupedValue(
            [&](uint32_t begin, uint32_t end, int32_t z) {
              return b.partial(a.data(), begin, end, z);
            },
            K, 16, scales, blockZero.data(), 0.01f, true, 1.5f);
        EXPECT_EQ(viaRow, compressedDotValue(a.data(), w.data(), K, 16, scales,
                                             blockZero.data(), 0.01f, true,
                                             1.5f));
      }
}

TEST(NumericsCompressedB, TooManyNonzerosInABlock) {
  std::vector<int8_t> w(16, 1);
  std::vector<uint8_t> row(32, 0);
  EXPECT_FALSE(packBRow(w.data(), 16, 8, false, nullptr, row.data()));
  EXPECT_TRUE(packBRow(w.data(), 16, 16, false, nullptr, row.data()));
}

TEST(NumericsCompressedB, GroupedMetaLayout) {
  // 64 channels, 4 groups: the header row, 1 KiB of scales, 256 zero
  // points directly after them, biases on the next row boundary.
  EXPECT_EQ(groupedScalesOffset(), 128u);
  EXPECT_EQ(groupedZeroPointsOffset(64, 4), 128u + 1024u);
  EXPECT_EQ(groupedBiasOffset(64, 4, true), 1408u);
  EXPECT_EQ(groupedBiasOffset(64, 4, false), 1152u);
  EXPECT_EQ(groupedMetaBytes(64, 4, true, true), 1408u + 256u);
  EXPECT_EQ(groupCount(256, 8), 2u);
  EXPECT_EQ(groupCount(256, 0), 1u);
  EXPECT_EQ(keptPerBlock(0), 16u);
  EXPECT_EQ(keptPerBlock(3), 2u);
}

TEST(NumericsKV4, KeyCodesClampAtSeven) {
  EXPECT_EQ(quantizeOne4(100.0f, 1.0f), 7);
  EXPECT_EQ(quantizeOne4(-100.0f, 1.0f), -7);
  EXPECT_EQ(quantizeOne4(2.5f, 1.0f), 2); // ties to even
  EXPECT_EQ(quantizeOne4(NAN, 1.0f), 0);
}

TEST(NumericsKV4, ValueTokenScale) {
  std::vector<float> v = {0.7f, -0.35f, 0.1f, 0.0f};
  std::vector<int8_t> codes(4);
  float vs = quantizeValueToken4(v.data(), codes.data(), 4);
  EXPECT_EQ(vs, roundF16(0.7f / 7.0f));
  EXPECT_EQ(codes[0], 7); // the largest magnitude always gets the top code
  EXPECT_EQ(codes[1], -4); // -0.35 / h(0.1) = -3.5009
  EXPECT_EQ(codes[2], 1);
  EXPECT_EQ(codes[3], 0);
  // The stored products code * vs are exact, and max / 7 gives vs back.
  EXPECT_EQ(float(codes[0]) * vs / 7.0f, vs);
  // A row below fp16's normal range is stored as zeros with scale 1.
  std::vector<float> tiny = {1e-5f, -2e-5f, 0.0f, 0.0f};
  EXPECT_EQ(quantizeValueToken4(tiny.data(), codes.data(), 4), 1.0f);
  EXPECT_EQ(codes[1], 0);
}

} // namespace
