//===- EvalMatMul.cpp - MatMul and Gemm -----------------------------------===//
//
// Float products accumulate in double and round once per output element;
// integer products wrap.
//===----------------------------------------------------------------------===//

#include "ONNXEvalCommon.h"

#include <algorithm>

using namespace mlir;
using namespace flightllm;
using namespace flightllm::reference;
using namespace flightllm::reference::onnxeval;

namespace {

/// The accumulator of a dot product over storage type T.
template <typename T>
using AccT = std::conditional_t<isFloatType<T>(), double, uint64_t>;

template <typename T> AccT<T> widen(T v) {
  if constexpr (isFloatType<T>())
    return double(load(v));
  else
    return AccT<T>(v); // Sign-extends, then wraps modulo 2^64.
}

/// Rows of A and columns of B per block of accumulators: 16 x 256 doubles
/// (32 KB) stay in the L1/L2 cache while the block's strip of B streams by
/// once, so B (a weight) is read m / 16 times instead of m times, in rows
/// rather than down its columns.
constexpr int64_t kBlockRows = 16, kBlockCols = 256;

/// C[m, n] = sum_k A[m, k] * B[k, n] for strided A and B; `emit(m, n, acc)`
/// receives each accumulated value. Every element sums its products in
/// order of k from zero, as the plain triple loop does: the blocking changes
/// which element is worked on when, never the rounding of any of them.
template <typename T, typename Emit>
void matmulKernel(const T *a, int64_t aRowStride, int64_t aColStride,
                  const T *b, int64_t bRowStride, int64_t bColStride, int64_t m,
                  int64_t k, int64_t n, Emit &&emit) {
  SmallVector<AccT<T>, 0> acc(size_t(kBlockRows * kBlockCols));
  for (int64_t i0 = 0; i0 < m; i0 += kBlockRows) {
    int64_t rows = std::min(kBlockRows, m - i0);
    for (int64_t j0 = 0; j0 < n; j0 += kBlockCols) {
      int64_t cols = std::min(kBlockCols, n - j0);
      std::fill(acc.begin(), acc.end(), AccT<T>(0));
      for (int64_t l = 0; l < k; ++l) {
        const T *bRow = b + l * bRowStride + j0 * bColStride;
        for (int64_t r = 0; r < rows; ++r) {
          AccT<T> av = widen(a[(i0 + r) * aRowStride + l * aColStride]);
          AccT<T> *accRow = acc.data() + r * kBlockCols;
          if (bColStride == 1)
            for (int64_t c = 0; c < cols; ++c)
              accRow[c] += av * widen(bRow[c]);
          else
            for (int64_t c = 0; c < cols; ++c)
              accRow[c] += av * widen(bRow[c * bColStride]);
        }
      }
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          emit(i0 + r, j0 + c, acc[r * kBlockCols + c]);
    }
  }
}

template <typename T> T narrow(AccT<T> acc) {
  if constexpr (isFloatType<T>())
    return store<T>(ComputeT<T>(acc));
  else
    return T(acc);
}

} // namespace

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::MatMulOp op) {
  const HostTensor &a = *ctx.operand(op, 0), &b = *ctx.operand(op, 1);
  if (failed(ctx.requireSameKind({&a, &b})))
    return failure();
  if (a.getRank() == 0 || b.getRank() == 0) {
    ctx.error() << "operands must have rank >= 1";
    return failure();
  }
  // numpy.matmul: 1-D operands gain a unit dimension that is dropped again.
  SmallVector<int64_t> aShape(a.getShape()), bShape(b.getShape());
  if (a.getRank() == 1)
    aShape.insert(aShape.begin(), 1);
  if (b.getRank() == 1)
    bShape.push_back(1);
  int64_t m = aShape[aShape.size() - 2], k = aShape.back();
  int64_t n = bShape.back();
  if (bShape[bShape.size() - 2] != k) {
    ctx.error() << "contraction dimensions differ: " << a.describeType()
                << " x " << b.describeType();
    return failure();
  }
  ArrayRef<int64_t> aBatch = ArrayRef<int64_t>(aShape).drop_back(2);
  ArrayRef<int64_t> bBatch = ArrayRef<int64_t>(bShape).drop_back(2);
  auto batch = ctx.broadcastShapes({aBatch, bBatch});
  if (failed(batch))
    return failure();
  SmallVector<int64_t> outShape(*batch);
  if (a.getRank() > 1)
    outShape.push_back(m);
  if (b.getRank() > 1)
    outShape.push_back(n);
  auto out = ctx.allocate(a.getKind(), outShape);
  if (failed(out))
    return failure();
  // Batch strides in units of matrices.
  SmallVector<SmallVector<int64_t>> strides = {
      getBroadcastStrides(aBatch, *batch), getBroadcastStrides(bBatch, *batch)};
  auto status = dispatchAllowed<NumericKinds, LogicalResult>(
      ctx, a.getKind(), [&](auto tag) {
        using T = decltype(tag);
        const T *as = a.getValues<T>().data(), *bs = b.getValues<T>().data();
        T *ys = out->getMutableValues<T>().data();
        forEachIndex(*batch, strides, [&](int64_t i, ArrayRef<int64_t> off) {
          T *y = ys + i * m * n;
          matmulKernel(as + off[0] * m * k, k, 1, bs + off[1] * k * n, n, 1, m,
                       k, n, [&](int64_t r, int64_t c, AccT<T> acc) {
                         y[r * n + c] = narrow<T>(acc);
                       });
        });
        return success();
      });
  if (failed(status))
    return failure();
  return single(std::move(out));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::GemmOp op) {
  const HostTensor &a = *ctx.operand(op, 0), &b = *ctx.operand(op, 1);
  const HostTensor *c = ctx.operand(op, 2);
  if (failed(ctx.requireSameKind({&a, &b, c})))
    return failure();
  if (a.getRank() != 2 || b.getRank() != 2) {
    ctx.error() << "A and B must be matrices";
    return failure();
  }
  bool transA = op.getTransA() != 0, transB = op.getTransB() != 0;
  int64_t m = transA ? a.getDim(1) : a.getDim(0);
  int64_t k = transA ? a.getDim(0) : a.getDim(1);
  int64_t kb = transB ? b.getDim(1) : b.getDim(0);
  int64_t n = transB ? b.getDim(0) : b.getDim(1);
  if (k != kb) {
    ctx.error() << "contraction dimensions differ: " << k << " vs " << kb;
    return failure();
  }
  SmallVector<int64_t> outShape = {m, n};
  SmallVector<int64_t> cStrides;
  if (c) {
    auto shape = ctx.broadcastShapes({outShape, c->getShape()});
    if (failed(shape))
      return failure();
    if (*shape != outShape) {
      ctx.error() << "C " << c->describeType()
                  << " does not broadcast to the result [" << m << ", " << n
                  << "]";
      return failure();
    }
    cStrides = getBroadcastStrides(c->getShape(), outShape);
  }
  auto out = ctx.allocate(a.getKind(), outShape);
  if (failed(out))
    return failure();
  double alpha = op.getAlpha().convertToDouble();
  double beta = op.getBeta().convertToDouble();
  auto status = dispatchAllowed<NumericKinds, LogicalResult>(
      ctx, a.getKind(), [&](auto tag) {
        using T = decltype(tag);
        const T *as = a.getValues<T>().data(), *bs = b.getValues<T>().data();
        const T *cs = c ? c->getValues<T>().data() : nullptr;
        T *ys = out->getMutableValues<T>().data();
        matmulKernel(
            as, transA ? 1 : k, transA ? m : 1, bs, transB ? 1 : n,
            transB ? k : 1, m, k, n, [&](int64_t r, int64_t col, AccT<T> acc) {
              AccT<T> cv = cs ? widen(cs[r * cStrides[0] + col * cStrides[1]])
                              : AccT<T>(0);
              if constexpr (isFloatType<T>()) {
                ys[r * n + col] = narrow<T>(alpha * acc + beta * cv);
              } else if (alpha == 1.0 && beta == 1.0) {
                ys[r * n + col] = T(acc + cv); // Exact, wrapping.
              } else {
                // Scaled integer Gemm: numpy's float64 result, truncated.
                double sa =
                    std::is_signed_v<T> ? double(int64_t(acc)) : double(acc);
                double sc =
                    std::is_signed_v<T> ? double(int64_t(cv)) : double(cv);
                ys[r * n + col] = floatToInteger<T>(alpha * sa + beta * sc);
              }
            });
        return success();
      });
  if (failed(status))
    return failure();
  return single(std::move(out));
}
