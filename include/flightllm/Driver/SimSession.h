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
#include "flightllm/runtime/runtime.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/FunctionExtras.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

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
  sim::Counters prefillCounters, decodeCounters;
  double hostSeconds = 0;
  bool timingOnly = false;
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
  /// the binary in errors.
  static llvm::Expected<std::unique_ptr<SimSession>>
  open(llvm::ArrayRef<uint8_t> flb, llvm::StringRef name,
       llvm::StringRef target, const sim::Options &options);
  ~SimSession();

  const flight_model_info &info() const { return modelInfo; }
  const target::TargetDescription &target() const { return *targetDesc; }
  sim::Simulator &simulator() { return *sim; }
  flight_runtime *runtime() { return rt; }

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
  /// The figures of `gen` as flightllm-run --json prints them (from
  /// clock_mhz on), into an open JSON object.
  void writeMetrics(const SimGeneration &gen, llvm::json::OStream &json) const;

private:
  SimSession() = default;
  llvm::ArrayRef<uint8_t> flb;
  std::optional<target::TargetDescription> targetDesc;
  std::unique_ptr<sim::Simulator> sim;
  std::vector<uint8_t> arena;
  flight_runtime *rt = nullptr;
  flight_model_info modelInfo{};
  Cycles cycleCount;
  bool timingOnly = false;
};

/// The id with the largest logit; the lowest id on ties.
int64_t argmaxToken(llvm::ArrayRef<float> row);

} // namespace flightllm

#endif // FLIGHTLLM_DRIVER_SIMSESSION_H
