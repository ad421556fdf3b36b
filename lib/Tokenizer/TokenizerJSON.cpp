//===- TokenizerJSON.cpp - Read a tokenizer.json into a Pipeline ----------===//
//
// Accepts the components the supported tokenizers use and refuses anything
// else with the JSON path of the offending field.
//===----------------------------------------------------------------------===//

#include "Pipeline.h"

#include "flightllm/Support/BoundedJSON.h"
#include "flightllm/Tokenizer/Tokenizer.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace flightllm::tokenizer;
using llvm::StringRef;
namespace json = llvm::json;

namespace {

/// The pre-tokenizer regexes we implement, spelled as in tokenizer.json.
constexpr StringRef kGPT2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr StringRef kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr StringRef kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

class Reader {
public:
  explicit Reader(StringRef source) : source(source.str()) {}

  llvm::Error fail(const std::string &path, const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   llvm::formatv("{0}: {1}: {2}", source, path,
                                                 message.str())
                                       .str());
  }

  /// The object at `path`, or an error.
  llvm::Expected<const json::Object *> object(const json::Value *v,
                                              const std::string &path) {
    if (!v || !v->getAsObject())
      return fail(path, "expected an object");
    return v->getAsObject();
  }

  llvm::Expected<std::string> string(const json::Object &o, StringRef key,
                                     const std::string &path) {
    const json::Value *v = o.get(key);
    if (!v || !v->getAsString())
      return fail(join(path, key), "expected a string");
    return v->getAsString()->str();
  }

  /// A boolean field; absent or null gives `fallback`.
  llvm::Expected<bool> boolean(const json::Object &o, StringRef key,
                               const std::string &path, bool fallback) {
    const json::Value *v = o.get(key);
    if (!v || v->kind() == json::Value::Null)
      return fallback;
    if (!v->getAsBoolean())
      return fail(join(path, key), "expected true or false");
    return *v->getAsBoolean();
  }

  static std::string join(const std::string &path, StringRef key) {
    return path.empty() ? key.str() : path + "." + key.str();
  }
  static std::string index(const std::string &path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
  }

  std::string source;
};

/// Runs `each` on the element at `path` or, for a Sequence, on each of its
/// `listKey` elements.
template <typename Fn>
llvm::Error forEachStep(Reader &r, const json::Object &component,
                        const std::string &path, StringRef listKey, Fn each) {
  const json::Value *type = component.get("type");
  if (type && type->getAsString() && *type->getAsString() == "Sequence") {
    const json::Value *list = component.get(listKey);
    std::string listPath = Reader::join(path, listKey);
    if (!list || !list->getAsArray())
      return r.fail(listPath, "expected an array");
    for (size_t i = 0; i < list->getAsArray()->size(); ++i) {
      std::string p = Reader::index(listPath, i);
      auto step = r.object(&(*list->getAsArray())[i], p);
      if (!step)
        return step.takeError();
      if (llvm::Error e = each(**step, p))
        return e;
    }
    return llvm::Error::success();
  }
  return each(component, path);
}

/// The literal of a {"String": ...} pattern.
llvm::Expected<std::string> literalPattern(Reader &r, const json::Object &o,
                                           const std::string &path) {
  auto pattern = r.object(o.get("pattern"), Reader::join(path, "pattern"));
  if (!pattern)
    return pattern.takeError();
  const json::Value *s = (*pattern)->get("String");
  if (!s || !s->getAsString())
    return r.fail(Reader::join(path, "pattern"),
                  "only {\"String\": ...} patterns are supported here");
  return s->getAsString()->str();
}

/// A Replace step (normalizer or decoder): a non-empty literal and its
/// replacement.
llvm::Error readReplace(Reader &r, const json::Object &o,
                        const std::string &path, std::string &pattern,
                        std::string &content) {
  auto literal = literalPattern(r, o, path);
  if (!literal)
    return literal.takeError();
  if (literal->empty())
    return r.fail(Reader::join(path, "pattern"), "empty pattern");
  auto replacement = r.string(o, "content", path);
  if (!replacement)
    return replacement.takeError();
  pattern = std::move(*literal);
  content = std::move(*replacement);
  return llvm::Error::success();
}

