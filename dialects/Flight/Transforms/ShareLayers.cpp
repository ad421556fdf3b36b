//===- ShareLayers.cpp - The flight-share-layers pass ---------------------===//
//
// One decoder-layer body serves every layer through the base registers
// (B1 += weight stride, B2 += KV stride, B3 += DDR stride per iteration). This checks that the
// body's per-layer data stays inside one layer slot, which is what makes
// the sharing correct, or unrolls the body into one copy per layer that
// addresses its layer's slot directly (docs/lowering.md, "Layer sharing").
//===----------------------------------------------------------------------===//

#include "flightllm/Dialect/Flight/Transforms/Passes.h"

#include "flightllm/ISA/ISA.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/DenseMap.h"

namespace flightllm::flight {
#define GEN_PASS_DEF_SHARELAYERSPASS
#include "flightllm/Dialect/Flight/Transforms/Passes.h.inc"
} // namespace flightllm::flight

using namespace mlir;
using namespace flightllm;
using namespace flightllm::flight;

namespace {

constexpr int64_t kUnit = isa::kOffChipUnitBytes;

/// A transfer inside a layer body: its HBM side and what it adds to it.
struct Transfer {
  Operation *op;
  OpOperand *hbm;
  BaseRegister base;
  RunTimeParam param;
  int64_t offset, length;
};

std::optional<Transfer> transferOf(Operation *op) {
  if (auto ld = dyn_cast<TileLoadOp>(op))
    return Transfer{op, &ld.getSourceMutable(), ld.getBase(), ld.getParam(),
                    ld.getOffsetAttr().getInt(), ld.getLengthAttr().getInt()};
  if (auto st = dyn_cast<TileStoreOp>(op))
    return Transfer{op, &st.getDestMutable(), st.getBase(), st.getParam(),
                    st.getOffsetAttr().getInt(), st.getLengthAttr().getInt()};
  return std::nullopt;
}

/// The stride (bytes) the base register of `t` advances by per layer; 0
/// for a transfer without one.
int64_t strideOf(LayerBodyOp layer, BaseRegister base) {
  if (base == BaseRegister::B1)
    return int64_t(*layer.getWeightStride()) * kUnit;
  if (base == BaseRegister::B2)
    return int64_t(*layer.getKvStride()) * kUnit;
  if (base == BaseRegister::B3 && layer.getDdrStride())
    return int64_t(*layer.getDdrStride()) * kUnit;
  return 0;
}

/// Every per-layer transfer of `layer` stays in one layer slot.
LogicalResult checkSlots(LayerBodyOp layer) {
  if (!layer.getWeightStrideAttr())
    return layer.emitOpError()
           << "has no base register strides (run flight-hbm-layout first)";
  for (Operation &op : layer.getBody().front()) {
    std::optional<Transfer> t = transferOf(&op);
    if (!t || t->base == BaseRegister::Zero)
      continue;
    if (t->base == BaseRegister::B3 && !layer.getDdrStride())
      return op.emitOpError() << "uses B3 but the layer body has no "
                                 "ddr_stride (flight-hbm-layout sets it for "
                                 "weights in DDR)";
    auto region = t->hbm->get().getDefiningOp<HbmRegionOp>();
    if (!region || !region.isPlaced())
      return op.emitOpError() << "needs a placed flight.hbm_region (run "
                                 "flight-hbm-layout first)";
    int64_t slot = strideOf(layer, t->base);
    int64_t size = cast<BufferType>(region.getType()).getSizeInBytes();
    int64_t end = int64_t(*region.getOffset()) + size;
    if (end > slot)
      return op.emitOpError()
             << "reaches byte " << end << " of its layer slot through '"
             << region.getName() << "', beyond the slot's " << slot
             << " bytes: layer l would touch layer l + 1's data";
    if (t->param == RunTimeParam::Zero && t->offset + t->length > size)
      return op.emitOpError() << "transfers bytes " << t->offset << ".."
                              << t->offset + t->length << " of '"
                              << region.getName() << "', which has " << size;
  }
  return success();
}

/// Replaces `layer` by one copy of its body per layer; per-layer transfers
/// address layer l's copy of their region directly (l from the body's
/// first_layer on: a model with several bodies numbers its layers through).
void unroll(LayerBodyOp layer, llvm::ArrayRef<int64_t> origins) {
  OpBuilder b(layer);
  // Layer l's copy of a region, created after the region (and its copies
  // for the layers before).
  llvm::DenseMap<std::pair<Operation *, int64_t>, Value> copies;
  llvm::DenseMap<Operation *, Operation *> lastCopy;
  auto copyOf = [&](HbmRegionOp region, BaseRegister base, int64_t l) {
    Value &v = copies[{region.getOperation(), l}];
    if (v)
      return v;
    int64_t origin = origins[int(base) - int(BaseRegister::B1)] * kUnit;
    Operation *&after = lastCopy[region.getOperation()];
    OpBuilder rb(region);
    rb.setInsertionPointAfter(after ? after : region.getOperation());
    v = HbmRegionOp::create(
        rb, region.getLoc(), region.getType(),
        (region.getName() + ".layer" + llvm::Twine(l)).str(),
        region.getHolds(), region.getChannelAttr(),
        rb.getI64IntegerAttr(origin + l * strideOf(layer, base) +
                             int64_t(*region.getOffset())));
    after = v.getDefiningOp();
    return v;
  };
  int64_t first = layer.getFirstLayerIndex();
  for (int64_t l = first; l < first + int64_t(layer.getLayers()); ++l) {
    IRMapping map;
    for (Operation &op : layer.getBody().front()) {
      Operation *copy = b.clone(op, map);
      std::optional<Transfer> t = transferOf(copy);
      if (!t || t->base == BaseRegister::Zero)
        continue;
      t->hbm->set(
          copyOf(t->hbm->get().getDefiningOp<HbmRegionOp>(), t->base, l));
      if (auto ld = dyn_cast<TileLoadOp>(copy))
        ld.setBase(BaseRegister::Zero);
      else
        cast<TileStoreOp>(copy).setBase(BaseRegister::Zero);
    }
  }
  layer.erase();
}

struct ShareLayersPass
    : public flight::impl::ShareLayersPassBase<ShareLayersPass> {
  using Base::Base;

  void runOnOperation() override {
    BucketOp bucket = getOperation();
    SmallVector<int64_t> origins;
    if (!shareLayers) {
      auto module = bucket->getParentOfType<ModuleOp>();
      auto bases = module ? module->getAttrOfType<DictionaryAttr>("flight.bases")
                          : DictionaryAttr();
      auto origin =
          bases ? bases.getAs<DenseI64ArrayAttr>("origin") : DenseI64ArrayAttr();
      if (!origin || origin.size() < 3) {
        bucket.emitOpError() << "needs the module's flight.bases (origin) to "
                                "unroll its layers (run flight-hbm-layout first)";
        return signalPassFailure();
      }
      origins.assign(origin.asArrayRef().begin(), origin.asArrayRef().end());
    }
    ShareLayersPassOptions options;
    options.shareLayers = shareLayers;
    if (failed(flight::shareLayers(bucket, options, origins)))
      signalPassFailure();
  }
};
} // namespace

LogicalResult flight::shareLayers(BucketOp bucket,
                                  const ShareLayersPassOptions &options,
                                  llvm::ArrayRef<int64_t> origins) {
  SmallVector<LayerBodyOp> layers;
  bucket.walk([&](LayerBodyOp layer) { layers.push_back(layer); });
  for (LayerBodyOp layer : layers)
    if (failed(checkSlots(layer)))
      return failure();
  if (!options.shareLayers) {
    // Unrolled copies address the KV cache without B2, which a batched run
    // moves per sequence (flight.select_seq).
    WalkResult batched = bucket.walk([](SelectSeqOp op) {
      op.emitOpError() << "a batched decode bucket's layers cannot be "
                          "unrolled (its sequences' KV-cache slots are B2 "
                          "origins)";
      return WalkResult::interrupt();
    });
    if (batched.wasInterrupted())
      return failure();
    for (LayerBodyOp layer : layers)
      unroll(layer, origins);
  }
  return success();
}
