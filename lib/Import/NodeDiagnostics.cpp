//===- NodeDiagnostics.cpp - Print diagnostics located at ONNX nodes ------===//

#include "flightllm/Import/NodeDiagnostics.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Location.h"

using namespace mlir;
using namespace flightllm;

/// The innermost file location with a real line, if any.
static FileLineColLoc findLine(Location loc) {
  FileLineColLoc found;
  loc->walk([&](Location l) {
    if (auto f = dyn_cast<FileLineColLoc>(l); f && f.getLine() > 0) {
      found = f;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return found;
}

/// The outermost name location (the ONNX node or value name), if any.
static NameLoc findName(Location loc) {
  NameLoc found;
  loc->walk([&](Location l) {
    if (auto n = dyn_cast<NameLoc>(l)) {
      found = n;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return found;
}

static StringRef severityName(DiagnosticSeverity s) {
  switch (s) {
  case DiagnosticSeverity::Error:
    return "error";
  case DiagnosticSeverity::Warning:
    return "warning";
  case DiagnosticSeverity::Note:
    return "note";
  case DiagnosticSeverity::Remark:
    return "remark";
  }
  return "error";
}

NodeDiagnosticHandler::NodeDiagnosticHandler(MLIRContext *ctx,
                                             StringRef modelName,
                                             llvm::raw_ostream &os)
    : ScopedDiagnosticHandler(ctx), modelName(modelName.str()), os(os) {
  setHandler([this](Diagnostic &diag) -> LogicalResult {
    if (findLine(diag.getLocation()))
      return failure(); // The source manager shows the line.
    auto print = [&](Diagnostic &d) {
      Location loc = d.getLocation();
      if (auto f = dyn_cast<FileLineColLoc>(loc))
        this->os << f.getFilename().getValue();
      else
        this->os << this->modelName;
      if (NameLoc name = findName(loc))
        this->os << ": at '" << name.getName().getValue() << "'";
      this->os << ": " << severityName(d.getSeverity()) << ": " << d << "\n";
    };
    print(diag);
    for (Diagnostic &note : diag.getNotes())
      print(note);
    this->os.flush();
    return success();
  });
}
