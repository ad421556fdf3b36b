//===- Tokenizer.cpp - Encode and decode through a loaded tokenizer.json --===//
//
// encode: added tokens are cut out of the raw text (those marked normalized
// after normalization), the rest is normalized, pre-tokenized into words,
// and each word BPE-encoded; then the post-processor's template.
// decode: tokens through the decoder chain, bytes that are not UTF-8 made
// U+FFFD.
//===----------------------------------------------------------------------===//

#include "Pipeline.h"

#include "flightllm/Tokenizer/Tokenizer.h"
#include "flightllm/Tokenizer/Unicode.h"

#include "llvm/ADT/StringExtras.h"

using namespace flightllm::tokenizer;
using llvm::StringRef;

namespace {

/// A stretch of input: an added token, or text still to encode.
struct Segment {
  std::optional<int32_t> addedId;
  std::string text;
  bool atStart = false; // begins at offset 0 of the input
};

std::string replaceAll(StringRef text, StringRef pattern, StringRef content) {
  std::string out;
  for (size_t i = 0;;) {
    size_t at = text.find(pattern, i);
    out += text.slice(i, at).str();
    if (at == StringRef::npos)
      return out;
    out += content.str();
    i = at + pattern.size();
  }
}

/// Byte offsets in `text` of the code point boundaries just before `at` that
/// are whitespace (for lstrip), or after (rstrip).
size_t skipWhiteSpaceBack(StringRef text, size_t at, size_t limit) {
  while (at > limit) {
    size_t begin = at - 1;
    while (begin > limit && (static_cast<uint8_t>(text[begin]) & 0xC0) == 0x80)
      --begin;
    size_t bad;
    auto cps = decodeUTF8(text.slice(begin, at), bad);
    if (!cps || cps->size() != 1 || !isWhiteSpace((*cps)[0]))
      break;
    at = begin;
  }
  return at;
}

size_t skipWhiteSpaceForward(StringRef text, size_t at) {
  while (at < text.size()) {
    size_t length = utf8SequenceLength(static_cast<uint8_t>(text[at]));
    size_t bad;
    auto cps = decodeUTF8(text.substr(at, length), bad);
    if (!cps || cps->size() != 1 || !isWhiteSpace((*cps)[0]))
      break;
    at += length;
  }
  return at;
}

/// Cuts the added tokens selected by `normalizedTokens` out of `segment`,
/// leftmost-longest, as Hugging Face's added vocabulary does.
void splitAddedTokens(const Pipeline &p, const Segment &segment,
                      bool normalizedTokens, std::vector<Segment> &out) {
  StringRef text = segment.text;
  size_t begin = 0; // end of the previous cut
  for (size_t i = 0; i < text.size();) {
    const AddedToken *best = nullptr;
    for (const AddedToken &t : p.addedTokens)
      if (t.normalized == normalizedTokens &&
          text.substr(i).starts_with(t.content) &&
          (!best || t.content.size() > best->content.size()))
        best = &t;
    if (!best) {
      ++i;
      continue;
    }
    size_t start = i, stop = i + best->content.size();
    if (best->lstrip)
      start = skipWhiteSpaceBack(text, start, begin);
    if (best->rstrip)
      stop = skipWhiteSpaceForward(text, stop);
    if (start > begin)
      out.push_back({std::nullopt, text.slice(begin, start).str(),
                     segment.atStart && begin == 0});
    out.push_back({best->id, "", false});
    begin = i = stop;
  }
  if (begin < text.size())
    out.push_back(
        {std::nullopt, text.substr(begin).str(), segment.atStart && begin == 0});
}

std::string normalize(const Pipeline &p, std::string text) {
  for (const NormalizerStep &step : p.normalizer) {
    switch (step.kind) {
    case NormalizerStep::Kind::Prepend:
      if (!text.empty())
        text = step.content + text;
      break;
    case NormalizerStep::Kind::Replace:
      text = replaceAll(text, step.pattern, step.content);
      break;
    case NormalizerStep::Kind::NFC:
      text = normalizeNFC(text);
      break;
    }
  }
  return text;
}

/// A pre-token: a word for BPE.
struct Word {
  std::string text;
  bool atStart;
};

void preTokenizeStep(const PreTokenizerStep &step, std::vector<Word> &words) {
  std::vector<Word> next;
  for (Word &w : words) {
    switch (step.kind) {
    case PreTokenizerStep::Kind::ByteLevel: {
      std::string text = w.text;
      if (step.addPrefixSpace && !StringRef(text).starts_with(" "))
        text = " " + text;
      std::vector<StringRef> pieces =
          step.useRegex ? splitByPattern(text, SplitPattern::GPT2)
                        : std::vector<StringRef>{text};
      for (size_t k = 0; k < pieces.size(); ++k) {
        std::string mapped;
        for (char c : pieces[k])
          appendUTF8(mapped, byteToChar(static_cast<uint8_t>(c)));
        next.push_back({std::move(mapped), w.atStart && k == 0});
      }
      break;
    }
    case PreTokenizerStep::Kind::Split: {
      std::vector<StringRef> pieces = splitByPattern(w.text, step.pattern);
      for (size_t k = 0; k < pieces.size(); ++k)
        next.push_back({pieces[k].str(), w.atStart && k == 0});
      break;
    }
    case PreTokenizerStep::Kind::Metaspace: {
      std::string text = replaceAll(w.text, " ", step.replacement);
      bool prepend =
          step.prepend == PreTokenizerStep::Prepend::Always ||
          (step.prepend == PreTokenizerStep::Prepend::First && w.atStart);
      if (prepend && !StringRef(text).starts_with(step.replacement))
        text = step.replacement + text;
      if (!step.split) {
        next.push_back({std::move(text), w.atStart});
        break;
      }
      // Split before each run of replacement characters (MergedWithNext:
      // a run stays together with the text after it).
      StringRef rest = text, r = step.replacement;
      size_t start = 0;
      for (size_t i = 0; i < rest.size();) {
        bool runStart = rest.substr(i).starts_with(r) &&
                        !(i >= r.size() && rest.substr(i - r.size()).starts_with(r));
        if (runStart && i > start) {
          next.push_back({rest.slice(start, i).str(), w.atStart && start == 0});
          start = i;
        }
        i += rest.substr(i).starts_with(r) ? r.size() : 1;
      }
      if (start < rest.size())
        next.push_back({rest.substr(start).str(), w.atStart && start == 0});
      break;
    }
    }
  }
  words = std::move(next);
}

/// Decodes one "<0xXX>" token.
std::optional<uint8_t> byteToken(StringRef token) {
  unsigned value;
  if (token.size() != 6 || !token.starts_with("<0x") || !token.ends_with(">") ||
      token.substr(3, 2).getAsInteger(16, value))
    return std::nullopt;
  return static_cast<uint8_t>(value);
}

void decodeStep(const DecoderStep &step, std::vector<std::string> &tokens) {
  switch (step.kind) {
  case DecoderStep::Kind::ByteLevel: {
    std::string bytes;
    for (const std::string &token : tokens) {
      size_t bad;
      auto cps = decodeUTF8(token, bad);
      std::string mapped;
      bool all = cps.has_value();
      for (char32_t cp : cps.value_or(std::vector<char32_t>{})) {
        int b = byteOfChar(cp);
        if (b < 0) {
          all = false;
          break;
        }
        mapped.push_back(static_cast<char>(b));
      }
      bytes += all ? mapped : token;
    }
    tokens = {sanitizeUTF8(bytes)};
    return;
  }
  case DecoderStep::Kind::Replace:
    for (std::string &token : tokens)
      token = replaceAll(token, step.pattern, step.content);
    return;
  case DecoderStep::Kind::ByteFallback: {
    std::vector<std::string> out;
    std::string pending;
    size_t pendingCount = 0;
    auto flush = [&] {
      if (pendingCount == 0)
        return;
      size_t bad;
      if (decodeUTF8(pending, bad))
        out.push_back(pending);
      else
        for (size_t k = 0; k < pendingCount; ++k)
          out.push_back("\xEF\xBF\xBD");
      pending.clear();
      pendingCount = 0;
    };
    for (std::string &token : tokens) {
      if (std::optional<uint8_t> b = byteToken(token)) {
        pending.push_back(static_cast<char>(*b));
        ++pendingCount;
        continue;
      }
      flush();
      out.push_back(std::move(token));
    }
    flush();
    tokens = std::move(out);
    return;
  }
  case DecoderStep::Kind::Fuse: {
    std::string all;
    for (const std::string &token : tokens)
      all += token;
    tokens = {std::move(all)};
    return;
  }
  case DecoderStep::Kind::Strip:
    for (std::string &token : tokens) {
      StringRef t = token;
      for (unsigned k = 0; k < step.start && t.starts_with(step.content); ++k)
        t = t.drop_front(step.content.size());
      for (unsigned k = 0; k < step.stop && t.ends_with(step.content); ++k)
        t = t.drop_back(step.content.size());
      token = t.str();
    }
    return;
  case DecoderStep::Kind::Metaspace:
    for (size_t i = 0; i < tokens.size(); ++i) {
      StringRef t = tokens[i];
      if (i == 0 && step.prependFirst && t.starts_with(step.pattern))
        t = t.drop_front(step.pattern.size());
      tokens[i] = replaceAll(t, step.pattern, " ");
    }
    return;
  }
}

} // namespace

