//===- ExportDirectory.h - A Hugging Face / optimum export as a unit -*- C++ -*-===//
//
// What users bring: a directory with the ONNX graphs optimum writes
// (decoder_model.onnx, decoder_with_past_model.onnx,
// decoder_model_merged.onnx), config.json, generation_config.json and
// tokenizer.json. ModelConfig carries what the compiler and the host tools
// take from the JSON files (the raising may read the window, rope theta and
// position limit from it); ExportDirectory says which graph to compile.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_IMPORT_EXPORTDIRECTORY_H
#define FLIGHTLLM_IMPORT_EXPORTDIRECTORY_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace flightllm {

/// config.json and generation_config.json of a model.
struct ModelConfig {
  /// config.json "model_type" ("gpt2", "opt", "llama", "mistral", "qwen2").
  std::string modelType;
  std::optional<int64_t> maxPositionEmbeddings;
  std::optional<double> ropeTheta;
  /// Sliding-window attention span; none when null, absent, or turned off by
  /// "use_sliding_window": false (Qwen2).
  std::optional<int64_t> slidingWindow;
  std::optional<int64_t> vocabSize;
  /// Tokens that end generation: generation_config.json's eos_token_id (a
  /// number or a list), else config.json's.
  std::vector<int64_t> eosTokenIds;
  std::optional<int64_t> bosTokenId;
};

/// Parses config.json and, when given, generation_config.json. The names
/// are the file paths errors start with; errors name the JSON field.
llvm::Expected<ModelConfig>
parseModelConfig(llvm::StringRef configJSON, llvm::StringRef configName,
                 std::optional<llvm::StringRef> generationJSON,
                 llvm::StringRef generationName);

struct ExportDirectory {
  std::string dir;
  /// The ONNX graph to compile or run.
  std::string graphPath;
  /// Why that graph, for verbose output ("decoder_model.onnx (prefill
  /// graph, preferred)").
  std::string graphChoice;
  /// From config.json (and generation_config.json) when present.
  std::optional<ModelConfig> config;
  /// tokenizer.json when present, else empty.
  std::string tokenizerPath;
};

/// Reads DIR as an optimum export directory. The graph is
/// decoder_model.onnx, else decoder_model_merged.onnx, else
/// decoder_with_past_model.onnx, else model.onnx.
llvm::Expected<ExportDirectory> openExportDirectory(llvm::StringRef dir);

/// The export directory a model file sits in: its config and tokenizer, if
/// any; the graph is `modelPath` itself.
llvm::Expected<ExportDirectory> exportDirectoryOfModel(llvm::StringRef modelPath);

} // namespace flightllm

#endif // FLIGHTLLM_IMPORT_EXPORTDIRECTORY_H
