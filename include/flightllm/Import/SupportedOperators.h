//===- SupportedOperators.h - The operators the importer accepts -*- C++ -*-===//

#ifndef FLIGHTLLM_IMPORT_SUPPORTEDOPERATORS_H
#define FLIGHTLLM_IMPORT_SUPPORTEDOPERATORS_H

#include "llvm/Support/raw_ostream.h"

namespace onnx {
class NodeProto;
} // namespace onnx

namespace flightllm {

/// Prints, as Markdown, every ONNX operator the importer accepts with its
/// domain and opset range, and how the importer reads the operators whose
/// schema changed after the opset the dialect mirrors. docs/onnx-operators.md
/// is this output (a test keeps it so).
void printSupportedOperators(llvm::raw_ostream &os);

/// Whether the importer rewrites `node` into default-domain operators before
/// importing it (a fused onnxruntime operator, or an operator newer than the
/// dialect's schemas such as Gelu-20), rather than mirroring it in the dialect.
bool isExpandedOnImport(const onnx::NodeProto &node);

} // namespace flightllm

#endif // FLIGHTLLM_IMPORT_SUPPORTEDOPERATORS_H
