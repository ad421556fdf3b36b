//===- Kernels.cpp - fp32 compute kernels of the llm interpreter ----------===//
//
// Single-threaded loops written so that the compiler vectorizes them: dot
// products keep eight partial sums (combined in a fixed order, so results do
// not depend on the number of rows), row updates are axpy loops over
// contiguous memory, and the matrix products walk the weight in chunks that
// stay in cache while every row of the input visits them.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

using namespace flightllm::interpreter::kernels;

namespace {

/// sum_i a[i] * b[i] with eight interleaved partial sums.
inline float dot(const float *__restrict a, const float *__restrict b,
                 int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j)
      acc[j] += a[i + j] * b[i + j];
  float tail = 0;
  for (; i < n; ++i)
    tail += a[i] * b[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
         ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

/// y[i] += alpha * x[i].
inline void axpy(float alpha, const float *__restrict x, float *__restrict y,
                 int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] += alpha * x[i];
}

inline float silu(float x) { return x / (1.0f + std::exp(-x)); }

/// Bytes of weight one chunk of a matrix product may span: a chunk is reused
/// by every input row, so it should stay in the L2 cache.
constexpr int64_t kWeightChunkBytes = 128 * 1024;

} // namespace

void flightllm::interpreter::kernels::matmul(const float *x, int64_t m,
                                             int64_t k, const float *w,
                                             int64_t n, bool transposed,
                                             const float *bias, float *y) {
  if (transposed) {
    // w is [n, k]: each output is a dot product of two contiguous rows.
    int64_t chunk = std::max<int64_t>(
        1, kWeightChunkBytes / int64_t(sizeof(float)) / std::max<int64_t>(k, 1));
    for (int64_t n0 = 0; n0 < n; n0 += chunk) {
      int64_t n1 = std::min(n, n0 + chunk);
      for (int64_t row = 0; row < m; ++row) {
        const float *xr = x + row * k;
        float *yr = y + row * n;
        for (int64_t col = n0; col < n1; ++col)
          yr[col] = dot(xr, w + col * k, k) + (bias ? bias[col] : 0.0f);
      }
    }
    return;
  }
  // w is [k, n]: accumulate scaled weight rows into the output row, one
  // column chunk at a time so that the output chunk and the weight rows'
  // chunk stay in cache.
  int64_t chunk = std::min<int64_t>(
      n, std::max<int64_t>(64, kWeightChunkBytes / int64_t(sizeof(float)) /
                                   std::max<int64_t>(k, 1)));
  chunk = std::max<int64_t>(chunk, 1);
  std::fill(y, y + m * n, 0.0f);
  for (int64_t n0 = 0; n0 < n; n0 += chunk) {
    int64_t len = std::min(n, n0 + chunk) - n0;
    for (int64_t row = 0; row < m; ++row) {
      const float *xr = x + row * k;
      float *yr = y + row * n + n0;
      for (int64_t kk = 0; kk < k; ++kk)
        axpy(xr[kk], w + kk * n + n0, yr, len);
      if (bias)
        for (int64_t col = 0; col < len; ++col)
          yr[col] += bias[n0 + col];
    }
  }
}

void flightllm::interpreter::kernels::normalize(const float *x, int64_t rows,
                                                int64_t d, const float *gamma,
                                                const float *beta,
                                                float epsilon, bool center,
                                                float *y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * d;
    float *yr = y + r * d;
    float mean = 0;
    if (center) {
      for (int64_t i = 0; i < d; ++i)
        mean += xr[i];
      mean /= float(d);
    }
    float sq = 0;
    for (int64_t i = 0; i < d; ++i)
      sq += (xr[i] - mean) * (xr[i] - mean);
    float denom = std::sqrt(sq / float(d) + epsilon);
    for (int64_t i = 0; i < d; ++i)
      yr[i] = (xr[i] - mean) / denom * gamma[i] + (beta ? beta[i] : 0.0f);
  }
}

void flightllm::interpreter::kernels::ropeToken(const float *x, int64_t heads,
                                                int64_t dh, const float *cosRow,
                                                const float *sinRow,
                                                bool interleaved, float *y) {
  int64_t half = dh / 2;
  for (int64_t h = 0; h < heads; ++h) {
    const float *xh = x + h * dh;
    float *yh = y + h * dh;
    for (int64_t j = 0; j < dh; ++j) {
      float rotated;
      if (interleaved)
        rotated = (j % 2 == 0) ? -xh[j + 1] : xh[j - 1];
      else
        rotated = j < half ? -xh[j + half] : xh[j - half];
      yh[j] = xh[j] * cosRow[j] + rotated * sinRow[j];
    }
  }
}

