//===- SimRun.h - flightllm-run on a compiled .flb, in the simulator ------===//

#ifndef FLIGHTLLM_TOOLS_RUN_SIMRUN_H
#define FLIGHTLLM_TOOLS_RUN_SIMRUN_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace flightllm {

class TextCodec;

struct SimRunConfig {
  std::string binaryPath;
  std::string target; ///< preset or JSON path; empty: match the fingerprint
  std::optional<std::vector<int64_t>> tokens; ///< --tokens
  /// --users --tokens: one prompt per list (user u: list u mod size).
  std::vector<std::vector<int64_t>> tokenLists;
  std::optional<std::string> prompt;          ///< --prompt
  /// Prompt encoding, output text and end-of-sequence tokens.
  const TextCodec *codec = nullptr;
  int maxNewTokens = 0;
  bool json = false;
  bool timingOnly = false;
  /// --trace and --dump-logits: streams of the tool's OutputFiles set, which
  /// the caller commits when the run succeeded (null: not requested).
  llvm::raw_ostream *trace = nullptr;
  llvm::raw_ostream *dumpLogits = nullptr;
  /// --perplexity: the text (bytes as tokens) to score instead of generating.
  std::optional<std::string> perplexityText;
  /// --users N: serve N users (SimSession::serve) with prompts from
  /// promptLines (user u: line u mod size), `tokenLists`, or synthetic ones
  /// of promptLength ids.
  unsigned users = 0;
  std::vector<std::string> promptLines;
  unsigned promptLength = 0;
};

/// Runs the binary through the embedded runtime on the simulator's HAL and
/// prints the report; returns the exit status (errors are printed). With
/// `perplexityText` it prints the perplexity instead, in the windows of the
/// reference engine's --perplexity: each window (min(max context, 256)
/// bytes) from an empty context, a prefill of its first byte, then one decode
/// step per further byte but the last; the logits after each step score the
/// next byte.
int runBinaryOnSimulator(const SimRunConfig &config, llvm::raw_ostream &os);

} // namespace flightllm

#endif // FLIGHTLLM_TOOLS_RUN_SIMRUN_H
