//===- tokenizer-json.cpp - Fuzz: tokenizer.json loading and encoding -----===//
//
// What flightllm-run does with an export directory's tokenizer.json: read it
// (lib/Tokenizer), encode a text, decode the ids.
//
// Input layout: the tokenizer.json document, a NUL byte, then the text to
// encode (cut at its first invalid UTF-8 byte: encode() takes UTF-8). An
// input without a NUL is a document encoded with the text "Hello world".
//===----------------------------------------------------------------------===//

#include "FuzzSupport.h"

#include "flightllm/Tokenizer/Tokenizer.h"

#include "llvm/Support/ConvertUTF.h"

#include <cstdio>
#include <cstdlib>

using namespace flightllm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 20))
    return -1;
  llvm::StringRef input = fuzz::asText(data, size);
  auto [json, text] = input.split('\0');
  if (json.size() == input.size())
    text = "Hello world";
  // The longest valid UTF-8 prefix.
  const llvm::UTF8 *start = reinterpret_cast<const llvm::UTF8 *>(text.data());
  const llvm::UTF8 *end = start;
  llvm::isLegalUTF8String(&end, start + text.size());
  text = text.take_front(size_t(end - start));

  llvm::Expected<tokenizer::Tokenizer> tok =
      tokenizer::Tokenizer::parse(json, "fuzz/tokenizer.json");
  if (!tok) {
    fuzz::refused(tok.takeError());
    return 0;
  }
  for (bool special : {false, true}) {
    llvm::Expected<std::vector<int32_t>> ids = tok->encode(text, special);
    if (!ids) {
      fuzz::refused(ids.takeError());
      continue;
    }
    for (int32_t id : *ids)
      if (id < 0 || size_t(id) >= tok->vocabSize()) {
        fprintf(stderr, "encode gave id %d outside the vocabulary (%zu)\n", id,
                tok->vocabSize());
        abort();
      }
    (void)tok->decode(*ids, /*skipSpecialTokens=*/special);
  }
  return 0;
}
