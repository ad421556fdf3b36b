//===- NodeDiagnostics.h - Print diagnostics located at ONNX nodes -*- C++ -*-===//
//
// Ops imported from a binary model are located by ONNX node name only. MLIR's
// default printer shows such locations as `<unknown>:0: error: loc("n")`; this
// handler prints `model.onnx: at 'n': error: ...` instead, and leaves
// diagnostics with a real line (text syntax, .mlir input) to the source
// manager handler so the source line is shown.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_IMPORT_NODEDIAGNOSTICS_H
#define FLIGHTLLM_IMPORT_NODEDIAGNOSTICS_H

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace flightllm {

class NodeDiagnosticHandler : public mlir::ScopedDiagnosticHandler {
public:
  /// `modelName` prefixes diagnostics that have no file location.
  NodeDiagnosticHandler(mlir::MLIRContext *ctx, llvm::StringRef modelName,
                        llvm::raw_ostream &os = llvm::errs());

private:
  std::string modelName;
  llvm::raw_ostream &os;
};

} // namespace flightllm

#endif // FLIGHTLLM_IMPORT_NODEDIAGNOSTICS_H
