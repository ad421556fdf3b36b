//===- ONNXEvalCommon.h - Shared helpers of the onnx evaluator --*- C++ -*-===//
//
// Private to lib/Reference. Each op family (elementwise, shape, reduction,
// matmul) implements `evaluate(EvalContext &, XOp)` overloads for its ops;
// ONNXEvaluator.cpp dispatches to them.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_LIB_REFERENCE_ONNXEVALCOMMON_H
#define FLIGHTLLM_LIB_REFERENCE_ONNXEVALCOMMON_H

#include "flightllm/Dialect/ONNX/ONNXDialect.h"
#include "flightllm/Reference/HostTensor.h"
#include "flightllm/Reference/ONNXEvaluator.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/SmallVector.h"

#include <cmath>
#include <type_traits>

namespace flightllm::reference::onnxeval {

using Results = llvm::SmallVector<HostTensor>;

/// Every op of the onnx dialect; each has an `evaluate` overload.
#define FLIGHTLLM_ONNX_EVALUATED_OPS(X)                                        \
  X(Add)                                                                       \
  X(Sub)                                                                       \
  X(Mul)                                                                       \
  X(Div)                                                                       \
  X(Pow) X(Sqrt) X(Reciprocal) X(Neg) X(Exp) X(Erf) X(Tanh) X(Sigmoid) X(Relu) \
      X(Softmax) X(ReduceMean) X(MatMul) X(Gemm) X(Gather) X(Reshape)          \
          X(Transpose) X(Unsqueeze) X(Squeeze) X(Concat) X(Slice) X(Split)     \
              X(Shape) X(ConstantOfShape) X(Expand) X(Where) X(Equal)          \
                  X(Greater) X(Less) X(Cast) X(Range) X(Trilu) X(Constant)     \
                      X(Identity) X(LayerNormalization) X(CumSum) X(Max)       \
                          X(Min) X(Not) X(And) X(Cos) X(Sin) X(Log)    \
                              X(Tile) X(ScatterND) X(DequantizeLinear)

/// What one op evaluation sees: the op, its operands, the limits.
class EvalContext {
public:
  EvalContext(mlir::Operation *op, llvm::ArrayRef<HostTensor> operands,
              const EvaluatorOptions &options)
      : op(op), operands(operands), options(options) {}

  mlir::Operation *getOp() const { return op; }

  /// The tensor of the ODS operand `odsIndex` of `typedOp`, or null when it
  /// is an absent optional operand.
  template <typename OpTy>
  const HostTensor *operand(OpTy typedOp, unsigned odsIndex) const {
    auto [start, length] = typedOp.getODSOperandIndexAndLength(odsIndex);
    return length ? &operands[start] : nullptr;
  }
  /// The tensors of a variadic ODS operand.
  template <typename OpTy>
  llvm::ArrayRef<HostTensor> variadicOperand(OpTy typedOp,
                                             unsigned odsIndex) const {
    auto [start, length] = typedOp.getODSOperandIndexAndLength(odsIndex);
    return operands.slice(start, length);
  }

  /// Reports an error on the op.
  mlir::InFlightDiagnostic error() const { return op->emitError(); }

  /// A zero-filled result, or an error when it has negative dimensions or
  /// more elements than the limit allows.
  mlir::FailureOr<HostTensor> allocate(ElementKind kind,
                                       llvm::ArrayRef<int64_t> shape) const;

  /// Normalizes an axis in [-rank, rank) to [0, rank), or reports `what`.
  mlir::FailureOr<int64_t> normalizeAxis(int64_t axis, int64_t rank,
                                         llvm::StringRef what = "axis") const;

  /// Normalizes a list of axes against `rank`, rejecting duplicates.
  mlir::FailureOr<llvm::SmallVector<int64_t>>
  normalizeAxes(llvm::ArrayRef<int64_t> axes, int64_t rank) const;

  /// Reads a scalar (rank 0 or one element) integer operand.
  mlir::FailureOr<int64_t> scalarInt(const HostTensor &t,
                                     llvm::StringRef what) const;

