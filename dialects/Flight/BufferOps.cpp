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

constexpr int64_t kRow = isa::kOnChipRowBytes, kUnit = isa::kOffChipUnitBytes;

/// Rows of an on-chip buffer (its bytes are whole rows: buf_alloc checks).
int64_t rowsOf(BufferType type) { return type.getSizeInBytes() / kRow; }

/// `row` is a row of `buffer` (and `count` rows from it fit).
LogicalResult expectRows(Operation *op, StringRef what, Value buffer,
                         int64_t row, int64_t count = 1) {
  int64_t rows = rowsOf(cast<BufferType>(buffer.getType()));
  if (row >= 0 && row + std::max<int64_t>(count, 1) <= rows)
    return success();
  return op->emitOpError() << what << ": rows [" << row << ", "
                           << row + std::max<int64_t>(count, 1)
                           << ") are not within the buffer's " << rows
                           << " rows";
}

/// A transfer between an HBM region and rows of an on-chip buffer.
LogicalResult verifyTransfer(Operation *op, Value offChip, Value onChip,
                             int64_t row, int64_t offset, int64_t length,
                             RunTimeParam param, int64_t stride,
                             llvm::ArrayRef<MemorySpace> onSpaces,
                             int64_t chunk = 0) {
  if (failed(expectSpace(op, "the HBM side", cast<BufferType>(offChip.getType()),
                         {MemorySpace::Hbm, MemorySpace::Ddr})) ||
      failed(expectSpace(op, "the on-chip side",
                         cast<BufferType>(onChip.getType()), onSpaces)))
    return failure();
  if (length <= 0 || offset < 0 || stride < 0 || length % kUnit ||
      offset % kUnit || stride % kUnit)
    return op->emitOpError() << "offset, length and stride must be multiples "
                                "of "
                             << kUnit << " bytes (length > 0, the others >= 0)";
  if ((param == RunTimeParam::Zero) != (stride == 0))
    return op->emitOpError()
           << "a run-time parameter needs a stride and a stride a parameter";
  if (chunk < 0 || chunk % kUnit || (chunk && length % chunk))
    return op->emitOpError() << "chunk must be a multiple of " << kUnit
                             << " bytes that divides the length";
  // Chunks start rows: each takes whole rows on chip.
  int64_t rows = chunk ? length / chunk * ((chunk + kRow - 1) / kRow)
                       : (length + kRow - 1) / kRow;
  return expectRows(op, "the on-chip side", onChip, row, rows);
}
} // namespace

uint32_t BufAllocOp::getRows() {
  return static_cast<uint32_t>(rowsOf(getResult().getType()));
}

LogicalResult BufAllocOp::verify() {
  BufferType type = getResult().getType();
  if (failed(expectSpace(*this, "the buffer", type,
                         {MemorySpace::Act, MemorySpace::Weight,
                          MemorySpace::Meta})))
    return failure();
  if (type.getSizeInBits() % (8 * kRow))
    return emitOpError() << "holds " << type.getSizeInBits()
                         << " bits, not whole rows of " << kRow << " bytes";
  return success();
}

LogicalResult BufDeallocOp::verify() {
  if (!getBuffer().getDefiningOp<BufAllocOp>())
    return emitOpError() << "the operand must be a flight.buf_alloc result";
  return success();
}

LogicalResult HbmRegionOp::verify() {
  if (failed(expectSpace(*this, "the region", getResult().getType(),
                         {MemorySpace::Hbm, MemorySpace::Ddr})))
    return failure();
  if (bool(getChannelAttr()) != bool(getOffsetAttr()))
    return emitOpError() << "needs both a channel and an offset, or neither "
                            "(a region flight-hbm-layout places)";
  if (!isPlaced())
    return success();
  if (getChannelAttr().getInt() < 0 || getOffsetAttr().getInt() < 0 ||
      getOffsetAttr().getInt() % kUnit)
    return emitOpError() << "needs a channel >= 0 and an offset >= 0 that is "
                            "a multiple of "
                         << kUnit << " bytes";
  return success();
}

