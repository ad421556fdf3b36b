//===- StreamPrinter.h - Printing instruction streams -----------*- C++ -*-===//

#ifndef FLIGHTLLM_TOOLS_OBJDUMP_STREAMPRINTER_H
#define FLIGHTLLM_TOOLS_OBJDUMP_STREAMPRINTER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>

namespace flightllm::objdump {

/// Prints the instruction words of a stream, `startIndex` being the index of
/// words[0] in the stream. The one place objdump depends on the ISA.
llvm::Error printStream(llvm::ArrayRef<uint32_t> words, llvm::raw_ostream &os,
                        uint64_t startIndex);

} // namespace flightllm::objdump

#endif // FLIGHTLLM_TOOLS_OBJDUMP_STREAMPRINTER_H
