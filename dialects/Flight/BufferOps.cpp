//===- BufferOps.cpp - Verifiers of the buffer-level flight ops -----------===//

#include "flightllm/Dialect/Flight/Encoding.h"
#include "flightllm/Dialect/Flight/FlightDialect.h"

#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace flightllm;
using namespace flightllm::flight;

namespace {
/// "'x' must be in act, not weight"-style checks of one operand.
LogicalResult expectSpace(Operation *op, StringRef what, BufferType type,
                          llvm::ArrayRef<MemorySpace> spaces) {
  if (llvm::is_contained(spaces, type.getSpace()))
    return success();
  auto diag = op->emitOpError() << what << " must be in ";
  llvm::interleave(
      spaces, diag, [&](MemorySpace s) { diag << stringifyMemorySpace(s); },
      " or ");
  return diag << ", not " << stringifyMemorySpace(type.getSpace());
}

LogicalResult expectElement(Operation *op, StringRef what, BufferType type,
                            Type element) {
  if (type.getElementType() == element)
    return success();
  return op->emitOpError() << what << " must hold " << element << ", not "
                           << type.getElementType();
}

LogicalResult expectRank(Operation *op, StringRef what, BufferType type,
                         int64_t rank) {
  if (type.getRank() == rank)
    return success();
  return op->emitOpError() << what << " must have rank " << rank << ", not "
                           << type.getRank();
}

/// A transfer between an off-chip region and an on-chip buffer.
LogicalResult verifyTransfer(Operation *op, BufferType offChip,
                             BufferType onChip, StringRef offName,
                             StringRef onName,
                             llvm::ArrayRef<MemorySpace> onSpaces) {
  if (failed(expectSpace(op, offName, offChip,
                         {MemorySpace::Hbm, MemorySpace::Ddr})) ||
      failed(expectSpace(op, onName, onChip, onSpaces)))
    return failure();
  if (offChip.getElementType() != onChip.getElementType())
    return op->emitOpError() << "the element types differ: "
                             << offChip.getElementType() << " off chip, "
                             << onChip.getElementType() << " on chip";
  if (offChip.getSizeInBits() != onChip.getSizeInBits())
    return op->emitOpError()
           << "moves " << offChip.getSizeInBits() << " bits off chip but "
           << onChip.getSizeInBits() << " on chip";
  return success();
}
} // namespace

LogicalResult TileLoadOp::verify() {
  return verifyTransfer(
      *this, getSource().getType(), getResult().getType(), "the source",
      "the result",
      {MemorySpace::Act, MemorySpace::Weight, MemorySpace::Meta});
}

LogicalResult TileStoreOp::verify() {
  return verifyTransfer(*this, getDest().getType(), getValue().getType(),
                        "the destination", "the stored value",
                        {MemorySpace::Act, MemorySpace::Acc});
}

/// MM and MV: shapes, element types and memory spaces of x, w, scales, bias
/// and the result.
template <typename OpTy>
static LogicalResult verifyMatrixOp(OpTy op, bool oneToken) {
  auto x = op.getX().getType(), w = op.getW().getType(),
       s = op.getScales().getType(), y = op.getResult().getType();
  Builder b(op.getContext());
  if (failed(expectSpace(op, "x", x, {MemorySpace::Act})) ||
      failed(expectElement(op, "x", x, b.getIntegerType(8))) ||
      failed(expectRank(op, "x", x, 2)) ||
      failed(expectSpace(op, "w", w, {MemorySpace::Weight})) ||
      failed(expectRank(op, "w", w, 2)) ||
      failed(expectSpace(op, "scales", s, {MemorySpace::Meta})) ||
      failed(expectElement(op, "scales", s, b.getF32Type())) ||
      failed(expectRank(op, "scales", s, 1)) ||
      failed(expectSpace(op, "the result", y, {MemorySpace::Act})) ||
      failed(expectRank(op, "the result", y, 2)))
    return failure();
  unsigned wbits = op.getPrecision() == Precision::W4A8 ? 4 : 8;
  if (w.getElementType() != b.getIntegerType(wbits))
    return op.emitOpError() << "w must hold i" << wbits << " for precision "
                            << stringifyPrecision(op.getPrecision()) << ", not "
                            << w.getElementType();
  if (!y.getElementType().isF16() && !y.getElementType().isF32())
    return op.emitOpError() << "the result must hold f16 or f32, not "
                            << y.getElementType();
  int64_t tokens = x.getShape()[0], k = x.getShape()[1];
  int64_t wk = w.getShape()[op.getBKmajor() ? 0 : 1];
  int64_t n = w.getShape()[op.getBKmajor() ? 1 : 0];
  if (oneToken && tokens != 1)
    return op.emitOpError() << "computes one token: x must be 1xK, not "
                            << tokens << "x" << k;
  if (wk != k)
    return op.emitOpError() << "x has K = " << k << " but w has K = " << wk
                            << (op.getBKmajor() ? " (K-major)" : "");
  if (op.getSparsity() != Sparsity::Dense && k % 16)
    return op.emitOpError() << "N:16 sparsity needs K a multiple of 16, not "
                            << k;
  if (s.getShape()[0] != n)
    return op.emitOpError() << "needs one scale per output channel (" << n
                            << "), not " << s.getShape()[0];
  if (Value bias = op.getBias()) {
    auto bt = cast<BufferType>(bias.getType());
    if (failed(expectSpace(op, "bias", bt, {MemorySpace::Meta})) ||
        failed(expectElement(op, "bias", bt, b.getF32Type())))
      return failure();
    if (bt.getRank() != 1 || bt.getShape()[0] != n)
      return op.emitOpError() << "needs one bias per output channel (" << n
                              << ")";
  }
  if (y.getShape()[0] != tokens || y.getShape()[1] != n)
    return op.emitOpError() << "the result must be " << tokens << "x" << n
                            << ", not " << y.getShape()[0] << "x"
                            << y.getShape()[1];
  return success();
}

