//===- Unicode.h - Code point classes and UTF-8 for tokenizers --*- C++ -*-===//
//
// What the tokenizer's pre-tokenizer patterns and byte decoders need of
// Unicode: the general categories L and N and NFC (from generated tables), the
// White_Space property, and UTF-8 with the same lossy decoding as Rust's
// String::from_utf8_lossy (one U+FFFD per maximal invalid subsequence).
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_TOKENIZER_UNICODE_H
#define FLIGHTLLM_TOKENIZER_UNICODE_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace flightllm::tokenizer {

/// General category L* (\p{L}).
bool isLetter(char32_t cp);
/// General category N* (\p{N}).
bool isNumber(char32_t cp);
/// The White_Space property (\s in Rust's regex and Oniguruma).
bool isWhiteSpace(char32_t cp);

/// The length of the UTF-8 sequence that `lead` starts (in valid UTF-8).
inline size_t utf8SequenceLength(uint8_t lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

/// Appends the UTF-8 encoding of `cp`.
void appendUTF8(std::string &out, char32_t cp);

/// Decodes strictly valid UTF-8 into code points; on invalid input returns
/// std::nullopt and sets `badOffset` to the first invalid byte.
std::optional<std::vector<char32_t>> decodeUTF8(llvm::StringRef text,
                                                size_t &badOffset);

/// Unicode Normalization Form C of valid UTF-8 text.
std::string normalizeNFC(llvm::StringRef text);

/// Decodes any bytes, replacing each maximal invalid subsequence with U+FFFD.
std::string sanitizeUTF8(llvm::StringRef bytes);

} // namespace flightllm::tokenizer

#endif // FLIGHTLLM_TOKENIZER_UNICODE_H
