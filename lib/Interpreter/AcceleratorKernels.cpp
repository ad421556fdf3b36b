//===- AcceleratorKernels.cpp - section 5 of docs/execution-model.md ------===//
//
// The interpreter's accelerator numerics. Every rounding comes from
// flightllm/ISA/Numerics.h, the header the simulator uses too; values are
// held as f32 arrays of fp16 values and converted to fp16 bit patterns per
// row for the MISC kinds (exact both ways).
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "flightllm/ISA/Numerics.h"

#include <algorithm>
#include <cmath>
#include <vector>

using namespace flightllm::interpreter::kernels;
namespace nx = flightllm::numerics;

namespace {

void toHalves(const float *x, int64_t n, uint16_t *h) {
  for (int64_t i = 0; i < n; ++i)
    h[i] = nx::toF16(x[i]);
}

void fromHalves(const uint16_t *h, int64_t n, float *x) {
  for (int64_t i = 0; i < n; ++i)
    x[i] = nx::fromF16(h[i]);
}

} // namespace

void accel::quantizedMatmul(const float *x, int64_t m, int64_t k,
                            const int64_t *w, int64_t n, bool transposed,
                            const WeightFormat &format, const float *bias,
                            float inputScale, float *y) {
  // The weight as int8 rows per output channel, [n, k].
  std::vector<int8_t> wq(static_cast<size_t>(n * k));
  for (int64_t c = 0; c < n; ++c)
    for (int64_t i = 0; i < k; ++i)
      wq[size_t(c * k + i)] =
          int8_t(transposed ? w[c * k + i] : w[i * n + c]);
  int64_t groups = format.groupSize ? k / format.groupSize : 1;
  std::vector<int8_t> xq(static_cast<size_t>(k));
  for (int64_t row = 0; row < m; ++row) {
    const float *xr = x + row * k;
    float xs;
    if (inputScale > 0) {
      xs = inputScale;
      for (int64_t i = 0; i < k; ++i)
        xq[size_t(i)] = quantizeInt8(xr[i], inputScale);
    } else {
      xs = nx::quantizeDynamic(xr, xq.data(), uint32_t(k));
    }
    for (int64_t c = 0; c < n; ++c)
      y[row * n + c] = nx::compressedDotValue(
          xq.data(), wq.data() + c * k, uint32_t(k),
          uint32_t(format.groupSize), format.scales + c * groups,
          format.zeroPoints ? format.zeroPoints + c * groups : nullptr, xs,
          bias != nullptr, bias ? bias[c] : 0.0f);
  }
}

void accel::normalize(const float *x, int64_t rows, int64_t d,
                      const float *gamma, const float *beta, float epsilon,
                      bool center, float *y) {
  std::vector<uint16_t> g(static_cast<size_t>(d)), b(static_cast<size_t>(d), 0), a(static_cast<size_t>(d)),
      out(static_cast<size_t>(d));
  toHalves(gamma, d, g.data());
  if (beta)
    toHalves(beta, d, b.data());
  for (int64_t r = 0; r < rows; ++r) {
    toHalves(x + r * d, d, a.data());
    if (center)
      nx::miscLayerNorm(a.data(), g.data(), b.data(), epsilon, out.data(),
                        uint32_t(d));
    else
      nx::miscRmsNorm(a.data(), g.data(), epsilon, out.data(), uint32_t(d));
    fromHalves(out.data(), d, y + r * d);
  }
}

void accel::ropeToken(const float *x, int64_t heads, int64_t dh,
                      const float *cosRow, const float *sinRow,
                      bool interleaved, float *y) {
  std::vector<uint16_t> a(static_cast<size_t>(dh)), out(static_cast<size_t>(dh));
  for (int64_t h = 0; h < heads; ++h) {
    toHalves(x + h * dh, dh, a.data());
    if (interleaved)
      nx::miscRopeInterleaved(a.data(), cosRow, sinRow, out.data(),
                              uint32_t(dh));
    else
      nx::miscRope(a.data(), cosRow, sinRow, out.data(), uint32_t(dh));
    fromHalves(out.data(), dh, y + h * dh);
  }
}

