//===- SimSession.cpp - A compiled .flb on the simulator ------------------===//

#include "flightllm/Driver/SimSession.h"
#include "flightllm/Driver/TextCodec.h"

#include "flightllm/Binary/Format.h"
#include "flightllm/ISA/ISA.h"
#include "flightllm/Support/Progress.h"

#include "llvm/Support/FormatVariadic.h"

#include <chrono>
#include <limits>

using namespace flightllm;

int64_t flightllm::argmaxToken(llvm::ArrayRef<float> row) {
  int64_t best = 0;
  float bestValue = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < row.size(); ++i)
    if (row[i] > bestValue) {
      bestValue = row[i];
      best = int64_t(i);
    }
  return best;
}

static std::string hex(uint64_t v) { return llvm::formatv("{0:x16}", v).str(); }

/// The target: `name`, else the preset whose fingerprint is the binary's.
static llvm::Expected<target::TargetDescription>
pickTarget(llvm::StringRef name, uint64_t fingerprint) {
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

llvm::Expected<std::unique_ptr<SimSession>>
SimSession::open(llvm::ArrayRef<uint8_t> flb, llvm::StringRef name,
                 llvm::StringRef target, const sim::Options &options) {
  if (flb.size() < binary::kHeaderSize)
    return llvm::createStringError("'" + name +
                                   "' is too short for a .flb header");
  std::unique_ptr<SimSession> session(new SimSession);
  session->flb = flb;
  uint64_t fingerprint =
      binary::FileHeader::decode(session->flb.data()).targetFingerprint;
  llvm::Expected<target::TargetDescription> t = pickTarget(target, fingerprint);
  if (!t)
    return t.takeError();
  session->targetDesc = std::move(*t);
  session->timingOnly = !options.functional;
  session->sim = std::make_unique<sim::Simulator>(*session->targetDesc, options);
  flight_hal hal = session->sim->hal();
  session->arena.resize(flight_runtime_arena_bytes());
  int status = flight_open(&session->rt, session->arena.data(),
                           session->arena.size(), session->flb.data(),
                           session->flb.size(), &hal,
                           session->targetDesc->fingerprint(),
                           session->timingOnly ? FLIGHT_OPEN_SKIP_WEIGHTS : 0);
  if (status != FLIGHT_OK)
    return session->runtimeError("cannot open the binary", status);
  flight_model(session->rt, &session->modelInfo);
  flight_set_observer(
      session->rt,
      [](void *user, uint32_t stage, uint32_t, uint64_t cycles) {
        auto *self = static_cast<SimSession *>(user);
        (stage == 0 ? self->cycleCount.prefill : self->cycleCount.decode) +=
            cycles;
      },
      session.get());
  return session;
}

SimSession::~SimSession() {
  if (rt)
    flight_close(rt);
}

llvm::Error SimSession::runtimeError(llvm::StringRef what, int status) const {
  std::string message = what.str() + ": " + flight_status_name(status) + ": " +
                        (rt ? flight_last_error(rt) : "no runtime");
  if (sim->fault() != sim::Fault::None)
    message += "\n  simulator fault (" +
               std::string(sim::faultName(sim->fault())) +
               "): " + sim->faultMessage();
  if (!sim->halError().empty())
    message += "\n  HAL: " + sim->halError();
  return llvm::createStringError(message);
}

llvm::Error SimSession::checkPrompt(llvm::ArrayRef<int64_t> prompt,
                                    int maxNewTokens) const {
  if (prompt.empty())
    return llvm::createStringError("the prompt is empty");
  int64_t vocab = modelInfo.vocab_size;
  for (int64_t token : prompt)
    if (token < 0 || token >= vocab)
      return llvm::createStringError(
          "token " + llvm::Twine(token) +
          " is outside the model's vocabulary [0, " + llvm::Twine(vocab) + ")");
  if (maxNewTokens < 0)
    return llvm::createStringError("max_new_tokens must not be negative, got " +
                                   llvm::Twine(maxNewTokens));
  int64_t needed =
      int64_t(prompt.size()) + std::max<int64_t>(int64_t(maxNewTokens) - 1, 0);
  if (needed > int64_t(modelInfo.max_context))
    return llvm::createStringError(
        "context overflow: " + llvm::Twine(prompt.size()) +
        " prompt tokens and " + llvm::Twine(maxNewTokens) + " new ones need " +
        llvm::Twine(needed) + " positions, the binary has " +
        llvm::Twine(modelInfo.max_context));
  return llvm::Error::success();
}

llvm::Expected<SimGeneration>
SimSession::generate(llvm::ArrayRef<int64_t> prompt, int maxNewTokens,
                     const TextCodec &codec, TokenCallback onToken) {
  if (llvm::Error e = checkPrompt(prompt, maxNewTokens))
    return e;
  int status = flight_reset(rt);
  if (status != FLIGHT_OK)
    return runtimeError("reset failed", status);
  resetCycles();
  sim->resetCounters();
  using Clock = std::chrono::steady_clock;
  Clock::time_point hostStart = Clock::now();

  SimGeneration gen;
  gen.prompt.assign(prompt.begin(), prompt.end());
  gen.timingOnly = timingOnly;
  int64_t vocab = modelInfo.vocab_size;
  std::vector<int32_t> prompt32(prompt.begin(), prompt.end());
  std::vector<float> logits(vocab);
  bool stopped = false;
  // In timing-only mode the logits are zeros: decode feeds a fixed token
  // (the last prompt token) instead of the argmax.
  int64_t fixedToken = prompt.back();
  auto record = [&] {
    gen.logits.insert(gen.logits.end(), logits.begin(), logits.end());
    ++gen.steps;
    if (int64_t(gen.tokens.size()) < maxNewTokens) {
      gen.tokens.push_back(timingOnly ? fixedToken : argmaxToken(logits));
      gen.stoppedAtEOS = !timingOnly && codec.isEndOfSequence(gen.tokens.back());
      if (onToken && !onToken(int64_t(gen.tokens.size()) - 1, gen.tokens.back()))
        stopped = true;
    }
  };

  ProgressBar bar("simulating", uint64_t(std::max(maxNewTokens, 1)));
  status = flight_prefill(rt, prompt32.data(), uint32_t(prompt32.size()),
                          logits.data());
  if (status != FLIGHT_OK)
    return runtimeError("prefill failed", status);
  record();
  bar.advance();
  gen.prefillCounters = sim->total();
  sim->resetCounters();
  while (int64_t(gen.tokens.size()) < maxNewTokens && !gen.stoppedAtEOS &&
         !stopped) {
    uint64_t before = cycleCount.decode;
    status = flight_decode_step(rt, int32_t(gen.tokens.back()), logits.data());
    if (status != FLIGHT_OK)
      return runtimeError("decode step failed", status);
    gen.decodeStepCycles.push_back(cycleCount.decode - before);
    record();
    ++gen.decodeSteps;
    bar.advance();
  }
  bar.finish();
  gen.decodeCounters = sim->total();
  gen.prefillCycles = cycleCount.prefill;
  gen.decodeCycles = cycleCount.decode;
  gen.hostSeconds =
      std::chrono::duration<double>(Clock::now() - hostStart).count();
  sim->flushTrace();
  return gen;
}

SimFigures SimSession::figures(const SimGeneration &gen) const {
  SimFigures f;
  double hz = targetDesc->clockMHz * 1e6;
  f.prefill = sim->metrics(gen.prefillCounters);
  f.decode = sim->metrics(gen.decodeCounters);
  f.prefillMs = gen.prefillCycles / hz * 1e3;
  f.decodeMs = gen.decodeCycles / hz * 1e3;
  f.decodeMsPerToken = gen.decodeSteps ? f.decodeMs / gen.decodeSteps : 0;
  f.tokensPerS = f.decodeMsPerToken > 0 ? 1000 / f.decodeMsPerToken : 0;
  f.decodeEnergyPerToken =
      gen.decodeSteps ? f.decode.energyJoules / gen.decodeSteps : 0;
  f.simulatedInstructions = gen.prefillCounters.totalInstructions() +
                            gen.decodeCounters.totalInstructions();
  return f;
}

void SimSession::writeMetrics(const SimGeneration &gen,
                              llvm::json::OStream &json) const {
  SimFigures f = figures(gen);
  json.attribute("clock_mhz", targetDesc->clockMHz);
  json.attribute("prefill_cycles", int64_t(gen.prefillCycles));
  json.attribute("prefill_ms", f.prefillMs);
  json.attribute("decode_steps", gen.decodeSteps);
  json.attribute("decode_cycles", int64_t(gen.decodeCycles));
  json.attribute("decode_ms_per_token", f.decodeMsPerToken);
  json.attribute("tokens_per_s", f.tokensPerS);
  json.attribute("prefill_hbm_bandwidth_utilization",
                 f.prefill.hbmBandwidthUtilization);
  json.attribute("prefill_mac_utilization", f.prefill.macUtilization);
  json.attribute("prefill_energy_j", f.prefill.energyJoules);
  json.attribute("decode_hbm_bandwidth_utilization",
                 f.decode.hbmBandwidthUtilization);
  json.attribute("decode_hbm_gb_per_s", f.decode.hbmGBPerS);
  json.attribute("decode_mac_utilization", f.decode.macUtilization);
  json.attribute("decode_energy_j_per_token", f.decodeEnergyPerToken);
  json.attribute("decode_average_w", f.decode.averageWatts);
  json.attribute("simulated_instructions", int64_t(f.simulatedInstructions));
  // What the report's plots need: where the time went per queue, and the
  // traffic and work for the roofline.
  for (auto [stage, counters] :
       {std::pair{"prefill", &gen.prefillCounters},
        std::pair{"decode", &gen.decodeCounters}}) {
    json.attributeObject((llvm::Twine(stage) + "_queue_busy_cycles").str(), [&] {
      for (unsigned q = 0; q < isa::kNumQueues; ++q) {
        const char *name = isa::enumValueName(isa::EnumId::Queue, q);
        json.attribute(name ? name : std::to_string(q),
                       int64_t(counters->queueBusyCycles[q]));
      }
    });
    json.attribute((llvm::Twine(stage) + "_hbm_bytes").str(),
                   int64_t(counters->hbmReadBytes + counters->hbmWriteBytes));
    json.attribute((llvm::Twine(stage) + "_macs").str(),
                   int64_t(counters->mmMacs + counters->mvMacs));
  }
  double steps = gen.decodeSteps ? double(gen.decodeSteps) : 1.0;
  json.attributeObject("decode_energy_j_per_token_by_source", [&] {
    json.attribute("static", f.decode.staticJoules / steps);
    json.attribute("hbm", f.decode.hbmJoules / steps);
    json.attribute("ddr", f.decode.ddrJoules / steps);
    json.attribute("mac", f.decode.macJoules / steps);
    json.attribute("sfu", f.decode.sfuJoules / steps);
  });
  json.attributeArray("decode_step_cycles", [&] {
    for (uint64_t c : gen.decodeStepCycles)
      json.value(int64_t(c));
  });
  json.attribute("host_seconds", gen.hostSeconds);
}
