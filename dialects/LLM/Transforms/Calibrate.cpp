//===- Calibrate.cpp - int8 activation scales from calibration runs -------===//

#include "flightllm/Dialect/LLM/Transforms/Passes.h"
#include "flightllm/Support/Progress.h"
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

/// The built-in calibration text for byte-level models (vocabulary 256),
/// used when neither text-file= nor tokens= is given: English prose, a
/// license-like paragraph and some C, so every common byte class occurs.
constexpr const char kBuiltinText[] =
    "The quick brown fox jumps over the lazy dog. A model is calibrated on a "
    "short, fixed text so that compiling it twice gives the same scales.\n"
    "Licensed under the Apache License, Version 2.0 (the \"License\"); you "
    "may not use this file except in compliance with the License. Unless "
    "required by applicable law or agreed to in writing, software "
    "distributed under the License is distributed on an \"AS IS\" BASIS, "
    "WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND.\n"
    "#include <stdio.h>\n\nint main(int argc, char **argv) {\n"
    "  for (int i = 0; i < argc; ++i)\n    printf(\"%d: %s\\n\", i, "
    "argv[i]);\n  return 0;\n}\n"
    "Numbers 0123456789, punctuation !?;:'\"()[]{}<>/\\|@#$%^&*-+=_~`, and "
    "CAPITALS: THE END.\n";

/// The built-in calibration tokens: the text above for byte-level models,
/// otherwise 512 ids from a fixed linear congruential sequence.
std::vector<int64_t> builtinTokens(int64_t vocab) {
  std::vector<int64_t> ids;
  if (vocab == 256) {
    for (const char *c = kBuiltinText; *c; ++c)
      ids.push_back(static_cast<unsigned char>(*c));
    return ids;
  }
  uint32_t x = 12345;
  for (int i = 0; i < 512; ++i) {
    x = x * 1103515245u + 12345u;
    ids.push_back(int64_t((x >> 8) % uint32_t(vocab)));
  }
  return ids;
}

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
    size_t textTokens = ids.size();
    ids.insert(ids.end(), tokens.begin(), tokens.end());
    if (window == 0 || maxTokens == 0) {
      module.emitError("calibration needs tokens (text-file= or tokens=) and "
                       "a positive window");
      return signalPassFailure();
    }

    if (activations != "dynamic" && activations != "static") {
      module.emitError() << "activations must be 'dynamic' or 'static', got '"
                         << activations << "'";
      return signalPassFailure();
    }
    bool staticActivations = activations == "static";

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
    if (ids.empty() && textFile.empty())
      ids = builtinTokens((*session)->getVocabSize());
    if (ids.size() > maxTokens)
      ids.resize(maxTokens);
    unsigned span = window;
    if (auto limit = (*session)->getMaxPositions())
      span = std::min<unsigned>(span, unsigned(*limit));
    // A text shorter than one window never shows the program the later
    // positions of a window: their KV-cache ranges would be guesses (an
    // empty text would leave every scale at 1).
    if (!textFile.empty() && std::min<size_t>(textTokens, maxTokens) < span) {
      module.emitError() << "calibration text '" << textFile << "' has "
                         << textTokens << " bytes"
                         << (textTokens > maxTokens
                                 ? " (" + std::to_string(maxTokens) + " used)"
                                 : std::string())
                         << "; calibration needs at least " << span
                         << " (one full window of " << span << " tokens)";
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
    (*session)->getInterpreter().setObserver(
        [&](Value v, const interpreter::HostTensor &t) {
          if (t.getKind() != reference::ElementKind::F32 || t.getRank() < 1)
            return;
          if (auto it = maxAbs.find(v); it != maxAbs.end())
            for (float x : t.getValues<float>())
              it->second = std::max(it->second, std::abs(x));
          if (auto it = channelMax.find(v); it != channelMax.end()) {
            size_t width = size_t(t.getShape().back());
            std::vector<float> &m = it->second;
            if (m.size() != width)
              m.assign(width, 0.0f);
            ArrayRef<float> values = t.getValues<float>();
            for (size_t i = 0; i < values.size(); ++i)
              m[i % width] = std::max(m[i % width], std::abs(values[i]));
          }
        });
    ProgressBar bar("calibrating", (ids.size() + span - 1) / span);
    for (size_t start = 0; start < ids.size(); start += span, bar.advance()) {
      (*session)->reset();
      size_t count = std::min<size_t>(span, ids.size() - start);
      if (failed((*session)->prefill(
              ArrayRef<int64_t>(ids).slice(start, count))))
        return signalPassFailure();
    }
    (*session)->getInterpreter().setObserver(nullptr);

    Builder b(&getContext());
    auto kvScales = [&](Value v, int64_t width) {
      std::vector<float> m = channelMax.lookup(v);
      m.resize(size_t(width), 0.0f);
      for (float &x : m)
        x = x > 0 ? x / 127.0f : 1.0f;
      return b.getDenseF32ArrayAttr(m);
    };
    module.walk([&](llm::AttentionOp op) {
      int64_t width = cast<ShapedType>(op.getKey().getType()).getDimSize(2);
      if (ShapedType::isDynamic(width))
        return;
      op.setKScalesAttr(kvScales(op.getKey(), width));
      op.setVScalesAttr(kvScales(op.getValue(), width));
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
