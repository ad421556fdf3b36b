//===- BoundedJSON.h - JSON parsing with a nesting bound --------*- C++ -*-===//
//
// llvm::json's parser recurses once per array or object level, so a hostile
// file ("[[[[..." a few hundred kilobytes long) exhausts the stack. Every
// JSON file the tools read (target descriptions, tokenizer.json,
// config.json) is parsed through parseBoundedJSON instead.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_SUPPORT_BOUNDEDJSON_H
#define FLIGHTLLM_SUPPORT_BOUNDEDJSON_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

namespace flightllm {

/// Far deeper than any file the tools read (tokenizer.json nests about 8
/// levels, target descriptions 2).
constexpr unsigned kMaxJSONDepth = 64;

/// llvm::json::parse(text), or the error "nested deeper than 64 levels at
/// byte N" when `text` opens an array or object below kMaxJSONDepth levels
/// (outside strings), checked before parsing.
llvm::Expected<llvm::json::Value> parseBoundedJSON(llvm::StringRef text);

} // namespace flightllm

#endif // FLIGHTLLM_SUPPORT_BOUNDEDJSON_H