LogicalResult BufMMOp::verify() { return verifyMatrixOp(*this, false); }
LogicalResult BufMVOp::verify() { return verifyMatrixOp(*this, true); }

LogicalResult BufMiscOp::verify() {
  std::optional<int64_t> kind =
      lookupEnumerator(isa::EnumId::MiscKind, getKind());
  if (!kind)
    return emitOpError() << "unknown MISC kind '" << getKind() << "'";
  enum Operand { Binary, Unary, Parameters };
  Operand form = llvm::StringSwitch<Operand>(getKind())
                     .Cases({"add", "mul", "swiglu"}, Binary)
                     .Cases({"silu", "gelu", "gelu_tanh", "relu", "copy",
                             "quantize_dynamic"},
                            Unary)
                     .Default(Parameters);
  auto a = getA().getType(), y = getResult().getType();
  Builder b(getContext());
  bool dequantize = getKind() == "dequantize";
  if (failed(expectSpace(*this, "a", a,
                         dequantize ? llvm::ArrayRef<MemorySpace>{MemorySpace::Acc}
                                    : llvm::ArrayRef<MemorySpace>{MemorySpace::Act})) ||
      failed(expectSpace(*this, "the result", y, {MemorySpace::Act})))
    return failure();
  if (y.getShape() != a.getShape())
    return emitOpError() << "the result must have a's shape";
  Type element = b.getF16Type();
  if (getKind() == "quantize" || getKind() == "quantize_dynamic")
    element = b.getIntegerType(8);
  else if (dequantize)
    element = b.getF32Type();
  else if (getKind() == "copy")
    element = a.getElementType();
  if (failed(expectElement(*this, "the result", y, element)))
    return failure();
  Value operandB = getB();
  if (form == Unary && operandB)
    return emitOpError() << "'" << getKind() << "' takes no operand b";
  if (form != Unary && !operandB)
    return emitOpError() << "'" << getKind() << "' needs operand b"
                         << (form == Parameters ? " (its parameters)" : "");
  if (operandB) {
    auto bt = cast<BufferType>(operandB.getType());
    if (form == Binary) {
      if (failed(expectSpace(*this, "b", bt, {MemorySpace::Act})))
        return failure();
      if (bt.getShape() != a.getShape())
        return emitOpError() << "b must have a's shape";
    } else if (failed(expectSpace(*this, "b", bt, {MemorySpace::Meta}))) {
      return failure();
    }
  }
  if (getMasked() && getKind() != "softmax")
    return emitOpError() << "only softmax is masked";
  return success();
}

LogicalResult BucketOp::verify() {
  int64_t minLength = getMinLengthAttr().getInt(),
          maxLength = getMaxLengthAttr().getInt();
  if (minLength < 1 || maxLength < minLength)
    return emitOpError() << "lengths must satisfy 1 <= min_length <= "
                            "max_length, not "
                         << minLength << ".." << maxLength;
  return success();
}

LogicalResult PrefillTileOp::verify() {
  auto bucket = cast<BucketOp>((*this)->getParentOp());
  int64_t index = getIndexAttr().getInt(), tokens = getTokensAttr().getInt();
  if (bucket.getStage() != Stage::Prefill)
    return emitOpError() << "belongs in a prefill bucket";
  if (tokens < 1 || index < 0)
    return emitOpError() << "needs index >= 0 and tokens >= 1";
  if (index * tokens >= bucket.getMaxLengthAttr().getInt())
    return emitOpError() << "tile " << index << " starts at token "
                         << index * tokens << ", beyond the bucket's "
                         << bucket.getMaxLengthAttr().getInt() << " tokens";
  return success();
}

LogicalResult LayerBodyOp::verify() {
  if (getLayersAttr().getInt() < 1)
    return emitOpError() << "runs at least one layer, not "
                         << getLayersAttr().getInt();
  if (getWeightStrideAttr().getInt() < 0 || getKvStrideAttr().getInt() < 0)
    return emitOpError() << "base register strides must be >= 0";
  return success();
}
