//===- EvalElementwise.cpp - Elementwise onnx ops -------------------------===//
//
// Arithmetic, comparisons, logic, unary math, Where, Cast, Constant and
// Identity. Binary and variadic ops broadcast like numpy. Integer arithmetic
// wraps; integer Div truncates toward zero and rejects division by zero.
//===----------------------------------------------------------------------===//

#include "ONNXEvalCommon.h"

#include "flightllm/Dialect/ONNX/ONNXTypes.h"

#include <cmath>
#include <cstring>
#include <functional>

using namespace mlir;
using namespace flightllm;
using namespace flightllm::reference;
using namespace flightllm::reference::onnxeval;

namespace {

/// A binary op whose result has the operands' type: fn(T{}, x, y) computes
/// in ComputeT<T>.
template <typename Filter, typename Fn>
FailureOr<HostTensor> sameTypeBinary(const EvalContext &ctx,
                                     const HostTensor &a, const HostTensor &b,
                                     Fn fn) {
  return dispatchAllowed<Filter>(ctx, a.getKind(), [&](auto tag) {
    using T = decltype(tag);
    return broadcastMap<T, T, 2>(
        ctx, {&a, &b}, [&](ComputeT<T> x, ComputeT<T> y) -> ComputeT<T> {
          return fn(tag, x, y);
        });
  });
}

/// A comparison producing bools.
template <typename Filter, typename Fn>
FailureOr<Results> compare(const EvalContext &ctx, const HostTensor &a,
                           const HostTensor &b, Fn fn) {
  return single(dispatchAllowed<Filter>(ctx, a.getKind(), [&](auto tag) {
    using T = decltype(tag);
    return broadcastMap<T, bool, 2>(
        ctx, {&a, &b},
        [&](ComputeT<T> x, ComputeT<T> y) -> bool { return fn(x, y); });
  }));
}

/// A unary op with the input's type: fn(T{}, v) computes in ComputeT<T>.
template <typename Filter, typename Fn>
FailureOr<Results> unary(const EvalContext &ctx, const HostTensor &x, Fn fn) {
  return single(dispatchAllowed<Filter>(ctx, x.getKind(), [&](auto tag) {
    using T = decltype(tag);
    return broadcastMap<T, T, 1>(
        ctx, std::array<const HostTensor *, 1>{&x},
        [&](ComputeT<T> v) -> ComputeT<T> { return fn(tag, v); });
  }));
}

/// A unary op on floats only, written once for float and double.
template <typename Fn>
FailureOr<Results> floatUnary(const EvalContext &ctx, const HostTensor &x,
                              Fn fn) {
  return unary<FloatKinds>(ctx, x,
                           [&](auto, auto v) -> decltype(v) { return fn(v); });
}

/// Max / Min of any number of broadcast inputs.
template <typename Fn>
FailureOr<Results> variadicFold(const EvalContext &ctx,
                                ArrayRef<HostTensor> inputs, Fn fn) {
  if (inputs.empty()) {
    ctx.error() << "needs at least one input";
    return failure();
  }
  HostTensor acc = inputs.front();
  for (const HostTensor &next : inputs.drop_front()) {
    auto r = sameTypeBinary<NumericKinds>(
        ctx, acc, next, [&](auto, auto x, auto y) { return fn(x, y); });
    if (failed(r))
      return failure();
    acc = std::move(*r);
  }
  return single(std::move(acc));
}

} // namespace

//===----------------------------------------------------------------------===//
// Arithmetic
//===----------------------------------------------------------------------===//

