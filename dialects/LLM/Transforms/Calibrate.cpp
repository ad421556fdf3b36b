//===- Calibrate.cpp - int8 activation scales from calibration runs -------===//

#include "flightllm/Dialect/LLM/Transforms/Passes.h"
#include "flightllm/Interpreter/Session.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>

namespace flightllm::llm {
#define GEN_PASS_DEF_CALIBRATEPASS
#include "flightllm/Dialect/LLM/Transforms/Passes.h.inc"
} // namespace flightllm::llm

using namespace mlir;
using namespace flightllm;

namespace {

struct CalibratePass
    : public flightllm::llm::impl::CalibratePassBase<CalibratePass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::vector<int64_t> ids;
    if (!textFile.empty()) {
      auto buffer = llvm::MemoryBuffer::getFile(textFile, /*IsText=*/false);
      if (!buffer) {
        module.emitError() << "cannot read calibration text '" << textFile
                           << "': " << buffer.getError().message();
        return signalPassFailure();
      }
      for (unsigned char c : (*buffer)->getBuffer())
        ids.push_back(c);
    }
    ids.insert(ids.end(), tokens.begin(), tokens.end());
    if (ids.size() > maxTokens)
      ids.resize(maxTokens);
    if (ids.empty() || window == 0) {
      module.emitError("calibration needs tokens (text-file= or tokens=) and "
                       "a positive window");
      return signalPassFailure();
    }

    auto session = interpreter::Session::create(module);
    if (failed(session))
      return signalPassFailure();
    if (!textFile.empty() && (*session)->getVocabSize() != 256) {
      module.emitError() << "text-file calibration needs a byte-level model "
                            "(vocabulary 256); this one has "
                         << (*session)->getVocabSize()
                         << " tokens, use tokens=";
      return signalPassFailure();
    }
    unsigned span = window;
    if (auto limit = (*session)->getMaxPositions())
      span = std::min<unsigned>(span, unsigned(*limit));

    // The inputs whose range sets a scale.
    llvm::DenseMap<Value, float> maxAbs;
    module.walk([&](Operation *op) {
      if (isa<llm::LinearOp, llm::LogitsOp>(op))
        maxAbs[op->getOperand(0)] = 0;
    });
    (*session)->getInterpreter().setObserver(
        [&](Value v, const interpreter::HostTensor &t) {
          auto it = maxAbs.find(v);
          if (it == maxAbs.end() || t.getKind() != reference::ElementKind::F32)
            return;
          for (float x : t.getValues<float>())
            it->second = std::max(it->second, std::abs(x));
        });
    for (size_t start = 0; start < ids.size(); start += span) {
      (*session)->reset();
      size_t count = std::min<size_t>(span, ids.size() - start);
      if (failed((*session)->prefill(
              ArrayRef<int64_t>(ids).slice(start, count))))
        return signalPassFailure();
    }
    (*session)->getInterpreter().setObserver(nullptr);

    Builder b(&getContext());
    module.walk([&](Operation *op) {
      auto linear = dyn_cast<llm::LinearOp>(op);
      auto logits = dyn_cast<llm::LogitsOp>(op);
      if (!linear && !logits)
        return;
      bool quantized = linear ? bool(linear.getWeightScalesAttr())
                              : bool(logits.getWeightScalesAttr());
      if (!quantized)
        return;
      float m = maxAbs.lookup(op->getOperand(0));
      FloatAttr scale = b.getF32FloatAttr(m > 0 ? m / 127.0f : 1.0f);
      if (linear)
        linear.setInputScaleAttr(scale);
      else
        logits.setInputScaleAttr(scale);
    });
  }
};

} // namespace