Tokenizer::Tokenizer(std::unique_ptr<Pipeline> pipeline)
    : pipeline(std::move(pipeline)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer &&) noexcept = default;
Tokenizer &Tokenizer::operator=(Tokenizer &&) noexcept = default;

llvm::Expected<std::vector<int32_t>>
Tokenizer::encode(StringRef text, bool addSpecialTokens) const {
  const Pipeline &p = *pipeline;
  size_t bad;
  if (!decodeUTF8(text, bad))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "text is not valid UTF-8 (byte offset %zu)",
                                   bad);
  std::vector<Segment> raw;
  splitAddedTokens(p, {std::nullopt, text.str(), true},
                   /*normalizedTokens=*/false, raw);
  std::vector<int32_t> ids;
  for (Segment &segment : raw) {
    if (segment.addedId) {
      ids.push_back(*segment.addedId);
      continue;
    }
    segment.text = normalize(p, std::move(segment.text));
    std::vector<Segment> pieces;
    splitAddedTokens(p, segment, /*normalizedTokens=*/true, pieces);
    for (Segment &piece : pieces) {
      if (piece.addedId) {
        ids.push_back(*piece.addedId);
        continue;
      }
      std::vector<Word> words{{std::move(piece.text), piece.atStart}};
      for (const PreTokenizerStep &step : p.preTokenizer)
        preTokenizeStep(step, words);
      for (const Word &w : words)
        if (!w.text.empty() && !encodeWord(p.model, w.text, ids))
          return llvm::createStringError(
              llvm::inconvertibleErrorCode(),
              "'%s' has a character that is not in the vocabulary, and the "
              "tokenizer has neither byte fallback nor an unknown token",
              w.text.c_str());
    }
  }
  if (!addSpecialTokens || !p.postTemplate)
    return ids;
  std::vector<int32_t> out;
  for (const TemplatePiece &piece : *p.postTemplate)
    out.insert(out.end(), piece.isSequence ? ids.begin() : piece.ids.begin(),
               piece.isSequence ? ids.end() : piece.ids.end());
  return out;
}

std::string Tokenizer::decode(llvm::ArrayRef<int32_t> ids,
                              bool skipSpecialTokens) const {
  const Pipeline &p = *pipeline;
  std::vector<std::string> tokens;
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= p.idToToken.size() ||
        p.idToToken[id].empty())
      continue;
    if (skipSpecialTokens && p.idIsSpecial[id])
      continue;
    tokens.push_back(p.idToToken[id]);
  }
  if (!p.decoder)
    return sanitizeUTF8(llvm::join(tokens, " "));
  for (const DecoderStep &step : *p.decoder)
    decodeStep(step, tokens);
  return sanitizeUTF8(llvm::join(tokens, ""));
}

std::optional<int32_t> Tokenizer::tokenToId(StringRef token) const {
  for (const AddedToken &t : pipeline->addedTokens)
    if (t.content == token)
      return t.id;
  auto it = pipeline->model.vocab.find(token);
  if (it == pipeline->model.vocab.end())
    return std::nullopt;
  return it->second;
}

size_t Tokenizer::vocabSize() const { return pipeline->idToToken.size(); }

StringRef Tokenizer::kindName() const {
  return pipeline->byteLevel ? "byte-level BPE" : "SentencePiece BPE";
}
