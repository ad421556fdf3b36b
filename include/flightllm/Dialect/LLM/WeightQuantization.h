//===- WeightQuantization.h - Weight codes and their scales ------*- C++ -*-===//
//
// The one definition of how a float weight channel becomes INT8: used by the
// llm-quantize-weights pass and by the accelerator lowering, which quantizes
// large weights straight into the HBM image without materialising an INT8
// copy in the IR. Both must agree bit for bit (the host reference runs the
// pass's output; the simulator runs the lowering's image).
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DIALECT_LLM_WEIGHTQUANTIZATION_H
#define FLIGHTLLM_DIALECT_LLM_WEIGHTQUANTIZATION_H

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace flightllm::llm {

/// The scale of a channel whose largest magnitude is `maxAbs`.
inline float weightChannelScale(float maxAbs) {
  return maxAbs > 0 ? maxAbs / 127.0f : 1.0f;
}

/// One weight of a channel with scale `scale`: round half to even, clamp to
/// the symmetric range [-127, 127]. Exactly clamp(nearbyint(value / scale))
/// in the default rounding mode; inside (-127.5, 127.5) the rounding is done
/// by adding and subtracting 1.5 * 2^23 (exact for |r| < 2^22, ties to even),
/// which is several times faster than a nearbyint call on a 7B model.
inline int8_t quantizeWeight(float value, float scale) {
  float r = value / scale;
  if (!(r > -127.5f))
    return -127;
  if (r >= 127.5f)
    return 127;
  // Not folded: without fast-math the compiler keeps IEEE semantics.
  constexpr float kMagic = 12582912.0f;
  float q = (r + kMagic) - kMagic;
  return static_cast<int8_t>(q);
}

/// The code grid of a compressed weight format (llm.linear's description):
/// 8 or 4 bits, symmetric (no zero points) or asymmetric.
struct WeightGrid {
  int bits = 8;
  bool symmetric = true;

  int minCode() const {
    return symmetric ? (bits == 4 ? -8 : -127) : (bits == 4 ? 0 : -128);
  }
  int maxCode() const { return bits == 4 ? (symmetric ? 7 : 15) : 127; }
};

/// The scale and zero point of one channel or group.
struct GroupParams {
  float scale = 1.0f;
  int zeroPoint = 0;
};

/// The parameters of a run of weights spanning [lo, hi]. Symmetric: scale
/// max |w| / 7 (4 bits) or / 127 (8 bits, exactly weightChannelScale).
/// Asymmetric: the range is widened to include 0 (so that 0 has an exact
/// code), scale (hi - lo) / (levels - 1), zero point
/// clamp(minCode - rne(lo / scale)).
inline GroupParams weightGroupParams(float lo, float hi, WeightGrid grid) {
  if (grid.symmetric) {
    float maxAbs = std::max(-lo, hi);
    if (grid.bits == 8)
      return {weightChannelScale(maxAbs), 0};
    return {maxAbs > 0 ? maxAbs / 7.0f : 1.0f, 0};
  }
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  if (!(hi > lo))
    return {1.0f, grid.minCode() < 0 ? 0 : grid.minCode()};
  float scale = (hi - lo) / float(grid.maxCode() - grid.minCode());
  float zp = float(grid.minCode()) - std::nearbyint(lo / scale);
  zp = std::min(std::max(zp, float(grid.minCode())), float(grid.maxCode()));
  return {scale, int(zp)};
}

/// One weight's code: clamp(rne(value / scale) + zeroPoint) to the grid.
/// For 8-bit symmetric weights exactly quantizeWeight.
inline int8_t quantizeWeightCode(float value, GroupParams p, WeightGrid grid) {
  if (grid.bits == 8 && grid.symmetric)
    return quantizeWeight(value, p.scale);
  float r = std::nearbyint(value / p.scale) + float(p.zeroPoint);
  if (!(r > float(grid.minCode())))
    return int8_t(grid.minCode());
  if (r > float(grid.maxCode()))
    return int8_t(grid.maxCode());
  return int8_t(r);
}

/// The value a code stands for: (code - zeroPoint) * scale.
inline float dequantizeWeightCode(int8_t code, GroupParams p) {
  return float(int(code) - p.zeroPoint) * p.scale;
}

} // namespace flightllm::llm

#endif
