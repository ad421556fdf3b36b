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

} // namespace flightllm::interpreter::kernels

#endif // FLIGHTLLM_LIB_INTERPRETER_KERNELS_H
