//===- WeightQuantization.h - Symmetric per-channel INT8 weights -*- C++ -*-===//
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

} // namespace flightllm::llm

#endif
