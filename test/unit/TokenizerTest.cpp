//===- TokenizerTest.cpp - lib/Tokenizer on small tokenizer.json files ----===//

#include "flightllm/Tokenizer/Tokenizer.h"
#include "flightllm/Tokenizer/Unicode.h"

#include <gtest/gtest.h>

#include <string>

using namespace flightllm::tokenizer;

namespace {

/// A SentencePiece-style BPE (Llama 2's layout) over a handful of tokens.
std::string sentencePieceJSON(const std::string &normalizer = R"({
    "type": "Sequence", "normalizers": [
      {"type": "Prepend", "prepend": "▁"},
      {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]})",
                              const std::string &extra = "") {
  return R"({
  "version": "1.0", "truncation": null, "padding": null,
  "added_tokens": [
    {"id": 0, "content": "<unk>", "special": true, "normalized": false},
    {"id": 1, "content": "<s>", "special": true, "normalized": false},
    {"id": 2, "content": "</s>", "special": true, "normalized": false})" +
         extra + R"(],
  "normalizer": )" + normalizer + R"(,
  "pre_tokenizer": null,
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
               {"Sequence": {"id": "A", "type_id": 0}}],
    "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
  "decoder": {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
    {"type": "ByteFallback"}, {"type": "Fuse"},
    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
  "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>",
    "fuse_unk": true, "byte_fallback": true,
    "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0xE5>": 3, "<0x8F>": 4,
              "<0xAB>": 5, "<0x41>": 6, "▁": 7, "a": 8, "b": 9, "▁a": 10,
              "aa": 11, "ab": 12, "▁ab": 13},
    "merges": ["a a", "▁ a", "a b", "▁ ab"]}
})";
}

Tokenizer parse(const std::string &json) {
  llvm::Expected<Tokenizer> t = Tokenizer::parse(json, "tokenizer.json");
  if (!t) {
    ADD_FAILURE() << llvm::toString(t.takeError());
    std::abort();
  }
  return std::move(*t);
}

std::string parseError(const std::string &json) {
  llvm::Expected<Tokenizer> t = Tokenizer::parse(json, "tokenizer.json");
  if (t)
    return "(no error)";
  return llvm::toString(t.takeError());
}