llvm::Error readNormalizer(Reader &r, const json::Object &o,
                           const std::string &path, Pipeline &p) {
  auto type = r.string(o, "type", path);
  if (!type)
    return type.takeError();
  if (*type == "Prepend") {
    auto prepend = r.string(o, "prepend", path);
    if (!prepend)
      return prepend.takeError();
    p.normalizer.push_back({NormalizerStep::Kind::Prepend, "", *prepend});
    return llvm::Error::success();
  }
  if (*type == "NFC") {
    p.normalizer.push_back({NormalizerStep::Kind::NFC, "", ""});
    return llvm::Error::success();
  }
  if (*type == "Replace") {
    NormalizerStep step{NormalizerStep::Kind::Replace, "", ""};
    if (llvm::Error e = readReplace(r, o, path, step.pattern, step.content))
      return e;
    p.normalizer.push_back(std::move(step));
    return llvm::Error::success();
  }
  return r.fail(Reader::join(path, "type"),
                "unsupported normalizer '" + *type +
                    "' (supported: Prepend, Replace, NFC, Sequence of them)");
}

llvm::Error readPreTokenizer(Reader &r, const json::Object &o,
                             const std::string &path, Pipeline &p) {
  auto type = r.string(o, "type", path);
  if (!type)
    return type.takeError();
  PreTokenizerStep step;
  if (*type == "ByteLevel") {
    step.kind = PreTokenizerStep::Kind::ByteLevel;
    auto prefix = r.boolean(o, "add_prefix_space", path, true);
    auto regex = r.boolean(o, "use_regex", path, true);
    if (!prefix)
      return prefix.takeError();
    if (!regex)
      return regex.takeError();
    step.addPrefixSpace = *prefix;
    step.useRegex = *regex;
    p.byteLevel = true;
  } else if (*type == "Split") {
    step.kind = PreTokenizerStep::Kind::Split;
    auto pattern = r.object(o.get("pattern"), Reader::join(path, "pattern"));
    if (!pattern)
      return pattern.takeError();
    const json::Value *regex = (*pattern)->get("Regex");
    std::string patternPath = Reader::join(path, "pattern");
    if (!regex || !regex->getAsString())
      return r.fail(patternPath, "only {\"Regex\": ...} split patterns are "
                                 "supported");
    StringRef re = *regex->getAsString();
    if (re == kGPT2Regex)
      step.pattern = SplitPattern::GPT2;
    else if (re == kLlama3Regex)
      step.pattern = SplitPattern::Llama3;
    else if (re == kQwen2Regex)
      step.pattern = SplitPattern::Qwen2;
    else
      return r.fail(Reader::join(patternPath, "Regex"),
                    "unsupported split regex '" + re.str() +
                        "' (supported: the GPT-2, Llama-3 and Qwen2 patterns)");
    auto behavior = r.string(o, "behavior", path);
    if (!behavior)
      return behavior.takeError();
    if (*behavior != "Isolated")
      return r.fail(Reader::join(path, "behavior"),
                    "unsupported split behavior '" + *behavior +
                        "' (supported: Isolated)");
    auto invert = r.boolean(o, "invert", path, false);
    if (!invert)
      return invert.takeError();
    if (*invert)
      return r.fail(Reader::join(path, "invert"),
                    "inverted splits are not supported");
  } else if (*type == "Metaspace") {
    step.kind = PreTokenizerStep::Kind::Metaspace;
    auto replacement = r.string(o, "replacement", path);
    if (!replacement)
      return replacement.takeError();
    step.replacement = *replacement;
    auto split = r.boolean(o, "split", path, true);
    if (!split)
      return split.takeError();
    step.split = *split;
    // prepend_scheme (newer files) or add_prefix_space (older ones).
    if (const json::Value *scheme = o.get("prepend_scheme")) {
      std::optional<StringRef> s = scheme->getAsString();
      if (s && *s == "always")
        step.prepend = PreTokenizerStep::Prepend::Always;
      else if (s && *s == "first")
        step.prepend = PreTokenizerStep::Prepend::First;
      else if (s && *s == "never")
        step.prepend = PreTokenizerStep::Prepend::Never;
      else
        return r.fail(Reader::join(path, "prepend_scheme"),
                      "expected \"always\", \"first\" or \"never\"");
    } else {
      auto prefix = r.boolean(o, "add_prefix_space", path, true);
      if (!prefix)
        return prefix.takeError();
      step.prepend = *prefix ? PreTokenizerStep::Prepend::Always
                             : PreTokenizerStep::Prepend::Never;
    }
  } else {
    return r.fail(Reader::join(path, "type"),
                  "unsupported pre-tokenizer '" + *type +
                      "' (supported: ByteLevel, Split, Metaspace, Sequence "
                      "of them)");
  }
  p.preTokenizer.push_back(std::move(step));
  return llvm::Error::success();
}