  /// Checks that the present tensors share one element kind (the IR's type
  /// constraints say so; unverified IR must not make the evaluator read
  /// memory as the wrong type).
  mlir::LogicalResult
  requireSameKind(llvm::ArrayRef<const HostTensor *> tensors) const;

  /// numpy broadcasting of several shapes, or an error naming them.
  mlir::FailureOr<llvm::SmallVector<int64_t>>
  broadcastShapes(llvm::ArrayRef<llvm::ArrayRef<int64_t>> shapes) const;

private:
  mlir::Operation *op;
  llvm::ArrayRef<HostTensor> operands;
  const EvaluatorOptions &options;
};

/// Row-major element strides of `shape`.
llvm::SmallVector<int64_t> getStrides(llvm::ArrayRef<int64_t> shape);

/// Strides that read a tensor of `shape` as if broadcast to `outShape`
/// (right-aligned, 0 along broadcast dimensions).
llvm::SmallVector<int64_t>
getBroadcastStrides(llvm::ArrayRef<int64_t> shape,
                    llvm::ArrayRef<int64_t> outShape);

/// Calls fn(linearIndex, offsets) for every element of `shape` in row-major
/// order, where offsets[k] = sum(index[d] * strides[k][d]).
template <typename Fn>
void forEachIndex(llvm::ArrayRef<int64_t> shape,
                  llvm::ArrayRef<llvm::SmallVector<int64_t>> strides, Fn &&fn) {
  int64_t total = getNumElements(shape);
  if (total == 0)
    return;
  int64_t rank = shape.size();
  size_t n = strides.size();
  llvm::SmallVector<int64_t> index(rank, 0);
  llvm::SmallVector<int64_t, 4> offsets(n, 0);
  for (int64_t i = 0; i < total; ++i) {
    fn(i, llvm::ArrayRef<int64_t>(offsets));
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++index[d] < shape[d]) {
        for (size_t k = 0; k < n; ++k)
          offsets[k] += strides[k][d];
        break;
      }
      index[d] = 0;
      for (size_t k = 0; k < n; ++k)
        offsets[k] -= strides[k][d] * (shape[d] - 1);
    }
  }
}

//===----------------------------------------------------------------------===//
// Arithmetic on storage types
//===----------------------------------------------------------------------===//

/// The type arithmetic happens in: f16 / bf16 compute in f32.
template <typename T> struct ComputeType { using type = T; };
template <> struct ComputeType<Half> { using type = float; };
template <> struct ComputeType<BFloat16> { using type = float; };
template <typename T> using ComputeT = typename ComputeType<T>::type;

template <typename T> ComputeT<T> load(T v) {
  if constexpr (std::is_same_v<T, Half>)
    return halfToFloat(v.bits);
  else if constexpr (std::is_same_v<T, BFloat16>)
    return bfloat16ToFloat(v.bits);
  else
    return v;
}

template <typename T> T store(ComputeT<T> v) {
  if constexpr (std::is_same_v<T, Half>)
    return Half{floatToHalf(v)};
  else if constexpr (std::is_same_v<T, BFloat16>)
    return BFloat16{floatToBFloat16(v)};
  else
    return v;
}

template <typename T> constexpr bool isFloatType() {
  return std::is_floating_point_v<ComputeT<T>>;
}
template <typename T> constexpr bool isIntegerType() {
  return std::is_integral_v<T> && !std::is_same_v<T, bool>;
}

/// Wrapping integer arithmetic (modulo 2^width, no undefined behaviour).
template <typename T> T wrapAdd(T a, T b) {
  return T(uint64_t(a) + uint64_t(b));
}
template <typename T> T wrapSub(T a, T b) {
  return T(uint64_t(a) - uint64_t(b));
}

/// numpy-style NaN-propagating maximum / minimum.
template <typename C> C nanMax(C a, C b) {
  if constexpr (std::is_floating_point_v<C>)
    if (std::isnan(a) || std::isnan(b))
      return std::isnan(a) ? a : b;
  return a < b ? b : a;
}
template <typename C> C nanMin(C a, C b) {
  if constexpr (std::is_floating_point_v<C>)
    if (std::isnan(a) || std::isnan(b))
      return std::isnan(a) ? a : b;
  return b < a ? b : a;
}

