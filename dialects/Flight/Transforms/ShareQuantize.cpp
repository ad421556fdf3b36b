//===- ShareQuantize.cpp - The flight-share-quantize pass -----------------===//
//
// Instruction selection quantizes a value once per linear that reads it (a
// MISC quantize_dynamic into a temporary of its own); when several linears
// read the same rows (q, k and v of one normed input; gate and up), the
// first copy serves them all and lives until the last of them
// (docs/lowering.md).
//===----------------------------------------------------------------------===//

#include "BufferRewrites.h"

#include "flightllm/Dialect/Flight/Transforms/Passes.h"

#include "llvm/ADT/DenseMap.h"

namespace flightllm::flight {
#define GEN_PASS_DEF_SHAREQUANTIZEPASS
#include "flightllm/Dialect/Flight/Transforms/Passes.h.inc"
} // namespace flightllm::flight

using namespace mlir;
using namespace flightllm;
using namespace flightllm::flight;

namespace {

struct ShareQuantizePass
    : public flight::impl::ShareQuantizePassBase<ShareQuantizePass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(checkBufferLifetimes(getOperation(), getArgument())))
      return signalPassFailure();
    SmallVector<Block *> blocks;
    getOperation().walk([&](Block *block) { blocks.push_back(block); });
    for (Block *block : blocks) {
      // The copies made so far in this block, by source buffer.
      llvm::DenseMap<Value, SmallVector<BufMiscOp>> copies;
      SmallVector<BufMiscOp> quantizes;
      for (Operation &op : *block)
        if (auto q = dyn_cast<BufMiscOp>(op);
            q && q.getKind() == "quantize_dynamic")
          quantizes.push_back(q);
      for (BufMiscOp q : quantizes) {
        SmallVector<BufMiscOp> &earlier = copies[q.getA()];
        auto shared = llvm::find_if(llvm::reverse(earlier), [&](BufMiscOp e) {
          return sameQuantization(e, q);
        });
        if (shared != llvm::reverse(earlier).end())
          shareQuantization(*shared, q);
        else
          earlier.push_back(q);
      }
    }
  }
};
} // namespace