llvm::Error readDecoder(Reader &r, const json::Object &o,
                        const std::string &path, Pipeline &p) {
  auto type = r.string(o, "type", path);
  if (!type)
    return type.takeError();
  DecoderStep step;
  if (*type == "ByteLevel") {
    step.kind = DecoderStep::Kind::ByteLevel;
  } else if (*type == "ByteFallback") {
    step.kind = DecoderStep::Kind::ByteFallback;
  } else if (*type == "Fuse") {
    step.kind = DecoderStep::Kind::Fuse;
  } else if (*type == "Replace") {
    step.kind = DecoderStep::Kind::Replace;
    if (llvm::Error e = readReplace(r, o, path, step.pattern, step.content))
      return e;
  } else if (*type == "Strip") {
    step.kind = DecoderStep::Kind::Strip;
    auto content = r.string(o, "content", path);
    if (!content)
      return content.takeError();
    step.content = *content;
    for (auto [key, field] : {std::pair{"start", &step.start},
                              std::pair{"stop", &step.stop}}) {
      const json::Value *v = o.get(key);
      std::optional<int64_t> n = v ? v->getAsInteger() : std::nullopt;
      if (!n || *n < 0)
        return r.fail(Reader::join(path, key),
                      "expected a non-negative integer");
      *field = static_cast<unsigned>(*n);
    }
  } else if (*type == "Metaspace") {
    step.kind = DecoderStep::Kind::Metaspace;
    auto replacement = r.string(o, "replacement", path);
    if (!replacement)
      return replacement.takeError();
    step.pattern = *replacement;
    if (const json::Value *scheme = o.get("prepend_scheme")) {
      step.prependFirst = !(scheme->getAsString() &&
                            *scheme->getAsString() == "never");
    } else {
      auto prefix = r.boolean(o, "add_prefix_space", path, true);
      if (!prefix)
        return prefix.takeError();
      step.prependFirst = *prefix;
    }
  } else {
    return r.fail(Reader::join(path, "type"),
                  "unsupported decoder '" + *type +
                      "' (supported: ByteLevel, Replace, ByteFallback, Fuse, "
                      "Strip, Metaspace, Sequence of them)");
  }
  p.decoder->push_back(std::move(step));
  return llvm::Error::success();
}