LogicalResult TileLoadOp::verify() {
  return verifyTransfer(*this, getSource(), getDest(), getRowAttr().getInt(),
                        getOffsetAttr().getInt(), getLengthAttr().getInt(),
                        getParam(), getStrideAttr().getInt(),
                        {MemorySpace::Act, MemorySpace::Weight,
                         MemorySpace::Meta},
                        getChunkAttr().getInt());
}

LogicalResult BufExchangeOp::verify() {
  auto type = cast<BufferType>(getBuffer().getType());
  if (failed(expectSpace(*this, "buffer", type, {MemorySpace::Act})))
    return failure();
  int64_t tokens = getTokensAttr().getInt(),
          stride = getRowStrideAttr().getInt();
  llvm::ArrayRef<int64_t> s = getSlices();
  if (tokens < 1 || stride < 1)
    return emitOpError() << "needs tokens >= 1 and row_stride >= 1";
  if (s.size() < 3)
    return emitOpError() << "needs the slice bounds of at least two cores";
  int64_t rowBytes = int64_t(isa::kOnChipRowBytes);
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] < 0 || s[i] % 32 != 0 || (i && s[i] < s[i - 1]) ||
        s[i] > stride * rowBytes)
      return emitOpError() << "slice bound " << s[i]
                           << " is negative, not a multiple of 32, decreasing "
                              "or beyond the token's "
                           << stride * rowBytes << " bytes";
  if ((tokens - 1) * stride * rowBytes + s.back() > type.getSizeInBytes())
    return emitOpError() << "the last token's slices end beyond the buffer";
  return success();
}

LogicalResult TileStoreOp::verify() {
  return verifyTransfer(*this, getDest(), getSource(), getRowAttr().getInt(),
                        getOffsetAttr().getInt(), getLengthAttr().getInt(),
                        getParam(), getStrideAttr().getInt(),
                        {MemorySpace::Act});
}

/// MM and MV: memory spaces, row offsets, fields.
template <typename OpTy> static LogicalResult verifyMatrixOp(OpTy op) {
  auto type = [](Value v) { return cast<BufferType>(v.getType()); };
  if (failed(expectSpace(op, "x", type(op.getX()), {MemorySpace::Act})) ||
      failed(expectSpace(op, "w", type(op.getW()), {MemorySpace::Weight})) ||
      failed(expectSpace(op, "scales", type(op.getScales()),
                         {MemorySpace::Meta})) ||
      failed(expectSpace(op, "out", type(op.getOut()), {MemorySpace::Act})))
    return failure();
  if (op.getKBlocksAttr().getInt() < 1 || op.getNAttr().getInt() < 1 ||
      op.getOutStrideAttr().getInt() < 0 || op.getXRowAttr().getInt() < 0)
    return op.emitOpError()
           << "needs k_blocks >= 1, n >= 1, out_stride >= 0, x_row >= 0";
  if (!lookupEnumerator(isa::EnumId::OutFormat, op.getOutFormat()) ||
      op.getOutFormat() == "i32")
    return op.emitOpError() << "out_format must be f16 or f32, not '"
                            << op.getOutFormat() << "'";
  if ((op.getSparsity() != Sparsity::Dense || op.getGrouped()) &&
      op.getBKmajor())
    return op.emitOpError()
           << "sparse or grouped weights must be channel-major (no b_kmajor)";
  return failure(
      failed(expectRows(op, "x", op.getX(), op.getXRowAttr().getInt())) ||
      failed(expectRows(op, "scales", op.getScales(),
                        op.getScalesRowAttr().getInt())) ||
      failed(expectRows(op, "out", op.getOut(), op.getOutRowAttr().getInt())));
}

LogicalResult SelectSeqOp::verify() {
  int64_t index = getIndexAttr().getInt();
  if (index < 0 || index >= int64_t(isa::kMaxBatch))
    return emitOpError() << "sequence " << index << " is not below the ISA's "
                         << isa::kMaxBatch << " (MaxBatch)";
  return success();
}

