//===- Kernels.h - fp32 compute kernels of the llm interpreter --*- C++ -*-===//
//
// Plain loops over contiguous row-major f32 data, one per llm op family. The
// interpreter checks shapes before calling them; the kernels trust them.
//
// Every output row is computed by the same sequence of float operations
// whatever the number of rows, so running S tokens at once and running them
// one by one give the same values (up to the order of softmax terms, which is
// also the same: a token's scores are always visited from t = 0 upwards).
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_LIB_INTERPRETER_KERNELS_H
#define FLIGHTLLM_LIB_INTERPRETER_KERNELS_H

#include <algorithm>
#include <cstdint>

namespace flightllm::interpreter::kernels {

/// y[m, n] = sum_k x[m, k] * W[k, n] (+ bias[n]). `w` is `[k, n]`, or
/// `[n, k]` when `transposed`. `bias` may be null.
void matmul(const float *x, int64_t m, int64_t k, const float *w, int64_t n,
            bool transposed, const float *bias, float *y);

/// The integer core of a W8A8 linear: acc[m, n] = sum_k xq[m, k] * W[k, n]
/// in int32 (exact: |xq|, |W| <= 127 keeps K * 127^2 far below 2^31). `w` is
/// `[k, n]`, or `[n, k]` when `transposed`, held as int64 (the interpreter's
/// integer storage).
void matmulInt8(const int8_t *xq, int64_t m, int64_t k, const int64_t *w,
                int64_t n, bool transposed, int32_t *acc);

/// int8 symmetric quantization: clamp(round_half_even(x / scale), -127, 127).
int8_t quantizeInt8(float x, float scale);

/// Normalizes `rows` rows of `d` elements: with `center`, layer norm
/// ((x - mean) / sqrt(var + eps) * gamma + beta), without, RMS norm (the
/// same with mean 0). `beta` may be null.
void normalize(const float *x, int64_t rows, int64_t d, const float *gamma,
               const float *beta, float epsilon, bool center, float *y);

/// Rotates the `heads` heads of `dh` elements of one token by the table rows
/// `cosRow`/`sinRow` (`dh` values each).
void ropeToken(const float *x, int64_t heads, int64_t dh, const float *cosRow,
               const float *sinRow, bool interleaved, float *y);

struct AttentionShape {
  int64_t batch, newTokens, pastTokens, numHeads, numKVHeads, headDim;
  float scale;
  bool causal;
  /// Sliding window: new token s sees positions (P + s - window, P + s];
  /// 0 for none.
  int64_t window = 0;

  /// The first position new token `s` attends to.
  int64_t firstAllowed(int64_t s) const {
    return window ? std::max<int64_t>(0, pastTokens + s + 1 - window) : 0;
  }
};

/// llm.attention: `q` [B, S, Hq*Dh], `k`/`v` [B, S, Hkv*Dh], `pastK`/`pastV`
/// [B, Hkv, P, Dh] (null when P = 0); writes `out` [B, S, Hq*Dh] and the
/// present caches [B, Hkv, P+S, Dh].
void attention(const AttentionShape &shape, const float *q, const float *k,
               const float *v, const float *pastK, const float *pastV,
               float *out, float *presentK, float *presentV);

enum class Activation { Gelu, GeluTanh, Silu, Relu };
void activation(Activation kind, const float *x, int64_t n, float *y);

enum class Binary { Add, Mul, SwiGLU };
void binary(Binary kind, const float *a, const float *b, int64_t n, float *y);

/// The accelerator numerics (docs/execution-model.md, section 5), with every
/// rounding from flightllm/ISA/Numerics.h. Inputs and outputs are f32 arrays
/// holding fp16 values (the interpreter rounds every op result with h), the
/// KV caches f32 arrays holding int8 codes.
namespace accel {

/// The layout of a quantized weight's codes (llm.linear's description).
struct WeightFormat {
  /// 0: one scale (and zero point) per output channel; else the group size.
  int64_t groupSize = 0;
  /// `[N]` or `[N, K/groupSize]` scales, and zero points of that shape or
  /// null (symmetric).
  const float *scales = nullptr;
  const int8_t *zeroPoints = nullptr;
};

/// A quantized projection with dynamic per-row int8 inputs: quantize_dynamic
/// of each row of x, then numerics::compressedDotValue of each output
/// channel with the integer weight codes (held as int64): for the W8A8 per
/// channel format exactly the MM output rule float(acc) * (xs * wScales[n])
/// (+ bias[n]). `inputScale`, when positive, replaces the dynamic row scale
/// by a static one (the reference interpreter's static W8A8).
void quantizedMatmul(const float *x, int64_t m, int64_t k, const int64_t *w,
                     int64_t n, bool transposed, const WeightFormat &format,
                     const float *bias, float inputScale, float *y);

/// The MISC layernorm (`center`) or rmsnorm kind on each row; gamma and beta
/// are rounded to fp16, `beta` may be null (zeros).
void normalize(const float *x, int64_t rows, int64_t d, const float *gamma,
               const float *beta, float epsilon, bool center, float *y);

/// The MISC rope kinds on each head of one token.
void ropeToken(const float *x, int64_t heads, int64_t dh, const float *cosRow,
               const float *sinRow, bool interleaved, float *y);

/// Section 5's llm.attention: `pastK`/`pastV` and `presentK`/`presentV` hold
/// int8 codes; `kScales`/`vScales` are `[Hkv*Dh]`. With `kvBits` 4 (KIVI
/// layout, docs/compression.md) the key caches hold 4-bit codes and the
/// value caches the exact f32 products code * per-token scale.
void attention(const AttentionShape &shape, const float *q, const float *k,
               const float *v, const float *pastK, const float *pastV,
               const float *kScales, const float *vScales, int64_t kvBits,
               float *out, float *presentK, float *presentV);

void activation(Activation kind, const float *x, int64_t n, float *y);
void binary(Binary kind, const float *a, const float *b, int64_t n, float *y);

} // namespace accel

} // namespace flightllm::interpreter::kernels

#endif // FLIGHTLLM_LIB_INTERPRETER_KERNELS_H
