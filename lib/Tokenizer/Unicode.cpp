//===- Unicode.cpp - Code point classes and UTF-8 for tokenizers ----------===//

#include "flightllm/Tokenizer/Unicode.h"

#include <algorithm>
#include <iterator>

using namespace flightllm::tokenizer;

namespace {

struct CodePointRange {
  char32_t first, last;
};
struct CombiningClassRun {
  char32_t first, last, combiningClass;
};
struct Decomposition {
  char32_t composite, first, second; // second 0: a singleton
};
struct Composition {
  char32_t first, second, composite;
};

#include "UnicodeTables.inc"

template <size_t N>
bool inRanges(const CodePointRange (&ranges)[N], char32_t cp) {
  const CodePointRange *it =
      std::upper_bound(std::begin(ranges), std::end(ranges), cp,
                       [](char32_t c, const CodePointRange &r) {
                         return c < r.first;
                       });
  return it != std::begin(ranges) && cp <= std::prev(it)->last;
}

/// Length of the valid UTF-8 sequence at bytes[i], or 0 when the bytes there
/// are not one; `maximalPrefix` gets the length of the longest prefix that
/// could still start a valid sequence (at least 1), the unit that lossy
/// decoding replaces with one U+FFFD.
size_t sequenceAt(llvm::StringRef bytes, size_t i, size_t &maximalPrefix,
                  char32_t &cp) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(bytes[k]); };
  uint8_t lead = byte(i);
  maximalPrefix = 1;
  if (lead < 0x80) {
    cp = lead;
    return 1;
  }
  size_t length;
  uint8_t lo = 0x80, hi = 0xBF; // range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0)
      lo = 0xA0;
    if (lead == 0xED)
      hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0)
      lo = 0x90;
    if (lead == 0xF4)
      hi = 0x8F;
  } else {
    return 0;
  }
  char32_t value = lead & (0xFF >> (length + 1));
  for (size_t k = 1; k < length; ++k) {
    if (i + k >= bytes.size())
      return 0;
    uint8_t b = byte(i + k);
    uint8_t low = k == 1 ? lo : 0x80, high = k == 1 ? hi : 0xBF;
    if (b < low || b > high)
      return 0;
    value = (value << 6) | (b & 0x3F);
    maximalPrefix = k + 1;
  }
  cp = value;
  return length;
}

// Hangul syllables decompose and compose arithmetically (Unicode 3.12).
constexpr char32_t kHangulS = 0xAC00, kHangulL = 0x1100, kHangulV = 0x1161,
                   kHangulT = 0x11A7;
constexpr char32_t kHangulLCount = 19, kHangulVCount = 21, kHangulTCount = 28;
constexpr char32_t kHangulN = kHangulVCount * kHangulTCount;
constexpr char32_t kHangulSCount = kHangulLCount * kHangulN;

unsigned combiningClass(char32_t cp) {
  const CombiningClassRun *it = std::upper_bound(
      std::begin(kCombiningClasses), std::end(kCombiningClasses), cp,
      [](char32_t c, const CombiningClassRun &r) { return c < r.first; });
  if (it == std::begin(kCombiningClasses) || cp > std::prev(it)->last)
    return 0;
  return std::prev(it)->combiningClass;
}

void decompose(char32_t cp, std::vector<char32_t> &out) {
  if (cp >= kHangulS && cp < kHangulS + kHangulSCount) {
    char32_t index = cp - kHangulS;
    out.push_back(kHangulL + index / kHangulN);
    out.push_back(kHangulV + (index % kHangulN) / kHangulTCount);
    if (index % kHangulTCount)
      out.push_back(kHangulT + index % kHangulTCount);
    return;
  }
  const Decomposition *it = std::lower_bound(
      std::begin(kDecompositions), std::end(kDecompositions), cp,
      [](const Decomposition &d, char32_t c) { return d.composite < c; });
  if (it == std::end(kDecompositions) || it->composite != cp) {
    out.push_back(cp);
    return;
  }
  decompose(it->first, out);
  if (it->second)
    decompose(it->second, out);
}