void flightllm::interpreter::kernels::attention(
    const AttentionShape &shape, const float *q, const float *k,
    const float *v, const float *pastK, const float *pastV, float *out,
    float *presentK, float *presentV) {
  const int64_t numB = shape.batch, numS = shape.newTokens,
                numP = shape.pastTokens, hq = shape.numHeads,
                hkv = shape.numKVHeads, dh = shape.headDim;
  const int64_t numT = numP + numS;
  const int64_t group = hq / hkv;
  const size_t rowBytes = size_t(dh) * sizeof(float);

  // The present caches: the past followed by the new keys/values.
  for (int64_t b = 0; b < numB; ++b) {
    for (int64_t g = 0; g < hkv; ++g) {
      int64_t cache = (b * hkv + g) * numT * dh;
      if (numP > 0) {
        int64_t past = (b * hkv + g) * numP * dh;
        std::memcpy(presentK + cache, pastK + past, numP * rowBytes);
        std::memcpy(presentV + cache, pastV + past, numP * rowBytes);
      }
      for (int64_t s = 0; s < numS; ++s) {
        int64_t src = (b * numS + s) * hkv * dh + g * dh;
        int64_t dst = cache + (numP + s) * dh;
        std::memcpy(presentK + dst, k + src, rowBytes);
        std::memcpy(presentV + dst, v + src, rowBytes);
      }
    }
  }

  std::vector<float> prob(size_t(std::max<int64_t>(numT, 1)));
  for (int64_t b = 0; b < numB; ++b) {
    for (int64_t s = 0; s < numS; ++s) {
      int64_t allowed = shape.causal ? std::min(numP + s + 1, numT) : numT;
      int64_t first = shape.firstAllowed(s);
      for (int64_t h = 0; h < hq; ++h) {
        int64_t g = h / group;
        const float *keys = presentK + (b * hkv + g) * numT * dh;
        const float *values = presentV + (b * hkv + g) * numT * dh;
        const float *query = q + (b * numS + s) * hq * dh + h * dh;
        float *o = out + (b * numS + s) * hq * dh + h * dh;

        float maxScore = -std::numeric_limits<float>::infinity();
        for (int64_t t = first; t < allowed; ++t) {
          prob[t] = shape.scale * dot(query, keys + t * dh, dh);
          maxScore = std::max(maxScore, prob[t]);
        }
        float sum = 0;
        for (int64_t t = first; t < allowed; ++t) {
          prob[t] = std::exp(prob[t] - maxScore);
          sum += prob[t];
        }
        std::fill(o, o + dh, 0.0f);
        for (int64_t t = first; t < allowed; ++t)
          axpy(prob[t] / sum, values + t * dh, o, dh);
      }
    }
  }
}

void flightllm::interpreter::kernels::activation(Activation kind,
                                                 const float *x, int64_t n,
                                                 float *y) {
  switch (kind) {
  case Activation::Gelu:
    for (int64_t i = 0; i < n; ++i)
      y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] / 1.41421356237309505f));
    return;
  case Activation::GeluTanh:
    for (int64_t i = 0; i < n; ++i) {
      float c = x[i] + 0.044715f * x[i] * x[i] * x[i];
      y[i] = 0.5f * x[i] * (1.0f + std::tanh(0.797884560802865355f * c));
    }
    return;
  case Activation::Silu:
    for (int64_t i = 0; i < n; ++i)
      y[i] = silu(x[i]);
    return;
  case Activation::Relu:
    for (int64_t i = 0; i < n; ++i)
      y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    return;
  }
}

void flightllm::interpreter::kernels::binary(Binary kind, const float *a,
                                             const float *b, int64_t n,
                                             float *y) {
  switch (kind) {
  case Binary::Add:
    for (int64_t i = 0; i < n; ++i)
      y[i] = a[i] + b[i];
    return;
  case Binary::Mul:
    for (int64_t i = 0; i < n; ++i)
      y[i] = a[i] * b[i];
    return;
  case Binary::SwiGLU:
    for (int64_t i = 0; i < n; ++i)
      y[i] = silu(a[i]) * b[i];
    return;
  }
}

void flightllm::interpreter::kernels::matmulInt8(const int8_t *xq, int64_t m,
                                                 int64_t k, const int64_t *w,
                                                 int64_t n, bool transposed,
                                                 int32_t *acc) {
  for (int64_t row = 0; row < m; ++row) {
    const int8_t *x = xq + row * k;
    int32_t *out = acc + row * n;
    for (int64_t col = 0; col < n; ++col)
      out[col] = 0;
    if (transposed) {
      for (int64_t col = 0; col < n; ++col) {
        const int64_t *wr = w + col * k;
        int32_t sum = 0;
        for (int64_t i = 0; i < k; ++i)
          sum += int32_t(x[i]) * int32_t(wr[i]);
        out[col] = sum;
      }
    } else {
      for (int64_t i = 0; i < k; ++i) {
        int32_t xi = x[i];
        if (!xi)
          continue;
        const int64_t *wr = w + i * n;
        for (int64_t col = 0; col < n; ++col)
          out[col] += xi * int32_t(wr[col]);
      }
    }
  }
}

int8_t flightllm::interpreter::kernels::quantizeInt8(float x, float scale) {
  float q = std::nearbyint(x / scale); // Round half to even (default mode).
  return int8_t(std::clamp(q, -127.0f, 127.0f));
}
