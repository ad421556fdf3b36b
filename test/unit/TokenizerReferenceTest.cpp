//===- TokenizerReferenceTest.cpp - lib/Tokenizer against Hugging Face ----===//
//
// Encodes and decodes the strings and id sequences of
// test/unit/Tokenizer/VARIANT.expected.json.gz (written by
// python/tok-ref/reference.mjs from Hugging Face's transformers.js on the
// same tokenizer.json) and requires the same ids and texts (except where
// transformers.js departs from the Rust library: noted below).
//===----------------------------------------------------------------------===//

#include "flightllm/Tokenizer/Tokenizer.h"
#include "flightllm/Tokenizer/Unicode.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

using namespace flightllm::tokenizer;
namespace json = llvm::json;

namespace {

std::string dataPath(const std::string &name) {
  return std::string(FLIGHTLLM_TOKENIZER_DATA) + "/" + name;
}

std::string readGzip(const std::string &path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file)
    return {};
  std::string out;
  char buffer[1 << 16];
  int n;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0)
    out.append(buffer, static_cast<size_t>(n));
  gzclose(file);
  return out;
}

json::Value readJSON(const std::string &path, bool gzip) {
  std::string text;
  if (gzip) {
    text = readGzip(path);
  } else {
    auto buffer = llvm::MemoryBuffer::getFile(path);
    if (buffer)
      text = (*buffer)->getBuffer().str();
  }
  llvm::Expected<json::Value> value = json::parse(text);
  if (!value) {
    ADD_FAILURE() << path << ": " << llvm::toString(value.takeError());
    return nullptr;
  }
  return std::move(*value);
}

/// The tokenizer.json of a variant: its base with the overlay applied (as
/// reference.mjs does).
std::string variantTokenizer(const std::string &variant) {
  json::Value overlay = readJSON(dataPath(variant + ".overlay.json"), false);
  json::Object &o = *overlay.getAsObject();
  std::string base = o.getString("base")->str();
  json::Value tok = readJSON(dataPath(base + ".tokenizer.json.gz"), true);
  json::Object &t = *tok.getAsObject();
  if (json::Object *replace = o.getObject("replace"))
    for (auto &entry : *replace)
      t[entry.first] = entry.second;
  if (json::Object *model = o.getObject("model"))
    for (auto &entry : *model)
      (*t.getObject("model"))[entry.first] = entry.second;
  std::string out;
  llvm::raw_string_ostream os(out);
  os << tok;
  return out;
}

std::vector<int32_t> ids(const json::Value *v) {
  std::vector<int32_t> out;
  for (const json::Value &id : *v->getAsArray())
    out.push_back(static_cast<int32_t>(*id.getAsInteger()));
  return out;
}

std::string quote(const std::string &s) {
  std::string out;
  llvm::raw_string_ostream os(out);
  os << json::Value(s);
  return out;
}

std::string show(const std::vector<int32_t> &v) {
  std::string s;
  for (int32_t id : v)
    s += std::to_string(id) + " ";
  return s;
}

class TokenizerReference : public ::testing::TestWithParam<const char *> {};

TEST_P(TokenizerReference, MatchesTransformersJS) {
  std::string variant = GetParam();
  llvm::Expected<Tokenizer> tokenizer =
      Tokenizer::parse(variantTokenizer(variant), variant);
  ASSERT_TRUE(static_cast<bool>(tokenizer))
      << llvm::toString(tokenizer.takeError());
  json::Value expected = readJSON(dataPath(variant + ".expected.json.gz"), true);
  const json::Object &e = *expected.getAsObject();

  unsigned failures = 0, checked = 0, ruleDifferences = 0;
  for (const json::Value &c : *e.getArray("encodes")) {
    const json::Object &o = *c.getAsObject();
    std::string text = o.getString("text")->str();
    for (auto [key, special] : {std::pair{"ids", true}, {"ids_plain", false}}) {
      llvm::Expected<std::vector<int32_t>> got =
          tokenizer->encode(text, special);
      ASSERT_TRUE(static_cast<bool>(got)) << llvm::toString(got.takeError());
      std::vector<int32_t> want = ids(o.get(key));
      ++checked;
      if (*got != want && ++failures <= 20)
        ADD_FAILURE() << variant << " encode(" << quote(text)
                      << ", special=" << special << ")\n  want " << show(want)
                      << "\n  got  " << show(*got);
    }
  }
  for (const json::Value &c : *e.getArray("decodes")) {
    const json::Object &o = *c.getAsObject();
    std::vector<int32_t> input = ids(o.get("ids"));
    for (auto [key, skip] :
         {std::pair{"text", false}, {"text_skip_special", true}}) {
      std::string want = o.getString(key)->str();
      std::string got = tokenizer->decode(input, skip);
      ++checked;
      // Byte-fallback runs that are not UTF-8: Rust's decoder (which we
      // follow, see TokenizerTest.ByteFallbackInvalidRun) gives one U+FFFD
      // per byte where transformers.js gives one per invalid subsequence.
      if (got != want && o.getBoolean("byte_fallback_invalid").value_or(false)) {
        ++ruleDifferences;
        continue;
      }
      if (got != want && ++failures <= 20)
        ADD_FAILURE() << variant << " decode(" << show(input)
                      << ", skip=" << skip << ")\n  want "
                      << quote(want) << "\n  got  " << quote(got);
    }
  }
  EXPECT_EQ(failures, 0u) << "of " << checked << " checks";
  EXPECT_GT(checked, 1000u);
  EXPECT_LE(ruleDifferences, 4u);
}

// NFC against Python's unicodedata (python/gen_nfc_cases.py): every code
// point NFC changes, every canonical decomposition composed back, and random
// mark sequences.
TEST(TokenizerUnicode, NFCMatchesUnicodeData) {
  json::Value doc = readJSON(dataPath("nfc-cases.json.gz"), true);
  const json::Array &cases = *doc.getAsObject()->getArray("cases");
  unsigned failures = 0;
  for (const json::Value &c : cases) {
    std::string input = (*c.getAsArray())[0].getAsString()->str();
    std::string want = (*c.getAsArray())[1].getAsString()->str();
    std::string got = normalizeNFC(input);
    if (got != want && ++failures <= 10)
      ADD_FAILURE() << "NFC(" << quote(input) << ")\n  want " << quote(want)
                    << "\n  got  " << quote(got);
  }
  EXPECT_EQ(failures, 0u) << "of " << cases.size();
  EXPECT_GT(cases.size(), 10000u);
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, TokenizerReference,
                         ::testing::Values("gpt2", "gpt2-prefix", "llama3-style",
                                           "qwen2-style",
                                           "mistral", "mistral-prepend",
                                           "mistral-metaspace"),
                         [](const auto &info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

} // namespace
