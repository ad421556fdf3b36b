//===- NodeEmitter.h - Build the ONNX nodes that replace one node -*- C++ -*-===//
//
// The importer rewrites a few operators (newer-opset Gelu, com.microsoft
// fused operators) into default-domain opset-17 subgraphs before the model is
// checked and imported. A NodeEmitter writes such a subgraph: fresh value
// names under the replaced node's name, scalars in the subgraph's float
// type, and a last node that defines the replaced node's output.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_LIB_IMPORT_NODEEMITTER_H
#define FLIGHTLLM_LIB_IMPORT_NODEEMITTER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include "onnx/defs/attr_proto_util.h"
#include "onnx/onnx_pb.h"

#include <string>
#include <vector>

namespace flightllm {

inline onnx::AttributeProto intAttr(const std::string &name, int64_t value) {
  return onnx::MakeAttribute(name, value);
}
inline onnx::AttributeProto floatAttr(const std::string &name, float value) {
  return onnx::MakeAttribute(name, value);
}
inline onnx::AttributeProto intsAttr(const std::string &name,
                                     llvm::ArrayRef<int64_t> values) {
  return onnx::MakeAttribute(name, std::vector<int64_t>(values.begin(), values.end()));
}
/// The attribute `name` of `node`, or null.
onnx::AttributeProto *findAttr(onnx::NodeProto &node, llvm::StringRef name);

class NodeEmitter {
public:
  /// Emits into `out` the nodes that replace `node`; scalars are of ONNX
  /// float type `floatType` (FLOAT, FLOAT16 or BFLOAT16).
  NodeEmitter(const onnx::NodeProto &node, int32_t floatType,
              std::vector<onnx::NodeProto> &out);

  /// A scalar constant of the float type.
  std::string scalar(float value);
  /// A scalar constant of ONNX type `type`.
  std::string scalarOf(float value, int32_t type);
  /// A 1-D int64 constant.
  std::string int64s(llvm::ArrayRef<int64_t> values);
  /// A constant holding `value`.
  std::string constant(const onnx::TensorProto &value);
  /// A node of default-domain `opType`; returns its (first) output, named
  /// `output` when given (the replaced node's output), else a fresh name.
  std::string op(llvm::StringRef opType, llvm::ArrayRef<std::string> inputs,
                 llvm::ArrayRef<onnx::AttributeProto> attrs = {},
                 const std::string &output = "");
  int32_t floatType() const { return type; }

private:
  std::string fresh(llvm::StringRef what);

  std::string base;
  int32_t type;
  std::vector<onnx::NodeProto> &out;
  int counter = 0;
};

/// gelu(x) = x * 0.5 * (1 + erf(x / sqrt(2))), or with `tanh`
/// x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))), into `output`.
std::string emitGelu(NodeEmitter &emit, const std::string &x, bool tanh,
                     const std::string &output = "");

} // namespace flightllm

#endif // FLIGHTLLM_LIB_IMPORT_NODEEMITTER_H
