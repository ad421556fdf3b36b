//===- Calibrate.cpp - int8 activation scales from calibration runs -------===//

#include "flightllm/Dialect/LLM/Transforms/Calibration.h"
#include "flightllm/Dialect/LLM/Transforms/Passes.h"
#include "flightllm/Interpreter/Interpreter.h"

#include "mlir/IR/Builders.h"

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
    if (activations != "dynamic" && activations != "static") {
      module.emitError() << "activations must be 'dynamic' or 'static', got '"
                         << activations << "'";
      return signalPassFailure();
    }
    bool staticActivations = activations == "static";
    if (kvBits != 8 && kvBits != 4) {
      module.emitError() << "kv-bits must be 8 or 4, got " << kvBits;
      return signalPassFailure();
    }

    // The inputs whose range sets a scale.
    llvm::DenseMap<Value, float> maxAbs;
    // Per-channel (last dimension) ranges of the attention keys and values.
    llvm::DenseMap<Value, std::vector<float>> channelMax;
    module.walk([&](Operation *op) {
      if (isa<llm::LinearOp, llm::LogitsOp>(op))
        maxAbs[op->getOperand(0)] = 0;
      if (auto attention = dyn_cast<llm::AttentionOp>(op)) {
        channelMax[attention.getKey()];
        channelMax[attention.getValue()];
      }
    });
    auto source = llm::CalibrationSource::of(textFile, tokens, maxTokens, window);
    LogicalResult ran = llm::runCalibration(
        module, source, [&](Value v, const interpreter::HostTensor &t) {
          if (t.getKind() != reference::ElementKind::F32 || t.getRank() < 1)
            return;
          if (auto it = maxAbs.find(v); it != maxAbs.end())
            for (float x : t.getValues<float>())
              it->second = std::max(it->second, std::abs(x));
          if (auto it = channelMax.find(v); it != channelMax.end())
            llm::accumulateChannelMax(t, it->second);
        });
    if (failed(ran))
      return signalPassFailure();

    Builder b(&getContext());
    auto kvScales = [&](Value v, int64_t width) {
      std::vector<float> m = channelMax.lookup(v);
      m.resize(size_t(width), 0.0f);
      // The largest code: 127 (int8) or 7 (4-bit keys; 4-bit values take
      // per-token scales at run time and keep these only for the record).
      float top = kvBits == 4 ? 7.0f : 127.0f;
      for (float &x : m)
        x = x > 0 ? x / top : 1.0f;
      return b.getDenseF32ArrayAttr(m);
    };
    module.walk([&](llm::AttentionOp op) {
      int64_t width = cast<ShapedType>(op.getKey().getType()).getDimSize(2);
      if (ShapedType::isDynamic(width))
        return;
      op.setKScalesAttr(kvScales(op.getKey(), width));
      op.setVScalesAttr(kvScales(op.getValue(), width));
      if (kvBits != 8)
        op.setKvBits(kvBits);
    });
    module.walk([&](Operation *op) {
      auto linear = dyn_cast<llm::LinearOp>(op);
      auto logits = dyn_cast<llm::LogitsOp>(op);
      if (!linear && !logits)
        return;
      bool quantized = linear ? bool(linear.getWeightScalesAttr())
                              : bool(logits.getWeightScalesAttr());
      if (!quantized)
        return;
      if (!staticActivations) {
        op->removeAttr("input_scale");
        return;
      }
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
