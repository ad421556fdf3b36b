//===- EvalReduction.cpp - Reductions and normalizations ------------------===//
//
// ReduceMean, Softmax, LayerNormalization and CumSum. Float sums accumulate
// in double and round once; integer sums wrap.
//===----------------------------------------------------------------------===//

#include "ONNXEvalCommon.h"

#include "llvm/ADT/SmallBitVector.h"

#include <cmath>

using namespace mlir;
using namespace flightllm;
using namespace flightllm::reference;
using namespace flightllm::reference::onnxeval;

namespace {

/// A tensor seen as [outer, dim, inner] around one axis.
struct AxisView {
  int64_t outer, dim, inner;
  AxisView(ArrayRef<int64_t> shape, int64_t axis)
      : outer(getNumElements(shape.take_front(axis))), dim(shape[axis]),
        inner(getNumElements(shape.drop_front(axis + 1))) {}
  /// Linear index of element j along the axis at (o, i).
  int64_t at(int64_t o, int64_t j, int64_t i) const {
    return (o * dim + j) * inner + i;
  }
};

/// Rounds through the storage type T (each onnx op rounds its result).
template <typename T> ComputeT<T> roundTo(ComputeT<T> v) {
  return load(store<T>(v));
}

} // namespace

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx,
                                      onnxir::ReduceMeanOp op) {
  const HostTensor &data = *ctx.operand(op, 0);
  int64_t rank = data.getRank();
  llvm::SmallBitVector reduced(rank);
  std::optional<ArrayRef<int64_t>> axes = op.getAxes();
  if (!axes || axes->empty()) {
    reduced.set(); // No axes: reduce them all.
  } else {
    auto normalized = ctx.normalizeAxes(*axes, rank);
    if (failed(normalized))
      return failure();
    for (int64_t a : *normalized)
      reduced.set(a);
  }
  SmallVector<int64_t> keptShape, outShape;
  int64_t count = 1;
  for (int64_t d = 0; d < rank; ++d) {
    if (reduced.test(d)) {
      keptShape.push_back(1);
      count *= data.getDim(d);
      if (op.getKeepdims())
        outShape.push_back(1);
    } else {
      keptShape.push_back(data.getDim(d));
      outShape.push_back(data.getDim(d));
    }
  }
  SmallVector<SmallVector<int64_t>> strides = {
      getBroadcastStrides(keptShape, data.getShape())};
  int64_t outCount = getNumElements(outShape);
  return single(dispatchAllowed<NumericKinds>(
      ctx, data.getKind(), [&](auto tag) -> FailureOr<HostTensor> {
        using T = decltype(tag);
        // double for floats, 64-bit wrapping sums for integers.
        using Acc = std::conditional_t<
            isFloatType<T>(), double,
            std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;
        if constexpr (!isFloatType<T>())
          if (count == 0) {
            ctx.error() << "mean of an empty set of integers";
            return failure();
          }
        SmallVector<Acc> sums(outCount, Acc(0));
        ArrayRef<T> values = data.getValues<T>();
        forEachIndex(
            data.getShape(), strides, [&](int64_t i, ArrayRef<int64_t> off) {
              if constexpr (isFloatType<T>())
                sums[off[0]] += double(load(values[i]));
              else
                sums[off[0]] =
                    Acc(uint64_t(sums[off[0]]) + uint64_t(Acc(values[i])));
            });
        auto out = ctx.allocate(data.getKind(), outShape);
        if (failed(out))
          return failure();
        MutableArrayRef<T> dst = out->getMutableValues<T>();
        for (int64_t i = 0; i < outCount; ++i) {
          if constexpr (isFloatType<T>())
            dst[i] = store<T>(ComputeT<T>(sums[i] / double(count)));
          else
            dst[i] = T(sums[i] / Acc(count)); // Truncates toward zero.
        }
        return out;
      }));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::SoftmaxOp op) {
  const HostTensor &input = *ctx.operand(op, 0);
  auto axis = ctx.normalizeAxis(int64_t(op.getAxis()), input.getRank());
  if (failed(axis))
    return failure();
  AxisView v(input.getShape(), *axis);
  return single(dispatchAllowed<FloatKinds>(
      ctx, input.getKind(), [&](auto tag) -> FailureOr<HostTensor> {
        using T = decltype(tag);
        HostTensor out = input;
        ArrayRef<T> x = input.getValues<T>();
        MutableArrayRef<T> y = out.getMutableValues<T>();
        SmallVector<double> e(v.dim);
        for (int64_t o = 0; o < v.outer; ++o)
          for (int64_t i = 0; i < v.inner; ++i) {
            double max = -INFINITY;
            for (int64_t j = 0; j < v.dim; ++j)
              max = nanMax(max, double(load(x[v.at(o, j, i)])));
            double sum = 0;
            for (int64_t j = 0; j < v.dim; ++j)
              sum += e[j] = std::exp(double(load(x[v.at(o, j, i)])) - max);
            for (int64_t j = 0; j < v.dim; ++j)
              y[v.at(o, j, i)] = store<T>(ComputeT<T>(e[j] / sum));
          }
        return out;
      }));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx,
                                      onnxir::LayerNormalizationOp op) {
  // The ONNX function body: in the stash type, Mean = mean(X), D = X - Mean,
  // Var = mean(D * D), InvStdDev = 1 / sqrt(Var + epsilon), N = D *
  // InvStdDev; then, in X's type, Y = N * Scale + B.
  const HostTensor &x = *ctx.operand(op, 0), &scale = *ctx.operand(op, 1);
  const HostTensor *bias = ctx.operand(op, 2);
  if (failed(ctx.requireSameKind({&x, &scale, bias})))
    return failure();
  int64_t rank = x.getRank();
  auto axis = ctx.normalizeAxis(int64_t(op.getAxis()), rank);
  if (failed(axis))
    return failure();
  int64_t stash = int64_t(op.getStashType());
  if (stash != 1 && stash != 11) {
    ctx.error() << "stash_type " << stash
                << " is not supported (1 = float, 11 = double)";
    return failure();
  }
  ArrayRef<int64_t> normShape = x.getShape().drop_front(*axis);
  SmallVector<SmallVector<int64_t>> paramStrides;
  for (const HostTensor *p : {&scale, bias}) {
    if (!p)
      continue;
    auto shape = ctx.broadcastShapes({normShape, p->getShape()});
    if (failed(shape))
      return failure();
    if (ArrayRef<int64_t>(*shape) != normShape) {
      ctx.error() << "Scale and B must broadcast to the normalized shape";
      return failure();
    }
    paramStrides.push_back(getBroadcastStrides(p->getShape(), normShape));
  }
  int64_t outer = getNumElements(x.getShape().take_front(*axis));
  int64_t inner = getNumElements(normShape);

  SmallVector<int64_t> statShape(x.getShape().take_front(*axis));
  statShape.append(rank - *axis, 1);
  // Present optional results and their element kinds.
  auto statKind = [&](unsigned odsIndex) -> std::optional<ElementKind> {
    auto [start, length] = op.getODSResultIndexAndLength(odsIndex);
    if (!length)
      return std::nullopt;
    return getElementKind(getElementTypeOrSelf(op->getResult(start).getType()));
  };
  std::optional<ElementKind> meanKind = statKind(1), invKind = statKind(2);

  SmallVector<double> means(outer), invStdDevs(outer);
  auto y = dispatchAllowed<FloatKinds>(ctx, x.getKind(), [&](auto tag) {
    using T = decltype(tag);
    auto compute = [&](auto stashTag) {
      using S = decltype(stashTag); // float or double
      HostTensor out = x;
      ArrayRef<T> xs = x.getValues<T>(), ss = scale.getValues<T>();
      ArrayRef<T> bs = bias ? bias->getValues<T>() : ArrayRef<T>();
      MutableArrayRef<T> ys = out.getMutableValues<T>();
      // Offsets of Scale / B for each position of the normalized block.
      SmallVector<int64_t> scaleOff, biasOff;
      SmallVector<SmallVector<int64_t>> s = {paramStrides[0]};
      if (bias)
        s.push_back(paramStrides[1]);
      forEachIndex(normShape, s, [&](int64_t, ArrayRef<int64_t> off) {
        scaleOff.push_back(off[0]);
        if (bias)
          biasOff.push_back(off[1]);
      });
      SmallVector<S> d(inner);
      S eps = S(op.getEpsilon().convertToFloat());
      for (int64_t o = 0; o < outer; ++o) {
        const T *row = xs.data() + o * inner;
        double sum = 0;
        for (int64_t i = 0; i < inner; ++i)
          sum += double(S(load(row[i])));
        S mean = S(sum / double(inner));
        double sq = 0;
        for (int64_t i = 0; i < inner; ++i) {
          d[i] = S(load(row[i])) - mean;
          sq += double(S(d[i] * d[i]));
        }
        S var = S(sq / double(inner));
        S invStd = S(1) / S(std::sqrt(S(var + eps)));
        means[o] = mean;
        invStdDevs[o] = invStd;
        for (int64_t i = 0; i < inner; ++i) {
          using C = ComputeT<T>;
          C n = roundTo<T>(C(d[i] * invStd));
          C v = roundTo<T>(n * load(ss[scaleOff[i]]));
          if (bias)
            v = roundTo<T>(v + load(bs[biasOff[i]]));
          ys[o * inner + i] = store<T>(v);
        }
      }
      return out;
    };
    return FailureOr<HostTensor>(stash == 11 ? compute(double{})
                                             : compute(float{}));
  });
  if (failed(y))
    return failure();
  Results results;
  results.push_back(std::move(*y));
  for (auto [kind, values] :
       {std::pair{meanKind, &means}, std::pair{invKind, &invStdDevs}}) {
    if (!kind)
      continue;
    HostTensor stat =
        HostTensor::get<double>(statShape, ArrayRef<double>(*values));
    results.push_back(stat.castTo(*kind));
  }
  return results;
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::CumSumOp op) {
  const HostTensor &x = *ctx.operand(op, 0);
  auto axisValue = ctx.scalarInt(*ctx.operand(op, 1), "axis");
  if (failed(axisValue))
    return failure();
  auto axis = ctx.normalizeAxis(*axisValue, x.getRank());
  if (failed(axis))
    return failure();
  AxisView v(x.getShape(), *axis);
  bool exclusive = op.getExclusive() != 0, reverse = op.getReverse() != 0;
  return single(dispatchAllowed<NumericKinds>(
      ctx, x.getKind(), [&](auto tag) -> FailureOr<HostTensor> {
        using T = decltype(tag);
        using C = ComputeT<T>;
        HostTensor out = x;
        ArrayRef<T> xs = x.getValues<T>();
        MutableArrayRef<T> ys = out.getMutableValues<T>();
        for (int64_t o = 0; o < v.outer; ++o)
          for (int64_t i = 0; i < v.inner; ++i) {
            C acc = 0;
            for (int64_t step = 0; step < v.dim; ++step) {
              int64_t j = reverse ? v.dim - 1 - step : step;
              C value = load(xs[v.at(o, j, i)]);
              C next;
              if constexpr (isIntegerType<T>())
                next = wrapAdd<T>(acc, value);
              else
                next = roundTo<T>(acc + value);
              ys[v.at(o, j, i)] = store<T>(exclusive ? acc : next);
              acc = next;
            }
          }
        return out;
      }));
}
