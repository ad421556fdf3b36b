//===- TokenizerSection.h - The host-only tokenizer section ------*- C++ -*-===//
//
// Encoding and checked decoding of the Tokenizer section (kind 9,
// docs/binary-format.md): the model's tokenizer.json and end-of-sequence ids,
// carried in the .flb for flightllm-run. Host tools only.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_BINARY_TOKENIZERSECTION_H
#define FLIGHTLLM_BINARY_TOKENIZERSECTION_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace flightllm::binary {

struct TokenizerSection {
  std::vector<uint32_t> eosIds;
  std::optional<uint32_t> bosId;
  /// tokenizer.json; empty for a model without one (bytes as tokens).
  std::string tokenizerJSON;
};

std::vector<uint8_t> encodeTokenizerSection(const TokenizerSection &section);

/// Decodes the section's bytes; `fileOffset` (where they start in the file)
/// is named in errors.
llvm::Expected<TokenizerSection>
decodeTokenizerSection(llvm::ArrayRef<uint8_t> bytes, uint64_t fileOffset);

} // namespace flightllm::binary

#endif // FLIGHTLLM_BINARY_TOKENIZERSECTION_H
