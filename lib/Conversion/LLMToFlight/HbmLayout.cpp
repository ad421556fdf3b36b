//===- HbmLayout.cpp - Places for the symbolic HBM regions ----------------===//
//
// The IR side of the HBM layout (flight-hbm-layout): instruction selection
// names every HBM region by what it holds and its size, without a channel or
// an offset; ModelLowering::layout() decides the places (ModelLowering.cpp,
// with the image), and this gives them to the regions of a bucket: a region
// of one place gets its channel and offset, a weight tile's region becomes
// one region per stripe and each load of it one load per stripe (a tile the
// layout put in DDR: stripes in DDR channels, loaded through B3).
//===----------------------------------------------------------------------===//

#include "Lowering.h"

#include "flightllm/Dialect/Flight/FlightDialect.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace flightllm;
using namespace flightllm::lowering;

LogicalResult ModelLowering::placeRegions(Operation *root) {
  SmallVector<flight::HbmRegionOp> symbolic;
  root->walk([&](flight::HbmRegionOp r) {
    if (!r.isPlaced())
      symbolic.push_back(r);
  });
  for (flight::HbmRegionOp r : symbolic) {
    auto it = places.find(r.getName());
    if (it == places.end())
      return r.emitOpError()
             << "names no region of the model's HBM layout (its parameters, "
                "KV cache, 'input', 'logits' and 'spill')";
    const std::vector<RegionPiece> &pieces = it->second;
    uint64_t bytes = 0;
    for (const RegionPiece &p : pieces)
      bytes += p.loc.bytes;
    uint64_t size = cast<flight::BufferType>(r.getType()).getSizeInBytes();
    if (size != std::max<uint64_t>(bytes, 1))
      return r.emitOpError() << "holds " << size << " bytes but the layout's '"
                             << r.getName() << "' has " << bytes;
    Builder attrs(r.getContext());
    if (pieces.size() == 1 && pieces[0].name == r.getName()) {
      r.setChannelAttr(attrs.getI64IntegerAttr(pieces[0].loc.channel));
      r.setOffsetAttr(attrs.getI64IntegerAttr(int64_t(pieces[0].loc.offset)));
      continue;
    }
    // A weight tile striped over channels: one region per stripe, and every
    // load of the tile one load per stripe, into consecutive rows.
    OpBuilder b(r);
    SmallVector<Value> stripeRegions;
    for (const RegionPiece &p : pieces) {
      auto type = flight::BufferType::get(
          {int64_t(std::max<uint64_t>(p.loc.bytes, 1))}, b.getIntegerType(8),
          p.loc.ddr ? flight::MemorySpace::Ddr : flight::MemorySpace::Hbm);
      stripeRegions.push_back(flight::HbmRegionOp::create(
          b, r.getLoc(), type, p.name, r.getHolds(),
          attrs.getI64IntegerAttr(p.loc.channel),
          attrs.getI64IntegerAttr(int64_t(p.loc.offset))));
    }
    for (Operation *user : llvm::make_early_inc_range(r->getUsers())) {
      auto ld = dyn_cast<flight::TileLoadOp>(user);
      if (!ld || ld.getSource() != r.getResult() || ld.getOffset() != 0 ||
          uint64_t(ld.getLength()) != bytes)
        return user->emitOpError()
               << "must load the whole of '" << r.getName()
               << "' (offset 0, length " << bytes
               << "): the HBM layout stripes it over " << pieces.size()
               << " channels";
      OpBuilder lb(ld);
      for (auto [p, stripe] : llvm::zip(pieces, stripeRegions)) {
        // A layer's DDR slot moves with B3 as its HBM slot with B1.
        flight::BaseRegister base =
            p.loc.ddr && ld.getBase() == flight::BaseRegister::B1
                ? flight::BaseRegister::B3
                : ld.getBase();
        auto part = flight::TileLoadOp::create(
            lb, ld.getLoc(), stripe, ld.getDest(), 0,
            ld.getRow() + int64_t(p.within / kRowBytes),
            int64_t(roundUp(p.loc.bytes, kUnitBytes)), base,
            ld.getParam(), ld.getStride());
        part->setDiscardableAttrs(ld->getDiscardableAttrDictionary());
      }
      ld.erase();
    }
    r.erase();
  }
  WalkResult strides = root->walk([&](flight::LayerBodyOp layer) {
    int64_t weight = result.baseStride[0], kv = result.baseStride[1];
    if (layer.getWeightStrideAttr()) {
      if (*layer.getWeightStride() == uint64_t(weight) &&
          *layer.getKvStride() == uint64_t(kv))
        return WalkResult::advance();
      layer.emitOpError() << "has strides " << *layer.getWeightStride()
                          << " and " << *layer.getKvStride()
                          << " but the HBM layout's are " << weight << " and "
                          << kv;
      return WalkResult::interrupt();
    }
    Builder attrs(layer.getContext());
    layer.setWeightStrideAttr(attrs.getI64IntegerAttr(weight));
    layer.setKvStrideAttr(attrs.getI64IntegerAttr(kv));
    if (result.baseStride[2])
      layer.setDdrStrideAttr(attrs.getI64IntegerAttr(result.baseStride[2]));
    return WalkResult::advance();
  });
  return failure(strides.wasInterrupted());
}
