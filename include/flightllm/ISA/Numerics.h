//===- Numerics.h - The accelerator's arithmetic, bit for bit ---*- C++ -*-===//
//
// Section 1 of docs/execution-model.md: fp16 conversion, integer rounding,
// the special function unit (MISC) kinds over one row, quantize_dynamic and
// the MM/MV output rule. The simulator and the host quantized reference both
// call these functions, so they cannot drift apart.
//
// Header-only C++17, no exceptions, no heap. Every translation unit that
// includes it must be compiled with -ffp-contract=off (the top-level
// CMakeLists.txt adds it globally): a fused multiply-add would change the
// rounding of `x * r * g + be` and friends.
//
// Pointers are raw rows: fp16 values as uint16_t bit patterns, fp32 as float,
// int8 as int8_t, int32 accumulators as int32_t. With `masked`, every kind
// except softmax writes +0 to output columns i > pos (the inputs of those
// columns are not read by any reduction except where noted).
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_ISA_NUMERICS_H
#define FLIGHTLLM_ISA_NUMERICS_H

#include <cmath>
#include <cstdint>
#include <cstring>

namespace flightllm {
namespace numerics {

/// Bytes per on-chip row; parameter lists in MISC operand b start on rows.
// Equal to isa::kOnChipRowBytes (static_assert in lib/Simulator and the
// lowering); not taken from ISA.h so that this header stays self-contained.
constexpr uint32_t kRowBytes = 128;

/// `bytes` rounded up to whole rows, in bytes.
constexpr uint32_t roundUpRow(uint32_t bytes) {
  return (bytes + kRowBytes - 1) / kRowBytes * kRowBytes;
}

//===----------------------------------------------------------------------===//
// fp16
//===----------------------------------------------------------------------===//

inline uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

inline float bitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

/// Largest finite half, 65504.
constexpr uint16_t kF16MaxBits = 0x7BFF;

/// fp32 -> fp16: round to nearest, ties to even; magnitudes beyond 65504
/// (including infinity) saturate to +-65504; NaN stays a (quiet) NaN with the
/// top payload bits kept.
inline uint16_t toF16(float f) {
  uint32_t x = floatBits(f);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) // NaN
    return static_cast<uint16_t>(sign | 0x7E00u | ((ax >> 13) & 0x3FFu));
  if (ax >= 0x477FE000u) // >= 65504 (incl. inf): everything above saturates
    return static_cast<uint16_t>(sign | kF16MaxBits);
  if (ax >= 0x38800000u) { // normal half (>= 2^-14)
    uint32_t h = (((ax >> 23) - 112u) << 10) | ((ax >> 13) & 0x3FFu);
    uint32_t rem = ax & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
      ++h; // a carry into the exponent is the correct result
    return static_cast<uint16_t>(sign | h);
  }
  if (ax < 0x33000000u) // < 2^-25: rounds to zero (2^-25 itself ties to 0)
    return sign;
  // Subnormal half: units of 2^-24.
  uint32_t mant = (ax & 0x7FFFFFu) | 0x800000u;
  uint32_t shift = 126u - (ax >> 23); // 14..24
  uint32_t h = mant >> shift;
  uint32_t rem = mant & ((1u << shift) - 1u);
  uint32_t half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (h & 1u)))
    ++h; // may carry into the smallest normal, which is correct
  return static_cast<uint16_t>(sign | h);
}

/// fp16 -> fp32, exact.
inline float fromF16(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  if (exp == 0) {
    if (mant == 0)
      return bitsFloat(sign);
    float v = static_cast<float>(mant) * 5.9604644775390625e-8f; // 2^-24, exact
    return sign ? -v : v;
  }
  if (exp == 31)
    return bitsFloat(sign | 0x7F800000u | (mant << 13));
  return bitsFloat(sign | ((exp + 112u) << 23) | (mant << 13));
}

/// h(x) of the contract: the fp32 value of the nearest fp16.
inline float roundF16(float x) { return fromF16(toF16(x)); }

//===----------------------------------------------------------------------===//
// Integer rounding
//===----------------------------------------------------------------------===//

/// Round to nearest integer, ties to even (nearbyintf, default mode).
inline float rne(float x) { return std::nearbyint(x); }

