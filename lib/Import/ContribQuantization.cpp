//===- ContribQuantization.cpp - MatMulNBits -> DequantizeLinear, MatMul --===//
//
// com.microsoft MatMulNBits (onnxruntime docs/ContribOperators.md) holds a
// [K, N] weight as N rows of K/G blocks of G codes (bits 4 or 8, packed
// little end first), one scale per block and optional packed zero points
// (default 2^(bits-1)): W[k, n] = (code - zp) * scale of (n, k / G).
// The expansion unpacks the codes with integer ops on the constants and
// dequantizes them per block with DequantizeLinear along axis 0 of a
// [N * K/G, G] view, so the graph still computes exactly that weight; the
// linear raising recognises this form and gives llm.linear those codes,
// scales and zero points (docs/compression.md), not re-quantized ones.
//===----------------------------------------------------------------------===//

#include "ContribOps.h"

#include "NodeEmitter.h"

#include "flightllm/ISA/ISA.h"

#include "mlir/IR/Diagnostics.h"

#include "onnx/onnx_pb.h"

using namespace mlir;
using namespace flightllm;

namespace {

std::string input(const onnx::NodeProto &node, int i) {
  return i < node.input_size() ? node.input(i) : std::string();
}

/// The low and high nibbles of the uint8 `packed` [..., M], interleaved
/// along a new last axis and merged: [..., 2M] in storage order.
std::string unpackNibbles(NodeEmitter &emit, const std::string &packed,
                          const std::vector<int64_t> &shape) {
  auto u8 = [&](int64_t v) {
    onnx::TensorProto t;
    t.set_data_type(onnx::TensorProto::UINT8);
    t.add_int32_data(int32_t(v));
    return emit.constant(t);
  };
  std::string high = emit.op("Div", {packed, u8(16)});
  std::string low = emit.op("Sub", {packed, emit.op("Mul", {high, u8(16)})});
  std::string last = emit.int64s({-1});
  std::string pairs =
      emit.op("Concat", {emit.op("Unsqueeze", {low, last}),
                         emit.op("Unsqueeze", {high, last})},
              {intAttr("axis", -1)});
  return emit.op("Reshape", {pairs, emit.int64s(shape)});
}

} // namespace

LogicalResult flightllm::expandMatMulNBits(
    onnx::NodeProto &node, int32_t floatType, Location loc,
    const ContribGraphInfo &graph, std::vector<onnx::NodeProto> &expansion) {
  auto attr = [&](llvm::StringRef name) -> std::optional<int64_t> {
    onnx::AttributeProto *a = findAttr(node, name);
    return a ? std::optional<int64_t>(a->i()) : std::nullopt;
  };
  std::optional<int64_t> k = attr("K"), n = attr("N"),
                         blockSize = attr("block_size");
  int64_t bits = attr("bits").value_or(4);
  if (!k || !n || !blockSize || *k <= 0 || *n <= 0 || *blockSize <= 0) {
    emitError(loc) << "MatMulNBits needs positive K, N and block_size";
    return failure();
  }
  if (bits != 4 && bits != 8) {
    emitError(loc) << "MatMulNBits attribute bits=" << bits
                   << " is not supported (only 4 and 8)";
    return failure();
  }
  if (*k % *blockSize) {
    emitError(loc) << "MatMulNBits attribute block_size=" << *blockSize
                   << " does not divide K=" << *k
                   << " (a padded last block is not supported)";
    return failure();
  }
  // As for DequantizeLinear's blocks (OpsetAdapter.cpp): the group-wise
  // format scales whole K blocks of the accelerator, so a block size it
  // cannot represent is refused here, naming the node, not by the lowering.
  if (*blockSize % isa::kKBlock) {
    emitError(loc) << "MatMulNBits attribute block_size=" << *blockSize
                   << " is not supported (a multiple of " << isa::kKBlock
                   << ", the accelerator's K block, dividing K=" << *k << ")";
    return failure();
  }
  for (int i : {4}) // g_idx: act-order GPTQ, a permuted block map.
    if (!input(node, i).empty()) {
      emitError(loc) << "MatMulNBits input g_idx ('" << node.input(i)
                     << "') is not supported";
      return failure();
    }
  for (int i = 1; i < 4; ++i) {
    const std::string &name = input(node, i);
    if (!name.empty() && !(graph.constant && graph.constant(name))) {
      static const char *const kNames[] = {"", "B", "scales", "zero_points"};
      emitError(loc) << "MatMulNBits input " << kNames[i] << " ('" << name
                     << "') must be a constant";
      return failure();
    }
  }
  int64_t blocks = *k / *blockSize, rows = *n * blocks;
  NodeEmitter emit(node, floatType, expansion);
  std::string b = input(node, 1);
  std::string codes =
      bits == 8 ? emit.op("Reshape", {b, emit.int64s({rows, *blockSize})})
                : unpackNibbles(emit, emit.op("Reshape", {b, emit.int64s({rows, *blockSize / 2})}),
                                {rows, *blockSize});
  std::string scales = emit.op("Reshape", {input(node, 2), emit.int64s({rows})});
  if (floatType != onnx::TensorProto::FLOAT)
    scales = emit.op("Cast", {scales}, {intAttr("to", onnx::TensorProto::FLOAT)});
  std::string zeroPoints;
  if (std::string zp = input(node, 3); zp.empty()) {
    onnx::TensorProto fill;
    fill.set_data_type(onnx::TensorProto::UINT8);
    fill.add_dims(1);
    fill.add_int32_data(1 << (bits - 1));
    zeroPoints = emit.op("ConstantOfShape", {emit.int64s({rows})},
                         {onnx::MakeAttribute("value", fill)});
  } else if (graph.constant(zp)->data_type() != onnx::TensorProto::UINT8) {
    emitError(loc) << "MatMulNBits zero_points '" << zp
                   << "' of a float type are not supported (only packed "
                      "uint8 codes)";
    return failure();
  } else if (bits == 8) {
    zeroPoints = emit.op("Reshape", {zp, emit.int64s({rows})});
  } else {
    // [N, ceil(blocks / 2)] bytes, two blocks' zero points each.
    int64_t perRow = (blocks + 1) / 2;
    std::string unpacked = unpackNibbles(
        emit, emit.op("Reshape", {zp, emit.int64s({*n, perRow})}),
        {*n, 2 * perRow});
    zeroPoints = emit.op(
        "Reshape",
        {emit.op("Slice", {unpacked, emit.int64s({0}), emit.int64s({blocks}),
                           emit.int64s({1})}),
         emit.int64s({rows})});
  }
  std::string dequantized = emit.op("DequantizeLinear", {codes, scales, zeroPoints},
                                    {intAttr("axis", 0)});
  std::string weight = emit.op(
      "Transpose", {emit.op("Reshape", {dequantized, emit.int64s({*n, *k})})},
      {intsAttr("perm", {1, 0})});
  if (floatType != onnx::TensorProto::FLOAT)
    weight = emit.op("Cast", {weight}, {intAttr("to", floatType)});
  std::string bias = input(node, 5);
  if (bias.empty()) {
    emit.op("MatMul", {input(node, 0), weight}, {}, node.output(0));
  } else {
    emit.op("Add", {emit.op("MatMul", {input(node, 0), weight}), bias}, {},
            node.output(0));
  }
  return success();
}
