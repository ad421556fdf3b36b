//===- FuseInPlace.cpp - The flight-fuse-in-place pass --------------------===//
//
// Instruction selection gives every result rows of its own. An SFU op
// whose operand dies there can write its result over that operand instead
// (MISC reads a row before writing it): element-wise ops, so a residual add
// writes into the residual stream, and a quantize_dynamic whose fp16 rows
// only the matrix products it feeds still need (docs/lowering.md).
//===----------------------------------------------------------------------===//

#include "BufferRewrites.h"

#include "flightllm/Dialect/Flight/Transforms/Passes.h"
#include "flightllm/ISA/ISA.h"

#include "llvm/ADT/StringSwitch.h"

namespace flightllm::flight {
#define GEN_PASS_DEF_FUSEINPLACEPASS
#include "flightllm/Dialect/Flight/Transforms/Passes.h.inc"
} // namespace flightllm::flight

using namespace mlir;
using namespace flightllm;
using namespace flightllm::flight;

namespace {

bool isElementWise(StringRef kind) {
  return llvm::StringSwitch<bool>(kind)
      .Cases({"add", "mul", "swiglu", "silu", "gelu", "gelu_tanh", "relu"},
             true)
      .Default(false);
}

/// Whether `copy` writes every row of `buffer` and reads none of it.
bool overwrites(Operation *op, Value buffer) {
  auto copy = dyn_cast<BufMiscOp>(op);
  if (!copy || copy.getKind() != "copy" || copy.getOut() != buffer ||
      copy.getA() == buffer || copy.getOutRow() != 0)
    return false;
  uint64_t rows = cast<BufferType>(buffer.getType()).getSizeInBytes() /
                  isa::kOnChipRowBytes;
  return copy.getK() == copy.getOutStep() * isa::kOnChipRowBytes &&
         copy.getRows() * copy.getOutStep() == rows;
}

/// The result buffer `out` of `op`: allocated in op's block and first used
/// by `op`.
bool freshResult(Operation *op, Value out) {
  auto alloc = out.getDefiningOp<BufAllocOp>();
  if (!alloc || alloc->getBlock() != op->getBlock())
    return false;
  return llvm::all_of(out.getUsers(), [&](Operation *user) {
    Operation *at = ancestorIn(op->getBlock(), user);
    return at == op || (at && op->isBeforeInBlock(at));
  });
}

/// Writes `op`'s result `out` over its operand `a` when `a` dies at `op`;
/// false when it does not.
bool writeOver(Operation *op, Value a, Value out) {
  Block *block = op->getBlock();
  SmallVector<Operation *> after = usersAfter(a, op);
  bool allocatedHere = a.getDefiningOp() &&
                       a.getDefiningOp()->getBlock() == block;
  if (allocatedHere && !after.empty() &&
      llvm::all_of(after, [](Operation *u) { return llvm::isa<BufDeallocOp>(u); })) {
    // a's lifetime ends here: the result takes over its rows.
    mergeBuffers(a, out);
    return true;
  }
  if (!deallocsOf(a).empty())
    return false;
  // a outlives the block, never deallocated (a layer's input): its rows are
  // free from here until the block overwrites them all, when the result is
  // dead.
  Operation *overwrite = nullptr;
  for (Operation *user : after) {
    Operation *at = ancestorIn(block, user);
    if (!overwrite || at->isBeforeInBlock(overwrite))
      overwrite = at;
  }
  if (!overwrite || !overwrites(overwrite, a))
    return false;
  for (Operation *user : out.getUsers()) {
    Operation *at = ancestorIn(block, user);
    if (!llvm::isa<BufDeallocOp>(user) && at != overwrite &&
        !at->isBeforeInBlock(overwrite))
      return false;
  }
  mergeBuffers(a, out, /*keepAlive=*/true);
  auto copy = cast<BufMiscOp>(overwrite);
  if (copy.getA() == a && copy.getARow() == 0 &&
      copy.getAStep() == copy.getOutStep())
    copy->erase();
  return true;
}

void elementWiseInPlace(BufMiscOp m) {
  Value out = m.getOut();
  if (!isElementWise(m.getKind()) || out == m.getA() || out == m.getB() ||
      !freshResult(m, out) || m.getOutRow() != 0)
    return;
  struct Operand {
    Value buffer;
    uint64_t row, step;
  };
  SmallVector<Operand, 2> operands{{m.getA(), m.getARow(), m.getAStep()}};
  if (m.getB())
    operands.push_back({m.getB(), m.getBRow(), m.getBStep()});
  // The result keeps its placement policy: a value does not move into a
  // temporary's (double-buffered) rows.
  auto policy = [](Value v) {
    auto alloc = v.getDefiningOp<BufAllocOp>();
    return alloc ? std::optional(alloc.getPolicy()) : std::nullopt;
  };
  for (const Operand &o : operands) {
    if (o.row != 0 || o.step != m.getOutStep() ||
        o.buffer.getType() != out.getType() ||
        policy(o.buffer) != policy(out) ||
        (m.getB() && m.getA() == m.getB()))
      continue;
    if (writeOver(m, o.buffer, out))
      return;
  }
}

/// quantize_dynamic over its own fp16 rows: token t's INT8 row (out_step
/// rows a token) never reaches past token t's fp16 rows (a_step), and MISC
/// reads a row before writing it.
void quantizeInPlace(BufMiscOp q) {
  Value out = q.getOut(), a = q.getA();
  if (q.getKind() != "quantize_dynamic" || out == a || !freshResult(q, out) ||
      q.getARow() != 0 || q.getOutRow() != 0 ||
      q.getOutStep() > q.getAStep() ||
      cast<BufferType>(out.getType()).getSizeInBytes() >
          cast<BufferType>(a.getType()).getSizeInBytes() ||
      cast<BufferType>(out.getType()).getSpace() !=
          cast<BufferType>(a.getType()).getSpace())
    return;
  // Over a value (a linear's input); the attention's temporaries keep
  // their copies apart, as they always did.
  auto source = a.getDefiningOp<BufAllocOp>();
  SmallVector<Operation *> after = usersAfter(a, q);
  if (after.empty() || !source || source.getPolicy() != AllocPolicy::Value ||
      source->getBlock() != q->getBlock() ||
      !llvm::all_of(after, [](Operation *u) { return llvm::isa<BufDeallocOp>(u); }))
    return;
  mergeBuffers(a, out);
}

struct FuseInPlacePass
    : public flight::impl::FuseInPlacePassBase<FuseInPlacePass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(checkBufferLifetimes(getOperation(), getArgument())))
      return signalPassFailure();
    // The candidates; rewrites erase only allocs, deallocs and copies.
    SmallVector<BufMiscOp> ops;
    getOperation().walk([&](BufMiscOp op) {
      if (op.getKind() == "quantize_dynamic" || isElementWise(op.getKind()))
        ops.push_back(op);
    });
    for (BufMiscOp op : ops) {
      if (op.getKind() == "quantize_dynamic") {
        if (quantize)
          quantizeInPlace(op);
      } else if (elementWise) {
        elementWiseInPlace(op);
      }
    }
  }
};
} // namespace
