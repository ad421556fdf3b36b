//===- Calibration.cpp - Running llm programs on calibration tokens -------===//

#include "flightllm/Dialect/LLM/Transforms/Calibration.h"
#include "flightllm/Support/Progress.h"

#include "flightllm/Dialect/LLM/LLMDialect.h"
#include "flightllm/Interpreter/Session.h"

#include "llvm/Support/MemoryBuffer.h"

#include <cmath>

using namespace mlir;
using namespace flightllm;
using reference::HostTensor;

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

} // namespace

LogicalResult
llm::runCalibration(ModuleOp module, const CalibrationSource &source,
                    std::function<void(Value, const HostTensor &)> observe) {
  std::vector<int64_t> ids;
  if (!source.textFile.empty()) {
    auto buffer =
        llvm::MemoryBuffer::getFile(source.textFile, /*IsText=*/false);
    if (!buffer)
      return module.emitError()
             << "cannot read calibration text '" << source.textFile
             << "': " << buffer.getError().message();
    for (unsigned char c : (*buffer)->getBuffer())
      ids.push_back(c);
  }
  size_t textTokens = ids.size();
  ids.insert(ids.end(), source.tokens.begin(), source.tokens.end());
  if (source.window == 0 || source.maxTokens == 0)
    return module.emitError("calibration needs tokens (text-file= or "
                            "tokens=) and a positive window");

  auto session = interpreter::Session::create(module);
  if (failed(session))
    return failure();
  if (!source.textFile.empty() && (*session)->getVocabSize() != 256)
    return module.emitError()
           << "text-file calibration needs a byte-level model (vocabulary "
              "256); this one has "
           << (*session)->getVocabSize() << " tokens, use tokens=";
  if (ids.empty() && source.textFile.empty())
    ids = builtinTokens((*session)->getVocabSize());
  if (ids.size() > source.maxTokens)
    ids.resize(source.maxTokens);
  unsigned span = source.window;
  if (auto limit = (*session)->getMaxPositions())
    span = std::min<unsigned>(span, unsigned(*limit));
  // A text shorter than one window never shows the program the later
  // positions of a window: their KV-cache ranges would be guesses (an
  // empty text would leave every scale at 1).
  if (!source.textFile.empty() &&
      std::min<size_t>(textTokens, source.maxTokens) < span)
    return module.emitError()
           << "calibration text '" << source.textFile << "' has " << textTokens
           << " bytes"
           << (textTokens > source.maxTokens
                   ? " (" + std::to_string(source.maxTokens) + " used)"
                   : std::string())
           << "; calibration needs at least " << span << " (one full window of "
           << span << " tokens)";

  (*session)->getInterpreter().setObserver(std::move(observe));
  ProgressBar bar("calibrating", (ids.size() + span - 1) / span);
  for (size_t start = 0; start < ids.size(); start += span, bar.advance()) {
    (*session)->reset();
    size_t count = std::min<size_t>(span, ids.size() - start);
    if (failed((*session)->prefill(ArrayRef<int64_t>(ids).slice(start, count))))
      return failure();
  }
  (*session)->getInterpreter().setObserver(nullptr);
  return success();
}

void llm::accumulateChannelMax(const HostTensor &t,
                               std::vector<float> &channelMax) {
  size_t width = size_t(t.getShape().back());
  if (channelMax.size() != width)
    channelMax.assign(width, 0.0f);
  ArrayRef<float> values = t.getValues<float>();
  for (size_t i = 0; i < values.size(); ++i)
    channelMax[i % width] =
        std::max(channelMax[i % width], std::abs(values[i]));
}

FailureOr<llvm::DenseMap<Value, llm::InputStatistics>>
llm::collectInputStatistics(ModuleOp module, const CalibrationSource &source,
                            bool secondMoment) {
  llvm::DenseMap<Value, InputStatistics> stats;
  module.walk([&](Operation *op) {
    if (!isa<LinearOp, LogitsOp>(op))
      return;
    Value x = op->getOperand(0);
    int64_t k = cast<ShapedType>(x.getType()).getShape().back();
    if (ShapedType::isDynamic(k))
      return;
    InputStatistics &s = stats[x];
    s.channels = k;
    s.sumSquares.assign(size_t(k), 0.0);
    if (secondMoment)
      s.secondMoment.assign(size_t(k * k), 0.0);
  });
  std::vector<double> row;
  LogicalResult ran =
      runCalibration(module, source, [&](Value v, const HostTensor &t) {
        auto it = stats.find(v);
        if (it == stats.end() || t.getKind() != reference::ElementKind::F32 ||
            t.getRank() < 1 || t.getShape().back() != it->second.channels)
          return;
        InputStatistics &s = it->second;
        size_t k = size_t(s.channels);
        ArrayRef<float> values = t.getValues<float>();
        row.resize(k);
        for (size_t r = 0; r + k <= values.size(); r += k) {
          for (size_t i = 0; i < k; ++i) {
            row[i] = values[r + i];
            s.sumSquares[i] += row[i] * row[i];
          }
          if (!s.secondMoment.empty())
            for (size_t i = 0; i < k; ++i) {
              double xi = row[i];
              if (xi == 0)
                continue;
              double *out = s.secondMoment.data() + i * k;
              for (size_t j = 0; j < k; ++j)
                out[j] += xi * row[j];
            }
          ++s.rows;
        }
      });
  if (failed(ran))
    return failure();
  return stats;
}
