//===- RaiseContext.cpp - Shared machinery of the raising passes ----------===//

#include "RaiseContext.h"

#include "flightllm/Reference/ONNXEvaluator.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace flightllm;
using namespace flightllm::raising;
namespace onnxir = flightllm::onnxir;

ArrayRef<DimAssignment> raising::probeAssignments(bool hasPast) {
  // Distinct values for every symbol (and B != S, S != P) so that an
  // accidental equality cannot pass for a relation.
  static const DimAssignment withPast[] = {{1, 3, 2}, {2, 2, 5}, {1, 1, 7}};
  static const DimAssignment prefillOnly[] = {{1, 3, 0}, {2, 5, 0}, {1, 2, 0}};
  return hasPast ? ArrayRef<DimAssignment>(withPast)
                 : ArrayRef<DimAssignment>(prefillOnly);
}

//===----------------------------------------------------------------------===//
// ModelInterface
//===----------------------------------------------------------------------===//

FailureOr<ModelInterface> ModelInterface::get(func::FuncOp func) {
  ModelInterface m;
  m.graphHasPast = func->hasAttr("llm.graph_has_past");
  std::map<int64_t, BlockArgument> keys, vals;
  for (BlockArgument arg : func.getArguments()) {
    auto name = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "llm.name");
    if (!name)
      continue;
    StringRef n = name.getValue();
    if (n == "input_ids") {
      m.inputIds = arg;
      continue;
    }
    int64_t layer;
    if (n.consume_front("past_key_values.")) {
      StringRef idx = n.take_until([](char c) { return c == '.'; });
      if (!idx.getAsInteger(10, layer)) {
        if (n.ends_with(".key"))
          keys[layer] = arg;
        else if (n.ends_with(".value"))
          vals[layer] = arg;
      }
    }
  }
  if (!m.inputIds)
    return func.emitError(
        "expected the llm program signature (run -llm-raise-signature first)");
  // argShape and the numeric checks bind these with concrete shapes:
  // input_ids [B, S], caches [B, Hkv, P, Dh] with the heads and head size
  // known (a rank or a dimension elsewhere is another model, refused here
  // rather than bound with a dynamic size).
  auto checkArg = [&](BlockArgument arg, int64_t rank,
                      ArrayRef<unsigned> staticDims,
                      StringRef form) -> LogicalResult {
    auto name =
        func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "llm.name");
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    bool ok = type && type.getRank() == rank;
    for (unsigned d : staticDims)
      ok = ok && !type.isDynamicDim(d) && type.getDimSize(d) > 0;
    if (ok)
      return success();
    return emitError(arg.getLoc())
           << "graph input '" << (name ? name.getValue() : StringRef("?"))
           << "' has type " << arg.getType() << ": expected " << form;
  };
  if (failed(checkArg(m.inputIds, 2, {}, "[batch, sequence_length]")))
    return failure();
  for (auto *cache : {&keys, &vals})
    for (auto &[layer, arg] : *cache)
      if (failed(checkArg(arg, 4, {1, 3},
                          "a past cache [batch, kv_heads, "
                          "past_sequence_length, head_size] with kv_heads "
                          "and head_size fixed")))
        return failure();
  for (auto &[layer, arg] : keys)
    m.pastKeys.push_back(arg);
  for (auto &[layer, arg] : vals)
    m.pastValues.push_back(arg);
  return m;
}

SmallVector<int64_t> ModelInterface::argShape(BlockArgument arg,
                                              const DimAssignment &a) const {
  auto type = cast<RankedTensorType>(arg.getType());
  SmallVector<int64_t> shape(type.getShape());
  DimAssignment fixed = fix(a);
  shape[0] = fixed.batch;
  if (arg == inputIds)
    shape[1] = fixed.newTokens;
  else
    shape[2] = fixed.past; // Past caches [B, Hkv, P, Dh].
  return shape;
}

DimAssignment ModelInterface::fix(DimAssignment a) const {
  // An export with a fixed batch of 1 (or one new token, optimum 1.13's
  // decoder with past) has it in input_ids' type; the caches follow.
  auto ids = cast<RankedTensorType>(inputIds.getType());
  if (!ids.isDynamicDim(0))
    a.batch = ids.getDimSize(0);
  if (!ids.isDynamicDim(1))
    a.newTokens = ids.getDimSize(1);
  return a;
}