namespace {

/// Add, Sub, Mul: `fn` in the compute type for floats; on uint64 for
/// integers, which wraps modulo 2^width once narrowed.
template <typename OpTy, typename Fn>
FailureOr<Results> wrappingArithmetic(EvalContext &ctx, OpTy op, Fn fn) {
  return single(sameTypeBinary<NumericKinds>(
      ctx, *ctx.operand(op, 0), *ctx.operand(op, 1),
      [&](auto tag, auto x, auto y) -> decltype(x) {
        using T = decltype(tag);
        if constexpr (isIntegerType<T>())
          return T(fn(uint64_t(x), uint64_t(y)));
        else
          return fn(x, y);
      }));
}

} // namespace

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::AddOp op) {
  return wrappingArithmetic(ctx, op, std::plus<>());
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::SubOp op) {
  return wrappingArithmetic(ctx, op, std::minus<>());
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::MulOp op) {
  return wrappingArithmetic(ctx, op, std::multiplies<>());
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::DivOp op) {
  bool divisionByZero = false;
  auto result = sameTypeBinary<NumericKinds>(
      ctx, *ctx.operand(op, 0), *ctx.operand(op, 1),
      [&](auto tag, auto x, auto y) -> decltype(x) {
        using T = decltype(tag);
        if constexpr (isIntegerType<T>()) {
          if (y == 0) {
            divisionByZero = true;
            return 0;
          }
          // The one overflowing quotient wraps (INT_MIN / -1 == INT_MIN).
          if constexpr (std::is_signed_v<T>)
            if (y == -1)
              return T(0 - uint64_t(x));
          return T(x / y); // C++ division truncates toward zero.
        } else {
          return x / y;
        }
      });
  if (divisionByZero) {
    ctx.error() << "integer division by zero";
    return failure();
  }
  return single(std::move(result));
}

namespace {

/// Integer power with wrap-around for non-negative exponents.
template <typename T> T integerPower(T base, uint64_t exponent) {
  uint64_t result = 1, b = uint64_t(base);
  while (exponent) {
    if (exponent & 1)
      result *= b;
    b *= b;
    exponent >>= 1;
  }
  return T(result);
}

template <typename T> bool isNegative(T v) {
  if constexpr (std::is_signed_v<T>)
    return v < 0;
  else
    return false;
}

} // namespace

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::PowOp op) {
  // Z has X's type; Y may be any numeric type. numpy computes mixed float
  // cases in double and casts back; integer bases with integer exponents are
  // exact (wrapping), integer bases with float exponents truncate.
  const HostTensor &x = *ctx.operand(op, 0), &y = *ctx.operand(op, 1);
  auto b = prepareBroadcast(ctx, {&x, &y}, x.getKind());
  if (failed(b))
    return failure();
  bool zeroToNegative = false;
  auto status = dispatchAllowed<NumericKinds, LogicalResult>(
      ctx, x.getKind(), [&](auto xTag) {
        using X = decltype(xTag);
        return dispatchAllowed<NumericKinds, LogicalResult>(
            ctx, y.getKind(), [&](auto yTag) {
              using Y = decltype(yTag);
              ArrayRef<X> xs = x.getValues<X>();
              ArrayRef<Y> ys = y.getValues<Y>();
              MutableArrayRef<X> zs = b->out.getMutableValues<X>();
              forEachIndex(
                  b->out.getShape(), b->strides,
                  [&](int64_t i, ArrayRef<int64_t> off) {
                    auto base = load(xs[off[0]]);
                    auto exponent = load(ys[off[1]]);
                    double real = std::pow(double(base), double(exponent));
                    if constexpr (isFloatType<X>())
                      zs[i] = store<X>(ComputeT<X>(real));
                    else if (!isIntegerType<Y>())
                      zs[i] = floatToInteger<X>(real);
                    else if (!isNegative(exponent))
                      zs[i] = integerPower<X>(base, uint64_t(exponent));
                    else if (base == 0)
                      zeroToNegative = true;
                    else
                      zs[i] = floatToInteger<X>(real); // |result| < 1 or +-1
                  });
              return success();
            });
      });
  if (failed(status))
    return failure();
  if (zeroToNegative) {
    ctx.error() << "integer zero raised to a negative power";
    return failure();
  }
  return single(std::move(b->out));
}

