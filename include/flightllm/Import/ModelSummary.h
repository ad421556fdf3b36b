//===- ModelSummary.h - Human-readable summary of an imported model -*- C++ -*-===//

#ifndef FLIGHTLLM_IMPORT_MODELSUMMARY_H
#define FLIGHTLLM_IMPORT_MODELSUMMARY_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace flightllm {

/// Prints the model's interface (named inputs and outputs with their symbolic
/// dimensions), its weights (count and bytes) and an op histogram.
void printModelSummary(mlir::ModuleOp module, llvm::raw_ostream &os);

} // namespace flightllm

#endif // FLIGHTLLM_IMPORT_MODELSUMMARY_H