SmallVector<DimAssignment, 3> ModelInterface::probes() const {
  SmallVector<DimAssignment, 3> out;
  for (const DimAssignment &a : probeAssignments(graphHasPast))
    out.push_back(fix(a));
  return out;
}

//===----------------------------------------------------------------------===//
// Evaluator
//===----------------------------------------------------------------------===//

bool raising::isRaised(Value v) {
  Operation *op = v.getDefiningOp();
  return op && isa<llm::LLMDialect>(op->getDialect());
}

ElementsAttr raising::getConstant(Value v) {
  if (auto c = v.getDefiningOp<onnxir::ConstantOp>())
    return c.getValueAttr();
  if (auto w = v.getDefiningOp<llm::WeightOp>())
    return w.getValue();
  return {};
}

/// numpy broadcasting of two shapes; fails when they are incompatible.
static FailureOr<SmallVector<int64_t>> broadcast(ArrayRef<int64_t> a,
                                                 ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da < 0 || db < 0 || (da != db && da != 1 && db != 1))
      return failure();
    out[i] = da == 1 ? db : da;
  }
  return out;
}

/// `axis` (negative counts from the back) when a rank-`rank` shape has it.
static std::optional<int64_t> checkedAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return std::nullopt;
  return axis < 0 ? axis + rank : axis;
}

FailureOr<SmallVector<int64_t>> raising::reshapedShape(ArrayRef<int64_t> in,
                                                       ArrayRef<int64_t> target,
                                                       bool allowZero) {
  SmallVector<int64_t> out(target);
  int64_t numElements = reference::getNumElements(in), known = 1;
  std::optional<size_t> inferred;
  for (auto [i, d] : llvm::enumerate(out)) {
    if (d == 0 && !allowZero) {
      if (i >= in.size())
        return failure();
      d = in[i];
    }
    if (d == -1) {
      if (inferred)
        return failure();
      inferred = i;
      continue;
    }
    if (d < 0 || (d && known > std::numeric_limits<int64_t>::max() / d))
      return failure();
    known *= d;
  }
  if (inferred) {
    if (!known || numElements % known)
      return failure();
    out[*inferred] = numElements / known;
  } else if (known != numElements) {
    return failure();
  }
  return out;
}

/// The length of `Slice` along one axis of length `dim` (ONNX's clamping).
static int64_t slicedLength(int64_t dim, int64_t start, int64_t end,
                            int64_t step) {
  auto clampIndex = [&](int64_t v, int64_t lo, int64_t hi) {
    if (v < 0)
      v += dim;
    return std::clamp(v, lo, hi);
  };
  // 128-bit: `step` may be anything the file says.
  __int128 b, e, st = step;
  if (step > 0) {
    b = clampIndex(start, 0, dim);
    e = clampIndex(end, 0, dim);
    return e > b ? int64_t((e - b + st - 1) / st) : 0;
  }
  b = clampIndex(start, -1, dim - 1);
  e = clampIndex(end, -1, dim - 1);
  return b > e ? int64_t((b - e - st - 1) / -st) : 0;
}

FailureOr<SmallVector<HostTensor>>
Evaluator::evaluateOp(Operation *op, ArrayRef<HostTensor> operands) {
  // A failed probe is an answer, not a diagnostic for the user; the first
  // message is kept for the checks that report it.
  std::string message;
  ScopedDiagnosticHandler capture(op->getContext(), [&](Diagnostic &d) {
    if (message.empty() && d.getSeverity() == DiagnosticSeverity::Error)
      message = d.str();
    return success();
  });
  FailureOr<SmallVector<HostTensor>> r = failure();
  if (isa<onnxir::ONNXDialect>(op->getDialect())) {
    reference::EvaluatorOptions options;
    options.maxResultElements = int64_t(1) << 24;
    r = reference::evaluateONNXOp(op, operands, options);
  } else if (isa<llm::LLMDialect>(op->getDialect())) {
    r = evaluateLLMOp(op, operands);
  }
  if (failed(r) && !message.empty())
    opErrors[op] = std::move(message);
  return r;
}

