//===- BinaryTokenizerSectionTest.cpp - The host-only Tokenizer section ---===//

#include "flightllm/Binary/Format.h"
#include "flightllm/Binary/TokenizerSection.h"

#include <gtest/gtest.h>

using namespace flightllm::binary;

namespace {

TEST(TokenizerSection, RoundTrip) {
  TokenizerSection section;
  section.eosIds = {2, 128009};
  section.bosId = 1;
  section.tokenizerJSON = "{\"model\": {}}";
  std::vector<uint8_t> bytes = encodeTokenizerSection(section);
  ASSERT_EQ(bytes.size(), 16u + 8u + section.tokenizerJSON.size());
  EXPECT_EQ(readU32(bytes.data(), tokenizer_offset::EOSCount), 2u);
  EXPECT_EQ(readU32(bytes.data(), 16 + 4), 128009u);
  llvm::Expected<TokenizerSection> back = decodeTokenizerSection(bytes, 0);
  ASSERT_TRUE(static_cast<bool>(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(back->eosIds, section.eosIds);
  EXPECT_EQ(back->bosId, std::optional<uint32_t>(1));
  EXPECT_EQ(back->tokenizerJSON, section.tokenizerJSON);
}

TEST(TokenizerSection, NoBOSAndNoTokenizer) {
  TokenizerSection section;
  section.eosIds = {0};
  std::vector<uint8_t> bytes = encodeTokenizerSection(section);
  EXPECT_EQ(readU32(bytes.data(), tokenizer_offset::BOSId), kNoToken);
  llvm::Expected<TokenizerSection> back = decodeTokenizerSection(bytes, 0);
  ASSERT_TRUE(static_cast<bool>(back));
  EXPECT_FALSE(back->bosId.has_value());
  EXPECT_TRUE(back->tokenizerJSON.empty());
}

TEST(TokenizerSection, SizeMismatchNamesTheOffset) {
  TokenizerSection section;
  section.eosIds = {2};
  section.tokenizerJSON = "{}";
  std::vector<uint8_t> bytes = encodeTokenizerSection(section);
  bytes.pop_back();
  llvm::Expected<TokenizerSection> back = decodeTokenizerSection(bytes, 4096);
  ASSERT_FALSE(static_cast<bool>(back));
  EXPECT_EQ(llvm::toString(back.takeError()),
            "tokenizer section at file offset 4096: 1 EOS ids and a 2-byte "
            "tokenizer.json need 22 bytes, the section has 21");
  llvm::Expected<TokenizerSection> shorter =
      decodeTokenizerSection(llvm::ArrayRef<uint8_t>(bytes).take_front(8), 64);
  ASSERT_FALSE(static_cast<bool>(shorter));
  EXPECT_EQ(llvm::toString(shorter.takeError()),
            "tokenizer section at file offset 64 is shorter than its 16-byte "
            "header");
}

} // namespace