namespace {

/// The codes and per-token scale of one cached value row of the 4-bit
/// layout, from the exact products code * vs the cache holds: the largest
/// magnitude is 7 * vs (numerics::quantizeValueToken4 always gives one
/// code +-7), so vs = max / 7 and every quotient is exact.
float valueRowCodes4(const float *row, int8_t *codes, int64_t dh) {
  float amax = 0.0f;
  for (int64_t j = 0; j < dh; ++j)
    amax = std::max(amax, std::fabs(row[j]));
  if (amax == 0.0f) {
    std::fill(codes, codes + dh, int8_t(0));
    return 1.0f;
  }
  float vs = amax / 7.0f;
  for (int64_t j = 0; j < dh; ++j)
    codes[j] = nx::sat4(nx::rne(row[j] / vs));
  return vs;
}

} // namespace

void accel::attention(const AttentionShape &shape, const float *q,
                      const float *k, const float *v, const float *pastK,
                      const float *pastV, const float *kScales,
                      const float *vScales, int64_t kvBits, float *out,
                      float *presentK, float *presentV) {
  int64_t numB = shape.batch, numS = shape.newTokens, numP = shape.pastTokens;
  int64_t hq = shape.numHeads, hkv = shape.numKVHeads, dh = shape.headDim;
  int64_t numT = numP + numS, group = hq / hkv;
  int64_t kvWidth = hkv * dh, qWidth = hq * dh;
  bool kv4 = kvBits == 4;

  // 1. The cache codes: the past ones, then the new keys/values quantized
  //    with the static per-channel inverse scales (int8), or keys so and
  //    values per token (4-bit, vScale holds each row's scale).
  std::vector<float> invK(static_cast<size_t>(kvWidth)), invV(static_cast<size_t>(kvWidth));
  for (int64_t c = 0; c < kvWidth; ++c) {
    invK[size_t(c)] = 1.0f / kScales[c];
    invV[size_t(c)] = 1.0f / vScales[c];
  }
  std::vector<int8_t> k8(static_cast<size_t>(numB * hkv * numT * dh)),
      v8(static_cast<size_t>(numB * hkv * numT * dh));
  std::vector<float> vScale(static_cast<size_t>(numB * hkv * numT), 1.0f);
  std::vector<float> newRow(static_cast<size_t>(dh));
  for (int64_t b = 0; b < numB; ++b)
    for (int64_t g = 0; g < hkv; ++g)
      for (int64_t t = 0; t < numT; ++t) {
        size_t rowAt = size_t(((b * hkv + g) * numT + t) * dh);
        size_t pastAt = size_t(((b * hkv + g) * numP + t) * dh);
        size_t srcAt = size_t((b * numS + (t - numP)) * kvWidth + g * dh);
        float &vs = vScale[size_t((b * hkv + g) * numT + t)];
        for (int64_t j = 0; j < dh; ++j) {
          size_t at = rowAt + size_t(j);
          int64_t c = g * dh + j;
          if (t < numP)
            k8[at] = kv4 ? nx::sat4(pastK[pastAt + size_t(j)])
                         : nx::sat8(pastK[pastAt + size_t(j)]);
          else
            k8[at] = kv4 ? nx::quantizeOne4(k[srcAt + size_t(j)], invK[size_t(c)])
                         : nx::quantizeOne(k[srcAt + size_t(j)], invK[size_t(c)]);
          presentK[at] = float(k8[at]);
          if (kv4)
            continue;
          v8[at] = t < numP ? nx::sat8(pastV[pastAt + size_t(j)])
                            : nx::quantizeOne(v[srcAt + size_t(j)], invV[size_t(c)]);
          presentV[at] = float(v8[at]);
        }
        if (!kv4)
          continue;
        if (t < numP) {
          vs = valueRowCodes4(pastV + pastAt, v8.data() + rowAt, dh);
        } else {
          std::copy(v + srcAt, v + srcAt + dh, newRow.begin());
          vs = nx::quantizeValueToken4(newRow.data(), v8.data() + rowAt,
                                       uint32_t(dh));
        }
        for (int64_t j = 0; j < dh; ++j)
          presentV[rowAt + size_t(j)] = float(v8[rowAt + size_t(j)]) * vs;
      }

  std::vector<uint16_t> kScaleH(static_cast<size_t>(kvWidth));
  toHalves(kScales, kvWidth, kScaleH.data());
  std::vector<uint16_t> qh(static_cast<size_t>(dh)), qs(static_cast<size_t>(dh)), sh(static_cast<size_t>(numT)),
      ph(static_cast<size_t>(numT));
  std::vector<int8_t> q8(static_cast<size_t>(dh)), p8(static_cast<size_t>(numT));
  for (int64_t b = 0; b < numB; ++b)
    for (int64_t s = 0; s < numS; ++s)
      for (int64_t h = 0; h < hq; ++h) {
        int64_t g = h / group;
        const int8_t *kg = k8.data() + (b * hkv + g) * numT * dh;
        const int8_t *vg = v8.data() + (b * hkv + g) * numT * dh;
        // 2. q' = h(q * h(k_scale)), then quantize_dynamic.
        toHalves(q + (b * numS + s) * qWidth + h * dh, dh, qh.data());
        nx::miscMul(qh.data(), kScaleH.data() + g * dh, qs.data(),
                    uint32_t(dh));
        float qScale = nx::miscQuantizeDynamic(qs.data(), q8.data(),
                                               uint32_t(dh));
        // 3. Scores, int32 dot products rescaled by qs (MM rule, f16 out).
        for (int64_t t = 0; t < numT; ++t)
          sh[size_t(t)] = nx::mmOutputF16(
              nx::dotI8(q8.data(), kg + t * dh, uint32_t(dh)), qScale, 1.0f);
        // 4. Softmax with the op's scale, causal mask at P + s (over the
        //    window's positions only, the older ones get 0).
        int64_t first = shape.firstAllowed(s);
        std::fill(ph.begin(), ph.begin() + first, uint16_t(0));
        nx::miscSoftmax(sh.data() + first, shape.scale, ph.data() + first,
                        uint32_t(numT - first), shape.causal, numP + s - first);
        // 4-bit values: p'[t] = h(p[t] * vs[t]) carries the token scales.
        if (kv4)
          for (int64_t t = 0; t < numT; ++t)
            ph[size_t(t)] = nx::toF16(
                nx::fromF16(ph[size_t(t)]) *
                vScale[size_t((b * hkv + g) * numT + t)]);
        // 5. quantize_dynamic of p, int32 P.V, rescale by ps * v_scale
        //    (ps alone with 4-bit values).
        float pScale = nx::miscQuantizeDynamic(ph.data(), p8.data(),
                                               uint32_t(numT));
        float *o = out + (b * numS + s) * qWidth + h * dh;
        for (int64_t j = 0; j < dh; ++j) {
          int32_t acc = 0;
          for (int64_t t = 0; t < numT; ++t)
            acc += int32_t(p8[size_t(t)]) * int32_t(vg[t * dh + j]);
          o[j] = nx::fromF16(nx::mmOutputF16(
              acc, pScale, kv4 ? 1.0f : vScales[g * dh + j]));
        }
      }
}

