//===- RaiseElementwise.cpp - Residual adds and products ------------------===//

#include "RaiseContext.h"
#include "RaiseSweeps.h"

#include "flightllm/Conversion/ONNXToLLM/Passes.h"

namespace flightllm {
#define GEN_PASS_DEF_RAISEELEMENTWISEPASS
#include "flightllm/Conversion/ONNXToLLM/Passes.h.inc"
} // namespace flightllm

using namespace mlir;
using namespace flightllm;
using namespace flightllm::raising;
namespace onnxir = flightllm::onnxir;

/// `v` when it is raised, looking through casts.
static bool raisedOperand(Value v) {
  while (auto c = v.getDefiningOp<tensor::CastOp>())
    v = c.getSource();
  return isRaised(v);
}

unsigned raising::raiseElementwise(func::FuncOp func,
                                   const ModelInterface &model) {
  OpBuilder b(func.getContext());
  unsigned changed = 0;
  SmallVector<Operation *> ops;
  func.walk([&](Operation *op) {
    if (isa<onnxir::AddOp, onnxir::MulOp>(op))
      ops.push_back(op);
  });
  for (Operation *op : ops) {
    Value lhs = op->getOperand(0), rhs = op->getOperand(1);
    if (!raisedOperand(lhs) || !raisedOperand(rhs))
      continue;
    auto lt = probedType(model, lhs), rt = probedType(model, rhs);
    auto ot = probedType(model, op->getResult(0));
    if (failed(lt) || failed(rt) || failed(ot) || *lt != *rt || *lt != *ot)
      continue; // Broadcasting adds are not residuals.
    b.setInsertionPoint(op);
    Value l = castTo(b, op->getLoc(), lhs, *lt);
    Value r = castTo(b, op->getLoc(), rhs, *lt);
    Value result;
    if (isa<onnxir::AddOp>(op)) {
      result = llm::AddOp::create(b, op->getLoc(), l, r);
    } else if (auto silu = l.getDefiningOp<llm::SiluOp>();
               silu && l.hasOneUse()) {
      result = llm::SwiGLUOp::create(b, op->getLoc(), silu.getInput(), r);
    } else if (auto silu = r.getDefiningOp<llm::SiluOp>();
               silu && r.hasOneUse()) {
      result = llm::SwiGLUOp::create(b, op->getLoc(), silu.getInput(), l);
    } else {
      result = llm::MulOp::create(b, op->getLoc(), l, r);
    }
    op->getResult(0).replaceAllUsesWith(result);
    op->erase();
    ++changed;
  }
  return changed;
}

namespace {
struct RaiseElementwisePass
    : public flightllm::impl::RaiseElementwisePassBase<RaiseElementwisePass> {
  void runOnOperation() override {
    if (failed(runOneSweep(getOperation(), raiseElementwise)))
      signalPassFailure();
  }
};
} // namespace
