//===- Tokenizer.h - Hugging Face tokenizer.json for the host tools -*- C++ -*-===//
//
// Encodes and decodes text exactly as the Hugging Face `tokenizers` library
// does for the tokenizers of decoder-only LLMs:
//   - byte-level BPE (GPT-2, Llama 3, Qwen2): ByteLevel / Split
//     pre-tokenizers with the GPT-2 and Llama-3/Qwen2 patterns, the NFC
//     normalizer, merge ranks, the byte decoder;
//   - SentencePiece-style BPE (Llama 2, Mistral): Metaspace or
//     Prepend+Replace normalizer, byte fallback (<0xXX>), fuse_unk, and the
//     Replace/ByteFallback/Fuse/Strip decoder chain;
// with added and special tokens and the TemplateProcessing post-processor.
// A tokenizer.json using anything else is refused with an error naming the
// JSON path, never half-understood. Host-only (the embedded runtime never
// tokenizes).
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_TOKENIZER_TOKENIZER_H
#define FLIGHTLLM_TOKENIZER_TOKENIZER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace flightllm::tokenizer {

struct Pipeline;

class Tokenizer {
public:
  /// Reads a tokenizer.json document; `source` names it in errors.
  static llvm::Expected<Tokenizer> parse(llvm::StringRef json,
                                         llvm::StringRef source);
  /// Reads the tokenizer.json file at `path`.
  static llvm::Expected<Tokenizer> load(llvm::StringRef path);

  /// Token ids of `text` (which must be valid UTF-8); with
  /// `addSpecialTokens`, the post-processor's template is applied (e.g. the
  /// BOS token of Llama/Mistral).
  llvm::Expected<std::vector<int32_t>> encode(llvm::StringRef text,
                                              bool addSpecialTokens) const;

  /// The text of `ids` (always valid UTF-8: bytes that do not form UTF-8
  /// become U+FFFD). Unknown ids are skipped, as Hugging Face does.
  std::string decode(llvm::ArrayRef<int32_t> ids,
                     bool skipSpecialTokens) const;

  /// The id of a vocabulary or added token.
  std::optional<int32_t> tokenToId(llvm::StringRef token) const;
  /// One past the largest token id.
  size_t vocabSize() const;
  /// "byte-level BPE" or "SentencePiece BPE" (for messages).
  llvm::StringRef kindName() const;

  ~Tokenizer();
  Tokenizer(Tokenizer &&) noexcept;
  Tokenizer &operator=(Tokenizer &&) noexcept;

private:
  explicit Tokenizer(std::unique_ptr<Pipeline> pipeline);
  std::unique_ptr<Pipeline> pipeline;
};

} // namespace flightllm::tokenizer

#endif // FLIGHTLLM_TOKENIZER_TOKENIZER_H
