//===- BoundedJSON.cpp - JSON parsing with a nesting bound ----------------===//

#include "flightllm/Support/BoundedJSON.h"

#include <optional>

using namespace flightllm;

/// The byte offset where `json` opens array or object level
/// kMaxJSONDepth + 1 (outside strings), if it does.
static std::optional<size_t> tooDeep(llvm::StringRef json) {
  unsigned depth = 0;
  bool inString = false;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJSONDepth)
        return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

llvm::Expected<llvm::json::Value>
flightllm::parseBoundedJSON(llvm::StringRef text) {
  if (std::optional<size_t> at = tooDeep(text))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "nested deeper than %u levels at byte %zu",
                                   kMaxJSONDepth, *at);
  return llvm::json::parse(text);
}
