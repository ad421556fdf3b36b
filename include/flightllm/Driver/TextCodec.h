//===- TextCodec.h - Prompts to tokens and tokens to text ------*- C++ -*-===//
//
// How flightllm-run turns --prompt into tokens and generated tokens into
// text, and when it stops: the model's tokenizer.json and EOS ids (from its
// export directory, or from the .flb's Tokenizer section), or one token per
// byte for the byte-level model (vocabulary 256, no tokenizer).
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DRIVER_TEXTCODEC_H
#define FLIGHTLLM_DRIVER_TEXTCODEC_H

#include "flightllm/Import/ExportDirectory.h"
#include "flightllm/Tokenizer/Tokenizer.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <vector>

namespace flightllm {

class TextCodec {
public:
  /// From an export directory (or the directory around an .onnx/.mlir).
  static llvm::Expected<TextCodec> fromDirectory(const ExportDirectory &dir);
  /// From the Tokenizer section of a .flb (none: bytes, no EOS).
  static llvm::Expected<TextCodec> fromBinary(llvm::StringRef path);
  /// From a .flb in memory; `path` names it in errors.
  static llvm::Expected<TextCodec> fromBinaryBytes(llvm::ArrayRef<uint8_t> flb,
                                                   llvm::StringRef path);

  /// The tokens of a --prompt for a model with `vocab` tokens.
  llvm::Expected<std::vector<int64_t>> encodePrompt(llvm::StringRef text,
                                                    int64_t vocab) const;
  /// The text of generated tokens (special tokens left out; valid UTF-8),
  /// the bytes themselves for the byte-level model, or none when the model
  /// has no tokenizer and is not byte-level.
  std::optional<std::string> decode(llvm::ArrayRef<int64_t> ids,
                                    int64_t vocab) const;

  bool isEndOfSequence(int64_t id) const;
  llvm::ArrayRef<int64_t> endOfSequenceIds() const { return eosIds; }
  bool hasTokenizer() const { return tokenizer.has_value(); }

private:
  std::optional<tokenizer::Tokenizer> tokenizer;
  std::string tokenizerSource;
  std::vector<int64_t> eosIds;
};

} // namespace flightllm

#endif // FLIGHTLLM_DRIVER_TEXTCODEC_H