FailureOr<HostTensor> Evaluator::eval(Value v) {
  auto it = values.find(v);
  if (it != values.end())
    return it->second;
  if (unevaluable.contains(v))
    return failure();
  Operation *op = v.getDefiningOp();
  if (!op)
    return failure(); // Argument data is never read unless bound.

  auto fail = [&]() -> FailureOr<HostTensor> {
    for (Value result : op->getResults())
      unevaluable.insert(result);
    return failure();
  };
  SmallVector<HostTensor> results;
  if (auto shapeOp = dyn_cast<onnxir::ShapeOp>(op)) {
    auto s = shape(shapeOp.getData());
    if (failed(s))
      return fail();
    std::optional<int64_t> last;
    if (shapeOp.getEnd())
      last = int64_t(*shapeOp.getEnd());
    auto [start, end] = reference::getShapeOpRange(
        s->size(), int64_t(shapeOp.getStart()), last);
    SmallVector<int64_t> dims(s->begin() + start, s->begin() + end);
    results.push_back(HostTensor::get<int64_t>({int64_t(dims.size())}, dims));
  } else if (ElementsAttr c = getConstant(v)) {
    auto t = HostTensor::fromElementsAttr(c);
    if (!t) {
      llvm::consumeError(t.takeError());
      return fail();
    }
    results.push_back(std::move(*t));
  } else if (auto castOp = dyn_cast<tensor::CastOp>(op)) {
    auto t = eval(castOp.getSource());
    if (failed(t))
      return fail();
    results.push_back(std::move(*t));
  } else if (auto ifOp = dyn_cast<onnxir::IfOp>(op)) {
    // The branch's yielded values (they are values of the function too).
    FailureOr<onnxir::YieldOp> yield = takenBranch(ifOp);
    if (failed(yield))
      return failure();
    for (Value out : yield->getOutputs()) {
      auto t = eval(out);
      if (failed(t))
        return failure();
      results.push_back(std::move(*t));
    }
  } else {
    SmallVector<HostTensor> operands;
    for (Value operand : op->getOperands()) {
      auto t = eval(operand);
      if (failed(t))
        return fail();
      operands.push_back(std::move(*t));
    }
    auto r = evaluateOp(op, operands);
    if (failed(r))
      return fail();
    results = std::move(*r);
  }
  for (auto [result, t] : llvm::zip(op->getResults(), results))
    values[result] = t;
  return values[v];
}

FailureOr<SmallVector<int64_t>> Evaluator::shape(Value v) {
  if (auto it = shapes.find(v); it != shapes.end())
    return it->second;
  if (auto it = values.find(v); it != values.end())
    return SmallVector<int64_t>(it->second.getShape());
  if (unshaped.contains(v))
    return failure();
  FailureOr<SmallVector<int64_t>> s = failure();
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    if (auto t = dyn_cast<RankedTensorType>(arg.getType()))
      s = model.argShape(arg, assignment);
  } else if (auto t = dyn_cast<RankedTensorType>(v.getType());
             t && t.hasStaticShape()) {
    s = SmallVector<int64_t>(t.getShape());
  } else {
    s = inferShape(v.getDefiningOp(), cast<OpResult>(v).getResultNumber());
    if (failed(s)) {
      // Shape-determined values (masks, index tensors) evaluate cheaply.
      if (isShapeDetermined(v)) {
        auto t = eval(v);
        if (succeeded(t))
          s = SmallVector<int64_t>(t->getShape());
      }
    }
  }
  if (succeeded(s))
    shapes[v] = *s;
  else
    unshaped.insert(v);
  return s;
}

FailureOr<onnxir::YieldOp> Evaluator::takenBranch(onnxir::IfOp op) {
  auto cond = eval(op.getCond());
  if (failed(cond) || cond->getNumElements() != 1)
    return failure();
  Region &branch =
      cond->getDouble(0) != 0 ? op.getThenBranch() : op.getElseBranch();
  return cast<onnxir::YieldOp>(branch.front().getTerminator());
}

