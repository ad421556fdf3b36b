//===- ContribOps.h - onnxruntime's fused operators -> opset 17 -*- C++ -*-===//
//
// onnxruntime's transformer optimizer and model builder fuse normalizations
// and activations into com.microsoft operators. The importer expands each
// into the default-domain subgraph that defines it (the contrib operator
// documentation's formula), which the raising turns into the same llm op as
// an exporter's unfused graph, checked numerically like any other.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_LIB_IMPORT_CONTRIBOPS_H
#define FLIGHTLLM_LIB_IMPORT_CONTRIBOPS_H

#include "mlir/IR/Location.h"
#include "mlir/Support/LLVM.h"

#include <string>
#include <vector>

namespace onnx {
class NodeProto;
} // namespace onnx

namespace flightllm {

/// Whether the importer expands `node` (a fused onnxruntime operator).
bool isExpandedContribOp(const onnx::NodeProto &node);

/// Fills `expansion` with the default-domain nodes that compute `node`, whose
/// float inputs are of ONNX type `floatType`. Errors name `loc`.
mlir::LogicalResult expandContribOp(onnx::NodeProto &node, int32_t floatType,
                                    mlir::Location loc,
                                    std::vector<onnx::NodeProto> &expansion);

/// GELU (erf, or tanh) of `node`'s input into its output, computed in f32
/// from and to ONNX type `ioType`.
void expandGelu(const onnx::NodeProto &node, int32_t ioType, bool tanh,
                std::vector<onnx::NodeProto> &expansion);

/// A fused operator the importer expands.
struct ContribOpInfo {
  const char *domain;
  const char *op;
  const char *expansion;
};
llvm::ArrayRef<ContribOpInfo> getExpandedContribOps();

} // namespace flightllm

#endif // FLIGHTLLM_LIB_IMPORT_CONTRIBOPS_H
