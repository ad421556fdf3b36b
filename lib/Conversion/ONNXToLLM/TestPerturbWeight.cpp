//===- TestPerturbWeight.cpp - A deliberately wrong raising, for tests ----===//

#include "flightllm/Conversion/ONNXToLLM/Passes.h"
#include "flightllm/Reference/HostTensor.h"

namespace flightllm {
#define GEN_PASS_DEF_TESTPERTURBWEIGHTPASS
#include "flightllm/Conversion/ONNXToLLM/Passes.h.inc"
} // namespace flightllm

using namespace mlir;
using namespace flightllm;

namespace {
struct TestPerturbWeightPass
    : public flightllm::impl::TestPerturbWeightPassBase<TestPerturbWeightPass> {
  using Base::Base;
  void runOnOperation() override {
    llm::WeightOp target;
    getOperation().walk([&](llm::WeightOp w) {
      if (!target && w.getName() == weightName)
        target = w;
    });
    if (!target) {
      getOperation().emitError() << "no llm.weight named '" << weightName << "'";
      return signalPassFailure();
    }
    auto t = reference::HostTensor::fromElementsAttr(target.getValue());
    if (!t) {
      target.emitError() << llvm::toString(t.takeError());
      return signalPassFailure();
    }
    reference::HostTensor f32 = t->castTo(reference::ElementKind::F32);
    if (f32.getNumElements())
      f32.getMutableValues<float>()[0] *= float(factor);
    target.setValueAttr(
        f32.castTo(t->getKind()).toDenseElementsAttr(&getContext()));
  }
};
} // namespace