FailureOr<SmallVector<int64_t>> Evaluator::inferShape(Operation *op,
                                                      unsigned result) {
  // Every index into a shape is checked: operands come from the model file
  // and may name axes, permutations and sizes that do not fit. A shape that
  // ONNX would reject is a failure here (the reference evaluator then
  // reports why where it matters).
  auto operandShape = [&](unsigned i) { return shape(op->getOperand(i)); };
  auto ints = [&](Value v) -> FailureOr<SmallVector<int64_t>> {
    auto t = eval(v);
    if (failed(t))
      return failure();
    return t->toInt64Vector();
  };

  // llm ops: from their documented semantics (the verifiers checked ranks).
  if (auto o = dyn_cast<llm::EmbeddingOp>(op)) {
    auto ids = shape(o.getIds());
    if (failed(ids))
      return failure();
    ids->push_back(cast<ShapedType>(o.getTable().getType()).getDimSize(1));
    return ids;
  }
  if (isa<llm::LinearOp, llm::LogitsOp>(op)) {
    auto x = operandShape(0);
    if (failed(x) || x->empty())
      return failure();
    auto w = cast<ShapedType>(op->getOperand(1).getType());
    bool transposed = isa<llm::LinearOp>(op)
                          ? cast<llm::LinearOp>(op).getTransposeWeight()
                          : cast<llm::LogitsOp>(op).getTransposeWeight();
    x->back() = transposed ? w.getDimSize(0) : w.getDimSize(1);
    return x;
  }
  if (auto a = dyn_cast<llm::AttentionOp>(op)) {
    auto q = shape(a.getQuery());
    if (failed(q) || q->size() != 3)
      return failure();
    if (result == 0)
      return q;
    int64_t dh = q->back() / int64_t(a.getNumHeads());
    int64_t past = 0;
    if (a.getPastKey()) {
      auto p = shape(a.getPastKey());
      if (failed(p) || p->size() != 4)
        return failure();
      past = (*p)[2];
    }
    return SmallVector<int64_t>(
        {(*q)[0], int64_t(a.getNumKvHeads()), past + (*q)[1], dh});
  }
  if (isa<llm::LLMDialect>(op->getDialect()) || isa<tensor::CastOp>(op))
    return operandShape(0); // Element-wise, norms, rope, position_ids.

  if (!isa<onnxir::ONNXDialect>(op->getDialect()))
    return failure();
  if (auto ifOp = dyn_cast<onnxir::IfOp>(op)) {
    FailureOr<onnxir::YieldOp> yield = takenBranch(ifOp);
    if (failed(yield))
      return failure();
    return shape(yield->getOutputs()[result]);
  }

  // onnx ops whose shape follows from operand shapes (and small operands).
  if (isa<onnxir::AddOp, onnxir::SubOp, onnxir::MulOp, onnxir::DivOp,
          onnxir::PowOp, onnxir::EqualOp, onnxir::GreaterOp, onnxir::LessOp,
          onnxir::AndOp, onnxir::WhereOp, onnxir::MaxOp, onnxir::MinOp>(op)) {
    SmallVector<int64_t> out;
    for (unsigned i = 0; i < op->getNumOperands(); ++i) {
      auto s = operandShape(i);
      if (failed(s))
        return failure();
      auto b = broadcast(out, *s);
      if (failed(b))
        return failure();
      out = *b;
    }
    return out;
  }
  if (isa<onnxir::SqrtOp, onnxir::ReciprocalOp, onnxir::NegOp, onnxir::ExpOp,
          onnxir::ErfOp, onnxir::TanhOp, onnxir::SigmoidOp, onnxir::ReluOp,
          onnxir::SoftmaxOp, onnxir::CastOp, onnxir::IdentityOp, onnxir::NotOp,
          onnxir::CumSumOp, onnxir::TriluOp, onnxir::LayerNormalizationOp>(op))
    return operandShape(0);
  if (isa<onnxir::MatMulOp>(op)) {
    auto a = operandShape(0), b = operandShape(1);
    if (failed(a) || failed(b) || a->empty() || b->empty())
      return failure();
    SmallVector<int64_t> sa = *a, sb = *b;
    bool vecA = sa.size() == 1, vecB = sb.size() == 1;
    if (vecA)
      sa.insert(sa.begin(), 1);
    if (vecB)
      sb.push_back(1);
    if (sa.back() != sb[sb.size() - 2])
      return failure();
    auto batch = broadcast(ArrayRef<int64_t>(sa).drop_back(2),
                           ArrayRef<int64_t>(sb).drop_back(2));
    if (failed(batch))
      return failure();
    SmallVector<int64_t> out = *batch;
    if (!vecA)
      out.push_back(sa[sa.size() - 2]);
    if (!vecB)
      out.push_back(sb.back());
    return out;
  }
  if (auto t = dyn_cast<onnxir::TransposeOp>(op)) {
    auto in = operandShape(0);
    if (failed(in))
      return failure();
    SmallVector<int64_t> out;
    std::optional<ArrayRef<int64_t>> perm = t.getPerm();
    if (!perm) {
      out.assign(in->rbegin(), in->rend());
      return out;
    }
    if (perm->size() != in->size())
      return failure();
    llvm::SmallBitVector seen(in->size());
    for (int64_t p : *perm) {
      if (p < 0 || p >= int64_t(in->size()) || seen.test(p))
        return failure();
      seen.set(p);
      out.push_back((*in)[p]);
    }
    return out;
  }
  if (auto r = dyn_cast<onnxir::ReshapeOp>(op)) {
    auto in = operandShape(0);
    auto target = ints(r.getShape());
    if (failed(in) || failed(target))
      return failure();
    return reshapedShape(*in, *target, r.getAllowzero() != 0);
  }
  if (isa<onnxir::UnsqueezeOp, onnxir::SqueezeOp>(op)) {
    auto in = operandShape(0);
    if (failed(in))
      return failure();
    SmallVector<int64_t> axes;
    if (op->getNumOperands() > 1) {
      auto a = ints(op->getOperand(1));
      if (failed(a))
        return failure();
      axes = *a;
    }
    bool unsqueeze = isa<onnxir::UnsqueezeOp>(op);
    int64_t rank = in->size() + (unsqueeze ? axes.size() : 0);
    llvm::SmallBitVector selected(rank);
    for (int64_t a : axes) {
      std::optional<int64_t> axis = checkedAxis(a, rank);
      if (!axis || selected.test(*axis))
        return failure();
      selected.set(*axis);
    }
    SmallVector<int64_t> out;
    if (unsqueeze) {
      auto src = in->begin();
      for (int64_t i = 0; i < rank; ++i)
        out.push_back(selected.test(i) ? 1 : *src++);
      return out;
    }
    for (auto [i, d] : llvm::enumerate(*in)) {
      bool drop = axes.empty() ? d == 1 : selected.test(i);
      if (drop && d != 1)
        return failure();
      if (!drop)
        out.push_back(d);
    }
    return out;
  }
  if (auto c = dyn_cast<onnxir::ConcatOp>(op)) {
    SmallVector<int64_t> out;
    std::optional<int64_t> axis;
    for (auto [i, operand] : llvm::enumerate(c.getInputs())) {
      auto s = shape(operand);
      if (failed(s))
        return failure();
      if (i == 0) {
        out = *s;
        axis = checkedAxis(c.getAxis(), s->size());
        if (!axis)
          return failure();
        continue;
      }
      if (s->size() != out.size())
        return failure();
      for (auto [j, d] : llvm::enumerate(*s))
        if (int64_t(j) != *axis && d != out[j])
          return failure();
      out[*axis] += (*s)[*axis];
    }
    return out;
  }
  if (auto g = dyn_cast<onnxir::GatherOp>(op)) {
    auto data = operandShape(0), idx = operandShape(1);
    if (failed(data) || failed(idx))
      return failure();
    std::optional<int64_t> axis = checkedAxis(g.getAxis(), data->size());
    if (!axis)
      return failure();
    SmallVector<int64_t> out(data->begin(), data->begin() + *axis);
    out.append(idx->begin(), idx->end());
    out.append(data->begin() + *axis + 1, data->end());
    return out;
  }
  if (auto e = dyn_cast<onnxir::ExpandOp>(op)) {
    auto in = operandShape(0);
    auto target = ints(e.getShape());
    if (failed(in) || failed(target))
      return failure();
    return broadcast(*in, *target);
  }
  if (auto s = dyn_cast<onnxir::SliceOp>(op)) {
    auto in = operandShape(0);
    auto starts = ints(s.getStarts()), ends = ints(s.getEnds());
    if (failed(in) || failed(starts) || failed(ends) ||
        starts->size() != ends->size())
      return failure();
    SmallVector<int64_t> axes, steps;
    for (size_t i = 0; i < starts->size(); ++i)
      axes.push_back(i);
    steps.assign(starts->size(), 1);
    if (s.getAxes()) {
      auto a = ints(s.getAxes());
      if (failed(a))
        return failure();
      axes = *a;
    }
    if (s.getSteps()) {
      auto st = ints(s.getSteps());
      if (failed(st))
        return failure();
      steps = *st;
    }
    if (axes.size() != starts->size() || steps.size() != starts->size())
      return failure();
    SmallVector<int64_t> out = *in;
    llvm::SmallBitVector seen(in->size());
    for (size_t i = 0; i < axes.size(); ++i) {
      std::optional<int64_t> axis = checkedAxis(axes[i], in->size());
      if (!axis || seen.test(*axis) || steps[i] == 0)
        return failure();
      seen.set(*axis);
      out[*axis] = slicedLength((*in)[*axis], (*starts)[i], (*ends)[i],
                                steps[i]);
    }
    return out;
  }
  if (auto sp = dyn_cast<onnxir::SplitOp>(op)) {
    auto in = operandShape(0);
    if (failed(in))
      return failure();
    std::optional<int64_t> axis = checkedAxis(sp.getAxis(), in->size());
    if (!axis)
      return failure();
    SmallVector<int64_t> out = *in;
    int64_t n = op->getNumResults();
    if (sp.getSplit()) {
      auto parts = ints(sp.getSplit());
      if (failed(parts) || int64_t(parts->size()) != n)
        return failure();
      int64_t total = 0;
      for (int64_t part : *parts) {
        if (part < 0 || part > (*in)[*axis] - total)
          return failure();
        total += part;
      }
      if (total != (*in)[*axis])
        return failure();
      out[*axis] = (*parts)[result];
    } else {
      out[*axis] = ((*in)[*axis] + n - 1) / n;
      if (result == unsigned(n - 1))
        out[*axis] = (*in)[*axis] - out[*axis] * (n - 1);
      if (out[*axis] < 0)
        return failure();
    }
    return out;
  }
  if (auto r = dyn_cast<onnxir::ReduceMeanOp>(op)) {
    auto in = operandShape(0);
    if (failed(in))
      return failure();
    llvm::SmallBitVector reduced(in->size(), !r.getAxes());
    if (std::optional<ArrayRef<int64_t>> axes = r.getAxes())
      for (int64_t a : *axes) {
        std::optional<int64_t> axis = checkedAxis(a, in->size());
        if (!axis)
          return failure();
        reduced.set(*axis);
      }
    SmallVector<int64_t> out;
    for (auto [i, d] : llvm::enumerate(*in)) {
      if (!reduced.test(i))
        out.push_back(d);
      else if (r.getKeepdims())
        out.push_back(1);
    }
    return out;
  }
  if (auto g = dyn_cast<onnxir::GemmOp>(op)) {
    auto a = operandShape(0), b = operandShape(1);
    if (failed(a) || failed(b) || a->size() != 2 || b->size() != 2 ||
        (*a)[g.getTransA() ? 0 : 1] != (*b)[g.getTransB() ? 1 : 0])
      return failure();
    return SmallVector<int64_t>{(*a)[g.getTransA() ? 1 : 0],
                                (*b)[g.getTransB() ? 0 : 1]};
  }
  return failure();
}