/// A special token's ids from TemplateProcessing's special_tokens map.
llvm::Expected<std::vector<int32_t>>
templateSpecial(Reader &r, const json::Object &processor, StringRef name,
                const std::string &path) {
  const json::Object *map = processor.getObject("special_tokens");
  const json::Object *entry = map ? map->getObject(name) : nullptr;
  std::string entryPath = Reader::join(path, "special_tokens") + "." + name.str();
  if (!entry)
    return r.fail(entryPath, "the template names a special token that "
                             "special_tokens does not define");
  const json::Array *ids = entry->getArray("ids");
  if (!ids)
    return r.fail(Reader::join(entryPath, "ids"), "expected an array");
  std::vector<int32_t> out;
  for (size_t i = 0; i < ids->size(); ++i) {
    std::optional<int64_t> id = (*ids)[i].getAsInteger();
    if (!id || *id < 0 || *id > INT32_MAX)
      return r.fail(Reader::index(Reader::join(entryPath, "ids"), i),
                    "expected a token id");
    out.push_back(static_cast<int32_t>(*id));
  }
  return out;
}

llvm::Error readPostProcessor(Reader &r, const json::Object &o,
                              const std::string &path, Pipeline &p) {
  auto type = r.string(o, "type", path);
  if (!type)
    return type.takeError();
  if (*type == "ByteLevel")
    return llvm::Error::success(); // offsets only; ids unchanged
  if (*type != "TemplateProcessing")
    return r.fail(Reader::join(path, "type"),
                  "unsupported post-processor '" + *type +
                      "' (supported: TemplateProcessing, ByteLevel, Sequence "
                      "of them)");
  if (p.postTemplate)
    return r.fail(path, "more than one TemplateProcessing");
  const json::Array *single = o.getArray("single");
  std::string singlePath = Reader::join(path, "single");
  if (!single)
    return r.fail(singlePath, "expected an array");
  std::vector<TemplatePiece> pieces;
  for (size_t i = 0; i < single->size(); ++i) {
    std::string piecePath = Reader::index(singlePath, i);
    const json::Object *piece = (*single)[i].getAsObject();
    if (piece && piece->getObject("Sequence")) {
      pieces.push_back({true, {}});
      continue;
    }
    const json::Object *special = piece ? piece->getObject("SpecialToken") : nullptr;
    std::optional<StringRef> id = special ? special->getString("id") : std::nullopt;
    if (!id)
      return r.fail(piecePath, "expected {\"Sequence\": ...} or "
                               "{\"SpecialToken\": {\"id\": ...}}");
    auto ids = templateSpecial(r, o, *id, path);
    if (!ids)
      return ids.takeError();
    pieces.push_back({false, std::move(*ids)});
  }
  p.postTemplate = std::move(pieces);
  return llvm::Error::success();
}

