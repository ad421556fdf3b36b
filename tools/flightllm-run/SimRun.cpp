//===- SimRun.cpp - flightllm-run on a compiled .flb, in the simulator ----===//
//
// `flightllm-run MODEL.flb --engine=sim`: the embedded runtime
// (runtime/include/flightllm/runtime/runtime.h) drives the simulator's HAL
// (lib/Simulator); latencies are simulated cycles at the target clock.
//
//===----------------------------------------------------------------------===//

#include "SimRun.h"
#include "TextCodec.h"

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

int64_t argmax(const std::vector<float> &row) {
  int64_t best = 0;
  float bestValue = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < row.size(); ++i)
    if (row[i] > bestValue) {
      bestValue = row[i];
      best = int64_t(i);
    }
  return best;
}

std::string hex(uint64_t v) {
  return llvm::formatv("{0:x16}", v).str();
}

/// The target: --target, else the preset whose fingerprint is the binary's.
llvm::Expected<target::TargetDescription> pickTarget(const std::string &name,
                                                     uint64_t fingerprint) {
  if (!name.empty())
    return target::loadTarget(name);
  std::string tried;
  for (llvm::StringRef preset : target::presetNames()) {
    llvm::Expected<target::TargetDescription> t = target::loadTarget(preset);
    if (!t)
      return t.takeError();
    if (t->fingerprint() == fingerprint)
      return t;
    tried += " " + preset.str() + " (0x" + hex(t->fingerprint()) + ")";
  }
  return llvm::createStringError(
      "the binary's target fingerprint 0x" + hex(fingerprint) +
      " matches no preset:" + tried + "; give --target=FILE.json");
}

/// -log softmax(row)[target], in double.
double negativeLogLikelihood(const std::vector<float> &row, int64_t target) {
  float maxLogit = *std::max_element(row.begin(), row.end());
  double sum = 0;
  for (float v : row)
    sum += std::exp(double(v) - maxLogit);
  return std::log(sum) + maxLogit - row[target];
}

struct RunObserver {
  uint64_t prefillCycles = 0, decodeCycles = 0;
  static void observe(void *user, uint32_t stage, uint32_t, uint64_t cycles) {
    auto *self = static_cast<RunObserver *>(user);
    (stage == 0 ? self->prefillCycles : self->decodeCycles) += cycles;
  }
};

} // namespace