static std::string formatShape(ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (auto [i, d] : llvm::enumerate(shape))
    text += (i ? ", " : "") + std::to_string(d);
  return text + "]";
}

LogicalResult raising::checkDroppedReshape(
    const ModelInterface &model, Operation *op,
    function_ref<SmallVector<int64_t>(ArrayRef<int64_t>)> expected) {
  auto reshape = cast<onnxir::ReshapeOp>(op);
  for (const DimAssignment &a : probeAssignments(model.graphHasPast)) {
    Evaluator e(model, a);
    auto in = e.shape(reshape.getData());
    auto target = e.eval(reshape.getShape());
    if (failed(in) || failed(target))
      return reshape.emitError()
             << "the raising drops this Reshape but cannot determine what it "
                "does";
    SmallVector<int64_t> want = expected(*in);
    auto out = reshapedShape(*in, target->toInt64Vector(),
                             reshape.getAllowzero() != 0);
    if (failed(out))
      return reshape.emitError()
             << "Reshape of " << formatShape(*in) << " to "
             << formatShape(target->toInt64Vector())
             << " is invalid (ONNX rejects it)";
    if (*out != want)
      return reshape.emitError()
             << "Reshape of " << formatShape(*in) << " gives "
             << formatShape(*out) << " where the raised op needs "
             << formatShape(want)
             << " (batch " << a.batch << ", new tokens " << a.newTokens
             << ", past " << a.past << ")";
  }
  return success();
}

