//===- RuntimeInternal.h - What the pipeline needs of a card's runtime ----===//
//
// Shared by Runtime.cpp and Pipeline.cpp only (not installed).
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_RUNTIME_LIB_RUNTIMEINTERNAL_H
#define FLIGHTLLM_RUNTIME_LIB_RUNTIMEINTERNAL_H

#include "flightllm/runtime/runtime.h"

#include <stddef.h>
#include <stdint.h>

namespace flightllm::runtime {

/// flight_open flag for a stage binary opened by flight_pipeline_open (a
/// bit the public flags leave free).
inline constexpr uint32_t kOpenPipelineStage = 1u << 31;

/// Where a card's hidden-state rows come in and go out (bytes).
struct StageIO {
  uint32_t stageFlags = 0, rowBytes = 0, numLayers = 0;
  uint32_t inputChannel = 0, inputRows = 0, outputChannel = 0;
  uint64_t inputOffset = 0, outputOffset = 0;
};

/// false when `rt` is not open.
bool stageIO(const flight_runtime *rt, StageIO &io);

/// Builds an error message in a fixed buffer without a C library
/// (truncated to the buffer, always NUL-terminated).
class ErrorWriter {
public:
  ErrorWriter(char *buffer, size_t size) : text(buffer), capacity(size) {
    text[0] = '\0';
  }
  ErrorWriter &operator<<(const char *s) {
    if (s == nullptr)
      s = "(null)";
    while (*s != '\0' && used + 1 < capacity)
      text[used++] = *s++;
    text[used] = '\0';
    return *this;
  }
  ErrorWriter &operator<<(uint64_t v) {
    char digits[21];
    size_t n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    char out[21];
    for (size_t i = 0; i < n; ++i)
      out[i] = digits[n - 1 - i];
    out[n] = '\0';
    return *this << static_cast<const char *>(out);
  }
  ErrorWriter &operator<<(uint32_t v) {
    return *this << static_cast<uint64_t>(v);
  }
  ErrorWriter &operator<<(int32_t v) {
    if (v < 0)
      return *this << "-"
                   << static_cast<uint64_t>(-(static_cast<int64_t>(v)));
    return *this << static_cast<uint64_t>(v);
  }

private:
  char *text;
  size_t capacity;
  size_t used = 0;
};

} // namespace flightllm::runtime

#endif
