//===- RaiseNorms.cpp - LayerNorm and RMSNorm subgraphs -> llm ------------===//

#include "RaiseContext.h"
#include "RaiseSweeps.h"

#include "flightllm/Conversion/ONNXToLLM/Passes.h"

namespace flightllm {
#define GEN_PASS_DEF_RAISENORMSPASS
#include "flightllm/Conversion/ONNXToLLM/Passes.h.inc"
} // namespace flightllm

using namespace mlir;
using namespace flightllm;
using namespace flightllm::raising;
namespace onnxir = flightllm::onnxir;

/// Ops a normalization subgraph is made of (HF casts to f32 and back).
static bool isNormOp(Operation *op) {
  return isa<onnxir::ReduceMeanOp, onnxir::SubOp, onnxir::PowOp, onnxir::MulOp,
             onnxir::AddOp, onnxir::SqrtOp, onnxir::DivOp,
             onnxir::ReciprocalOp, onnxir::CastOp, onnxir::IdentityOp>(op);
}

namespace {
struct NormRaiser {
  func::FuncOp func;
  const ModelInterface &model;
  OpBuilder b;

  NormRaiser(func::FuncOp func, const ModelInterface &model)
      : func(func), model(model), b(func.getContext()) {}

  /// Over the last axis only.
  static bool reducesLastAxis(onnxir::ReduceMeanOp r, int64_t rank) {
    if (!r.getAxes() || r.getAxes()->size() != 1 || !r.getKeepdims())
      return false;
    int64_t axis = (*r.getAxes())[0];
    return axis == -1 || axis == rank - 1;
  }

  bool raiseLayerNormalization(onnxir::LayerNormalizationOp ln) {
    if ((ln.getMean() && !ln.getMean().use_empty()) ||
        (ln.getInvStdDev() && !ln.getInvStdDev().use_empty()))
      return false;
    if (!isRaised(ln.getX()) && !isa<BlockArgument>(ln.getX()))
      return false;
    auto xType = probedType(model, ln.getX());
    if (failed(xType) || (int64_t(ln.getAxis()) != -1 &&
                          int64_t(ln.getAxis()) != xType->getRank() - 1))
      return false;
    int64_t d = xType->getShape().back();
    if (!getConstant(ln.getScale()) || (ln.getB() && !getConstant(ln.getB())))
      return false;
    b.setInsertionPoint(ln);
    Value x = castTo(b, ln.getLoc(), ln.getX(), *xType);
    Value gamma = getOrCreateWeight(b, func, ln.getScale(), ArrayRef<int64_t>{d});
    Value beta = ln.getB() ? getOrCreateWeight(b, func, ln.getB(),
                                               ArrayRef<int64_t>{d})
                           : Value();
    auto op = llm::LayerNormOp::create(b, ln.getLoc(), *xType, x, gamma, beta,
                                       b.getF32FloatAttr(ln.getEpsilon().convertToFloat()));
    ln.getY().replaceAllUsesWith(op.getResult());
    return true;
  }

  /// The variance of a LayerNorm: mean((x - anchor)^2).
  static bool isOwnVariance(Operation *op, onnxir::ReduceMeanOp anchor) {
    auto r = dyn_cast<onnxir::ReduceMeanOp>(op);
    Operation *square = r ? r.getData().getDefiningOp() : nullptr;
    if (!square || !isa<onnxir::PowOp, onnxir::MulOp>(square))
      return false;
    auto sub = square->getOperand(0).getDefiningOp<onnxir::SubOp>();
    return sub && sub.getB() == anchor.getReduced();
  }

  bool raiseAround(onnxir::ReduceMeanOp anchor) {
    // Another norm's ReduceMean downstream ends this one, and so does a sum
    // of two computed values (a post-norm block's residual add: a norm only
    // adds constants).
    auto region = collectRegion(anchor, /*maxOps=*/32, isNormOp,
                                [&](Operation *op) {
                                  if (auto add = dyn_cast<onnxir::AddOp>(op))
                                    return !isShapeDetermined(add.getA()) &&
                                           !isShapeDetermined(add.getB());
                                  return isa<onnxir::ReduceMeanOp>(op) &&
                                         !isOwnVariance(op, anchor);
                                });
    if (failed(region) || region->inputs.size() != 1)
      return false;
    Value x = region->inputs.front();
    if (!isRaised(x) && !isa<BlockArgument>(x))
      return false;
    auto xType = probedType(model, x);
    if (failed(xType) || !reducesLastAxis(anchor, xType->getRank()))
      return false;
    // The norm's output is the region's output when the next consumer is
    // already raised; otherwise (another norm follows directly) the latest
    // value that still checks out as a norm.
    SmallVector<Value> outputs;
    if (region->outputs.size() == 1)
      outputs.push_back(region->outputs.front());
    for (Operation *op : llvm::reverse(region->ops))
      if (op != anchor && op->getNumResults() == 1 &&
          !llvm::is_contained(outputs, op->getResult(0)) && outputs.size() < 8)
        outputs.push_back(op->getResult(0));
    llvm::sort(outputs.begin() + (region->outputs.size() == 1), outputs.end(),
               [](Value a, Value b) {
                 return b.getDefiningOp()->isBeforeInBlock(a.getDefiningOp());
               });
    for (Value y : outputs)
      if (tryOutput(x, *xType, y))
        return true;
    return false;
  }

