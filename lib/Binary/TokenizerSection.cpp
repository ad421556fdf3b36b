//===- TokenizerSection.cpp - The host-only tokenizer section -------------===//

#include "flightllm/Binary/TokenizerSection.h"

#include "flightllm/Binary/Format.h"

using namespace flightllm::binary;

std::vector<uint8_t>
flightllm::binary::encodeTokenizerSection(const TokenizerSection &section) {
  TokenizerHeader header;
  header.eosCount = static_cast<uint32_t>(section.eosIds.size());
  header.bosId = section.bosId.value_or(kNoToken);
  header.tokenizerSize = section.tokenizerJSON.size();
  std::vector<uint8_t> bytes(header.sectionSize(), 0);
  header.encode(bytes.data());
  for (size_t i = 0; i < section.eosIds.size(); ++i)
    writeU32(bytes.data(), kTokenizerHeaderSize + 4 * i, section.eosIds[i]);
  std::copy(section.tokenizerJSON.begin(), section.tokenizerJSON.end(),
            bytes.begin() + kTokenizerHeaderSize + 4 * section.eosIds.size());
  return bytes;
}

llvm::Expected<TokenizerSection>
flightllm::binary::decodeTokenizerSection(llvm::ArrayRef<uint8_t> bytes,
                                          uint64_t fileOffset) {
  if (bytes.size() < kTokenizerHeaderSize)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "tokenizer section at file offset %llu is shorter than its 16-byte "
        "header",
        static_cast<unsigned long long>(fileOffset));
  TokenizerHeader header = TokenizerHeader::decode(bytes.data());
  if (header.sectionSize() != bytes.size())
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "tokenizer section at file offset %llu: %u EOS ids and a %llu-byte "
        "tokenizer.json need %llu bytes, the section has %zu",
        static_cast<unsigned long long>(fileOffset), header.eosCount,
        static_cast<unsigned long long>(header.tokenizerSize),
        static_cast<unsigned long long>(header.sectionSize()), bytes.size());
  TokenizerSection section;
  for (uint32_t i = 0; i < header.eosCount; ++i)
    section.eosIds.push_back(readU32(bytes.data(), kTokenizerHeaderSize + 4 * i));
  if (header.bosId != kNoToken)
    section.bosId = header.bosId;
  const uint8_t *json = bytes.data() + kTokenizerHeaderSize + 4 * header.eosCount;
  section.tokenizerJSON.assign(json, json + header.tokenizerSize);
  return section;
}
