//===- OpsetAdapter.h - Newer default-domain opsets -> opset 17 -*- C++ -*-===//
//
// The ONNX library the importer links (1.12) knows the default domain's
// schemas up to opset 17, and the onnx dialect mirrors those. Models of opsets
// 18 to kMaxONNXOpset are rewritten node by node into their opset-17 form
// first: the importer's own table says which accepted operators changed in
// those opsets and how (most changes only add element types the dialect
// refuses anyway). A change with no opset-17 form (ScatterND's max/min
// reduction, a Reduce whose axes are computed at run time, ...) is refused
// with an error naming the node and the opset.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_LIB_IMPORT_OPSETADAPTER_H
#define FLIGHTLLM_LIB_IMPORT_OPSETADAPTER_H

#include "mlir/IR/Location.h"
#include "mlir/Support/LLVM.h"

#include <functional>
#include <string>

namespace onnx {
class ModelProto;
class NodeProto;
} // namespace onnx

namespace flightllm {

/// The newest default-domain opset of the linked ONNX library's schemas.
constexpr int kSchemaOpset = 17;

/// Rewrites every node of `model` (default-domain opset `opset`) into its
/// opset-kSchemaOpset form, makes the model import at most that opset, and
/// expands the fused onnxruntime operators (ContribOps.h). `nodeLoc` names a
/// node in diagnostics.
mlir::LogicalResult adaptToSchemaOpset(
    onnx::ModelProto &model, int opset,
    const std::function<mlir::Location(const onnx::NodeProto &, size_t)>
        &nodeLoc);

/// A change of an accepted operator in opsets kSchemaOpset+1 and later.
struct OpsetRevision {
  const char *op;
  int version;
  /// What the new schema version changed.
  const char *change;
  /// What the importer does with it.
  const char *handling;
};

/// Every revision the importer knows, by operator then version.
llvm::ArrayRef<OpsetRevision> getOpsetRevisions();

} // namespace flightllm

#endif // FLIGHTLLM_LIB_IMPORT_OPSETADAPTER_H
