//===- ONNXOps.cpp - Hand-written parts of the onnx ops -------------------===//
//
// The op definitions are generated from the ONNX schemas; this file holds the
// checks the schemas state only in prose (axis ranges, permutations) and the
// folders.
//===----------------------------------------------------------------------===//

#include "flightllm/Dialect/ONNX/ONNXDialect.h"
#include "flightllm/Dialect/ONNX/ONNXTypes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/SmallBitVector.h"

using namespace mlir;
using namespace flightllm::onnxir;

/// Checks that `axis` names a dimension of a rank-`rank` tensor, counting from
/// the back when negative (ONNX's convention).
static LogicalResult verifyAxis(Operation *op, int64_t axis, int64_t rank,
                                StringRef what = "axis") {
  if (axis < -rank || axis >= rank)
    return op->emitOpError() << what << " " << axis
                             << " is out of range for a tensor of rank "
                             << rank << " (expected [" << -rank << ", "
                             << rank - 1 << "])";
  return success();
}

static std::optional<int64_t> rankOf(Value v) {
  if (auto t = dyn_cast<RankedTensorType>(v.getType()))
    return t.getRank();
  return std::nullopt;
}

LogicalResult SoftmaxOp::verify() {
  if (auto rank = rankOf(getInput()))
    return verifyAxis(*this, getAxis(), *rank);
  return success();
}

LogicalResult GemmOp::verify() {
  for (auto [name, v] : {std::pair<StringRef, Value>{"A", getA()}, {"B", getB()}})
    if (auto rank = rankOf(v); rank && *rank != 2)
      return emitOpError() << "operand " << name << " must be a matrix, got rank "
                           << *rank;
  return success();
}

LogicalResult GatherOp::verify() {
  if (auto rank = rankOf(getData()))
    return verifyAxis(*this, getAxis(), *rank);
  return success();
}

LogicalResult TransposeOp::verify() {
  // Without perm, ONNX reverses the dimensions.
  auto rank = rankOf(getData());
  if (!getPerm() || !rank)
    return success();
  ArrayRef<int64_t> perm = *getPerm();
  if (int64_t(perm.size()) != *rank)
    return emitOpError() << "perm has " << perm.size()
                         << " entries but the input has rank " << *rank;
  llvm::SmallBitVector seen(*rank);
  for (int64_t p : perm) {
    if (p < 0 || p >= *rank || seen.test(p))
      return emitOpError() << "perm is not a permutation of [0, " << *rank
                           << ")";
    seen.set(p);
  }
  return success();
}

LogicalResult ConcatOp::verify() {
  if (getInputs().empty())
    return emitOpError() << "needs at least one input";
  Type elementType = getElementTypeOrSelf(getInputs().front().getType());
  std::optional<int64_t> rank;
  for (Value v : getInputs()) {
    if (getElementTypeOrSelf(v.getType()) != elementType)
      return emitOpError() << "inputs must share one element type";
    if (auto r = rankOf(v)) {
      if (rank && *rank != *r)
        return emitOpError() << "inputs must share one rank";
      rank = r;
    }
  }
  if (getElementTypeOrSelf(getConcatResult().getType()) != elementType)
    return emitOpError() << "result element type must match the inputs";
  if (rank)
    return verifyAxis(*this, getAxis(), *rank);
  return success();
}

LogicalResult CastOp::verify() {
  Type target = getElementType(getContext(), getTo());
  if (!target)
    return emitOpError() << "cast to unsupported data type " << getTo() << " ("
                         << (getDataTypeName(getTo()).empty()
                                 ? StringRef("unknown")
                                 : getDataTypeName(getTo()))
                         << ")";
  if (getElementTypeOrSelf(getOutput().getType()) != target)
    return emitOpError() << "result element type must be " << target
                         << " to match 'to' = " << getTo();
  return success();
}

LogicalResult ConstantOp::verify() {
  // The importer turns value_float, value_ints, ... into `value`, so every
  // constant carries exactly one dense tensor.
  for (StringRef other : {"value_float", "value_floats", "value_int",
                          "value_ints", "value_string", "value_strings"})
    if ((*this)->hasAttr(other))
      return emitOpError() << "'" << other
                           << "' must be normalized into 'value' at import";
  if (!getValueAttr())
    return emitOpError() << "requires a 'value' attribute";
  if (getValueAttr().getType() != getOutput().getType())
    return emitOpError() << "result type " << getOutput().getType()
                         << " does not match the value's type "
                         << getValueAttr().getType();
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValueAttr(); }

OpFoldResult IdentityOp::fold(FoldAdaptor) {
  if (getInput().getType() == getOutput().getType())
    return getInput();
  return {};
}

LogicalResult LayerNormalizationOp::verify() {
  if (auto rank = rankOf(getX()))
    return verifyAxis(*this, getAxis(), *rank);
  return success();
}

#define GET_OP_CLASSES
#include "flightllm/Dialect/ONNX/ONNXOps.cpp.inc"
