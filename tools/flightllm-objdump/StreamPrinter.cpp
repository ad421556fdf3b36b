//===- StreamPrinter.cpp - Printing instruction streams -------------------===//
//
// The ISA's disassembler, one line per instruction:
//   `<index> @<word offset>: <mnemonic> wait{..} release{..} field=value ...`
//===----------------------------------------------------------------------===//

#include "StreamPrinter.h"

#include "flightllm/ISA/Disassembler.h"

llvm::Error flightllm::objdump::printStream(llvm::ArrayRef<uint32_t> words,
                                            llvm::raw_ostream &os,
                                            uint64_t startIndex) {
  return isa::disassemble(words, os, startIndex);
}