/// clamp(x, -127, 127) of an already rounded value (NaN gives 0).
inline int8_t sat8(float x) {
  if (!(x == x))
    return 0;
  if (x > 127.0f)
    return 127;
  if (x < -127.0f)
    return -127;
  return static_cast<int8_t>(x);
}

/// sat8(rne(x * inv)): one element of `quantize` (and of the KV cache).
inline int8_t quantizeOne(float x, float inv) { return sat8(rne(x * inv)); }

//===----------------------------------------------------------------------===//
// MISC kinds, one row of k elements
//===----------------------------------------------------------------------===//

inline bool isMasked(bool masked, int64_t pos, uint32_t i) {
  return masked && static_cast<int64_t>(i) > pos;
}

inline void miscAdd(const uint16_t *a, const uint16_t *b, uint16_t *out,
                    uint32_t k, bool masked = false, int64_t pos = 0) {
  for (uint32_t i = 0; i < k; ++i)
    out[i] = isMasked(masked, pos, i) ? 0 : toF16(fromF16(a[i]) + fromF16(b[i]));
}

inline void miscMul(const uint16_t *a, const uint16_t *b, uint16_t *out,
                    uint32_t k, bool masked = false, int64_t pos = 0) {
  for (uint32_t i = 0; i < k; ++i)
    out[i] = isMasked(masked, pos, i) ? 0 : toF16(fromF16(a[i]) * fromF16(b[i]));
}

inline float reluValue(float x) { return x > 0 ? x : 0.0f; }
inline float siluValue(float x) { return x / (1 + std::exp(-x)); }
inline float geluValue(float x) {
  return 0.5f * x * (1 + std::erf(x * 0.70710678f));
}
inline float geluTanhValue(float x) {
  return 0.5f * x *
         (1 + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x)));
}

inline void miscRelu(const uint16_t *a, uint16_t *out, uint32_t k,
                     bool masked = false, int64_t pos = 0) {
  for (uint32_t i = 0; i < k; ++i)
    out[i] = isMasked(masked, pos, i) ? 0 : toF16(reluValue(fromF16(a[i])));
}

inline void miscSilu(const uint16_t *a, uint16_t *out, uint32_t k,
                     bool masked = false, int64_t pos = 0) {
  for (uint32_t i = 0; i < k; ++i)
    out[i] = isMasked(masked, pos, i) ? 0 : toF16(siluValue(fromF16(a[i])));
}

inline void miscGelu(const uint16_t *a, uint16_t *out, uint32_t k,
                     bool masked = false, int64_t pos = 0) {
  for (uint32_t i = 0; i < k; ++i)
    out[i] = isMasked(masked, pos, i) ? 0 : toF16(geluValue(fromF16(a[i])));
}

inline void miscGeluTanh(const uint16_t *a, uint16_t *out, uint32_t k,
                         bool masked = false, int64_t pos = 0) {
  for (uint32_t i = 0; i < k; ++i)
    out[i] =
        isMasked(masked, pos, i) ? 0 : toF16(geluTanhValue(fromF16(a[i])));
}

inline void miscSwiglu(const uint16_t *a, const uint16_t *b, uint16_t *out,
                       uint32_t k, bool masked = false, int64_t pos = 0) {
  for (uint32_t i = 0; i < k; ++i)
    out[i] = isMasked(masked, pos, i)
                 ? 0
                 : toF16(siluValue(fromF16(a[i])) * fromF16(b[i]));
}

/// Byte offsets of the layernorm parameters in operand b: gamma fp16[k] at 0,
/// beta fp16[k] and eps fp32 each on the next row.
constexpr uint32_t layerNormBetaOffset(uint32_t k) { return roundUpRow(2 * k); }
constexpr uint32_t layerNormEpsOffset(uint32_t k) {
  return 2 * roundUpRow(2 * k);
}
/// rmsnorm: gamma fp16[k] at 0, eps fp32 on the next row.
constexpr uint32_t rmsNormEpsOffset(uint32_t k) { return roundUpRow(2 * k); }
/// rope: cos fp32[k] at 0, sin fp32[k] on the next row.
constexpr uint32_t ropeSinOffset(uint32_t k) { return roundUpRow(4 * k); }
/// quantize_dynamic output: int8 q[k] at 0, the fp32 scale on the next row.
constexpr uint32_t qvecScaleOffset(uint32_t k) { return roundUpRow(k); }
/// Rows of a qvec of k values: ceil(k/64) + 1.
constexpr uint32_t qvecRows(uint32_t k) { return roundUpRow(k) / kRowBytes + 1; }

