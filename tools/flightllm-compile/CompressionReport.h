//===- CompressionReport.h - Per-projection formats of an llm program -*- C++
//-*-===//
//
// The compile report of a compressed llm program (--emit=llm): bits, group
// size and sparsity of every projection and the bytes its weight takes
// (flightllm/Dialect/LLM/Compression.h), as text and JSON.
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_TOOLS_FLIGHTLLM_COMPILE_COMPRESSIONREPORT_H
#define FLIGHTLLM_TOOLS_FLIGHTLLM_COMPILE_COMPRESSIONREPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace flightllm {

void printCompressionReport(mlir::ModuleOp module, llvm::raw_ostream &os);
void printCompressionReportJSON(mlir::ModuleOp module, llvm::raw_ostream &os);

} // namespace flightllm

#endif