void accel::activation(Activation kind, const float *x, int64_t n, float *y) {
  std::vector<uint16_t> a(static_cast<size_t>(n)), out(static_cast<size_t>(n));
  toHalves(x, n, a.data());
  switch (kind) {
  case Activation::Gelu:
    nx::miscGelu(a.data(), out.data(), uint32_t(n));
    break;
  case Activation::GeluTanh:
    nx::miscGeluTanh(a.data(), out.data(), uint32_t(n));
    break;
  case Activation::Silu:
    nx::miscSilu(a.data(), out.data(), uint32_t(n));
    break;
  case Activation::Relu:
    nx::miscRelu(a.data(), out.data(), uint32_t(n));
    break;
  }
  fromHalves(out.data(), n, y);
}

void accel::binary(Binary kind, const float *a, const float *b, int64_t n,
                   float *y) {
  std::vector<uint16_t> ah(static_cast<size_t>(n)), bh(static_cast<size_t>(n)), out(static_cast<size_t>(n));
  toHalves(a, n, ah.data());
  toHalves(b, n, bh.data());
  switch (kind) {
  case Binary::Add:
    nx::miscAdd(ah.data(), bh.data(), out.data(), uint32_t(n));
    break;
  case Binary::Mul:
    nx::miscMul(ah.data(), bh.data(), out.data(), uint32_t(n));
    break;
  case Binary::SwiGLU:
    nx::miscSwiglu(ah.data(), bh.data(), out.data(), uint32_t(n));
    break;
  }
  fromHalves(out.data(), n, y);
}