void raising::eraseDeadOps(func::FuncOp func) {
  bool changed = true;
  while (changed) {
    changed = false;
    for (Operation &op :
         llvm::make_early_inc_range(llvm::reverse(func.getBody().front())))
      if (op.use_empty() && !op.hasTrait<OpTrait::IsTerminator>() &&
          isMemoryEffectFree(&op)) {
        op.erase();
        changed = true;
      }
  }
}

void raising::refreshFunctionType(func::FuncOp func) {
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  func.setType(FunctionType::get(func.getContext(), func.getArgumentTypes(),
                                 ret.getOperandTypes()));
}

bool raising::isShapeDetermined(Value v) {
  llvm::SmallPtrSet<Operation *, 16> visited;
  SmallVector<Value> work{v};
  while (!work.empty()) {
    Value cur = work.pop_back_val();
    Operation *op = cur.getDefiningOp();
    if (!op)
      return false;
    if (!visited.insert(op).second)
      continue;
    if (isa<onnxir::ShapeOp>(op) || getConstant(cur))
      continue;
    if (isa<llm::LLMDialect>(op->getDialect()))
      return false;
    for (Value operand : op->getOperands())
      work.push_back(operand);
    // An If's results are its branches' yielded values.
    if (auto ifOp = dyn_cast<onnxir::IfOp>(op))
      for (Region *branch : {&ifOp.getThenBranch(), &ifOp.getElseBranch()})
        for (Value out : branch->front().getTerminator()->getOperands())
          work.push_back(out);
  }
  return true;
}