LogicalResult BufMMOp::verify() { return verifyMatrixOp(*this); }
LogicalResult BufMVOp::verify() { return verifyMatrixOp(*this); }

LogicalResult BufMiscOp::verify() {
  std::optional<int64_t> kind =
      lookupEnumerator(isa::EnumId::MiscKind, getKind());
  if (!kind)
    return emitOpError() << "unknown MISC kind '" << getKind() << "'";
  enum Operand { Binary, Unary, Parameters };
  Operand form = llvm::StringSwitch<Operand>(getKind())
                     .Cases({"add", "mul", "swiglu"}, Binary)
                     .Cases({"silu", "gelu", "gelu_tanh", "relu", "copy",
                             "quantize_dynamic", "quantize_value4", "place"},
                            Unary)
                     .Default(Parameters);
  auto type = [](Value v) { return cast<BufferType>(v.getType()); };
  bool dequantize = getKind() == "dequantize";
  if (failed(expectSpace(*this, "a", type(getA()),
                         dequantize ? llvm::ArrayRef<MemorySpace>{MemorySpace::Acc}
                                    : llvm::ArrayRef<MemorySpace>{MemorySpace::Act})) ||
      failed(expectSpace(*this, "out", type(getOut()), {MemorySpace::Act})))
    return failure();
  Value operandB = getB();
  if (form == Unary && operandB)
    return emitOpError() << "'" << getKind() << "' takes no operand b";
  if (form != Unary && !operandB)
    return emitOpError() << "'" << getKind() << "' needs operand b"
                         << (form == Parameters ? " (its parameters)" : "");
  if (operandB &&
      failed(expectSpace(*this, "b", type(operandB),
                         form == Binary
                             ? llvm::ArrayRef<MemorySpace>{MemorySpace::Act,
                                                           MemorySpace::Meta}
                             : llvm::ArrayRef<MemorySpace>{MemorySpace::Meta})))
    return failure();
  // mul is masked where it scales probabilities (4-bit KV cache: columns
  // beyond the position hold stale value scales).
  if (getMasked() && getKind() != "softmax" && getKind() != "mul")
    return emitOpError() << "only softmax and mul are masked";
  if ((getKind() == "quantize4" || getKind() == "quantize_value4") &&
      getOutStepAttr().getInt() != 0)
    return emitOpError() << "'" << getKind()
                         << "' packs its rows itself: out_step must be 0";
  if (getKAttr().getInt() < 1 || getRowsAttr().getInt() < 1 ||
      getAStepAttr().getInt() < 0 || getBStepAttr().getInt() < 0 ||
      getOutStepAttr().getInt() < 0 || getPosOffAttr().getInt() < 0)
    return emitOpError() << "needs k >= 1, rows >= 1 and steps >= 0";
  if (failed(expectRows(*this, "a", getA(), getARowAttr().getInt())) ||
      (operandB &&
       failed(expectRows(*this, "b", operandB, getBRowAttr().getInt()))) ||
      failed(expectRows(*this, "out", getOut(), getOutRowAttr().getInt())))
    return failure();
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
  if (bool(getWeightStrideAttr()) != bool(getKvStrideAttr()))
    return emitOpError() << "needs both base register strides, or neither "
                            "(flight-hbm-layout sets them)";
  if (getFirstLayerIndex() < 0)
    return emitOpError() << "first_layer must be >= 0, not "
                         << getFirstLayerIndex();
  if (getWeightStrideAttr() && (getWeightStrideAttr().getInt() < 0 ||
                                getKvStrideAttr().getInt() < 0))
    return emitOpError() << "base register strides must be >= 0";
  if (getDdrStrideAttr() &&
      (!getWeightStrideAttr() || getDdrStrideAttr().getInt() < 0))
    return emitOpError() << "ddr_stride needs the other strides and must be "
                            ">= 0";
  return success();
}
