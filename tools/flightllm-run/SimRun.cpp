//===- SimRun.cpp - flightllm-run on a compiled .flb, in the simulator ----===//
//
// `flightllm-run MODEL.flb --engine=sim`: the embedded runtime
// (runtime/include/flightllm/runtime/runtime.h) drives the simulator's HAL
// (lib/Simulator); latencies are simulated cycles at the target clock.
//
//===----------------------------------------------------------------------===//

#include "SimRun.h"
#include "flightllm/Driver/SimSession.h"
#include "flightllm/Driver/TextCodec.h"

#include "flightllm/Binary/Format.h"
#include "flightllm/Reference/HostTensor.h"
#include "flightllm/Reference/Npy.h"
#include "flightllm/Simulator/Simulator.h"
#include "flightllm/Target/TargetDescription.h"
#include "flightllm/runtime/runtime.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>

using namespace flightllm;

namespace {

int fail(const llvm::Twine &message) {
  llvm::errs() << "flightllm-run: error: " << message << "\n";
  return 1;
}

/// -log softmax(row)[target], in double.
double negativeLogLikelihood(const std::vector<float> &row, int64_t target) {
  float maxLogit = *std::max_element(row.begin(), row.end());
  double sum = 0;
  for (float v : row)
    sum += std::exp(double(v) - maxLogit);
  return std::log(sum) + maxLogit - row[target];
}

} // namespace

