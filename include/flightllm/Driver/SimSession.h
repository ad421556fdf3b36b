//===- SimSession.h - A compiled .flb on the simulator -----------*- C++ -*-===//
//
// The embedded runtime (runtime.h) over the simulator's HAL, opened on one
// .flb: what `flightllm-run MODEL.flb` and the Python API's
// Session(engine="sim") both run. Greedy generation records the logits of
// every step, the simulated cycles of prefill and decode and the simulator's
// counters of each, from which the metrics (latency, tokens/s, HBM bandwidth,
// MAC utilization, energy) follow.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DRIVER_SIMSESSION_H
#define FLIGHTLLM_DRIVER_SIMSESSION_H

#include "flightllm/Simulator/Simulator.h"
#include "flightllm/Target/TargetDescription.h"
#include "flightllm/runtime/pipeline.h"
#include "flightllm/runtime/runtime.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/FunctionExtras.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace flightllm {

class TextCodec;

/// One greedy generation on the simulator.
struct SimGeneration {
  std::vector<int64_t> prompt;
  std::vector<int64_t> tokens;
  /// The last token is one of the model's end-of-sequence tokens.
  bool stoppedAtEOS = false;
  /// Logit rows [steps, vocab]: the last prompt position, then every decode
  /// step.
  std::vector<float> logits;
  int64_t steps = 0, decodeSteps = 0;
  uint64_t prefillCycles = 0, decodeCycles = 0;
  /// The cycles of each decode step; step i runs with a context of
  /// prompt.size() + i + 1 tokens (the length-adaptive ladder).
  std::vector<uint64_t> decodeStepCycles;
  /// Summed over the cards; per card below (pipelines only).
  sim::Counters prefillCounters, decodeCounters;
  std::vector<sim::Counters> cardPrefillCounters, cardDecodeCounters;
  /// Cycles (at the target clock) spent moving hidden states between cards,
  /// included in prefillCycles/decodeCycles.
  uint64_t prefillLinkCycles = 0, decodeLinkCycles = 0;
  double hostSeconds = 0;
  bool timingOnly = false;
};

/// Many users served in turn (flightllm-run --users), with NorthPole's
/// metrics (docs/cli.md). Every user has a KV-cache slot; the run is
/// functional one request at a time, and its time is the schedule in which
/// each card takes a user's next request (a prefill or one decode step) as
/// soon as the card is free and the request's input has arrived: a GPipe
/// pipeline whose micro-batches are single sequences, or up to B sequences
/// decoded in one run on a batched binary (--batch=B).
struct ServeResult {
  struct User {
    std::vector<int64_t> prompt, tokens;
    /// Seconds from the start at which each generated token was ready.
    std::vector<double> tokenSeconds;
    /// With serve(keepLogits): the logits each token was chosen from, one
    /// row of vocab_size per token.
    std::vector<float> logits;
    bool stoppedAtEOS = false;
  };
  std::vector<User> users;
  unsigned cards = 1, slots = 1;
  /// Sequences per decode run (a --batch binary's; 1 otherwise), and the
  /// micro-batches the first wave of users makes (NorthPole's m; its n is
  /// the users served at once, min(users, slots)).
  unsigned batch = 1, microBatches = 1;
  double seconds = 0;          ///< first request to last token, prefill included
  double prefillSeconds = 0;   ///< until every first wave prompt was prefilled
  int64_t generatedTokens = 0;
  double energyJoules = 0;     ///< every card, static power over `seconds`
  std::vector<double> cardBusySeconds;
  double linkSeconds = 0;      ///< card-to-card transfers, summed
  double hostSeconds = 0;
  /// NorthPole's metrics (Modha et al., HPEC 2024).
  double systemTokensPerS() const {
    return seconds > 0 ? generatedTokens / seconds : 0;
  }
  double perCardTokensPerS() const { return systemTokensPerS() / cards; }
  /// The mean over users of the average time between their output tokens.
  double msPerTokenPerUser() const;
  double watts() const { return seconds > 0 ? energyJoules / seconds : 0; }
  double joulesPerToken() const {
    return generatedTokens ? energyJoules / generatedTokens : 0;
  }
  double tokensPerSPerWatt() const {
    return watts() > 0 ? systemTokensPerS() / watts() : 0;
  }
};

/// A generation's figures at the target's clock.
struct SimFigures {
  double prefillMs = 0, decodeMs = 0, decodeMsPerToken = 0, tokensPerS = 0;
  double decodeEnergyPerToken = 0;
  sim::Metrics prefill, decode;
  uint64_t simulatedInstructions = 0;
};

/// Called after each generated token with its index and id; returning false
/// stops the generation there.
using TokenCallback = llvm::unique_function<bool(int64_t index, int64_t id)>;

class SimSession {
public:
  /// Opens `flb` on a simulator of `target` (a preset or JSON path; empty:
  /// the preset whose fingerprint the binary carries). The bytes are not
  /// copied (a 7B binary is 7 GB) and must outlive the session. `name` names
  /// the binary in errors. A system binary (flightllm-compile --system) runs
  /// as a pipeline (pipeline.h) on one simulator per card, each with its own
  /// clock and counters; a request's time is the cards' runs one after the
  /// other plus the modelled card-to-card transfers (batch 1 cannot overlap
  /// them), and the trace has one process per card and one for the links.
  static llvm::Expected<std::unique_ptr<SimSession>>
  open(llvm::ArrayRef<uint8_t> flb, llvm::StringRef name,
       llvm::StringRef target, const sim::Options &options);
  ~SimSession();