FailureOr<SmallVector<HostTensor>> raising::probe(const ModelInterface &model,
                                                  Value v) {
  SmallVector<HostTensor> out;
  for (const DimAssignment &a : model.probes()) {
    Evaluator e(model, a);
    auto t = e.eval(v);
    if (failed(t))
      return failure();
    out.push_back(std::move(*t));
  }
  return out;
}

FailureOr<SmallVector<SmallVector<int64_t>>>
raising::probeShapes(const ModelInterface &model, Value v) {
  SmallVector<SmallVector<int64_t>> out;
  for (const DimAssignment &a : model.probes()) {
    Evaluator e(model, a);
    auto s = e.shape(v);
    if (failed(s))
      return failure();
    out.push_back(*s);
  }
  return out;
}

ProbeSession::ProbeSession(const ModelInterface &model) {
  for (const DimAssignment &a : probeAssignments(model.graphHasPast))
    evaluators.emplace_back(model, a);
}

FailureOr<SmallVector<SmallVector<int64_t>>> ProbeSession::shapes(Value v) {
  SmallVector<SmallVector<int64_t>> out;
  for (Evaluator &e : evaluators) {
    auto s = e.shape(v);
    if (failed(s))
      return failure();
    out.push_back(*s);
  }
  return out;
}

FailureOr<RankedTensorType> ProbeSession::type(Value v) {
  auto s = shapes(v);
  if (failed(s))
    return failure();
  return symbolicType(*s, getElementTypeOrSelf(v.getType()));
}