/// The primary composite of (first, second), or 0.
char32_t compose(char32_t first, char32_t second) {
  if (first >= kHangulL && first < kHangulL + kHangulLCount &&
      second >= kHangulV && second < kHangulV + kHangulVCount)
    return kHangulS +
           ((first - kHangulL) * kHangulVCount + (second - kHangulV)) *
               kHangulTCount;
  if (first >= kHangulS && first < kHangulS + kHangulSCount &&
      (first - kHangulS) % kHangulTCount == 0 && second > kHangulT &&
      second < kHangulT + kHangulTCount)
    return first + (second - kHangulT);
  const Composition *it = std::lower_bound(
      std::begin(kCompositions), std::end(kCompositions),
      std::pair{first, second}, [](const Composition &c, auto key) {
        return std::pair{c.first, c.second} < key;
      });
  if (it == std::end(kCompositions) || it->first != first ||
      it->second != second)
    return 0;
  return it->composite;
}

} // namespace

std::string flightllm::tokenizer::normalizeNFC(llvm::StringRef text) {
  size_t bad;
  std::optional<std::vector<char32_t>> cps = decodeUTF8(text, bad);
  if (!cps)
    return text.str(); // callers pass valid UTF-8
  // Canonical decomposition, then the canonical order of each run of
  // non-starters (a stable sort by combining class).
  std::vector<char32_t> d;
  d.reserve(cps->size());
  for (char32_t cp : *cps)
    decompose(cp, d);
  for (size_t i = 0; i < d.size();) {
    if (combiningClass(d[i]) == 0) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < d.size() && combiningClass(d[end]) != 0)
      ++end;
    std::stable_sort(d.begin() + i, d.begin() + end,
                     [](char32_t a, char32_t b) {
                       return combiningClass(a) < combiningClass(b);
                     });
    i = end;
  }
  // Canonical composition: each character joins the last starter unless a
  // character of the same or a higher class (or a starter) stands between.
  std::vector<char32_t> out;
  out.reserve(d.size());
  constexpr size_t kNone = ~size_t(0);
  size_t starter = kNone;
  unsigned lastClass = 0; // of the last character kept
  for (char32_t cp : d) {
    unsigned cc = combiningClass(cp);
    if (starter != kNone) {
      bool adjacent = out.size() - 1 == starter;
      if (adjacent || (lastClass != 0 && lastClass < cc))
        if (char32_t composite = compose(out[starter], cp)) {
          out[starter] = composite;
          continue;
        }
    }
    if (cc == 0)
      starter = out.size();
    lastClass = cc;
    out.push_back(cp);
  }
  std::string result;
  result.reserve(text.size());
  for (char32_t cp : out)
    appendUTF8(result, cp);
  return result;
}

bool flightllm::tokenizer::isLetter(char32_t cp) {
  return inRanges(kLetterRanges, cp);
}

bool flightllm::tokenizer::isNumber(char32_t cp) {
  return inRanges(kNumberRanges, cp);
}

bool flightllm::tokenizer::isWhiteSpace(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 ||
         cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

void flightllm::tokenizer::appendUTF8(std::string &out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::optional<std::vector<char32_t>>
flightllm::tokenizer::decodeUTF8(llvm::StringRef text, size_t &badOffset) {
  std::vector<char32_t> out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t prefix;
    char32_t cp;
    size_t length = sequenceAt(text, i, prefix, cp);
    if (length == 0) {
      badOffset = i;
      return std::nullopt;
    }
    out.push_back(cp);
    i += length;
  }
  return out;
}

std::string flightllm::tokenizer::sanitizeUTF8(llvm::StringRef bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    size_t prefix;
    char32_t cp;
    size_t length = sequenceAt(bytes, i, prefix, cp);
    if (length == 0) {
      out += "\xEF\xBF\xBD";
      i += prefix;
      continue;
    }
    out.append(bytes.data() + i, length);
    i += length;
  }
  return out;
}