  const flight_model_info &info() const { return modelInfo; }
  const target::TargetDescription &target() const { return *targetDesc; }
  /// Card 0's simulator.
  sim::Simulator &simulator() { return *sims.front(); }
  unsigned cards() const { return unsigned(sims.size()); }
  /// The pipeline's plan (cards == 1: none).
  const flight_pipeline_info &pipelineInfo() const { return plInfo; }
  /// Sequences one decode run serves (flightllm-compile --batch; in a
  /// pipeline, the micro-batch every card decodes in one run).
  uint32_t decodeBatch() const {
    return std::max<uint32_t>(modelInfo.batch, 1);
  }

  /// flight_prefill / flight_decode_step / flight_reset, or the pipeline's.
  int prefill(const int32_t *tokens, uint32_t count, float *logits);
  int decodeStep(int32_t token, float *logits);
  /// flight_decode_batch, or the pipeline's (one micro-batch).
  int decodeBatchStep(uint32_t count, const int32_t *tokens,
                      const uint32_t *slots, float *logits);
  int reset();
  /// flight_select_slot (on every card).
  int selectSlot(uint32_t slot);
  /// Writes the trace (every card's) now.
  void flushTrace();

  /// Simulated cycles the device reported since open (or the last reset),
  /// per stage.
  struct Cycles {
    uint64_t prefill = 0, decode = 0;
  };
  const Cycles &cycles() const { return cycleCount; }
  void resetCycles() { cycleCount = {}; }

  /// The runtime's failure `status` of `what`, with the simulator's fault
  /// and HAL error when there is one.
  llvm::Error runtimeError(llvm::StringRef what, int status) const;

  /// Checks the prompt's tokens and the context the generation needs.
  llvm::Error checkPrompt(llvm::ArrayRef<int64_t> prompt,
                          int maxNewTokens) const;

  /// Empties the context, prefills `prompt` and decodes greedily until
  /// `maxNewTokens` tokens exist, an end-of-sequence token of `codec` was
  /// generated or `onToken` returned false. Timing-only sessions feed the
  /// last prompt token instead of the argmax (the logits are zeros). Shows
  /// a progress bar over the decode steps (Support/Progress.h).
  llvm::Expected<SimGeneration> generate(llvm::ArrayRef<int64_t> prompt,
                                         int maxNewTokens,
                                         const TextCodec &codec,
                                         TokenCallback onToken = nullptr);

  /// What `gen` took at the target's clock.
  SimFigures figures(const SimGeneration &gen) const;

  /// Serves `prompts` (one user each), `maxNewTokens` greedy tokens per
  /// user (fewer at an end-of-sequence token), on the binary's KV-cache
  /// slots: at most `slots` users at once, a finished user's slot reset and
  /// given to the next (ServeResult says how the time is counted). A
  /// batched binary decodes the active users together, up to its batch per
  /// run. `keepLogits`: ServeResult::User::logits.
  llvm::Expected<ServeResult> serve(llvm::ArrayRef<std::vector<int64_t>> prompts,
                                    int maxNewTokens, const TextCodec &codec,
                                    bool keepLogits = false);
  /// The figures of `gen` as flightllm-run --json prints them (from
  /// clock_mhz on), into an open JSON object.
  void writeMetrics(const SimGeneration &gen, llvm::json::OStream &json) const;

private:
  SimSession() = default;
  llvm::Error openPipeline(const sim::Options &options);
  /// The HBM-to-HBM copy of the link callback, with its modelled time.
  int linkCopy(uint32_t src, uint32_t srcChannel, uint64_t srcOffset,
               uint32_t dst, uint32_t dstChannel, uint64_t dstOffset,
               uint64_t bytes);
  void addCycles(uint64_t cycles);
  /// Each card's cycles and each link's (after card c) of the current
  /// request, for serve()'s schedule.
  std::vector<uint64_t> requestCardCycles, requestLinkCycles;
  /// The summed counters of every card, and each card's.
  sim::Counters totalCounters(std::vector<sim::Counters> *perCard) const;
  /// The cards' metrics over `wallCycles`, summed (energy, GB/s) or
  /// averaged (utilizations).
  sim::Metrics systemMetrics(const std::vector<sim::Counters> &perCard,
                             uint64_t wallCycles) const;
  void resetCounters();

  llvm::ArrayRef<uint8_t> flb;
  std::optional<target::TargetDescription> targetDesc;
  std::vector<std::unique_ptr<sim::Simulator>> sims;
  std::vector<uint8_t> arena;
  flight_runtime *rt = nullptr;
  // Pipelines.
  flight_pipeline *pl = nullptr;
  flight_pipeline_info plInfo{};
  std::vector<std::pair<SimSession *, unsigned>> observers;
  /// The stage running (0 prefill, 1 decode), the system's time line in
  /// cycles, and the link cycles per stage.
  unsigned stage = 0;
  uint64_t systemCycles = 0, linkCycles[2] = {};
  /// Per-card trace events and the links' (pid 0), merged by flushTrace.
  llvm::raw_ostream *traceOut = nullptr;
  std::vector<std::unique_ptr<std::string>> cardTraceText;
  std::vector<std::unique_ptr<llvm::raw_string_ostream>> cardTraces;
  std::string linkTrace;
  bool traceWritten = false;
  flight_model_info modelInfo{};
  Cycles cycleCount;
  bool timingOnly = false;
};

/// The id with the largest logit; the lowest id on ties.
int64_t argmaxToken(llvm::ArrayRef<float> row);

} // namespace flightllm

#endif // FLIGHTLLM_DRIVER_SIMSESSION_H