int flightllm::runBinaryOnSimulator(const SimRunConfig &config,
                                    llvm::raw_ostream &os) {
  auto file = llvm::MemoryBuffer::getFile(config.binaryPath, /*IsText=*/false,
                                          /*RequiresNullTerminator=*/false);
  if (!file)
    return fail("cannot read '" + config.binaryPath +
                "': " + file.getError().message());
  sim::Options options;
  options.functional = !config.timingOnly;
  options.trace = config.trace;
  // Debugging aid (docs/simulator.md): program order, no overlap.
  options.sequential = std::getenv("FLIGHTLLM_SIM_SEQUENTIAL") != nullptr;
  llvm::Expected<std::unique_ptr<SimSession>> opened = SimSession::open(
      llvm::ArrayRef<uint8_t>(
          reinterpret_cast<const uint8_t *>((*file)->getBufferStart()),
          (*file)->getBufferSize()),
      config.binaryPath, config.target, options);
  if (!opened)
    return fail(llvm::toString(opened.takeError()));
  SimSession &session = **opened;
  flight_runtime *rt = session.runtime();
  const target::TargetDescription *target = &session.target();
  auto runtimeError = [&](const char *what, int status) {
    return fail(llvm::toString(session.runtimeError(what, status)));
  };
  int status = FLIGHT_OK;

  const flight_model_info &info = session.info();
  static const TextCodec bytesOnly; // no tokenizer, no EOS ids
  const TextCodec &codec = config.codec ? *config.codec : bytesOnly;
  int64_t vocab = info.vocab_size;
  bool byteLevel = vocab == 256;

  if (config.perplexityText) {
    if (!byteLevel)
      return fail("--perplexity reads bytes as tokens and needs a byte-level "
                  "model (vocabulary 256)");
    llvm::StringRef text = *config.perplexityText;
    // The reference engine's windows: min(max context, 256) bytes, each
    // window predicting its bytes 1..n-1 from an empty cache.
    size_t window = std::min<size_t>(info.max_context, 256);
    std::vector<float> logits(vocab);
    double nll = 0;
    int64_t tokens = 0, windows = 0, steps = 0;
    using Clock = std::chrono::steady_clock;
    Clock::time_point hostStart = Clock::now();
    for (size_t start = 0; window >= 2 && start + 1 < text.size();
         start += window) {
      size_t count = std::min(window, text.size() - start);
      if (count < 2)
        break;
      llvm::StringRef bytes = text.substr(start, count);
      if ((status = flight_reset(rt)) != FLIGHT_OK)
        return runtimeError("reset failed", status);
      int32_t first = (unsigned char)bytes[0];
      if ((status = flight_prefill(rt, &first, 1, logits.data())) != FLIGHT_OK)
        return runtimeError("prefill failed", status);
      for (size_t i = 1; i < count; ++i) {
        if (i > 1) {
          status = flight_decode_step(rt, (unsigned char)bytes[i - 1],
                                      logits.data());
          if (status != FLIGHT_OK)
            return runtimeError("decode step failed", status);
          ++steps;
        }
        nll += negativeLogLikelihood(logits, (unsigned char)bytes[i]);
        ++tokens;
      }
      ++windows;
    }
    if (!tokens)
      return fail("the perplexity text needs at least two bytes");
    double ppl = std::exp(nll / double(tokens));
    session.simulator().flushTrace();
    const SimSession::Cycles &observer = session.cycles();
    double hostSeconds =
        std::chrono::duration<double>(Clock::now() - hostStart).count();
    double hz = target->clockMHz * 1e6;
    if (config.json) {
      llvm::json::Object o{
          {"perplexity", ppl},
          {"tokens", tokens},
          {"windows", windows},
          {"engine", "sim"},
          {"target", target->name},
          {"prefill_cycles", int64_t(observer.prefill)},
          {"decode_steps", steps},
          {"decode_cycles", int64_t(observer.decode)},
          {"simulated_ms",
           (observer.prefill + observer.decode) / hz * 1e3},
          {"host_seconds", hostSeconds}};
      os << llvm::json::Value(std::move(o)) << "\n";
    } else {
      os << llvm::format(
          "perplexity %.4f over %lld predicted tokens (%lld windows)\n", ppl,
          (long long)tokens, (long long)windows);
      os << llvm::format("simulator: %lld prefills and %lld decode steps, "
                         "%.3f simulated ms at %g MHz, %.2f host s\n",
                         (long long)windows, (long long)steps,
                         (observer.prefill + observer.decode) /
                             hz * 1e3,
                         target->clockMHz, hostSeconds);
    }
    return 0;
  }

  std::vector<int64_t> prompt;
  if (config.tokens) {
    prompt = *config.tokens;
  } else {
    llvm::Expected<std::vector<int64_t>> ids =
        codec.encodePrompt(*config.prompt, vocab);
    if (!ids)
      return fail(llvm::toString(ids.takeError()));
    prompt = std::move(*ids);
    if (prompt.empty())
      return fail("the prompt is empty");
  }
  llvm::Expected<SimGeneration> generation =
      session.generate(prompt, config.maxNewTokens, codec);
  if (!generation)
    return fail(llvm::toString(generation.takeError()));
  const SimGeneration &gen = *generation;
  const std::vector<int64_t> &generated = gen.tokens;
  SimFigures f = session.figures(gen);
  sim::Metrics pm = f.prefill, dm = f.decode;
  std::optional<std::string> decoded = codec.decode(generated, vocab);
  bool haveText = decoded.has_value() && !config.timingOnly;
  std::string text = decoded.value_or("");

  if (config.json) {
    llvm::json::OStream json(os);
    json.object([&] {
      json.attribute("engine", "sim");
      json.attribute("target", target->name);
      json.attribute("timing_only", config.timingOnly);
      json.attribute("tokens_meaningful", !config.timingOnly);
      json.attributeArray("prompt_tokens", [&] {
        for (int64_t token : prompt)
          json.value(token);
      });
      json.attributeArray("generated_tokens", [&] {
        for (int64_t token : generated)
          json.value(token);
      });
      if (haveText)
        json.attribute("text", llvm::json::isUTF8(text)
                                   ? text
                                   : llvm::json::fixUTF8(text));
      if (!codec.endOfSequenceIds().empty())
        json.attribute("stopped_at_eos", gen.stoppedAtEOS);
      session.writeMetrics(gen, json);
    });
    os << "\n";
  } else {
    if (config.timingOnly)
      os << "timing only: no functional execution, the tokens below are a "
            "fixed token, not model output\n";
    os << "generated " << generated.size() << " tokens";
    if (gen.stoppedAtEOS)
      os << " (stopped at end-of-sequence token " << generated.back() << ")";
    os << ":";
    if (haveText) {
      os << "\n" << text << "\n";
    } else {
      for (int64_t token : generated)
        os << " " << token;
      os << "\n";
    }
    os << "target: " << target->name << " at "
       << llvm::format("%g", target->clockMHz) << " MHz (simulated)\n";
    os << llvm::format("prefill: %zu tokens in %.3f ms (%llu cycles), HBM "
                       "bandwidth %.1f%%, MAC utilization %.1f%%, %.4f J\n",
                       prompt.size(), f.prefillMs,
                       (unsigned long long)gen.prefillCycles,
                       100 * pm.hbmBandwidthUtilization,
                       100 * pm.macUtilization, pm.energyJoules);
    os << llvm::format("decode: %lld steps, %.3f ms/token, %.1f tokens/s, HBM "
                       "bandwidth %.1f%% (%.1f GB/s), MAC utilization %.1f%%, "
                       "%.4f J/token (%.1f W)\n",
                       (long long)gen.decodeSteps, f.decodeMsPerToken,
                       f.tokensPerS, 100 * dm.hbmBandwidthUtilization,
                       dm.hbmGBPerS, 100 * dm.macUtilization,
                       f.decodeEnergyPerToken, dm.averageWatts);
    os << llvm::format("simulator: %llu instructions in %.2f host s\n",
                       (unsigned long long)f.simulatedInstructions,
                       gen.hostSeconds);
  }
  if (config.dumpLogits) {
    auto tensor =
        reference::HostTensor::get<float>({gen.steps, vocab}, gen.logits);
    if (llvm::Error e = reference::writeNpy(*config.dumpLogits, tensor))
      return fail(llvm::toString(std::move(e)));
  }
  return 0;
}
