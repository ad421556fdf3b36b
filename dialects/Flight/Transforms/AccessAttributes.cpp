//===- AccessAttributes.cpp - What an addressed instruction accesses ------===//

#include "flightllm/Dialect/Flight/Transforms/AccessAttributes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;
using namespace flightllm;
using namespace flightllm::flight;

// The tracker's off-chip data and the attribute's enumerators are one list.
static_assert(unsigned(OffChipDataKind::KVCache) == unsigned(OffChipData::KVCache) &&
              unsigned(OffChipDataKind::Scratch) == unsigned(OffChipData::Scratch) &&
              unsigned(OffChipDataKind::Logits) == unsigned(OffChipData::Logits));

// The ISA's buffers are the on-chip memory spaces, in order (act = 2).
static MemorySpace spaceOf(isa::Buffer buffer) {
  return static_cast<MemorySpace>(static_cast<unsigned>(buffer) +
                                  static_cast<unsigned>(MemorySpace::Act));
}
static isa::Buffer bufferOf(MemorySpace space) {
  return static_cast<isa::Buffer>(static_cast<unsigned>(space) -
                                  static_cast<unsigned>(MemorySpace::Act));
}

static ArrayAttr rowsArray(MLIRContext *context,
                           llvm::ArrayRef<OnChipRows> ranges) {
  SmallVector<Attribute> attrs;
  for (const OnChipRows &r : ranges)
    attrs.push_back(RowsAttr::get(context, spaceOf(r.buffer), r.row, r.rows));
  return ArrayAttr::get(context, attrs);
}

void flight::setAccessAttributes(Operation *op, const Access &access) {
  MLIRContext *context = op->getContext();
  if (!access.reads.empty())
    op->setAttr(kReadsAttr, rowsArray(context, access.reads));
  if (!access.writes.empty())
    op->setAttr(kWritesAttr, rowsArray(context, access.writes));
  if (access.offChipRead != OffChipData::None)
    op->setAttr(kHbmReadAttr,
                OffChipDataKindAttr::get(
                    context, static_cast<OffChipDataKind>(access.offChipRead)));
  if (access.offChipWrite != OffChipData::None)
    op->setAttr(kHbmWriteAttr,
                OffChipDataKindAttr::get(
                    context, static_cast<OffChipDataKind>(access.offChipWrite)));
}

bool flight::hasAccessAttributes(Operation *op) {
  return op->hasAttr(kReadsAttr) || op->hasAttr(kWritesAttr) ||
         op->hasAttr(kHbmReadAttr) || op->hasAttr(kHbmWriteAttr);
}

void flight::removeAccessAttributes(Operation *op) {
  for (StringRef name : {kReadsAttr, kWritesAttr, kHbmReadAttr, kHbmWriteAttr})
    op->removeAttr(name);
}

static LogicalResult readRows(Operation *op, StringRef name,
                              llvm::SmallVectorImpl<OnChipRows> &out) {
  Attribute attr = op->getAttr(name);
  if (!attr)
    return success();
  auto array = dyn_cast<ArrayAttr>(attr);
  if (!array)
    return op->emitError() << "'" << name
                           << "' must be an array of #flight.rows";
  for (Attribute element : array) {
    auto rows = dyn_cast<RowsAttr>(element);
    if (!rows)
      return op->emitError() << "'" << name
                             << "' must be an array of #flight.rows, not "
                             << element;
    out.push_back(
        OnChipRows{bufferOf(rows.getSpace()), rows.getRow(), rows.getCount()});
  }
  return success();
}

static LogicalResult readOffChip(Operation *op, StringRef name,
                                 OffChipData &out) {
  Attribute attr = op->getAttr(name);
  if (!attr)
    return success();
  auto data = dyn_cast<OffChipDataKindAttr>(attr);
  if (!data)
    return op->emitError() << "'" << name
                           << "' must be a #flight.offchip attribute";
  out = static_cast<OffChipData>(data.getValue());
  return success();
}

FailureOr<Access> flight::getAccessAttributes(Operation *op) {
  Access access;
  if (failed(readRows(op, kReadsAttr, access.reads)) ||
      failed(readRows(op, kWritesAttr, access.writes)) ||
      failed(readOffChip(op, kHbmReadAttr, access.offChipRead)) ||
      failed(readOffChip(op, kHbmWriteAttr, access.offChipWrite)))
    return failure();
  return access;
}
