//===- ONNXEvaluator.cpp - Dispatch and function evaluation ---------------===//

#include "ONNXEvalCommon.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cstring>
#include <functional>

using namespace mlir;
using namespace flightllm;
using namespace flightllm::reference;
using namespace flightllm::reference::onnxeval;

//===----------------------------------------------------------------------===//
// EvalContext and shared helpers
//===----------------------------------------------------------------------===//

FailureOr<HostTensor> EvalContext::allocate(ElementKind kind,
                                            ArrayRef<int64_t> shape) const {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) {
      error() << "result would have a negative dimension " << d;
      return failure();
    }
    // Checked before multiplying so huge shapes cannot overflow.
    if (d && n > options.maxResultElements / d) {
      error() << "result would have more than " << options.maxResultElements
              << " elements";
      return failure();
    }
    n *= d;
  }
  return HostTensor(kind, shape);
}

FailureOr<int64_t> EvalContext::normalizeAxis(int64_t axis, int64_t rank,
                                              StringRef what) const {
  if (rank == 0) {
    error() << what << " " << axis << " needs an input of rank >= 1";
    return failure();
  }
  if (axis < -rank || axis >= rank) {
    error() << what << " " << axis << " is out of range for rank " << rank
            << " (expected [" << -rank << ", " << rank - 1 << "])";
    return failure();
  }
  return axis < 0 ? axis + rank : axis;
}

FailureOr<SmallVector<int64_t>>
EvalContext::normalizeAxes(ArrayRef<int64_t> axes, int64_t rank) const {
  SmallVector<int64_t> out;
  llvm::SmallBitVector seen(rank);
  for (int64_t a : axes) {
    auto axis = normalizeAxis(a, rank, "axes entry");
    if (failed(axis))
      return failure();
    if (seen.test(*axis)) {
      error() << "axes entry " << a << " repeats axis " << *axis;
      return failure();
    }
    seen.set(*axis);
    out.push_back(*axis);
  }
  return out;
}

FailureOr<int64_t> EvalContext::scalarInt(const HostTensor &t,
                                          StringRef what) const {
  if (t.getNumElements() != 1 || t.getRank() > 1) {
    error() << what << " must be a scalar, got " << t.describeType();
    return failure();
  }
  return t.getInt(0);
}

LogicalResult
EvalContext::requireSameKind(ArrayRef<const HostTensor *> tensors) const {
  const HostTensor *first = nullptr;
  for (const HostTensor *t : tensors) {
    if (!t)
      continue;
    if (first && t->getKind() != first->getKind()) {
      error() << "operands must share one element type, got "
              << getElementKindName(first->getKind()) << " and "
              << getElementKindName(t->getKind());
      return failure();
    }
    first = first ? first : t;
  }
  return success();
}

FailureOr<SmallVector<int64_t>>
EvalContext::broadcastShapes(ArrayRef<ArrayRef<int64_t>> shapes) const {
  size_t rank = 0;
  for (ArrayRef<int64_t> s : shapes)
    rank = std::max(rank, s.size());
  SmallVector<int64_t> out(rank, 1);
  for (ArrayRef<int64_t> s : shapes) {
    size_t lead = rank - s.size();
    for (size_t d = 0; d < s.size(); ++d) {
      int64_t &o = out[lead + d];
      if (s[d] == o || s[d] == 1)
        continue;
      if (o == 1) {
        o = s[d];
        continue;
      }
      InFlightDiagnostic diag = error();
      diag << "operand shapes are not broadcastable:";
      for (ArrayRef<int64_t> t : shapes) {
        diag << " [";
        llvm::interleaveComma(t, diag);
        diag << "]";
      }
      return failure();
    }
  }
  return out;
}