inline void miscLayerNorm(const uint16_t *a, const uint16_t *gamma,
                          const uint16_t *beta, float eps, uint16_t *out,
                          uint32_t k, bool masked = false, int64_t pos = 0) {
  float sum = 0.0f;
  for (uint32_t i = 0; i < k; ++i)
    sum = sum + fromF16(a[i]);
  float m = sum / static_cast<float>(k);
  float sq = 0.0f;
  for (uint32_t i = 0; i < k; ++i) {
    float d = fromF16(a[i]) - m;
    sq = sq + d * d;
  }
  float v = sq / static_cast<float>(k);
  float r = 1 / std::sqrt(v + eps);
  for (uint32_t i = 0; i < k; ++i) {
    if (isMasked(masked, pos, i)) {
      out[i] = 0;
      continue;
    }
    float y = (fromF16(a[i]) - m) * r * fromF16(gamma[i]) + fromF16(beta[i]);
    out[i] = toF16(y);
  }
}

inline void miscRmsNorm(const uint16_t *a, const uint16_t *gamma, float eps,
                        uint16_t *out, uint32_t k, bool masked = false,
                        int64_t pos = 0) {
  float sq = 0.0f;
  for (uint32_t i = 0; i < k; ++i) {
    float x = fromF16(a[i]);
    sq = sq + x * x;
  }
  float ms = sq / static_cast<float>(k);
  float r = 1 / std::sqrt(ms + eps);
  for (uint32_t i = 0; i < k; ++i)
    out[i] = isMasked(masked, pos, i)
                 ? 0
                 : toF16(fromF16(a[i]) * r * fromF16(gamma[i]));
}

/// Rotate-half rope: pairs (i, i + k/2); cos/sin are this row's fp32 rows.
inline void miscRope(const uint16_t *a, const float *cosRow,
                     const float *sinRow, uint16_t *out, uint32_t k,
                     bool masked = false, int64_t pos = 0) {
  uint32_t half = k / 2;
  for (uint32_t i = 0; i < k; ++i) {
    if (isMasked(masked, pos, i)) {
      out[i] = 0;
      continue;
    }
    float x = fromF16(a[i]);
    float rot = i < half ? -fromF16(a[i + half]) : fromF16(a[i - half]);
    float p0 = x * cosRow[i];
    float p1 = rot * sinRow[i];
    out[i] = toF16(p0 + p1);
  }
}

/// Interleaved rope: pairs (2j, 2j + 1).
inline void miscRopeInterleaved(const uint16_t *a, const float *cosRow,
                                const float *sinRow, uint16_t *out, uint32_t k,
                                bool masked = false, int64_t pos = 0) {
  for (uint32_t i = 0; i < k; ++i) {
    if (isMasked(masked, pos, i)) {
      out[i] = 0;
      continue;
    }
    float x = fromF16(a[i]);
    float rot = (i % 2 == 0) ? -fromF16(a[i + 1]) : fromF16(a[i - 1]);
    float p0 = x * cosRow[i];
    float p1 = rot * sinRow[i];
    out[i] = toF16(p0 + p1);
  }
}

/// Softmax of x * scale over the allowed columns (all i < k; with `masked`
/// only i <= pos); the others get +0.
inline void miscSoftmax(const uint16_t *a, float scale, uint16_t *out,
                        uint32_t k, bool masked = false, int64_t pos = 0) {
  uint32_t n = k;
  if (masked) {
    if (pos < 0)
      n = 0;
    else if (pos + 1 < static_cast<int64_t>(k))
      n = static_cast<uint32_t>(pos + 1);
  }
  float m = 0.0f;
  for (uint32_t i = 0; i < n; ++i) {
    float z = fromF16(a[i]) * scale;
    if (i == 0 || z > m)
      m = z;
  }
  float s = 0.0f;
  for (uint32_t i = 0; i < n; ++i)
    s = s + std::exp(fromF16(a[i]) * scale - m);
  for (uint32_t i = 0; i < k; ++i) {
    if (i >= n) {
      out[i] = 0;
      continue;
    }
    float e = std::exp(fromF16(a[i]) * scale - m);
    out[i] = toF16(e / s);
  }
}