std::optional<double> raising::probeScalar(const ModelInterface &model,
                                           Value v) {
  if (!isShapeDetermined(v))
    return std::nullopt;
  auto values = probe(model, v);
  if (failed(values))
    return std::nullopt;
  std::optional<double> result;
  for (const HostTensor &t : *values) {
    if (t.getNumElements() != 1 || (!reference::isFloatKind(t.getKind()) &&
                                    t.getKind() != reference::ElementKind::I64))
      return std::nullopt;
    double x = t.getDouble(0);
    if (result && *result != x)
      return std::nullopt;
    result = x;
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Numeric checks and IR helpers
//===----------------------------------------------------------------------===//

HostTensor RandomTensors::uniformFor(Value value, ArrayRef<int64_t> shape,
                                     float lo, float hi) {
  HostTensor t = uniform(shape, lo, hi);
  std::optional<reference::ElementKind> kind =
      reference::getElementKind(getElementTypeOrSelf(value.getType()));
  return kind && *kind != reference::ElementKind::F32 &&
                 reference::isFloatKind(*kind)
             ? t.castTo(*kind)
             : t;
}

HostTensor RandomTensors::uniform(ArrayRef<int64_t> shape, float lo, float hi) {
  HostTensor t(reference::ElementKind::F32, shape);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float &x : t.getMutableValues<float>())
    x = dist(rng);
  return t;
}

double raising::relativeError(const HostTensor &actual,
                              const HostTensor &expected) {
  if (actual.getShape() != expected.getShape())
    return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (int64_t i = 0; i < actual.getNumElements(); ++i) {
    double a = actual.getDouble(i), e = expected.getDouble(i);
    if (std::isnan(a) || std::isnan(e))
      return std::numeric_limits<double>::infinity();
    worst = std::max(worst, std::abs(a - e) / (1.0 + std::abs(e)));
  }
  return worst;
}

double raising::matchTolerance(Type elementType, double floor,
                               double epsilons) {
  auto f = dyn_cast<FloatType>(elementType);
  if (!f || f.getFPMantissaWidth() >= 24)
    return floor;
  // 2^-(mantissa bits): the type's epsilon (f16 2^-10, bf16 2^-7).
  double epsilon = std::ldexp(1.0, 1 - int(f.getFPMantissaWidth()));
  return std::max(floor, epsilons * epsilon);
}

Value raising::getOrCreateWeight(OpBuilder &b, func::FuncOp func,
                                 Value constant,
                                 std::optional<ArrayRef<int64_t>> shape) {
  ElementsAttr value = getConstant(constant);
  assert(value && "not a constant");
  if (shape && ArrayRef<int64_t>(cast<ShapedType>(value.getType()).getShape()) !=
                   *shape) {
    auto type = RankedTensorType::get(
        *shape, cast<ShapedType>(value.getType()).getElementType());
    if (auto dense = dyn_cast<DenseElementsAttr>(value))
      value = dense.reshape(type);
    else if (auto res = dyn_cast<DenseResourceElementsAttr>(value))
      value = DenseResourceElementsAttr::get(type, res.getRawHandle());
  }
  std::string name = "weight";
  if (auto w = constant.getDefiningOp<llm::WeightOp>())
    name = w.getName().str();
  else if (auto attr = constant.getDefiningOp()->getAttrOfType<StringAttr>(
               "onnx.name"))
    name = attr.str();
  else if (auto loc = dyn_cast<NameLoc>(constant.getLoc()))
    name = loc.getName().str();
  // The raising creates every llm.weight at the top of the function, so they
  // are a prefix of its block: scanning the whole block for each weight made
  // the raising quadratic in depth.
  for (Operation &op : func.getBody().front()) {
    auto w = dyn_cast<llm::WeightOp>(op);
    if (!w)
      break;
    if (w.getValue() == value && w.getName() == name)
      return w.getResult();
  }
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&func.getBody().front());
  return llm::WeightOp::create(b, constant.getLoc(), value.getType(),
                               b.getStringAttr(name), value)
      .getResult();
}

Value raising::castTo(OpBuilder &b, Location loc, Value v, Type type) {
  if (v.getType() == type)
    return v;
  return tensor::CastOp::create(b, loc, type, v).getResult();
}

RankedTensorType raising::symbolicType(ArrayRef<SmallVector<int64_t>> shapes,
                                       Type elementType) {
  SmallVector<int64_t> dims(shapes.front());
  for (const auto &s : shapes.drop_front())
    for (auto [d, x] : llvm::zip(dims, s))
      if (d != x)
        d = ShapedType::kDynamic;
  return RankedTensorType::get(dims, elementType);
}