//===----------------------------------------------------------------------===//
// Unary math
//===----------------------------------------------------------------------===//

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::SqrtOp op) {
  return floatUnary(ctx, *ctx.operand(op, 0),
                    [](auto v) -> decltype(v) { return std::sqrt(v); });
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx,
                                      onnxir::ReciprocalOp op) {
  return floatUnary(ctx, *ctx.operand(op, 0),
                    [](auto v) -> decltype(v) { return decltype(v)(1) / v; });
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::ExpOp op) {
  return floatUnary(ctx, *ctx.operand(op, 0),
                    [](auto v) -> decltype(v) { return std::exp(v); });
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::CosOp op) {
  return floatUnary(ctx, *ctx.operand(op, 0),
                    [](auto v) -> decltype(v) { return std::cos(v); });
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::LogOp op) {
  return floatUnary(ctx, *ctx.operand(op, 0),
                    [](auto v) -> decltype(v) { return std::log(v); });
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::SinOp op) {
  return floatUnary(ctx, *ctx.operand(op, 0),
                    [](auto v) -> decltype(v) { return std::sin(v); });
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::TanhOp op) {
  return floatUnary(ctx, *ctx.operand(op, 0),
                    [](auto v) -> decltype(v) { return std::tanh(v); });
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::SigmoidOp op) {
  return floatUnary(ctx, *ctx.operand(op, 0), [](auto v) -> decltype(v) {
    using C = decltype(v);
    // Both branches avoid overflow in exp.
    if (v >= 0)
      return C(1) / (C(1) + std::exp(-v));
    C e = std::exp(v);
    return e / (C(1) + e);
  });
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::ErfOp op) {
  const HostTensor &x = *ctx.operand(op, 0);
  if (isFloatKind(x.getKind()))
    return floatUnary(ctx, x,
                      [](auto v) -> decltype(v) { return std::erf(v); });
  // Integer inputs: erf in double, truncated back (numpy's astype).
  return single(dispatchAllowed<NumericKinds>(ctx, x.getKind(), [&](auto) {
    HostTensor d = x.castTo(ElementKind::F64);
    for (double &v : d.getMutableValues<double>())
      v = std::erf(v);
    return FailureOr<HostTensor>(d.castTo(x.getKind()));
  }));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::NegOp op) {
  return unary<NumericKinds>(ctx, *ctx.operand(op, 0),
                             [](auto tag, auto v) -> decltype(v) {
                               using T = decltype(tag);
                               if constexpr (isIntegerType<T>())
                                 return wrapSub<T>(T(0), v);
                               else
                                 return -v;
                             });
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::ReluOp op) {
  return unary<NumericKinds>(
      ctx, *ctx.operand(op, 0),
      [](auto, auto v) -> decltype(v) { return nanMax(v, decltype(v)(0)); });
}

//===----------------------------------------------------------------------===//
// Comparisons, logic, selection
//===----------------------------------------------------------------------===//

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::EqualOp op) {
  return compare<AnyKind>(ctx, *ctx.operand(op, 0), *ctx.operand(op, 1),
                          [](auto x, auto y) { return x == y; });
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::GreaterOp op) {
  return compare<NumericKinds>(ctx, *ctx.operand(op, 0), *ctx.operand(op, 1),
                               [](auto x, auto y) { return x > y; });
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::LessOp op) {
  return compare<NumericKinds>(ctx, *ctx.operand(op, 0), *ctx.operand(op, 1),
                               [](auto x, auto y) { return x < y; });
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::AndOp op) {
  return single(
      sameTypeBinary<BoolKind>(ctx, *ctx.operand(op, 0), *ctx.operand(op, 1),
                               [](auto, bool x, bool y) { return x && y; }));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::NotOp op) {
  return unary<BoolKind>(ctx, *ctx.operand(op, 0),
                         [](auto, bool v) { return !v; });
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::MaxOp op) {
  return variadicFold(ctx, ctx.variadicOperand(op, 0),
                      [](auto x, auto y) { return nanMax(x, y); });
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::MinOp op) {
  return variadicFold(ctx, ctx.variadicOperand(op, 0),
                      [](auto x, auto y) { return nanMin(x, y); });
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::WhereOp op) {
  const HostTensor &cond = *ctx.operand(op, 0);
  const HostTensor &x = *ctx.operand(op, 1), &y = *ctx.operand(op, 2);
  if (cond.getKind() != ElementKind::I1 || x.getKind() != y.getKind()) {
    ctx.error() << "needs a bool condition and X, Y of one type";
    return failure();
  }
  auto b = prepareBroadcast(ctx, {&cond, &x, &y}, x.getKind());
  if (failed(b))
    return failure();
  ArrayRef<bool> c = cond.getValues<bool>();
  size_t size = x.getElementSize();
  const char *xs = x.getRawData().data(), *ys = y.getRawData().data();
  char *dst = b->out.getMutableRawData().data();
  forEachIndex(
      b->out.getShape(), b->strides, [&](int64_t i, ArrayRef<int64_t> off) {
        const char *src = c[off[0]] ? xs + off[1] * size : ys + off[2] * size;
        std::memcpy(dst + i * size, src, size);
      });
  return single(std::move(b->out));
}