/// Static quantization with fp32 inverse scales inv[k].
inline void miscQuantize(const uint16_t *a, const float *inv, int8_t *out,
                         uint32_t k, bool masked = false, int64_t pos = 0) {
  for (uint32_t i = 0; i < k; ++i)
    out[i] = isMasked(masked, pos, i) ? 0 : quantizeOne(fromF16(a[i]), inv[i]);
}

/// quantize_dynamic over fp32 values (already fp16-representable in the
/// contract); returns the scale s. amax == 0 gives q = 0, s = 1. With
/// `masked`, columns i > pos are excluded from amax and written 0.
inline float quantizeDynamic(const float *x, int8_t *q, uint32_t k,
                             bool masked = false, int64_t pos = 0);

/// quantize_dynamic over values read through `value(i)` (fp32, already
/// fp16-representable); both entry points below share this one definition.
template <typename ValueAt>
inline float quantizeDynamicOf(ValueAt value, int8_t *q, uint32_t k,
                               bool masked, int64_t pos) {
  float amax = 0.0f;
  for (uint32_t i = 0; i < k; ++i) {
    if (isMasked(masked, pos, i))
      continue;
    float ax = std::fabs(value(i));
    if (ax > amax)
      amax = ax;
  }
  if (amax == 0.0f) {
    for (uint32_t i = 0; i < k; ++i)
      q[i] = 0;
    return 1.0f;
  }
  float r = 127.0f / amax;
  float s = amax / 127.0f;
  for (uint32_t i = 0; i < k; ++i)
    q[i] = isMasked(masked, pos, i) ? 0 : sat8(rne(value(i) * r));
  return s;
}

inline float quantizeDynamic(const float *x, int8_t *q, uint32_t k,
                             bool masked, int64_t pos) {
  return quantizeDynamicOf([x](uint32_t i) { return x[i]; }, q, k, masked,
                           pos);
}

/// The MISC quantize_dynamic kind on an fp16 row; returns the scale (which
/// the instruction stores at qvecScaleOffset(k) bytes after q).
inline float miscQuantizeDynamic(const uint16_t *a, int8_t *q, uint32_t k,
                                 bool masked = false, int64_t pos = 0) {
  return quantizeDynamicOf([a](uint32_t i) { return fromF16(a[i]); }, q, k,
                           masked, pos);
}

/// int32 accumulators times fp32 per-element scales, to fp16.
inline void miscDequantize(const int32_t *a, const float *scales,
                           uint16_t *out, uint32_t k, bool masked = false,
                           int64_t pos = 0) {
  for (uint32_t i = 0; i < k; ++i)
    out[i] = isMasked(masked, pos, i)
                 ? 0
                 : toF16(static_cast<float>(a[i]) * scales[i]);
}

/// k bytes unchanged (masking does not apply to bytes).
inline void miscCopy(const void *a, void *out, uint32_t k) {
  std::memmove(out, a, k);
}

//===----------------------------------------------------------------------===//
// MM / MV output rule
//===----------------------------------------------------------------------===//

/// One output value in fp32: float(acc) * (aScale * wScale) (the product
/// first), plus the bias, then relu.
inline float mmValue(int32_t acc, float aScale, float wScale,
                     bool hasBias = false, float bias = 0.0f,
                     bool relu = false) {
  float scale = aScale * wScale;
  float v = static_cast<float>(acc) * scale;
  if (hasBias)
    v = v + bias;
  if (relu)
    v = v > 0 ? v : 0.0f;
  return v;
}

/// The f16 output format: toF16 of mmValue.
inline uint16_t mmOutputF16(int32_t acc, float aScale, float wScale,
                            bool hasBias = false, float bias = 0.0f,
                            bool relu = false) {
  return toF16(mmValue(acc, aScale, wScale, hasBias, bias, relu));
}

/// The f32 output format.
inline float mmOutputF32(int32_t acc, float aScale, float wScale,
                         bool hasBias = false, float bias = 0.0f,
                         bool relu = false) {
  return mmValue(acc, aScale, wScale, hasBias, bias, relu);
}

/// The i32 output format: acc (plus the old value with accumulate); relu
/// clamps at 0.
inline int32_t mmOutputI32(int32_t acc, int32_t old = 0, bool accumulate = false,
                           bool relu = false) {
  int32_t v = accumulate ? static_cast<int32_t>(static_cast<uint32_t>(acc) +
                                                static_cast<uint32_t>(old))
                         : acc;
  return relu && v < 0 ? 0 : v;
}