/// Storage-type filters for dispatchAllowed: which element kinds an op
/// takes (the schemas already restrict the IR; these keep the templates from
/// instantiating meaningless code and report unverified IR).
struct AnyKind {
  template <typename T> static constexpr bool allows = true;
};
struct NumericKinds {
  template <typename T> static constexpr bool allows = !std::is_same_v<T, bool>;
};
struct FloatKinds {
  template <typename T> static constexpr bool allows = isFloatType<T>();
};
struct BoolKind {
  template <typename T> static constexpr bool allows = std::is_same_v<T, bool>;
};

/// Calls body(T{}) with T the storage type of `kind` when `Filter` allows
/// it; otherwise reports the element type as unsupported and fails.
template <typename Filter, typename Result = mlir::FailureOr<HostTensor>,
          typename Body>
Result dispatchAllowed(const EvalContext &ctx, ElementKind kind, Body &&body) {
  return dispatchElementKind(kind, [&](auto tag) -> Result {
    using T = decltype(tag);
    if constexpr (Filter::template allows<T>) {
      return body(tag);
    } else {
      ctx.error() << "does not support element type "
                  << getElementKindName(kind);
      return mlir::failure();
    }
  });
}

/// The result of broadcasting `inputs` together: a zero-filled tensor of
/// `kind` and the strides that read each input along it.
struct Broadcast {
  HostTensor out;
  llvm::SmallVector<llvm::SmallVector<int64_t>> strides;
};
mlir::FailureOr<Broadcast>
prepareBroadcast(const EvalContext &ctx,
                 llvm::ArrayRef<const HostTensor *> inputs, ElementKind kind);

/// Maps `inputs` (same storage type In) broadcast together elementwise with
/// fn(ComputeT<In>...) -> ComputeT<Out> into a tensor of kind Out.
template <typename In, typename Out, size_t N, typename Fn>
mlir::FailureOr<HostTensor>
broadcastMap(const EvalContext &ctx, std::array<const HostTensor *, N> inputs,
             Fn &&fn) {
  if (mlir::failed(ctx.requireSameKind(inputs)))
    return mlir::failure();
  auto b = prepareBroadcast(ctx, inputs, ElementKindOf<Out>::value);
  if (mlir::failed(b))
    return mlir::failure();
  std::array<llvm::ArrayRef<In>, N> values;
  for (size_t k = 0; k < N; ++k)
    values[k] = inputs[k]->template getValues<In>();
  llvm::MutableArrayRef<Out> dst = b->out.template getMutableValues<Out>();
  forEachIndex(b->out.getShape(), b->strides,
               [&](int64_t i, llvm::ArrayRef<int64_t> off) {
                 if constexpr (N == 1)
                   dst[i] = store<Out>(fn(load(values[0][off[0]])));
                 else
                   dst[i] = store<Out>(
                       fn(load(values[0][off[0]]), load(values[1][off[1]])));
               });
  return std::move(b->out);
}

/// Copies elements of a tensor into a new one of `outShape`, where element i
/// of the result is source element offsets[0] of `forEachIndex` over
/// `strides` (a strided view: transpose, slice, expand, ...).
mlir::FailureOr<HostTensor> gatherStrided(const EvalContext &ctx,
                                          const HostTensor &src,
                                          llvm::ArrayRef<int64_t> outShape,
                                          llvm::ArrayRef<int64_t> strides,
                                          int64_t baseOffset = 0);

/// A single result.
inline mlir::FailureOr<Results> single(mlir::FailureOr<HostTensor> t) {
  if (mlir::failed(t))
    return mlir::failure();
  Results r;
  r.push_back(std::move(*t));
  return r;
}

#define FLIGHTLLM_DECLARE_EVALUATE(OP)                                         \
  mlir::FailureOr<Results> evaluate(EvalContext &ctx, onnxir::OP##Op op);
FLIGHTLLM_ONNX_EVALUATED_OPS(FLIGHTLLM_DECLARE_EVALUATE)
#undef FLIGHTLLM_DECLARE_EVALUATE

} // namespace flightllm::reference::onnxeval

#endif // FLIGHTLLM_LIB_REFERENCE_ONNXEVALCOMMON_H
