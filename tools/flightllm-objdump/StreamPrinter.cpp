//===- StreamPrinter.cpp - Printing instruction streams -------------------===//
//
// Until the ISA library exists the words are printed as hex, one per line;
// then the body becomes `return isa::disassemble(words, os, startIndex);`.
//===----------------------------------------------------------------------===//

#include "StreamPrinter.h"

#include "llvm/Support/Format.h"

llvm::Error flightllm::objdump::printStream(llvm::ArrayRef<uint32_t> words,
                                            llvm::raw_ostream &os,
                                            uint64_t startIndex) {
  for (size_t i = 0; i < words.size(); ++i)
    os << llvm::format("%8llu: %08x\n",
                       static_cast<unsigned long long>(startIndex + i),
                       words[i]);
  return llvm::Error::success();
}