SmallVector<int64_t> onnxeval::getStrides(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t d = int64_t(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

SmallVector<int64_t> onnxeval::getBroadcastStrides(ArrayRef<int64_t> shape,
                                                   ArrayRef<int64_t> outShape) {
  SmallVector<int64_t> inStrides = getStrides(shape);
  SmallVector<int64_t> strides(outShape.size(), 0);
  size_t lead = outShape.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d)
    strides[lead + d] = shape[d] == 1 ? 0 : inStrides[d];
  return strides;
}

FailureOr<Broadcast>
onnxeval::prepareBroadcast(const EvalContext &ctx,
                           ArrayRef<const HostTensor *> inputs,
                           ElementKind kind) {
  SmallVector<ArrayRef<int64_t>> shapes;
  for (const HostTensor *t : inputs)
    shapes.push_back(t->getShape());
  auto shape = ctx.broadcastShapes(shapes);
  if (failed(shape))
    return failure();
  auto out = ctx.allocate(kind, *shape);
  if (failed(out))
    return failure();
  Broadcast b{std::move(*out), {}};
  for (const HostTensor *t : inputs)
    b.strides.push_back(getBroadcastStrides(t->getShape(), *shape));
  return b;
}

FailureOr<HostTensor> onnxeval::gatherStrided(const EvalContext &ctx,
                                              const HostTensor &src,
                                              ArrayRef<int64_t> outShape,
                                              ArrayRef<int64_t> strides,
                                              int64_t baseOffset) {
  auto out = ctx.allocate(src.getKind(), outShape);
  if (failed(out))
    return failure();
  size_t size = src.getElementSize();
  const char *from = src.getRawData().data();
  char *to = out->getMutableRawData().data();
  SmallVector<SmallVector<int64_t>> s = {SmallVector<int64_t>(strides)};
  forEachIndex(outShape, s, [&](int64_t i, ArrayRef<int64_t> off) {
    std::memcpy(to + i * size, from + (baseOffset + off[0]) * size, size);
  });
  return out;
}

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

static FailureOr<Results> dispatch(EvalContext &ctx, Operation *op) {
  return llvm::TypeSwitch<Operation *, FailureOr<Results>>(op)
#define FLIGHTLLM_EVALUATE_CASE(OP)                                            \
  .Case([&](onnxir::OP##Op typed) { return evaluate(ctx, typed); })
      FLIGHTLLM_ONNX_EVALUATED_OPS(FLIGHTLLM_EVALUATE_CASE)
#undef FLIGHTLLM_EVALUATE_CASE
          .Default([&](Operation *) -> FailureOr<Results> {
            ctx.error() << "has no reference semantics in the evaluator";
            return failure();
          });
}

bool reference::hasReferenceSemantics(Operation *op) {
  return llvm::TypeSwitch<Operation *, bool>(op)
#define FLIGHTLLM_IS_EVALUATED(OP) .Case([](onnxir::OP##Op) { return true; })
      FLIGHTLLM_ONNX_EVALUATED_OPS(FLIGHTLLM_IS_EVALUATED)
#undef FLIGHTLLM_IS_EVALUATED
          .Default([](Operation *) { return false; });
}

/// Checks that `t` may stand for a value of type `type`.
static bool isCompatible(const HostTensor &t, Type type) {
  auto shaped = dyn_cast<ShapedType>(type);
  if (!shaped)
    return false;
  std::optional<ElementKind> kind = getElementKind(shaped.getElementType());
  if (!kind || *kind != t.getKind())
    return false;
  if (!shaped.hasRank())
    return true;
  if (shaped.getRank() != t.getRank())
    return false;
  for (auto [d, s] : llvm::zip(shaped.getShape(), t.getShape()))
    if (!ShapedType::isDynamic(d) && d != s)
      return false;
  return true;
}

FailureOr<SmallVector<HostTensor>>
reference::evaluateONNXOp(Operation *op, ArrayRef<HostTensor> operands,
                          const EvaluatorOptions &options) {
  if (!isa_and_nonnull<onnxir::ONNXDialect>(op->getDialect())) {
    op->emitError() << "is not an onnx dialect op";
    return failure();
  }
  if (operands.size() != op->getNumOperands()) {
    op->emitError() << "evaluated with " << operands.size()
                    << " operands, expected " << op->getNumOperands();
    return failure();
  }
  for (auto [i, t] : llvm::enumerate(operands))
    if (!isCompatible(t, op->getOperand(i).getType())) {
      op->emitError() << "operand #" << i << " is evaluated with "
                      << t.describeType() << ", incompatible with its type "
                      << op->getOperand(i).getType();
      return failure();
    }
  EvalContext ctx(op, operands, options);
  FailureOr<Results> results = dispatch(ctx, op);
  if (failed(results))
    return failure();
  if (results->size() != op->getNumResults()) {
    op->emitError() << "evaluator produced " << results->size()
                    << " results, expected " << op->getNumResults();
    return failure();
  }
  for (auto [i, t] : llvm::enumerate(*results))
    if (!isCompatible(t, op->getResult(i).getType())) {
      op->emitError() << "result #" << i << " evaluates to " << t.describeType()
                      << ", incompatible with its type "
                      << op->getResult(i).getType();
      return failure();
    }
  return std::move(*results);
}

FailureOr<SmallVector<HostTensor>>
reference::evaluateFunction(func::FuncOp func, ArrayRef<HostTensor> args,
                            const EvaluatorOptions &options) {
  if (func.isExternal() || !func.getBody().hasOneBlock()) {
    func.emitError() << "can only evaluate a function with one block";
    return failure();
  }
  Block &body = func.getBody().front();
  if (args.size() != body.getNumArguments()) {
    func.emitError() << "evaluated with " << args.size()
                     << " arguments, expected " << body.getNumArguments();
    return failure();
  }

  // Values live until their last use; each map entry counts the uses left.
  llvm::DenseMap<Value, std::pair<HostTensor, unsigned>> values;
  auto define = [&](Value v, HostTensor t) {
    unsigned uses = std::distance(v.use_begin(), v.use_end());
    if (uses)
      values[v] = {std::move(t), uses};
  };
  for (auto [i, arg] : llvm::enumerate(body.getArguments())) {
    if (!isCompatible(args[i], arg.getType())) {
      func.emitError() << "argument #" << i << " is " << args[i].describeType()
                       << ", incompatible with its type " << arg.getType();
      return failure();
    }
    define(arg, args[i]);
  }

  // Reads the operands of `op`, releasing those at their last use.
  auto takeOperands = [&](Operation *op) {
    SmallVector<HostTensor> operands;
    for (Value v : op->getOperands()) {
      auto it = values.find(v);
      assert(it != values.end() && "operand evaluated before its definition");
      if (--it->second.second == 0) {
        operands.push_back(std::move(it->second.first));
        values.erase(it);
      } else {
        operands.push_back(it->second.first);
      }
    }
    return operands;
  };

  // Evaluates a block (the body, or the branch an If takes) up to its
  // terminator and returns the terminator's operands.
  std::function<FailureOr<SmallVector<HostTensor>>(Block &)> run =
      [&](Block &block) -> FailureOr<SmallVector<HostTensor>> {
    for (Operation &op : block) {
      if (isa<func::ReturnOp, onnxir::YieldOp>(op))
        return takeOperands(&op);
      if (!isa_and_nonnull<onnxir::ONNXDialect>(op.getDialect())) {
        op.emitError() << "cannot be evaluated: not an onnx dialect op";
        return failure();
      }
      SmallVector<HostTensor> operands = takeOperands(&op);
      FailureOr<SmallVector<HostTensor>> results = failure();
      if (auto ifOp = dyn_cast<onnxir::IfOp>(op)) {
        if (operands[0].getNumElements() != 1) {
          op.emitError() << "If condition must have one element, got "
                         << operands[0].describeType();
          return failure();
        }
        results = run(operands[0].getDouble(0) != 0
                          ? ifOp.getThenBranch().front()
                          : ifOp.getElseBranch().front());
      } else {
        results = evaluateONNXOp(&op, operands, options);
      }
      if (failed(results))
        return failure();
      for (auto [v, t] : llvm::zip(op.getResults(), *results))
        define(v, std::move(t));
    }
    func.emitError() << "has no func.return";
    return failure();
  };
  return run(body);
}
