//===- SplitPatterns.cpp - The pre-tokenizer regexes of byte-level BPE ----===//
//
// Each pattern is an alternation that the regex engine tries left to right
// at every position, taking the first alternative that matches (with
// backtracking inside it). The alternatives below are written out as that
// engine would run them, over code points, so no regex engine is needed.
//===----------------------------------------------------------------------===//

#include "Pipeline.h"

#include "flightllm/Tokenizer/Unicode.h"

using namespace flightllm::tokenizer;
using llvm::StringRef;

namespace {

struct CodePoints {
  std::vector<char32_t> cps;
  std::vector<size_t> offsets; // byte offset of each code point, and the end
};

CodePoints decode(StringRef text) {
  CodePoints out;
  size_t bad = 0;
  // The text is valid UTF-8 here (encode() checked it).
  out.cps = *decodeUTF8(text, bad);
  size_t offset = 0;
  for (size_t k = 0; k < out.cps.size(); ++k) {
    out.offsets.push_back(offset);
    offset += utf8SequenceLength(static_cast<uint8_t>(text[offset]));
  }
  out.offsets.push_back(offset);
  return out;
}

bool isOther(char32_t c) {
  return !isWhiteSpace(c) && !isLetter(c) && !isNumber(c);
}
bool isCRLF(char32_t c) { return c == '\r' || c == '\n'; }

/// Folds the letters of the contractions the way case-insensitive matching
/// does (ſ, U+017F, folds to s).
char32_t foldContraction(char32_t c) {
  if (c == 0x17F)
    return 's';
  if (c >= 'A' && c <= 'Z')
    return c - 'A' + 'a';
  return c;
}

/// 's|'t|'re|'ve|'m|'ll|'d at i: the match length or 0.
size_t contraction(const std::vector<char32_t> &s, size_t i, bool ignoreCase) {
  size_t n = s.size();
  if (s[i] != '\'' || i + 1 >= n)
    return 0;
  auto at = [&](size_t k) {
    return ignoreCase ? foldContraction(s[k]) : s[k];
  };
  char32_t a = at(i + 1);
  // Alternatives in pattern order; the one-letter ones cannot be prefixes of
  // the two-letter ones, so order does not change the result.
  if (a == 's' || a == 't' || a == 'm' || a == 'd')
    return 2;
  if (i + 2 < n) {
    char32_t b = at(i + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') ||
        (a == 'l' && b == 'l'))
      return 3;
  }
  return 0;
}

template <typename Pred>
size_t runFrom(const std::vector<char32_t> &s, size_t i, Pred pred) {
  size_t j = i;
  while (j < s.size() && pred(s[j]))
    ++j;
  return j - i;
}

/// \s+(?!\S) then \s+ : a whitespace run, leaving its last character to the
/// next token when a non-space follows.
size_t whitespaceTail(const std::vector<char32_t> &s, size_t i) {
  size_t w = runFrom(s, i, isWhiteSpace);
  if (w == 0)
    return 0;
  if (i + w == s.size() || w == 1)
    return w; // (?!\S) holds at the end; else the plain \s+ alternative
  return w - 1;
}

size_t matchGPT2(const std::vector<char32_t> &s, size_t i) {
  if (size_t m = contraction(s, i, /*ignoreCase=*/false))
    return m;
  size_t j = s[i] == ' ' ? i + 1 : i;
  if (j < s.size()) {
    // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`; when the space does not
    // lead to a match, the form without it starts at the space and fails.
    for (bool (*cls)(char32_t) : {isLetter, isNumber, isOther})
      if (cls(s[j]))
        return j - i + runFrom(s, j, cls);
  }
  return whitespaceTail(s, i);
}

size_t matchLlama3(const std::vector<char32_t> &s, size_t i, size_t maxDigits) {
  size_t n = s.size();
  if (size_t m = contraction(s, i, /*ignoreCase=*/true))
    return m;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  char32_t c = s[i];
  if (!isCRLF(c) && !isLetter(c) && !isNumber(c) && i + 1 < n &&
      isLetter(s[i + 1]))
    return 1 + runFrom(s, i + 1, isLetter);
  if (isLetter(c))
    return runFrom(s, i, isLetter);
  // \p{N}{1,3} or \p{N}
  if (isNumber(c))
    return std::min(maxDigits, runFrom(s, i, isNumber));
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  size_t j = c == ' ' ? i + 1 : i;
  if (j < n && isOther(s[j])) {
    j += runFrom(s, j, isOther);
    return j - i + runFrom(s, j, isCRLF);
  }
  // \s*[\r\n]+ : up to the last CR/LF of the whitespace run.
  size_t w = runFrom(s, i, isWhiteSpace);
  for (size_t k = i + w; k > i; --k)
    if (isCRLF(s[k - 1]))
      return k - i;
  return whitespaceTail(s, i);
}

} // namespace

std::vector<StringRef>
flightllm::tokenizer::splitByPattern(StringRef text, SplitPattern pattern) {
  CodePoints cp = decode(text);
  std::vector<StringRef> pieces;
  for (size_t i = 0; i < cp.cps.size();) {
    size_t length = 0;
    switch (pattern) {
    case SplitPattern::GPT2:
      length = matchGPT2(cp.cps, i);
      break;
    case SplitPattern::Llama3:
      length = matchLlama3(cp.cps, i, 3);
      break;
    case SplitPattern::Qwen2:
      length = matchLlama3(cp.cps, i, 1);
      break;
    }
    if (length == 0)
      length = 1; // every code point is matched by some alternative
    pieces.push_back(text.slice(cp.offsets[i], cp.offsets[i + length]));
    i += length;
  }
  return pieces;
}