llvm::Error readModel(Reader &r, const json::Object &root, Pipeline &p) {
  auto model = r.object(root.get("model"), "model");
  if (!model)
    return model.takeError();
  const json::Object &m = **model;
  auto type = r.string(m, "type", "model");
  if (!type)
    return type.takeError();
  if (*type != "BPE")
    return r.fail("model.type", "unsupported model '" + *type +
                                    "' (supported: BPE)");
  for (StringRef key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json::Value *v = m.get(key);
    if (v && v->kind() != json::Value::Null &&
        !(v->getAsString() && v->getAsString()->empty()))
      return r.fail(Reader::join("model", key), "is not supported");
  }
  if (const json::Value *dropout = m.get("dropout");
      dropout && dropout->kind() != json::Value::Null &&
      dropout->getAsNumber().value_or(1) != 0)
    return r.fail("model.dropout", "BPE dropout is not supported (it makes "
                                   "encoding random)");
  BPEModel &bpe = p.model;
  for (auto [key, field] : {std::pair{"fuse_unk", &bpe.fuseUnk},
                            std::pair{"byte_fallback", &bpe.byteFallback},
                            std::pair{"ignore_merges", &bpe.ignoreMerges}}) {
    auto value = r.boolean(m, key, "model", false);
    if (!value)
      return value.takeError();
    *field = *value;
  }
  const json::Object *vocab = m.getObject("vocab");
  if (!vocab)
    return r.fail("model.vocab", "expected an object of token: id");
  for (const auto &entry : *vocab) {
    std::optional<int64_t> id = entry.second.getAsInteger();
    if (!id || *id < 0 || *id >= (1 << 24))
      return r.fail("model.vocab." + entry.first.str(),
                    "expected a token id below 2^24");
    bpe.vocab[entry.first] = static_cast<int32_t>(*id);
  }
  if (const json::Value *unk = m.get("unk_token");
      unk && unk->kind() != json::Value::Null) {
    std::optional<StringRef> name = unk->getAsString();
    auto it = name ? bpe.vocab.find(*name) : bpe.vocab.end();
    if (it == bpe.vocab.end())
      return r.fail("model.unk_token", "not a token of model.vocab");
    bpe.unkId = it->second;
  }
  for (unsigned b = 0; b < 256; ++b) {
    auto it = bpe.vocab.find(llvm::formatv("<0x{0:X-2}>", b).str());
    bpe.byteTokens[b] = it == bpe.vocab.end() ? -1 : it->second;
  }
  const json::Array *merges = m.getArray("merges");
  if (!merges)
    return r.fail("model.merges", "expected an array");
  for (size_t i = 0; i < merges->size(); ++i) {
    std::string path = Reader::index("model.merges", i);
    // "left right" (older files) or ["left", "right"] (newer ones).
    std::string left, right;
    const json::Value &merge = (*merges)[i];
    if (std::optional<StringRef> s = merge.getAsString()) {
      size_t space = s->find(' ');
      if (space == StringRef::npos || s->find(' ', space + 1) != StringRef::npos)
        return r.fail(path, "expected \"left right\"");
      left = s->take_front(space).str();
      right = s->drop_front(space + 1).str();
    } else if (const json::Array *pair = merge.getAsArray();
               pair && pair->size() == 2 && (*pair)[0].getAsString() &&
               (*pair)[1].getAsString()) {
      left = (*pair)[0].getAsString()->str();
      right = (*pair)[1].getAsString()->str();
    } else {
      return r.fail(path, "expected \"left right\" or [\"left\", \"right\"]");
    }
    auto l = bpe.vocab.find(left), rt = bpe.vocab.find(right),
         merged = bpe.vocab.find(left + right);
    if (l == bpe.vocab.end() || rt == bpe.vocab.end() ||
        merged == bpe.vocab.end())
      return r.fail(path, "merges '" + left + "' and '" + right +
                              "', which are not all in model.vocab");
    // The first occurrence of a pair holds its rank.
    bpe.merges.try_emplace({l->second, rt->second},
                           static_cast<uint32_t>(i), merged->second);
  }
  return llvm::Error::success();
}

llvm::Error readAddedTokens(Reader &r, const json::Object &root, Pipeline &p) {
  const json::Value *added = root.get("added_tokens");
  if (!added || added->kind() == json::Value::Null)
    return llvm::Error::success();
  if (!added->getAsArray())
    return r.fail("added_tokens", "expected an array");
  for (size_t i = 0; i < added->getAsArray()->size(); ++i) {
    std::string path = Reader::index("added_tokens", i);
    auto o = r.object(&(*added->getAsArray())[i], path);
    if (!o)
      return o.takeError();
    AddedToken token;
    auto content = r.string(**o, "content", path);
    if (!content)
      return content.takeError();
    if (content->empty())
      return r.fail(Reader::join(path, "content"), "empty added token");
    token.content = *content;
    std::optional<int64_t> id = (*o)->getInteger("id");
    if (!id || *id < 0 || *id >= (1 << 24))
      return r.fail(Reader::join(path, "id"), "expected a token id below 2^24");
    token.id = static_cast<int32_t>(*id);
    for (auto [key, field, fallback] :
         {std::tuple{"special", &token.special, false},
          std::tuple{"lstrip", &token.lstrip, false},
          std::tuple{"rstrip", &token.rstrip, false},
          std::tuple{"normalized", &token.normalized, !token.special}}) {
      auto value = r.boolean(**o, key, path, fallback);
      if (!value)
        return value.takeError();
      *field = *value;
    }
    auto singleWord = r.boolean(**o, "single_word", path, false);
    if (!singleWord)
      return singleWord.takeError();
    if (*singleWord)
      return r.fail(Reader::join(path, "single_word"),
                    "single-word added tokens are not supported");
    p.addedTokens.push_back(std::move(token));
  }
  return llvm::Error::success();
}

} // namespace

