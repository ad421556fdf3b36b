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

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace onnx {
class NodeProto;
class TensorProto;
} // namespace onnx

namespace flightllm {

/// What an expansion may know about the graph around the node.
struct ContribGraphInfo {
  /// The constant tensor (initializer or Constant node) named so, or null.
  std::function<const onnx::TensorProto *(const std::string &)> constant;
  /// The declared dimensions of a value (-1 where symbolic), if declared.
  std::function<std::optional<std::vector<int64_t>>(const std::string &)>
      shape;
  /// Tables an expansion derived from constants, by key: the layers share
  /// one rotary table rather than each adding a copy.
  std::map<std::string, std::string> *derivedTables = nullptr;
  /// Whether a value is the model's attention_mask input (or a Cast of it),
  /// which the llm program assumes all ones.
  std::function<bool(const std::string &)> isAttentionMask;
  /// The first graph input other than attention_mask whose values a value
  /// depends on (Shape reads aside), or "": a mask computed from it.
  std::function<std::string(const std::string &)> otherInputRead;
  /// Packed [2, B, H, T, Dh] caches (Attention's past and present) the
  /// importer replaced by separate key and value graph inputs and outputs:
  /// packed name -> (key name, value name). See splitPackedCaches.
  const std::map<std::string, std::pair<std::string, std::string>>
      *packedCaches = nullptr;
};

/// Whether the importer expands `node` (a fused onnxruntime operator).
bool isExpandedContribOp(const onnx::NodeProto &node);

/// Fills `expansion` with the default-domain nodes that compute `node`, whose
/// float inputs are of ONNX type `floatType`. Errors name `loc`.
mlir::LogicalResult expandContribOp(onnx::NodeProto &node, int32_t floatType,
                                    mlir::Location loc,
                                    const ContribGraphInfo &graph,
                                    std::vector<onnx::NodeProto> &expansion);

/// The attention family (ContribAttention.cpp): GroupQueryAttention,
/// MultiHeadAttention, Attention and RotaryEmbedding as the scaled
/// dot-product attention with its KV cache and the rotary embedding an
/// unfused export writes.
mlir::LogicalResult expandAttentionContribOp(
    onnx::NodeProto &node, int32_t floatType, mlir::Location loc,
    const ContribGraphInfo &graph, std::vector<onnx::NodeProto> &expansion);

/// MatMulNBits (ContribQuantization.cpp): the unpacked codes, dequantized by
/// DequantizeLinear per block, then MatMul; the raising reads the codes
/// and scales back from that form.
mlir::LogicalResult expandMatMulNBits(onnx::NodeProto &node, int32_t floatType,
                                      mlir::Location loc,
                                      const ContribGraphInfo &graph,
                                      std::vector<onnx::NodeProto> &expansion);

/// GELU (erf, or tanh) of `node`'s input into its output, computed in f32
/// from and to ONNX type `ioType`.
void expandGelu(const onnx::NodeProto &node, int32_t ioType, bool tanh,
                std::vector<onnx::NodeProto> &expansion);

/// The element bytes of a float tensor stored in the file, or nothing (data
/// elsewhere, or a type that is not f32/f16/bf16).
std::optional<std::string> floatTensorBytes(const onnx::TensorProto &t);

/// A fused operator the importer expands.
struct ContribOpInfo {
  const char *domain;
  const char *op;
  const char *opsets;    ///< the domain versions accepted
  const char *expansion; ///< the supported forms and what they become
  const char *refused;   ///< the forms refused with an error
};
llvm::ArrayRef<ContribOpInfo> getExpandedContribOps();

} // namespace flightllm

#endif // FLIGHTLLM_LIB_IMPORT_CONTRIBOPS_H
