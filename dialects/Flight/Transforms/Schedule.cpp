//===- Schedule.cpp - The flight-schedule pass ----------------------------===//
//
// Reorders the tagged attention stages of a bucket (docs/lowering.md). The
// stages are whole groups of ops, each after the stages it reads from, so
// any order keeps every value defined before its use; buffer planning and
// the dependency tokens then follow the new order.
//===----------------------------------------------------------------------===//

#include "flightllm/Dialect/Flight/Transforms/Passes.h"

#include <map>

namespace flightllm::flight {
#define GEN_PASS_DEF_SCHEDULEPASS
#include "flightllm/Dialect/Flight/Transforms/Passes.h.inc"
} // namespace flightllm::flight

using namespace mlir;
using namespace flightllm;
using namespace flightllm::flight;

namespace {

DenseI64ArrayAttr stageOf(Operation &op) {
  auto tag = op.getAttrOfType<DenseI64ArrayAttr>(kAttentionStageAttr);
  return tag && tag.size() == 3 ? tag : DenseI64ArrayAttr();
}

/// Pipelines one attention's stages (the run of ops `run`, in plain order)
/// across heads: A0 B0, then per head A(h+1) C(h) B(h+1) D(h).
void pipeline(llvm::ArrayRef<Operation *> run, Block *block,
              Block::iterator end) {
  enum { A, B, C, D };
  std::map<std::pair<int64_t, int64_t>, SmallVector<Operation *>> stages;
  int64_t heads = 0;
  for (Operation *op : run) {
    DenseI64ArrayAttr tag = stageOf(*op);
    stages[{tag[1], tag[2]}].push_back(op);
    heads = std::max(heads, tag[1] + 1);
  }
  auto emit = [&](int64_t h, int64_t stage) {
    auto it = stages.find({h, stage});
    if (it == stages.end())
      return;
    for (Operation *op : it->second)
      op->moveBefore(block, end);
  };
  emit(0, A);
  emit(0, B);
  for (int64_t h = 0; h < heads; ++h) {
    emit(h + 1, A);
    emit(h, C);
    emit(h + 1, B);
    emit(h, D);
  }
}

struct SchedulePass : public flight::impl::SchedulePassBase<SchedulePass> {
  using Base::Base;

  void runOnOperation() override {
    SchedulePassOptions options;
    options.attention = attention;
    scheduleBucket(getOperation(), options);
  }
};
} // namespace

void flight::scheduleBucket(BucketOp bucket, const SchedulePassOptions &options) {
  SmallVector<Block *> blocks;
  bucket.walk([&](Block *block) { blocks.push_back(block); });
  for (Block *block : blocks) {
    for (auto it = block->begin(); it != block->end();) {
      DenseI64ArrayAttr tag = stageOf(*it);
      if (!tag) {
        ++it;
        continue;
      }
      // The run of one attention's tagged ops.
      SmallVector<Operation *> run;
      for (; it != block->end(); ++it) {
        DenseI64ArrayAttr t = stageOf(*it);
        if (!t || t[0] != tag[0])
          break;
        run.push_back(&*it);
      }
      if (options.attention)
        pipeline(run, block, it);
      for (Operation *op : run)
        op->removeAttr(kAttentionStageAttr);
    }
  }
}