/// Exact int8 dot product of length n with int32 accumulation.
inline int32_t dotI8(const int8_t *a, const int8_t *b, uint32_t n) {
  int32_t acc = 0;
  for (uint32_t i = 0; i < n; ++i)
    acc += static_cast<int32_t>(a[i]) * static_cast<int32_t>(b[i]);
  return acc;
}

//===----------------------------------------------------------------------===//
// Compressed weights (group-wise, low-bit, zero points)
//===----------------------------------------------------------------------===//

/// The group-wise output rule, given `partial(beginK, endK, zp)`, the exact
/// int32 sum over [beginK, endK) of x * (code - zp): `groupSize` 0 is one
/// group (the MM/MV rule, scale product first); G > 0 accumulates
/// f32(p_g) * scales[g] in f32 in group order, then multiplies by xScale.
/// The host engine (compressedDotValue) and the accelerator's grouped MM/MV
/// both evaluate it, so the group arithmetic has one definition.
template <typename Partial>
inline float groupedValue(Partial partial, uint32_t k, uint32_t groupSize,
                          const float *scales, const int8_t *zeroPoints,
                          float xScale, bool hasBias = false,
                          float bias = 0.0f) {
  if (groupSize == 0)
    return mmValue(partial(0, k, zeroPoints ? zeroPoints[0] : 0), xScale,
                   scales[0], hasBias, bias);
  float f = 0.0f;
  for (uint32_t g = 0, begin = 0; begin < k; ++g, begin += groupSize) {
    int32_t p = partial(begin, begin + groupSize, zeroPoints ? zeroPoints[g] : 0);
    f = f + static_cast<float>(p) * scales[g];
  }
  float v = f * xScale;
  if (hasBias)
    v = v + bias;
  return v;
}

/// One output of a compressed projection (llm.linear's description): int8
/// inputs `xq` (scale `xScale`) against one output channel's weight codes
/// `w` (k codes along the reduction), with `groupSize` 0 (one scale and zero
/// point, scales[0] / zeroPoints[0]) or G > 0 (scales[g], zeroPoints[g] for
/// the k in [gG, gG+G)). `zeroPoints` may be null (symmetric). Per channel
/// without zero points this is exactly dotI8 then mmValue.
inline float compressedDotValue(const int8_t *xq, const int8_t *w, uint32_t k,
                                uint32_t groupSize, const float *scales,
                                const int8_t *zeroPoints, float xScale,
                                bool hasBias = false, float bias = 0.0f) {
  auto partial = [&](uint32_t begin, uint32_t end, int32_t zp) {
    int32_t acc = 0;
    for (uint32_t i = begin; i < end; ++i)
      acc += static_cast<int32_t>(xq[i]) *
             (static_cast<int32_t>(w[i]) - zp);
    return acc;
  };
  return groupedValue(partial, k, groupSize, scales, zeroPoints, xScale,
                      hasBias, bias);
}

//===----------------------------------------------------------------------===//
// The compressed B operand of MM/MV (docs/execution-model.md, section 2)
//===----------------------------------------------------------------------===//

/// Codes stored per K block of 16 for the ISA's Sparsity field value
/// (dense 16, n8 8, n4 4, n2 2).
constexpr uint32_t keptPerBlock(uint32_t sparsityField) {
  return sparsityField == 0 ? 16u : 16u >> sparsityField;
}

/// The two's-complement 4-bit code at nibble i (low nibble first).
inline int8_t nibbleCode(const uint8_t *p, uint32_t i) {
  int v = (i & 1u) ? p[i / 2] >> 4 : p[i / 2] & 0xF;
  return static_cast<int8_t>(v >= 8 ? v - 16 : v);
}
/// The unsigned nibble i (a sparse index, 0..15).
inline uint32_t nibbleIndex(const uint8_t *p, uint32_t i) {
  return (i & 1u) ? p[i / 2] >> 4 : p[i / 2] & 0xFu;
}
inline void setNibble(uint8_t *p, uint32_t i, uint32_t v) {
  uint8_t b = static_cast<uint8_t>(v & 0xFu);
  p[i / 2] = (i & 1u) ? static_cast<uint8_t>((p[i / 2] & 0x0F) | (b << 4))
                      : static_cast<uint8_t>((p[i / 2] & 0xF0) | b);
}