int flightllm::runBinaryOnSimulator(const SimRunConfig &config,
                                    llvm::raw_ostream &os) {
  auto file = llvm::MemoryBuffer::getFile(config.binaryPath, /*IsText=*/false,
                                          /*RequiresNullTerminator=*/false);
  if (!file)
    return fail("cannot read '" + config.binaryPath +
                "': " + file.getError().message());
  const auto *flb = reinterpret_cast<const uint8_t *>((*file)->getBufferStart());
  size_t flbBytes = (*file)->getBufferSize();
  if (flbBytes < binary::kHeaderSize)
    return fail("'" + config.binaryPath + "' is too short for a .flb header");
  uint64_t fingerprint = binary::FileHeader::decode(flb).targetFingerprint;

  llvm::Expected<target::TargetDescription> target =
      pickTarget(config.target, fingerprint);
  if (!target)
    return fail(llvm::toString(target.takeError()));

  sim::Options options;
  options.functional = !config.timingOnly;
  options.trace = config.trace;
  // Debugging aid (docs/simulator.md): program order, no overlap.
  options.sequential = std::getenv("FLIGHTLLM_SIM_SEQUENTIAL") != nullptr;
  sim::Simulator simulator(*target, options);
  flight_hal hal = simulator.hal();

  std::vector<uint8_t> arena(flight_runtime_arena_bytes());
  flight_runtime *rt = nullptr;
  auto runtimeError = [&](const char *what, int status) {
    std::string message = std::string(what) + ": " +
                          flight_status_name(status) + ": " +
                          (rt ? flight_last_error(rt) : "no runtime");
    if (simulator.fault() != sim::Fault::None)
      message += "\n  simulator fault (" +
                 std::string(sim::faultName(simulator.fault())) +
                 "): " + simulator.faultMessage();
    if (!simulator.halError().empty())
      message += "\n  HAL: " + simulator.halError();
    return fail(message);
  };
  int status = flight_open(&rt, arena.data(), arena.size(), flb, flbBytes,
                           &hal, target->fingerprint(),
                           config.timingOnly ? FLIGHT_OPEN_SKIP_WEIGHTS : 0);
  if (status != FLIGHT_OK) {
    int exitCode = runtimeError("cannot open the binary", status);
    if (rt)
      flight_close(rt);
    return exitCode;
  }
  struct Closer {
    flight_runtime *rt;
    ~Closer() { flight_close(rt); }
  } closer{rt};

  flight_model_info info;
  flight_model(rt, &info);
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
    RunObserver observer;
    flight_set_observer(rt, &RunObserver::observe, &observer);
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
    simulator.flushTrace();
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
          {"prefill_cycles", int64_t(observer.prefillCycles)},
          {"decode_steps", steps},
          {"decode_cycles", int64_t(observer.decodeCycles)},
          {"simulated_ms",
           (observer.prefillCycles + observer.decodeCycles) / hz * 1e3},
          {"host_seconds", hostSeconds}};
      os << llvm::json::Value(std::move(o)) << "\n";
    } else {
      os << llvm::format(
          "perplexity %.4f over %lld predicted tokens (%lld windows)\n", ppl,
          (long long)tokens, (long long)windows);
      os << llvm::format("simulator: %lld prefills and %lld decode steps, "
                         "%.3f simulated ms at %g MHz, %.2f host s\n",
                         (long long)windows, (long long)steps,
                         (observer.prefillCycles + observer.decodeCycles) /
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
  for (int64_t token : prompt)
    if (token < 0 || token >= vocab)
      return fail("token " + llvm::Twine(token) +
                  " is outside the model's vocabulary [0, " +
                  llvm::Twine(vocab) + ")");
  int64_t needed = int64_t(prompt.size()) +
                   std::max<int64_t>(int64_t(config.maxNewTokens) - 1, 0);
  if (needed > int64_t(info.max_context))
    return fail("context overflow: " + llvm::Twine(prompt.size()) +
                " prompt tokens and " + llvm::Twine(config.maxNewTokens) +
                " new ones need " + llvm::Twine(needed) +
                " positions, the binary has " + llvm::Twine(info.max_context));

  RunObserver observer;
  flight_set_observer(rt, &RunObserver::observe, &observer);
  using Clock = std::chrono::steady_clock;
  Clock::time_point hostStart = Clock::now();

  std::vector<int32_t> prompt32(prompt.begin(), prompt.end());
  std::vector<float> logits(vocab);
  std::vector<float> allLogits;
  std::vector<int64_t> generated;
  bool stoppedAtEOS = false;
  int64_t steps = 0, decodeSteps = 0;
  // In timing-only mode the logits are zeros: decode feeds a fixed token
  // (the last prompt token) instead of the argmax.
  int64_t fixedToken = prompt.back();
  auto record = [&] {
    allLogits.insert(allLogits.end(), logits.begin(), logits.end());
    ++steps;
    if (int64_t(generated.size()) < config.maxNewTokens) {
      generated.push_back(config.timingOnly ? fixedToken : argmax(logits));
      stoppedAtEOS = !config.timingOnly &&
                     codec.isEndOfSequence(generated.back());
    }
  };

  status = flight_prefill(rt, prompt32.data(), uint32_t(prompt32.size()),
                          logits.data());
  if (status != FLIGHT_OK)
    return runtimeError("prefill failed", status);
  record();
  sim::Counters prefillCounters = simulator.total();
  simulator.resetCounters();
  while (int64_t(generated.size()) < config.maxNewTokens && !stoppedAtEOS) {
    status = flight_decode_step(rt, int32_t(generated.back()), logits.data());
    if (status != FLIGHT_OK)
      return runtimeError("decode step failed", status);
    record();
    ++decodeSteps;
  }
  sim::Counters decodeCounters = simulator.total();
  double hostSeconds =
      std::chrono::duration<double>(Clock::now() - hostStart).count();
  simulator.flushTrace();

  double hz = target->clockMHz * 1e6;
  sim::Metrics pm = simulator.metrics(prefillCounters);
  sim::Metrics dm = simulator.metrics(decodeCounters);
  double prefillMs = observer.prefillCycles / hz * 1e3;
  double decodeMs = observer.decodeCycles / hz * 1e3;
  double perToken = decodeSteps ? decodeMs / decodeSteps : 0;
  double tokensPerS = perToken > 0 ? 1000 / perToken : 0;
  double energyPerToken = decodeSteps ? dm.energyJoules / decodeSteps : 0;
  uint64_t simulatedInstructions = prefillCounters.totalInstructions() +
                                   decodeCounters.totalInstructions();
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
        json.attribute("stopped_at_eos", stoppedAtEOS);
      json.attribute("clock_mhz", target->clockMHz);
      json.attribute("prefill_cycles", int64_t(observer.prefillCycles));
      json.attribute("prefill_ms", prefillMs);
      json.attribute("decode_steps", decodeSteps);
      json.attribute("decode_cycles", int64_t(observer.decodeCycles));
      json.attribute("decode_ms_per_token", perToken);
      json.attribute("tokens_per_s", tokensPerS);
      json.attribute("prefill_hbm_bandwidth_utilization",
                     pm.hbmBandwidthUtilization);
      json.attribute("prefill_mac_utilization", pm.macUtilization);
      json.attribute("prefill_energy_j", pm.energyJoules);
      json.attribute("decode_hbm_bandwidth_utilization",
                     dm.hbmBandwidthUtilization);
      json.attribute("decode_hbm_gb_per_s", dm.hbmGBPerS);
      json.attribute("decode_mac_utilization", dm.macUtilization);
      json.attribute("decode_energy_j_per_token", energyPerToken);
      json.attribute("decode_average_w", dm.averageWatts);
      json.attribute("simulated_instructions", int64_t(simulatedInstructions));
      json.attribute("host_seconds", hostSeconds);
    });
    os << "\n";
  } else {
    if (config.timingOnly)
      os << "timing only: no functional execution, the tokens below are a "
            "fixed token, not model output\n";
    os << "generated " << generated.size() << " tokens";
    if (stoppedAtEOS)
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
                       prompt.size(), prefillMs,
                       (unsigned long long)observer.prefillCycles,
                       100 * pm.hbmBandwidthUtilization,
                       100 * pm.macUtilization, pm.energyJoules);
    os << llvm::format("decode: %lld steps, %.3f ms/token, %.1f tokens/s, HBM "
                       "bandwidth %.1f%% (%.1f GB/s), MAC utilization %.1f%%, "
                       "%.4f J/token (%.1f W)\n",
                       (long long)decodeSteps, perToken, tokensPerS,
                       100 * dm.hbmBandwidthUtilization, dm.hbmGBPerS,
                       100 * dm.macUtilization, energyPerToken,
                       dm.averageWatts);
    os << llvm::format("simulator: %llu instructions in %.2f host s\n",
                       (unsigned long long)simulatedInstructions, hostSeconds);
  }
  if (config.dumpLogits) {
    auto tensor = reference::HostTensor::get<float>({steps, vocab}, allLogits);
    if (llvm::Error e = reference::writeNpy(*config.dumpLogits, tensor))
      return fail(llvm::toString(std::move(e)));
  }
  return 0;
}