  /// Checks whether `y` is a norm of `x` and raises it if so.
  bool tryOutput(Value x, RankedTensorType xType, Value y) {
    int64_t d = xType.getShape().back();
    if (ShapedType::isDynamic(d))
      return false;
    Subgraph region = backwardRegion(y);
    if (region.inputs.size() != 1 || region.inputs.front() != x)
      return false;

    Value gamma, beta;
    SmallVector<double> epsilons;
    for (Operation *op : region.ops)
      for (Value operand : op->getOperands()) {
        ElementsAttr c = getConstant(operand);
        if (!c)
          continue;
        auto t = cast<ShapedType>(c.getType());
        if (t.getNumElements() == d && t.getShape().back() == d) {
          if (isa<onnxir::MulOp>(op) && !gamma)
            gamma = operand;
          else if (isa<onnxir::AddOp>(op) && !beta)
            beta = operand;
        } else if (t.getNumElements() == 1) {
          if (std::optional<double> v = probeScalar(model, operand);
              v && *v > 0 && *v < 1e-2)
            epsilons.push_back(*v);
        }
      }
    if (!gamma)
      return false;
    if (epsilons.empty())
      epsilons.push_back(1e-5);

    b.setInsertionPoint(y.getDefiningOp());
    Location loc = y.getLoc();
    Value xc = castTo(b, loc, x, xType);
    Value g = getOrCreateWeight(b, func, gamma, ArrayRef<int64_t>{d});
    Value bt = beta ? getOrCreateWeight(b, func, beta, ArrayRef<int64_t>{d})
                    : Value();
    SmallVector<Candidate> candidates;
    for (double eps : epsilons) {
      FloatAttr e = b.getF32FloatAttr(float(eps));
      if (bt) {
        auto op = llm::LayerNormOp::create(b, loc, xType, xc, g, bt, e);
        candidates.push_back({{op.getResult()}, {op}});
      }
      auto ln = llm::LayerNormOp::create(b, loc, xType, xc, g, Value(), e);
      candidates.push_back({{ln.getResult()}, {ln}});
      auto rms = llm::RMSNormOp::create(b, loc, xType, xc, g, e);
      candidates.push_back({{rms.getResult()}, {rms}});
    }
    std::optional<unsigned> chosen =
        pickMatchingCandidate(model, {x}, {y}, candidates, /*inputScale=*/2.f);
    if (!chosen) {
      commitCandidate({}, candidates, unsigned(candidates.size()));
      return false;
    }
    commitCandidate({y}, candidates, *chosen);
    return true;
  }
};
} // namespace

unsigned raising::raiseNorms(func::FuncOp func, const ModelInterface &model) {
  NormRaiser raiser(func, model);
  unsigned changed = 0;
  SmallVector<Operation *> anchors;
  func.walk([&](Operation *op) {
    if (isa<onnxir::LayerNormalizationOp, onnxir::ReduceMeanOp>(op))
      anchors.push_back(op);
  });
  llvm::DenseSet<Operation *> dead;
  for (Operation *op : anchors) {
    if (auto ln = dyn_cast<onnxir::LayerNormalizationOp>(op)) {
      changed += raiser.raiseLayerNormalization(ln);
      continue;
    }
    // The second ReduceMean of a LayerNorm is visited after the first one
    // already raised the whole subgraph; it is dead by then.
    if (op->use_empty() || op->getResult(0).use_empty())
      continue;
    changed += raiser.raiseAround(cast<onnxir::ReduceMeanOp>(op));
  }
  return changed;
}

namespace {
struct RaiseNormsPass : public flightllm::impl::RaiseNormsPassBase<RaiseNormsPass> {
  void runOnOperation() override {
    if (failed(runOneSweep(getOperation(), raiseNorms)))
      signalPassFailure();
  }
};
} // namespace
