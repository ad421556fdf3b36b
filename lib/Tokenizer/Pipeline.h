//===- Pipeline.h - The stages of a loaded tokenizer.json -------*- C++ -*-===//
//
// Private to lib/Tokenizer: what TokenizerJSON.cpp reads and Tokenizer.cpp
// runs. Each stage holds only the variants the loader accepts.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_LIB_TOKENIZER_PIPELINE_H
#define FLIGHTLLM_LIB_TOKENIZER_PIPELINE_H

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace flightllm::tokenizer {

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false;
  bool lstrip = false, rstrip = false;
  /// Matched in the normalized text (else in the raw input).
  bool normalized = false;
};

struct NormalizerStep {
  enum class Kind { Prepend, Replace, NFC } kind;
  std::string pattern; // Replace: the literal searched for
  std::string content; // Prepend: the prefix; Replace: the replacement
};

/// The pre-tokenizer split patterns we implement (by their exact regex).
enum class SplitPattern {
  GPT2,   // 's|'t|...| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  Llama3, // (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|...
  Qwen2,  // as Llama3 with \p{N} (single digits)
};

struct PreTokenizerStep {
  enum class Kind { ByteLevel, Split, Metaspace } kind;
  // ByteLevel
  bool addPrefixSpace = false;
  bool useRegex = true;
  // Split (behavior Isolated, not inverted)
  SplitPattern pattern = SplitPattern::GPT2;
  // Metaspace
  std::string replacement;
  enum class Prepend { Always, First, Never } prepend = Prepend::Always;
  bool split = true;
};

struct DecoderStep {
  enum class Kind { ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace }
      kind;
  std::string pattern, content; // Replace; Strip's content; Metaspace's ▁
  unsigned start = 0, stop = 0; // Strip
  bool prependFirst = true;     // Metaspace: drop the first token's ▁
};

struct BPEModel {
  llvm::StringMap<int32_t> vocab;
  /// (left id, right id) -> (rank, merged id)
  llvm::DenseMap<std::pair<int32_t, int32_t>, std::pair<uint32_t, int32_t>>
      merges;
  std::optional<int32_t> unkId;
  bool fuseUnk = false;
  bool byteFallback = false;
  bool ignoreMerges = false;
  /// <0xXX> token ids when byteFallback.
  int32_t byteTokens[256];
};

/// One element of TemplateProcessing's "single" template.
struct TemplatePiece {
  bool isSequence = false;
  std::vector<int32_t> ids; // special token ids when !isSequence
};

struct Pipeline {
  std::vector<AddedToken> addedTokens;
  std::vector<NormalizerStep> normalizer;
  std::vector<PreTokenizerStep> preTokenizer;
  BPEModel model;
  std::optional<std::vector<TemplatePiece>> postTemplate;
  /// Null decoder: tokens joined by spaces.
  std::optional<std::vector<DecoderStep>> decoder;
  /// id -> token text (vocabulary and added tokens).
  std::vector<std::string> idToToken;
  std::vector<bool> idIsSpecial;
  bool byteLevel = false;
};

/// Splits `text` (UTF-8) into the pieces `pattern` matches, as the regex
/// alternation with its backtracking would.
std::vector<llvm::StringRef> splitByPattern(llvm::StringRef text,
                                            SplitPattern pattern);

/// GPT-2's reversible map of bytes to printable code points.
char32_t byteToChar(uint8_t byte);
/// Its inverse; -1 for a code point that stands for no byte.
int byteOfChar(char32_t cp);

/// BPE of one pre-tokenized word, appending ids to `out`; fails only when a
/// character is neither in the vocabulary nor coverable by byte fallback or
/// an unknown token.
bool encodeWord(const BPEModel &model, llvm::StringRef word,
                std::vector<int32_t> &out);

} // namespace flightllm::tokenizer

#endif // FLIGHTLLM_LIB_TOKENIZER_PIPELINE_H
