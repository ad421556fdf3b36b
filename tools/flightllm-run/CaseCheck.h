//===- CaseCheck.h - One forward call checked against saved outputs -*- C++ -*-===//

#ifndef FLIGHTLLM_TOOLS_FLIGHTLLM_RUN_CASECHECK_H
#define FLIGHTLLM_TOOLS_FLIGHTLLM_RUN_CASECHECK_H

#include "flightllm/Interpreter/Interpreter.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace flightllm {

/// Runs `@forward` once on DIR/inputs/<name>.npy (one file per argument,
/// named by `llm.name`; missing past caches are empty, as in a prefill) and
/// compares every result with DIR/outputs/<name>.npy. Prints the largest
/// absolute difference of each output; fails when one exceeds `atol` or a
/// file is missing or malformed (with a message). `options` are the
/// interpreter's.
mlir::LogicalResult checkCase(mlir::ModuleOp module, llvm::StringRef dir,
                              double atol, llvm::raw_ostream &os,
                              flightllm::interpreter::InterpreterOptions options = {});

} // namespace flightllm

#endif // FLIGHTLLM_TOOLS_FLIGHTLLM_RUN_CASECHECK_H
