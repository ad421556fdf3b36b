//===- NormalizeGraph.cpp - Remove data-preserving plumbing ---------------===//
//
// Exporters route values through ops that change nothing: an Identity that
// shares a deduplicated initializer, a Cast to the type a value already has,
// a view to the shape it already has, and a flattening of the token rows to
// [B*S, D] around row-wise computation that is undone afterwards. Removing
// them first lets the raising see the model's data flow. Shapes are decided
// by probing, as everywhere in the raising.
//===----------------------------------------------------------------------===//

#include "RaiseContext.h"
#include "RaiseSweeps.h"

#include "flightllm/Conversion/ONNXToLLM/Passes.h"

#include "llvm/ADT/SetVector.h"

namespace flightllm {
#define GEN_PASS_DEF_NORMALIZEGRAPHPASS
#include "flightllm/Conversion/ONNXToLLM/Passes.h.inc"
} // namespace flightllm

using namespace mlir;
using namespace flightllm;
using namespace flightllm::raising;
namespace onnxir = flightllm::onnxir;

namespace {

bool sameElementType(Value a, Value b) {
  return getElementTypeOrSelf(a.getType()) == getElementTypeOrSelf(b.getType());
}

/// Identity, same-type Cast and shape-preserving Reshape: the result is the
/// input. Returns how many were bypassed.
unsigned bypassNoOps(func::FuncOp func, ProbeSession &probes) {
  unsigned changed = 0;
  func.walk([&](Operation *op) {
    Value in, out;
    if (auto id = dyn_cast<onnxir::IdentityOp>(op)) {
      in = id.getInput();
      out = id.getOutput();
    } else if (auto c = dyn_cast<onnxir::CastOp>(op)) {
      in = c.getInput();
      out = c.getOutput();
      if (!sameElementType(in, out))
        return;
    } else if (auto r = dyn_cast<onnxir::ReshapeOp>(op)) {
      in = r.getData();
      out = r.getReshaped();
      auto before = probes.shapes(in), after = probes.shapes(out);
      if (failed(before) || failed(after) || *before != *after)
        return;
    } else {
      return;
    }
    out.replaceAllUsesWith(in);
    ++changed;
  });
  return changed;
}

//===----------------------------------------------------------------------===//
// If on shapes
//===----------------------------------------------------------------------===//

/// torch exports `squeeze(d)` of a dimension it cannot prove to be 1 as an
/// If on `Shape(x)[d] == 1`. When the condition is computed from shapes and
/// is the same at every probe (and at larger sizes), the branch it takes is
/// the graph. An If whose branch changes with the sizes is refused.
LogicalResult inlineShapeIfs(func::FuncOp func, const ModelInterface &model) {
  SmallVector<onnxir::IfOp> ifs;
  func.walk([&](onnxir::IfOp op) { ifs.push_back(op); });
  SmallVector<DimAssignment> sizes(model.probes());
  sizes.push_back(model.graphHasPast ? DimAssignment{3, 17, 41}
                                     : DimAssignment{3, 41, 0});
  for (onnxir::IfOp op : ifs) {
    if (!isShapeDetermined(op.getCond()))
      continue; // Left for the finalization to report.
    std::optional<bool> taken;
    for (const DimAssignment &a : sizes) {
      Evaluator e(model, a);
      auto cond = e.eval(op.getCond());
      if (failed(cond) || cond->getNumElements() != 1)
        return op.emitError() << "cannot evaluate the condition of this If "
                                 "from the model's sizes";
      bool value = cond->getDouble(0) != 0;
      if (taken && *taken != value)
        return op.emitError()
               << "the branch this If takes depends on the sizes (batch, new "
                  "tokens, past length): only a branch fixed by the shapes "
                  "can be raised";
      taken = value;
    }
    Region &region = *taken ? op.getThenBranch() : op.getElseBranch();
    Block &block = region.front();
    auto yield = cast<onnxir::YieldOp>(block.getTerminator());
    for (auto [result, value] : llvm::zip(op.getResults(), yield.getOutputs()))
      result.replaceAllUsesWith(value);
    yield.erase();
    op->getBlock()->getOperations().splice(op->getIterator(),
                                           block.getOperations());
    op.erase();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Token-row flattening
//===----------------------------------------------------------------------===//

/// Row-wise ops: each output row depends only on the same row of the inputs
/// (given per-feature constant operands).
bool isRowWise(Operation *op) {
  if (isa<onnxir::AddOp, onnxir::SubOp, onnxir::MulOp, onnxir::DivOp,
          onnxir::PowOp, onnxir::SqrtOp, onnxir::ReciprocalOp, onnxir::NegOp,
          onnxir::ExpOp, onnxir::ErfOp, onnxir::TanhOp, onnxir::SigmoidOp,
          onnxir::ReluOp, onnxir::CastOp, onnxir::IdentityOp, onnxir::MatMulOp,
          onnxir::GemmOp>(op))
    return true;
  if (auto r = dyn_cast<onnxir::ReduceMeanOp>(op))
    return r.getKeepdims() && r.getAxes() && r.getAxes()->size() == 1 &&
           ((*r.getAxes())[0] == -1 || (*r.getAxes())[0] == 1);
  if (auto ln = dyn_cast<onnxir::LayerNormalizationOp>(op))
    return int64_t(ln.getAxis()) == -1 || int64_t(ln.getAxis()) == 1;
  return false;
}

/// An operand from outside the flattened rows that broadcasts over rows:
/// a constant or shape-determined value of at most one feature axis, or the
/// weight of a MatMul/Gemm.
bool isRowInvariant(Operation *user, unsigned operandIndex, Value v) {
  if (!isShapeDetermined(v))
    return false;
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (isa<onnxir::MatMulOp, onnxir::GemmOp>(user) && operandIndex == 1)
    return type && type.getRank() == 2;
  if (isa<onnxir::ReshapeOp, onnxir::ReduceMeanOp>(user) && operandIndex >= 1)
    return true;
  return type && type.getRank() <= 1;
}

struct RowFlattening {
  onnxir::ReshapeOp flatten;
  llvm::SetVector<Operation *> ops;           // row-wise ops in between
  SmallVector<onnxir::ReshapeOp> unflattens;  // back to [lead..., N]
};

/// `r` flattens [lead..., D] to [prod(lead), D] at every probe, and the
/// rows are restored by Reshapes after row-wise ops only.
std::optional<RowFlattening> matchFlattening(onnxir::ReshapeOp r,
                                             ProbeSession &probes) {
  auto in = probes.shapes(r.getData()), out = probes.shapes(r.getReshaped());
  if (failed(in) || failed(out))
    return std::nullopt;
  for (auto [i, o] : llvm::zip(*in, *out)) {
    if (i.size() < 3 || o.size() != 2 || o[1] != i.back() ||
        o[0] != reference::getNumElements(ArrayRef<int64_t>(i).drop_back()))
      return std::nullopt;
  }
  RowFlattening f{r, {}, {}};
  llvm::DenseSet<Value> flat{r.getReshaped()};
  SmallVector<Value> work{r.getReshaped()};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      if (auto back = dyn_cast<onnxir::ReshapeOp>(user);
          back && use.getOperandNumber() == 0) {
        auto shapes = probes.shapes(back.getReshaped());
        auto rows = probes.shapes(v);
        if (failed(shapes) || failed(rows))
          return std::nullopt;
        for (auto [lead, s, row] : llvm::zip(*in, *shapes, *rows)) {
          SmallVector<int64_t> want(lead);
          want.back() = row.back();
          if (s != want)
            return std::nullopt;
        }
        if (!llvm::is_contained(f.unflattens, back))
          f.unflattens.push_back(back);
        continue;
      }
      if (!isRowWise(user) || user->getNumResults() != 1 ||
          (isa<onnxir::MatMulOp, onnxir::GemmOp>(user) &&
           use.getOperandNumber() != 0))
        return std::nullopt;
      if (f.ops.insert(user)) {
        flat.insert(user->getResult(0));
        work.push_back(user->getResult(0));
      }
    }
  }
  // Everything else the row-wise ops read must be the same for every row.
  for (Operation *op : f.ops)
    for (OpOperand &operand : op->getOpOperands())
      if (!flat.contains(operand.get()) &&
          !isRowInvariant(op, operand.getOperandNumber(), operand.get()))
        return std::nullopt;
  if (f.unflattens.empty())
    return std::nullopt;
  return f;
}

/// Applies the row-wise ops to the unflattened rows.
void unflatten(RowFlattening &f) {
  OpBuilder b(f.flatten.getContext());
  f.flatten.getReshaped().replaceAllUsesWith(f.flatten.getData());
  for (Operation *op : f.ops) {
    // The ops see one more leading axis; their shapes are probed from now on.
    Type element = getElementTypeOrSelf(op->getResult(0).getType());
    op->getResult(0).setType(UnrankedTensorType::get(element));
    if (auto r = dyn_cast<onnxir::ReduceMeanOp>(op))
      r.setAxesAttr(b.getDenseI64ArrayAttr({-1}));
    if (auto ln = dyn_cast<onnxir::LayerNormalizationOp>(op))
      ln.setAxisAttr(b.getI64IntegerAttr(-1));
    if (auto g = dyn_cast<onnxir::GemmOp>(op)) {
      // Gemm is 2-D only: a MatMul (of the transposed weight) plus the bias.
      b.setInsertionPoint(g);
      Type type = g.getY().getType();
      Value w = g.getB();
      if (g.getTransB())
        w = onnxir::TransposeOp::create(
                b, g.getLoc(), UnrankedTensorType::get(element), w,
                b.getDenseI64ArrayAttr({1, 0}))
                .getResult();
      Value y = onnxir::MatMulOp::create(b, g.getLoc(), type, g.getA(), w);
      if (g.getC())
        y = onnxir::AddOp::create(b, g.getLoc(), type, y, g.getC());
      g.getY().replaceAllUsesWith(y);
    }
  }
  for (onnxir::ReshapeOp back : f.unflattens)
    back.getReshaped().replaceAllUsesWith(back.getData());
}

/// Gemm folds alpha, beta and transA into its product; only the plain form
/// is moved to MatMul.
bool isPlainGemm(Operation *op) {
  auto g = dyn_cast<onnxir::GemmOp>(op);
  return !g || (!g.getTransA() && g.getAlpha().convertToFloat() == 1.0f &&
                g.getBeta().convertToFloat() == 1.0f);
}

unsigned unflattenRows(func::FuncOp func, const ModelInterface &model) {
  SmallVector<onnxir::ReshapeOp> reshapes;
  func.walk([&](onnxir::ReshapeOp r) { reshapes.push_back(r); });
  unsigned changed = 0;
  // One set of probes for the whole walk (a fresh one per Reshape made the
  // pass quadratic in depth): a rewrite changes the shapes of the row-wise
  // ops it moves only, and the Reshapes back leave everything after them as
  // it was.
  ProbeSession probes(model);
  for (onnxir::ReshapeOp r : reshapes) {
    if (r.getReshaped().use_empty())
      continue;
    std::optional<RowFlattening> f = matchFlattening(r, probes);
    if (!f || !llvm::all_of(f->ops, isPlainGemm))
      continue;
    unflatten(*f);
    for (Operation *op : f->ops)
      probes.forget(op->getResult(0));
    ++changed;
  }
  return changed;
}

struct NormalizeGraphPass
    : public flightllm::impl::NormalizeGraphPassBase<NormalizeGraphPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    auto model = ModelInterface::get(func);
    if (failed(model))
      return signalPassFailure();
    if (failed(inlineShapeIfs(func, *model)))
      return signalPassFailure();
    {
      ProbeSession probes(*model);
      bypassNoOps(func, probes);
    }
    eraseDeadOps(func);
    unflattenRows(func, *model);
    eraseDeadOps(func);
    {
      ProbeSession probes(*model);
      bypassNoOps(func, probes);
    }
    eraseDeadOps(func);
    refreshFunctionType(func);
  }
};

} // namespace