llvm::Expected<Tokenizer> Tokenizer::parse(StringRef text, StringRef source) {
  Reader r(source);
  llvm::Expected<json::Value> doc = parseBoundedJSON(text);
  if (!doc)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(), "%s: not valid JSON: %s",
        source.str().c_str(), llvm::toString(doc.takeError()).c_str());
  const json::Object *root = doc->getAsObject();
  if (!root)
    return r.fail("(root)", "expected an object");
  auto p = std::make_unique<Pipeline>();

  if (const json::Value *trunc = root->get("truncation");
      trunc && trunc->kind() != json::Value::Null)
    return r.fail("truncation", "truncation is not supported (a prompt is "
                                "never cut silently); set it to null");
  if (const json::Value *pad = root->get("padding");
      pad && pad->kind() != json::Value::Null)
    return r.fail("padding", "padding is not supported; set it to null");

  if (llvm::Error e = readModel(r, *root, *p))
    return e;
  if (llvm::Error e = readAddedTokens(r, *root, *p))
    return e;
  // The optional components, each one step or a Sequence of steps.
  struct Component {
    const char *key, *listKey;
    llvm::Error (*read)(Reader &, const json::Object &, const std::string &,
                        Pipeline &);
  };
  for (const Component &c :
       {Component{"normalizer", "normalizers", readNormalizer},
        Component{"pre_tokenizer", "pretokenizers", readPreTokenizer},
        Component{"post_processor", "processors", readPostProcessor},
        Component{"decoder", "decoders", readDecoder}}) {
    const json::Value *v = root->get(c.key);
    if (!v || v->kind() == json::Value::Null)
      continue;
    auto o = r.object(v, c.key);
    if (!o)
      return o.takeError();
    if (StringRef(c.key) == "decoder")
      p->decoder.emplace();
    if (llvm::Error e = forEachStep(
            r, **o, c.key, c.listKey,
            [&](const json::Object &step, const std::string &path) {
              return c.read(r, step, path, *p);
            }))
      return e;
  }

  // The id -> token table over the vocabulary and the added tokens.
  size_t size = 0;
  for (const auto &entry : p->model.vocab)
    size = std::max(size, static_cast<size_t>(entry.second) + 1);
  for (const AddedToken &t : p->addedTokens)
    size = std::max(size, static_cast<size_t>(t.id) + 1);
  p->idToToken.assign(size, std::string());
  p->idIsSpecial.assign(size, false);
  for (const auto &entry : p->model.vocab)
    p->idToToken[entry.second] = entry.getKey().str();
  for (const AddedToken &t : p->addedTokens) {
    p->idToToken[t.id] = t.content;
    p->idIsSpecial[t.id] = t.special;
  }
  // encode() returns the template's ids as they are: each must be a token.
  if (p->postTemplate)
    for (const TemplatePiece &piece : *p->postTemplate)
      for (int32_t id : piece.ids)
        if (static_cast<size_t>(id) >= size)
          return r.fail("post_processor",
                        "the template's special token id " +
                            std::to_string(id) +
                            " is outside the vocabulary and added tokens (" +
                            std::to_string(size) + " ids)");
  if (p->byteLevel && p->model.byteFallback)
    return r.fail("model.byte_fallback",
                  "byte fallback together with a ByteLevel pre-tokenizer is "
                  "not supported");
  return Tokenizer(std::move(p));
}

llvm::Expected<Tokenizer> Tokenizer::load(StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return llvm::createStringError(buffer.getError(), "%s: cannot read: %s",
                                   path.str().c_str(),
                                   buffer.getError().message().c_str());
  return parse((*buffer)->getBuffer(), path);
}
