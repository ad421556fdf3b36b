//===- Example.h - A small deterministic .flb for tests ---------*- C++ -*-===//

#ifndef FLIGHTLLM_TOOLS_OBJDUMP_EXAMPLE_H
#define FLIGHTLLM_TOOLS_OBJDUMP_EXAMPLE_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace flightllm::objdump {

/// Writes the example binary of the lit tests (`--write-example=FILE`): a
/// 2-layer byte-level Llama with one prefill and four decode buckets over
/// four streams of valid instructions (one shared by two buckets, each run
/// once per layer with base registers B1/B2), two HBM channel images and two
/// quantized tensors. Always the same bytes.
llvm::Error writeExampleBinary(llvm::StringRef path);

} // namespace flightllm::objdump

#endif // FLIGHTLLM_TOOLS_OBJDUMP_EXAMPLE_H
