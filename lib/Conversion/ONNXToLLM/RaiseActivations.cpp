//===- RaiseActivations.cpp - Activation subgraphs -> llm -----------------===//

#include "RaiseContext.h"
#include "RaiseSweeps.h"

#include "flightllm/Conversion/ONNXToLLM/Passes.h"

namespace flightllm {
#define GEN_PASS_DEF_RAISEACTIVATIONSPASS
#include "flightllm/Conversion/ONNXToLLM/Passes.h.inc"
} // namespace flightllm

using namespace mlir;
using namespace flightllm;
using namespace flightllm::raising;
namespace onnxir = flightllm::onnxir;

static bool isElementwise(Operation *op) {
  return isa<onnxir::AddOp, onnxir::SubOp, onnxir::MulOp, onnxir::DivOp,
             onnxir::PowOp, onnxir::SqrtOp, onnxir::ErfOp, onnxir::TanhOp,
             onnxir::SigmoidOp, onnxir::ReluOp, onnxir::NegOp, onnxir::ExpOp,
             onnxir::ReciprocalOp, onnxir::CastOp, onnxir::IdentityOp>(op);
}

unsigned raising::raiseActivations(func::FuncOp func,
                                   const ModelInterface &model) {
  OpBuilder b(func.getContext());
  unsigned changed = 0;
  SmallVector<Operation *> anchors;
  func.walk([&](Operation *op) {
    if (isa<onnxir::ErfOp, onnxir::TanhOp, onnxir::SigmoidOp, onnxir::ReluOp>(op))
      anchors.push_back(op);
  });
  for (Operation *anchor : anchors) {
    if (anchor->getResult(0).use_empty())
      continue;
    auto region = collectRegion(anchor, /*maxOps=*/24, isElementwise);
    if (failed(region) || region->outputs.size() != 1 ||
        region->inputs.empty() || region->inputs.size() > 2 ||
        !llvm::all_of(region->inputs, isRaised))
      continue;
    Value y = region->outputs.front();
    SmallVector<Value> inputs(region->inputs.begin(), region->inputs.end());
    auto type = probedType(model, inputs.front());
    if (failed(type))
      continue;
    if (inputs.size() == 2) {
      auto other = probedType(model, inputs.back());
      if (failed(other) || *other != *type)
        continue;
    }
    b.setInsertionPoint(y.getDefiningOp());
    Location loc = y.getLoc();
    SmallVector<Value> xs;
    for (Value v : inputs)
      xs.push_back(castTo(b, loc, v, *type));
    SmallVector<Candidate> candidates;
    auto add = [&](Operation *op) {
      candidates.push_back({{op->getResult(0)}, {op}});
    };
    if (xs.size() == 1) {
      add(llm::GeluOp::create(b, loc, xs[0]));
      add(llm::GeluTanhOp::create(b, loc, xs[0]));
      add(llm::SiluOp::create(b, loc, xs[0]));
      add(llm::ReluOp::create(b, loc, xs[0]));
    } else {
      add(llm::SwiGLUOp::create(b, loc, xs[0], xs[1]));
      add(llm::SwiGLUOp::create(b, loc, xs[1], xs[0]));
    }
    // Inputs over [-4, 4] tell the GELU approximations apart.
    std::optional<unsigned> chosen =
        pickMatchingCandidate(model, inputs, {y}, candidates, /*inputScale=*/4.f);
    commitCandidate(chosen ? ArrayRef<Value>{y} : ArrayRef<Value>{}, candidates,
                    chosen.value_or(candidates.size()));
    changed += chosen.has_value();
  }
  return changed;
}

namespace {
struct RaiseActivationsPass
    : public flightllm::impl::RaiseActivationsPassBase<RaiseActivationsPass> {
  void runOnOperation() override {
    if (failed(runOneSweep(getOperation(), raiseActivations)))
      signalPassFailure();
  }
};
} // namespace