/// One output channel's B operand (channel-major): K/16 blocks of `kept`
/// codes (INT8 one per byte; INT4 two per byte, low nibble first), then,
/// when sparse (kept < 16), the 4-bit k index within its block of every
/// code, in the same order (low nibble first). Indices of a block are
/// distinct; a position not stored contributes nothing (its code is the
/// zero point).
struct BRow {
  const uint8_t *data;
  uint32_t K, kept;
  bool int4;
  uint32_t codes() const { return K / 16 * kept; }
  uint32_t codeBytes() const { return int4 ? (codes() + 1) / 2 : codes(); }
  /// Bytes before padding to whole rows.
  uint32_t bytes() const {
    return kept == 16 ? codeBytes() : codeBytes() + (codes() + 1) / 2;
  }
  int32_t code(uint32_t i) const {
    return int4 ? nibbleCode(data, i) : static_cast<int8_t>(data[i]);
  }
  uint32_t index(uint32_t i) const {
    return kept == 16 ? i : (i / kept) * 16 + nibbleIndex(data + codeBytes(), i);
  }
  /// The DSP chain's sum over the stored codes of blocks [beginK, endK)/16:
  /// x[index] * (code - zp), exact in int32.
  int32_t partial(const int8_t *x, uint32_t beginK, uint32_t endK,
                  int32_t zp) const {
    int32_t acc = 0;
    for (uint32_t i = beginK / 16 * kept, e = endK / 16 * kept; i < e; ++i)
      acc += static_cast<int32_t>(x[index(i)]) * (code(i) - zp);
    return acc;
  }
};

/// Packs one channel's codes (`w`, K of them, K a multiple of 16) into the
/// BRow format at `out` (BRow{out, K, kept, int4}.bytes() bytes, zeroed by
/// the caller). `blockZero` (null: 0) is each block's zero code: a block
/// keeps its codes that differ from it, then the lowest positions holding
/// it, up to `kept`, in ascending k. Returns false when a block has more
/// than `kept` codes different from its zero code.
inline bool packBRow(const int8_t *w, uint32_t K, uint32_t kept, bool int4,
                     const int8_t *blockZero, uint8_t *out) {
  BRow row{out, K, kept, int4};
  uint32_t codeBytes = row.codeBytes();
  for (uint32_t b = 0; b < K / 16; ++b) {
    int8_t zero = blockZero ? blockZero[b] : 0;
    const int8_t *blk = w + 16 * b;
    uint32_t nonzero = 0;
    for (uint32_t j = 0; j < 16; ++j)
      nonzero += blk[j] != zero;
    if (nonzero > kept)
      return false;
    uint32_t fillers = kept - nonzero, n = 0;
    for (uint32_t j = 0; j < 16 && n < kept; ++j) {
      bool take = blk[j] != zero;
      if (!take && fillers > 0) {
        take = true;
        --fillers;
      }
      if (!take)
        continue;
      uint32_t i = b * kept + n++;
      if (int4)
        setNibble(out, i, static_cast<uint32_t>(blk[j]));
      else
        out[i] = static_cast<uint8_t>(blk[j]);
      if (kept < 16)
        setNibble(out + codeBytes, i, j);
    }
  }
  return true;
}

/// Grouped MM/MV (`grouped` = 1): the meta area at scale_addr starts with
/// this header row, then fp32 scales [n][groups] from the next row,
/// directly followed (with zeroPoints) by int8 zero points [n][groups],
/// then (with bias) fp32 biases [n] from the next row boundary. groups = K / (16 *
/// groupBlocks), or 1 when groupBlocks is 0 (one scale and zero point per
/// channel, the MM/MV rule).
struct GroupHeader {
  uint32_t groupBlocks;
  uint32_t zeroPoints; ///< 0 or 1
};
constexpr uint32_t groupCount(uint32_t K, uint32_t groupBlocks) {
  return groupBlocks == 0 ? 1u : K / (16u * groupBlocks);
}
constexpr uint32_t groupedScalesOffset() { return kRowBytes; }
constexpr uint32_t groupedZeroPointsOffset(uint32_t n, uint32_t groups) {
  return kRowBytes + 4 * n * groups;
}
constexpr uint32_t groupedBiasOffset(uint32_t n, uint32_t groups,
                                     bool zeroPoints) {
  return roundUpRow(groupedZeroPointsOffset(n, groups) +
                    (zeroPoints ? n * groups : 0u));
}
constexpr uint32_t groupedMetaBytes(uint32_t n, uint32_t groups,
                                    bool zeroPoints, bool bias) {
  return groupedBiasOffset(n, groups, zeroPoints) +
         (bias ? roundUpRow(4 * n) : 0u);
}