std::string replaced(std::string text, const std::string &from,
                     const std::string &to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

std::vector<int32_t> encode(const Tokenizer &t, const std::string &text,
                            bool special = true) {
  llvm::Expected<std::vector<int32_t>> ids = t.encode(text, special);
  if (!ids) {
    ADD_FAILURE() << llvm::toString(ids.takeError());
    return {};
  }
  return *ids;
}

using Ids = std::vector<int32_t>;

TEST(TokenizerTest, SentencePieceMergesLowestRankLeftmostFirst) {
  Tokenizer t = parse(sentencePieceJSON());
  // "▁aaa": the merge "a a" (rank 0) beats "▁ a" (rank 1), leftmost first.
  EXPECT_EQ(encode(t, "aaa"), (Ids{1, 7, 11, 8}));
  // "▁ab": "▁ a" (rank 1) before "a b" (rank 2); then no merge "▁a b".
  EXPECT_EQ(encode(t, "ab", false), (Ids{10, 9}));
  EXPECT_EQ(encode(t, "a b", false), (Ids{10, 7, 9}));
}

TEST(TokenizerTest, ByteFallbackAndFusedUnknowns) {
  Tokenizer t = parse(sentencePieceJSON());
  // 叫 is E5 8F AB: all three bytes have tokens. "ZZ" has neither a token
  // nor byte tokens: one fused <unk>.
  EXPECT_EQ(encode(t, "叫", false), (Ids{7, 3, 4, 5}));
  EXPECT_EQ(encode(t, "ZZa", false), (Ids{7, 0, 8}));
  EXPECT_EQ(t.decode({1, 7, 3, 4, 5}, /*skipSpecialTokens=*/true), "叫");
}

// Rust's ByteFallback decoder: a run of byte tokens that is not UTF-8 gives
// one U+FFFD per byte (transformers.js differs; we follow Rust).
TEST(TokenizerTest, ByteFallbackInvalidRun) {
  Tokenizer t = parse(sentencePieceJSON());
  EXPECT_EQ(t.decode({3, 4}, false), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(t.decode({3, 4, 8}, false), "\xEF\xBF\xBD\xEF\xBF\xBD" "a");
  EXPECT_EQ(t.decode({6, 4}, false), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(t.decode({3, 4, 5, 8}, false), "叫a");
}

TEST(TokenizerTest, AddedTokensAreCutBeforeNormalizing) {
  Tokenizer t = parse(sentencePieceJSON());
  EXPECT_EQ(encode(t, "a</s>a", false), (Ids{10, 2, 10}));
  EXPECT_EQ(t.decode({1, 10, 2, 13}, false), "<s> a</s> ab");
  EXPECT_EQ(t.decode({1, 10, 2, 13}, true), "a ab");
  EXPECT_EQ(t.tokenToId("</s>"), 2);
  EXPECT_EQ(t.vocabSize(), 14u);
}

TEST(TokenizerTest, StrippedAddedToken) {
  Tokenizer t = parse(sentencePieceJSON(
      R"({"type": "Replace", "pattern": {"String": " "}, "content": "▁"})",
      R"(, {"id": 9, "content": "b", "lstrip": true, "rstrip": true,
           "special": false, "normalized": false})"));
  EXPECT_EQ(encode(t, "a  b  a", false), (Ids{8, 9, 8}));
}

TEST(TokenizerTest, InvalidUTF8IsRefusedWithItsOffset) {
  Tokenizer t = parse(sentencePieceJSON());
  llvm::Expected<Ids> ids = t.encode("ab\xC3(", true);
  ASSERT_FALSE(static_cast<bool>(ids));
  EXPECT_EQ(llvm::toString(ids.takeError()),
            "text is not valid UTF-8 (byte offset 2)");
}

TEST(TokenizerTest, ErrorsNameTheJSONPath) {
  std::string base = sentencePieceJSON();
  EXPECT_EQ(parseError(replaced(base, R"("type": "BPE")", R"("type": "Unigram")")),
            "tokenizer.json: model.type: unsupported model 'Unigram' "
            "(supported: BPE)");
  EXPECT_EQ(parseError(replaced(base, R"({"type": "Prepend", "prepend": "▁"})",
                                R"({"type": "NFKC"})")),
            "tokenizer.json: normalizer.normalizers[0].type: unsupported "
            "normalizer 'NFKC' (supported: Prepend, Replace, NFC, Sequence "
            "of them)");
  EXPECT_EQ(parseError(replaced(base, R"("pre_tokenizer": null)",
                                R"("pre_tokenizer": {"type": "Digits"})")),
            "tokenizer.json: pre_tokenizer.type: unsupported pre-tokenizer "
            "'Digits' (supported: ByteLevel, Split, Metaspace, Sequence of "
            "them)");
  EXPECT_EQ(
      parseError(replaced(
          base, R"("pre_tokenizer": null)",
          R"("pre_tokenizer": {"type": "Sequence", "pretokenizers": [
               {"type": "Split", "pattern": {"Regex": "\\w+"},
                "behavior": "Isolated", "invert": false}]})")),
      "tokenizer.json: pre_tokenizer.pretokenizers[0].pattern.Regex: "
      "unsupported split regex '\\w+' (supported: the GPT-2, Llama-3 and "
      "Qwen2 patterns)");
  EXPECT_EQ(parseError(replaced(base, R"("a b", "▁ ab")", R"("a b", "▁ zz")")),
            "tokenizer.json: model.merges[3]: merges '▁' and 'zz', which are "
            "not all in model.vocab");
  EXPECT_EQ(parseError(replaced(base, R"("truncation": null)",
                                R"("truncation": {"max_length": 8})")),
            "tokenizer.json: truncation: truncation is not supported (a "
            "prompt is never cut silently); set it to null");
  EXPECT_EQ(parseError(replaced(base, R"({"type": "Fuse"})",
                                R"({"type": "CTC"})")),
            "tokenizer.json: decoder.decoders[2].type: unsupported decoder "
            "'CTC' (supported: ByteLevel, Replace, ByteFallback, Fuse, Strip, "
            "Metaspace, Sequence of them)");
  EXPECT_EQ(parseError(replaced(base, R"("ids": [1])", R"("ids": ["x"])")),
            "tokenizer.json: post_processor.special_tokens.<s>.ids[0]: "
            "expected a token id");
  EXPECT_EQ(parseError(replaced(base, R"("dropout": null)", R"("dropout": 0.1)")),
            "tokenizer.json: model.dropout: BPE dropout is not supported (it "
            "makes encoding random)");
  // A template id outside the vocabulary and added tokens (14 ids) would come
  // out of encode() as it is (fuzz-tokenizer-json, issue 17).
  EXPECT_EQ(parseError(replaced(base, R"("ids": [1])", R"("ids": [14])")),
            "tokenizer.json: post_processor: the template's special token id "
            "14 is outside the vocabulary and added tokens (14 ids)");
  EXPECT_EQ(parseError(std::string(100000, '[')),
            "tokenizer.json: not valid JSON: nested deeper than 64 levels at "
            "byte 64");
  EXPECT_EQ(parseError("{\"model\": [}"),
            "tokenizer.json: not valid JSON: [1:12, byte=12]: Invalid JSON "
            "value");
}

TEST(TokenizerTest, LossyUTF8) {
  // One U+FFFD per maximal invalid subsequence (as Rust's from_utf8_lossy).
  EXPECT_EQ(sanitizeUTF8("a\xE5\x8F" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(sanitizeUTF8("\xF0\x9F\x98"), "\xEF\xBF\xBD");
  EXPECT_EQ(sanitizeUTF8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sanitizeUTF8("\xED\xA0\x80"),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(TokenizerTest, NFC) {
  EXPECT_EQ(normalizeNFC("e\u0301"), "\u00E9");
  EXPECT_EQ(normalizeNFC("A\u030A"), "\u00C5");
  EXPECT_EQ(normalizeNFC("\u212B"), "\u00C5"); // a singleton decomposition
  EXPECT_EQ(normalizeNFC("\u1100\u1161\u11A8"), "\uAC01"); // Hangul LVT
  // Marks in canonical order, then composed: a + dot below + circumflex.
  EXPECT_EQ(normalizeNFC("a\u0302\u0323"), "\u1EAD");
  // Excluded from composition: stays decomposed.
  EXPECT_EQ(normalizeNFC("\u0958"), "\u0915\u093C");
  // Blocked: a mark of the same class stands between.
  EXPECT_EQ(normalizeNFC("a\u0301\u0301"), "\u00E1\u0301");
  EXPECT_EQ(normalizeNFC("plain ascii"), "plain ascii");
}

TEST(TokenizerTest, UnicodeClasses) {
  EXPECT_TRUE(isLetter(U'a'));
  EXPECT_TRUE(isLetter(U'中'));
  EXPECT_TRUE(isLetter(U'ß'));
  EXPECT_FALSE(isLetter(U'1'));
  EXPECT_TRUE(isNumber(U'٣'));
  EXPECT_TRUE(isNumber(U'½'));
  EXPECT_FALSE(isNumber(U'a'));
  EXPECT_TRUE(isWhiteSpace(0x3000));
  EXPECT_FALSE(isWhiteSpace(0xFEFF));
}

} // namespace
