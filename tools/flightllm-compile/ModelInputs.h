//===- ModelInputs.h - What flightllm-compile reads besides the graph ----===//
//
// The positional input is an ONNX file or an optimum export directory. Both
// may come with config.json, generation_config.json and tokenizer.json (next
// to the file, or in the directory): the tokenizer turns the calibration
// text into tokens and travels in the .flb with the EOS ids; config.json
// bounds the context the binary is compiled for.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_TOOLS_COMPILE_MODELINPUTS_H
#define FLIGHTLLM_TOOLS_COMPILE_MODELINPUTS_H

#include "flightllm/Import/ExportDirectory.h"
#include "flightllm/Tokenizer/Tokenizer.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <vector>

namespace flightllm {

struct ModelInputs {
  ExportDirectory source;
  bool isDirectory = false;
  std::optional<tokenizer::Tokenizer> tokenizer;
  /// The .flb's default name without extension: the directory's name for a
  /// directory, else the model file's stem.
  std::string outputStem;
};

/// Resolves `input` (a model file or an export directory) and loads the
/// tokenizer, if any; errors name the file and field.
llvm::Expected<ModelInputs> resolveModelInputs(llvm::StringRef input);

/// The graph, config and tokenizer chosen, for --timing.
void printModelInputs(const ModelInputs &inputs, llvm::raw_ostream &os);

/// The calibration text's tokens through the model's tokenizer (as the
/// model sees a prompt, with its special tokens).
llvm::Expected<std::vector<int64_t>>
tokenizeCalibrationText(const ModelInputs &inputs, llvm::StringRef path);

/// Bounds `maxContext` (0: not given) by config.json: max_position_embeddings
/// and the sliding window (attention within the window equals causal
/// attention only up to the window's length). Errors when an explicit
/// --max-context goes beyond either.
llvm::Error boundContextByConfig(const ModelInputs &inputs,
                                 unsigned &maxContext);

/// The host-only Tokenizer section for the .flb (empty when the model has
/// neither a tokenizer nor EOS ids); errors when the tokenizer has more
/// tokens than the model's vocabulary.
llvm::Expected<std::vector<uint8_t>>
tokenizerSectionFor(const ModelInputs &inputs, uint32_t modelVocab);

} // namespace flightllm

#endif // FLIGHTLLM_TOOLS_COMPILE_MODELINPUTS_H