//===----------------------------------------------------------------------===//
// 4-bit KV cache (KIVI layout: keys per channel, values per token)
//===----------------------------------------------------------------------===//

/// clamp(x, -7, 7) of an already rounded value (NaN gives 0).
inline int8_t sat4(float x) {
  if (!(x == x))
    return 0;
  if (x > 7.0f)
    return 7;
  if (x < -7.0f)
    return -7;
  return static_cast<int8_t>(x);
}

/// sat4(rne(x * inv)): one 4-bit key code with its channel's inverse scale.
inline int8_t quantizeOne4(float x, float inv) { return sat4(rne(x * inv)); }

/// Smallest normal fp16, 2^-14: per-token value scales below it store the
/// row as zeros.
constexpr float kF16MinNormal = 6.103515625e-05f;

/// One token's values of one kv head, read through `value(j)` (dh fp32
/// values, fp16-representable), to 4-bit codes; returns the
/// fp16-representable scale vs: vs = h(amax / 7), codes sat4(rne(v / vs));
/// vs < 2^-14 gives zero codes and vs = 1. The host engine and the MISC
/// quantize_value4 kind both call it.
template <typename ValueAt>
inline float quantizeValueToken4Of(ValueAt value, int8_t *codes, uint32_t dh) {
  float amax = 0.0f;
  for (uint32_t j = 0; j < dh; ++j) {
    float a = std::fabs(value(j));
    if (a > amax)
      amax = a;
  }
  float vs = roundF16(amax / 7.0f);
  if (!(vs >= kF16MinNormal)) {
    for (uint32_t j = 0; j < dh; ++j)
      codes[j] = 0;
    return 1.0f;
  }
  for (uint32_t j = 0; j < dh; ++j)
    codes[j] = sat4(rne(value(j) / vs));
  return vs;
}

inline float quantizeValueToken4(const float *v, int8_t *codes, uint32_t dh) {
  return quantizeValueToken4Of([v](uint32_t j) { return v[j]; }, codes, dh);
}

/// Bytes of one token's row of k 4-bit codes in the accelerator's KV cache
/// (and in the packed output of the MISC 4-bit kinds): two codes per byte,
/// low nibble first, rounded up to a 32-byte HBM unit, zero padded.
constexpr uint32_t kv4RowBytes(uint32_t k) { return ((k + 1) / 2 + 31) / 32 * 32; }

/// MISC quantize_value4: where row r's fp16 scale goes, in bytes from the
/// output's first row, after the packed code rows of all `rows` rows.
constexpr uint32_t kv4ScalesOffset(uint32_t k, uint32_t rows) {
  return roundUpRow(rows * kv4RowBytes(k));
}

/// The MISC quantize4 kind on one fp16 row: key codes
/// quantizeOne4(x, inv[i]) packed into kv4RowBytes(k) bytes at `out`
/// (padding zero).
inline void miscQuantize4(const uint16_t *a, const float *inv, uint8_t *out,
                          uint32_t k) {
  for (uint32_t i = 0; i < kv4RowBytes(k); ++i)
    out[i] = 0;
  for (uint32_t i = 0; i < k; ++i)
    setNibble(out, i,
              static_cast<uint32_t>(quantizeOne4(fromF16(a[i]), inv[i])));
}

/// The MISC quantize_value4 kind on one fp16 row: value codes packed like
/// miscQuantize4 (`codes` is k bytes of scratch); returns the row's vs.
inline float miscQuantizeValue4(const uint16_t *a, int8_t *codes, uint8_t *out,
                                uint32_t k) {
  float vs = quantizeValueToken4Of([a](uint32_t j) { return fromF16(a[j]); },
                                   codes, k);
  for (uint32_t i = 0; i < kv4RowBytes(k); ++i)
    out[i] = 0;
  for (uint32_t i = 0; i < k; ++i)
    setNibble(out, i, static_cast<uint32_t>(codes[i]));
  return vs;
}

} // namespace numerics
} // namespace flightllm

#endif // FLIGHTLLM_ISA_NUMERICS_H