//===----------------------------------------------------------------------===//
// Cast, Constant, Identity
//===----------------------------------------------------------------------===//

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::CastOp op) {
  Type target = onnxir::getElementType(op.getContext(), int64_t(op.getTo()));
  std::optional<ElementKind> kind =
      target ? getElementKind(target) : std::nullopt;
  if (!kind) {
    ctx.error() << "cannot cast to ONNX data type " << int64_t(op.getTo());
    return failure();
  }
  return single(ctx.operand(op, 0)->castTo(*kind));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::ConstantOp op) {
  ElementsAttr value = op.getValueAttr();
  if (!value) {
    ctx.error() << "has no 'value' to evaluate";
    return failure();
  }
  // Weights are viewed in place: the attribute outlives the evaluation.
  auto tensor =
      HostTensor::fromElementsAttr(value, HostTensor::Constant::Borrow);
  if (!tensor) {
    ctx.error() << "cannot read its value: "
                << llvm::toString(tensor.takeError());
    return failure();
  }
  return single(std::move(*tensor));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::IdentityOp op) {
  return single(*ctx.operand(op, 0));
}

/// y = f32(x - x_zero_point) * x_scale, as onnxruntime computes it: the
/// scale is one value (per tensor) or one per index along `axis`.
FailureOr<Results> onnxeval::evaluate(EvalContext &ctx,
                                      onnxir::DequantizeLinearOp op) {
  const HostTensor &x = *ctx.operand(op, 0);
  const HostTensor &scale = *ctx.operand(op, 1);
  const HostTensor *zeroPoint = ctx.operand(op, 2);
  if (scale.getKind() != ElementKind::F32) {
    ctx.error() << "x_scale must be float";
    return failure();
  }
  if (zeroPoint && (zeroPoint->getKind() != x.getKind() ||
                    zeroPoint->getShape() != scale.getShape())) {
    ctx.error() << "x_zero_point must have the type of x and the shape of "
                   "x_scale";
    return failure();
  }
  int64_t rank = x.getRank(), count = scale.getNumElements();
  // [outer, count, inner] around the scales' axis (count 1: per tensor).
  int64_t outer = 1, inner = x.getNumElements();
  if (scale.getRank() > 1 || (scale.getRank() == 1 && count != 1)) {
    FailureOr<int64_t> axis = ctx.normalizeAxis(op.getAxis(), rank);
    if (failed(axis))
      return failure();
    if (scale.getRank() != 1 || x.getDim(*axis) != count) {
      ctx.error() << "x_scale has " << count << " elements for axis " << *axis
                  << " of size " << x.getDim(*axis);
      return failure();
    }
    outer = getNumElements(x.getShape().take_front(*axis));
    inner = getNumElements(x.getShape().drop_front(*axis + 1));
  }
  FailureOr<HostTensor> y = ctx.allocate(ElementKind::F32, x.getShape());
  if (failed(y))
    return failure();
  ArrayRef<float> s = scale.getValues<float>();
  MutableArrayRef<float> out = y->getMutableValues<float>();
  for (int64_t o = 0, i = 0; o < outer; ++o)
    for (int64_t c = 0; c < count; ++c) {
      int64_t zp = zeroPoint ? zeroPoint->getInt(c) : 0;
      for (int64_t e = 0; e < inner; ++e, ++i)
        out[i] = float(x.getInt(i) - zp) * s[c];
    }
  return single(std::move(*y));
}
