//===- Fuse.cpp - The flight-fuse pass ------------------------------------===//
//
// Fusions on the buffer level of a bucket (docs/lowering.md). A fusion only
// fires when the fused instructions compute exactly what the unfused ones
// do; otherwise the ops stay as they are.
//===----------------------------------------------------------------------===//

#include "flightllm/Dialect/Flight/Transforms/Passes.h"

#include "flightllm/ISA/ISA.h"

namespace flightllm::flight {
#define GEN_PASS_DEF_FUSEPASS
#include "flightllm/Dialect/Flight/Transforms/Passes.h.inc"
} // namespace flightllm::flight

using namespace mlir;
using namespace flightllm;
using namespace flightllm::flight;

namespace {

/// The tokens (rows) a matrix product computes: one for MV, the prefill
/// tile's for MM.
std::optional<int64_t> productTokens(Operation *product) {
  if (llvm::isa<BufMVOp>(product))
    return 1;
  if (auto tile = product->getParentOfType<PrefillTileOp>())
    return tile.getTokens();
  return std::nullopt;
}

/// Folds `relu` (in place over y) into the products that wrote y; false
/// when that would not compute the same rows.
bool foldRelu(BufMiscOp relu) {
  Value y = relu.getA();
  if (relu.getOut() != y || relu.getARow() != 0 || relu.getOutRow() != 0 ||
      relu.getAStep() != relu.getOutStep())
    return false;
  Operation *def = y.getDefiningOp();
  if (!def || def->getBlock() != relu->getBlock())
    return false;
  // Since y was allocated, every op touching it writes it with a product.
  SmallVector<Operation *> products;
  for (Operation *op = relu->getPrevNode(); op != def; op = op->getPrevNode()) {
    if (!llvm::is_contained(op->getOperands(), y))
      continue;
    auto matches = [&](auto p) {
      return p.getOut() == y && p.getX() != y && p.getW() != y &&
             p.getScales() != y && !p.getRelu() && p.getOutFormat() == "f16" &&
             p.getOutStride() == relu.getAStep();
    };
    auto mm = dyn_cast<BufMMOp>(op);
    auto mv = dyn_cast<BufMVOp>(op);
    if (!(mm && matches(mm)) && !(mv && matches(mv)))
      return false;
    if (productTokens(op) != relu.getRowsAttr().getInt())
      return false;
    products.push_back(op);
  }
  if (products.empty())
    return false;
  // Tiles side by side from row 0, covering the ReLU's k fp16 elements.
  constexpr int64_t kPerRow = isa::kOnChipRowBytes / 2;
  auto outRow = [](Operation *p) {
    return cast<IntegerAttr>(p->getAttr("out_row")).getInt();
  };
  auto channels = [](Operation *p) {
    return cast<IntegerAttr>(p->getAttr("n")).getInt();
  };
  llvm::sort(products,
             [&](Operation *a, Operation *b) { return outRow(a) < outRow(b); });
  int64_t covered = 0;
  for (Operation *p : products) {
    if (outRow(p) * kPerRow != covered)
      return false;
    covered += channels(p);
  }
  if (covered != relu.getKAttr().getInt())
    return false;
  for (Operation *p : products)
    p->setAttr("relu", UnitAttr::get(p->getContext()));
  relu.erase();
  return true;
}

struct FusePass : public flight::impl::FusePassBase<FusePass> {
  using Base::Base;

  void runOnOperation() override {
    FusePassOptions options;
    options.relu = relu;
    fuseBucket(getOperation(), options);
  }
};
} // namespace

void flight::fuseBucket(BucketOp bucket, const FusePassOptions &options) {
  if (!options.relu)
    return;
  SmallVector<BufMiscOp> relus;
  bucket.walk([&](BufMiscOp op) {
    if (op.getKind() == "relu")
      relus.push_back(op);
  });
  for (BufMiscOp op : relus)
    (void)foldRelu(op);
}
