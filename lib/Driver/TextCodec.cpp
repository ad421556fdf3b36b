//===- TextCodec.cpp - Prompts to tokens and tokens to text ---------------===//

#include "flightllm/Driver/TextCodec.h"

#include "flightllm/Binary/Reader.h"
#include "flightllm/Binary/TokenizerSection.h"

#include "llvm/Support/MemoryBuffer.h"

using namespace flightllm;
using llvm::StringRef;

llvm::Expected<TextCodec>
TextCodec::fromDirectory(const ExportDirectory &dir) {
  TextCodec codec;
  if (dir.config)
    codec.eosIds = dir.config->eosTokenIds;
  if (!dir.tokenizerPath.empty()) {
    llvm::Expected<tokenizer::Tokenizer> t =
        tokenizer::Tokenizer::load(dir.tokenizerPath);
    if (!t)
      return t.takeError();
    codec.tokenizer = std::move(*t);
    codec.tokenizerSource = dir.tokenizerPath;
  }
  return codec;
}

llvm::Expected<TextCodec> TextCodec::fromBinary(StringRef path) {
  TextCodec codec;
  auto file = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                          /*RequiresNullTerminator=*/false);
  if (!file) // the runtime reports it when it opens the binary
    return codec;
  return fromBinaryBytes(
      llvm::ArrayRef<uint8_t>(
          reinterpret_cast<const uint8_t *>((*file)->getBufferStart()),
          (*file)->getBufferSize()),
      path);
}

llvm::Expected<TextCodec>
TextCodec::fromBinaryBytes(llvm::ArrayRef<uint8_t> flb, StringRef path) {
  TextCodec codec;
  const uint8_t *data = flb.data();
  binary::BinaryView view;
  binary::Error err;
  binary::ValidateOptions options;
  options.checkFileChecksum = false; // the runtime checks the whole file
  if (view.open(data, flb.size(), err, options) != binary::Status::Ok)
    return codec; // likewise: the runtime names the problem
  binary::SectionEntry entry;
  if (!view.findSection(binary::SectionKind::Tokenizer, 0, entry))
    return codec;
  llvm::Expected<binary::TokenizerSection> section =
      binary::decodeTokenizerSection(
          llvm::ArrayRef<uint8_t>(data + entry.offset, entry.size),
          entry.offset);
  if (!section)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(), "%s: %s", path.str().c_str(),
        llvm::toString(section.takeError()).c_str());
  codec.eosIds.assign(section->eosIds.begin(), section->eosIds.end());
  if (!section->tokenizerJSON.empty()) {
    codec.tokenizerSource =
        (path + " (tokenizer section at file offset " +
         llvm::Twine(entry.offset) + ")")
            .str();
    llvm::Expected<tokenizer::Tokenizer> t = tokenizer::Tokenizer::parse(
        section->tokenizerJSON, codec.tokenizerSource);
    if (!t)
      return t.takeError();
    codec.tokenizer = std::move(*t);
  }
  return codec;
}

llvm::Expected<std::vector<int64_t>>
TextCodec::encodePrompt(StringRef text, int64_t vocab) const {
  if (!tokenizer) {
    if (vocab != 256)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "--prompt needs the model's tokenizer.json (next to the model, in "
          "its export directory, or compiled into the .flb) or a byte-level "
          "model (vocabulary of 256); this one has %lld tokens and no "
          "tokenizer, use --tokens",
          static_cast<long long>(vocab));
    return std::vector<int64_t>(text.bytes_begin(), text.bytes_end());
  }
  llvm::Expected<std::vector<int32_t>> ids =
      tokenizer->encode(text, /*addSpecialTokens=*/true);
  if (!ids)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "--prompt: %s",
                                   llvm::toString(ids.takeError()).c_str());
  return std::vector<int64_t>(ids->begin(), ids->end());
}

std::optional<std::string> TextCodec::decode(llvm::ArrayRef<int64_t> ids,
                                             int64_t vocab) const {
  if (tokenizer) {
    std::vector<int32_t> ids32(ids.begin(), ids.end());
    return tokenizer->decode(ids32, /*skipSpecialTokens=*/true);
  }
  if (vocab != 256)
    return std::nullopt;
  std::string bytes;
  for (int64_t id : ids)
    bytes += char(id);
  return bytes;
}

bool TextCodec::isEndOfSequence(int64_t id) const {
  return llvm::is_contained(eosIds, id);
}
