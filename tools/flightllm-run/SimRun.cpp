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

/// --users: NorthPole's metrics, with their definitions.
int serveUsers(SimSession &session, const SimRunConfig &config,
               const TextCodec &codec, llvm::raw_ostream &os) {
  int64_t vocab = session.info().vocab_size;
  std::vector<std::vector<int64_t>> prompts;
  std::vector<std::vector<int64_t>> encoded;
  for (const std::string &line : config.promptLines) {
    llvm::Expected<std::vector<int64_t>> ids = codec.encodePrompt(line, vocab);
    if (!ids)
      return fail(llvm::toString(ids.takeError()));
    if (ids->empty())
      return fail("a prompt of --prompt-file encodes to no tokens");
    encoded.push_back(std::move(*ids));
  }
  for (unsigned u = 0; u < config.users; ++u) {
    if (!encoded.empty())
      prompts.push_back(encoded[u % encoded.size()]);
    else if (!config.tokenLists.empty())
      prompts.push_back(config.tokenLists[u % config.tokenLists.size()]);
    else {
      std::vector<int64_t> p(config.promptLength);
      for (unsigned i = 0; i < config.promptLength; ++i)
        p[i] = (7 * int64_t(i) + 13 * int64_t(u) + 3) % vocab;
      prompts.push_back(std::move(p));
    }
  }
  llvm::Expected<ServeResult> served =
      session.serve(prompts, config.maxNewTokens, codec,
                    config.dumpLogits != nullptr);
  if (!served)
    return fail(llvm::toString(served.takeError()));
  const ServeResult &r = *served;
  if (config.dumpLogits) {
    // Every user's rows in user order (user_tokens says how many each).
    std::vector<float> rows;
    for (const ServeResult::User &u : r.users)
      rows.insert(rows.end(), u.logits.begin(), u.logits.end());
    auto tensor = reference::HostTensor::get<float>(
        {int64_t(rows.size()) / vocab, vocab}, rows);
    if (llvm::Error e = reference::writeNpy(*config.dumpLogits, tensor))
      return fail(llvm::toString(std::move(e)));
  }
  const target::TargetDescription &t = session.target();
  if (config.json) {
    llvm::json::OStream json(os);
    json.object([&] {
      json.attribute("engine", "sim");
      json.attribute("target", t.name);
      json.attribute("timing_only", config.timingOnly);
      json.attribute("cards", int64_t(r.cards));
      json.attribute("users", int64_t(r.users.size()));
      json.attribute("kv_slots", int64_t(r.slots));
      json.attribute("decode_batch", int64_t(r.batch));
      json.attribute("micro_batches", int64_t(r.microBatches));
      json.attribute("generated_tokens", r.generatedTokens);
      json.attribute("seconds", r.seconds);
      json.attribute("system_tokens_per_s", r.systemTokensPerS());
      json.attribute("per_card_tokens_per_s", r.perCardTokensPerS());
      json.attribute("ms_per_token_per_user", r.msPerTokenPerUser());
      json.attribute("energy_j", r.energyJoules);
      json.attribute("joules_per_token", r.joulesPerToken());
      json.attribute("watts", r.watts());
      json.attribute("tokens_per_s_per_w", r.tokensPerSPerWatt());
      json.attribute("link_seconds", r.linkSeconds);
      json.attributeArray("card_busy_seconds", [&] {
        for (double s : r.cardBusySeconds)
          json.value(s);
      });
      json.attributeArray("user_tokens", [&] {
        for (const ServeResult::User &u : r.users)
          json.array([&] {
            for (int64_t token : u.tokens)
              json.value(token);
          });
      });
      json.attribute("host_seconds", r.hostSeconds);
    });
    os << "\n";
    return 0;
  }
  if (config.timingOnly)
    os << "timing only: no functional execution, the tokens are a fixed "
          "token, not model output\n";
  os << "served " << r.users.size() << " users on " << r.cards << " card"
     << (r.cards == 1 ? "" : "s") << " of " << t.name << " ("
     << r.slots << " KV-cache slots"
     << (r.batch > 1 ? ", " + std::to_string(r.batch) + " per decode run" : "")
     << "): " << r.generatedTokens
     << " tokens generated in "
     << llvm::format("%.3f", r.seconds * 1e3) << " simulated ms\n";
  os << llvm::format(
      "system throughput:          %.1f tokens/s (generated tokens / total "
      "time, prefill included)\n",
      r.systemTokensPerS());
  os << llvm::format("per-card throughput:        %.1f tokens/s\n",
                     r.perCardTokensPerS());
  os << llvm::format(
      "latency per output token:   %.3f ms per user (average time between "
      "a user's output tokens)\n",
      r.msPerTokenPerUser());
  os << llvm::format("energy per token:           %.4f J (%.1f W for %u "
                     "cards, static power of every card included)\n",
                     r.joulesPerToken(), r.watts(), r.cards);
  os << llvm::format("energy efficiency:          %.2f tokens/s/W\n",
                     r.tokensPerSPerWatt());
  os << "card busy:";
  for (size_t c = 0; c < r.cardBusySeconds.size(); ++c)
    os << llvm::format(" %.1f%%", r.seconds > 0
                                      ? 100 * r.cardBusySeconds[c] / r.seconds
                                      : 0.0);
  os << llvm::format("; card-to-card transfers %.3f ms; %.2f host s\n",
                     r.linkSeconds * 1e3, r.hostSeconds);
  if (!config.timingOnly)
    for (size_t u = 0; u < r.users.size(); ++u) {
      os << "user " << u << ":";
      std::optional<std::string> text = codec.decode(r.users[u].tokens, vocab);
      if (text)
        os << " " << llvm::json::Value(llvm::json::isUTF8(*text)
                                           ? *text
                                           : llvm::json::fixUTF8(*text));
      else
        for (int64_t token : r.users[u].tokens)
          os << " " << token;
      os << "\n";
    }
  return 0;
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

  if (config.users > 0)
    return serveUsers(session, config, codec, os);

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
      if ((status = session.reset()) != FLIGHT_OK)
        return runtimeError("reset failed", status);
      int32_t first = (unsigned char)bytes[0];
      if ((status = session.prefill(&first, 1, logits.data())) != FLIGHT_OK)
        return runtimeError("prefill failed", status);
      for (size_t i = 1; i < count; ++i) {
        if (i > 1) {
          status = session.decodeStep((unsigned char)bytes[i - 1],
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
    session.flushTrace();
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
    if (session.cards() > 1) {
      const flight_pipeline_info &p = session.pipelineInfo();
      os << "pipeline: " << p.cards << " cards (layers";
      for (uint32_t c = 0; c < p.cards; ++c)
        os << (c ? ", " : " ") << p.first_layer[c] << "-"
           << p.first_layer[c] + p.layer_count[c] - 1;
      double hz = target->clockMHz * 1e6;
      os << llvm::format("), card-to-card transfers %.3f ms in prefill, "
                         "%.4f ms per decode step\n",
                         gen.prefillLinkCycles / hz * 1e3,
                         gen.decodeSteps ? gen.decodeLinkCycles / hz * 1e3 /
                                               gen.decodeSteps
                                         : 0.0);
    }
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
