//===- BufferRewrites.cpp - Lifetimes for buffer-level rewrites ----------===//

#include "BufferRewrites.h"

#include "mlir/IR/Diagnostics.h"

using namespace mlir;
using namespace flightllm;
using namespace flightllm::flight;

bool flight::writesBuffer(Operation *op, Value buffer) {
  if (auto m = dyn_cast<BufMiscOp>(op))
    return m.getOut() == buffer;
  if (auto mm = dyn_cast<BufMMOp>(op))
    return mm.getOut() == buffer;
  if (auto mv = dyn_cast<BufMVOp>(op))
    return mv.getOut() == buffer;
  if (auto ld = dyn_cast<TileLoadOp>(op))
    return ld.getDest() == buffer;
  if (auto x = dyn_cast<BufExchangeOp>(op))
    return x.getBuffer() == buffer;
  return false;
}

Operation *flight::ancestorIn(Block *block, Operation *op) {
  return block->findAncestorOpInBlock(*op);
}

SmallVector<Operation *> flight::usersAfter(Value buffer, Operation *op) {
  SmallVector<Operation *> users;
  for (Operation *user : buffer.getUsers()) {
    Operation *at = ancestorIn(op->getBlock(), user);
    if (at && at != op && op->isBeforeInBlock(at))
      users.push_back(user);
  }
  return users;
}

SmallVector<BufDeallocOp> flight::deallocsOf(Value buffer) {
  SmallVector<BufDeallocOp> deallocs;
  for (Operation *user : buffer.getUsers())
    if (auto d = dyn_cast<BufDeallocOp>(user))
      deallocs.push_back(d);
  // In program order (the use list is not).
  llvm::sort(deallocs, [](BufDeallocOp a, BufDeallocOp b) {
    return a->getBlock() == b->getBlock() && a->isBeforeInBlock(b);
  });
  return deallocs;
}

void flight::mergeBuffers(Value keep, Value drop, bool keepAlive) {
  Operation *dropAlloc = drop.getDefiningOp();
  // A buffer without a dealloc lives to the end of its scope; so does the
  // merged one.
  keepAlive |= deallocsOf(keep).empty() || deallocsOf(drop).empty();
  drop.replaceAllUsesWith(keep);
  dropAlloc->erase();
  SmallVector<BufDeallocOp> deallocs = deallocsOf(keep);
  BufDeallocOp last;
  for (BufDeallocOp d : deallocs)
    if (!last || last->isBeforeInBlock(d))
      last = d;
  for (BufDeallocOp d : deallocs)
    if (keepAlive || d != last)
      d->erase();
}

bool flight::sameQuantization(BufMiscOp earlier, BufMiscOp later) {
  auto writtenOnlyBy = [](Value buffer, Operation *writer) {
    return buffer.getDefiningOp<BufAllocOp>() &&
           llvm::all_of(buffer.getUsers(), [&](Operation *user) {
             return user == writer || !writesBuffer(user, buffer);
           });
  };
  if (earlier.getKind() != "quantize_dynamic" ||
      later.getKind() != "quantize_dynamic" || earlier == later ||
      earlier->getBlock() != later->getBlock() ||
      !earlier->isBeforeInBlock(later) || earlier.getA() != later.getA() ||
      earlier.getOut() == earlier.getA() ||
      earlier.getOut().getType() != later.getOut().getType() ||
      earlier.getARow() != later.getARow() ||
      earlier.getAStep() != later.getAStep() ||
      earlier.getOutRow() != later.getOutRow() ||
      earlier.getOutStep() != later.getOutStep() ||
      earlier.getK() != later.getK() || earlier.getRows() != later.getRows() ||
      !writtenOnlyBy(earlier.getOut(), earlier) ||
      !writtenOnlyBy(later.getOut(), later))
    return false;
  Value source = earlier.getA();
  for (Operation *op = earlier->getNextNode(); op != later;
       op = op->getNextNode()) {
    bool writes = false;
    op->walk([&](Operation *inner) {
      writes |= writesBuffer(inner, source);
    });
    if (writes)
      return false;
  }
  return true;
}

void flight::shareQuantization(BufMiscOp earlier, BufMiscOp later) {
  Value shared = earlier.getOut(), dropped = later.getOut();
  later->erase();
  mergeBuffers(shared, dropped);
}

LogicalResult flight::checkBufferLifetimes(BucketOp bucket, StringRef pass) {
  WalkResult result = bucket.walk([&](BufAllocOp alloc) {
    Value buffer = alloc.getResult();
    SmallVector<BufDeallocOp> deallocs = deallocsOf(buffer);
    if (deallocs.empty())
      return WalkResult::advance();
    if (deallocs.size() > 1) {
      InFlightDiagnostic d = deallocs[1].emitOpError()
                             << "deallocates a buffer a second time (" << pass
                             << " needs one lifetime per buffer)";
      d.attachNote(deallocs[0].getLoc()) << "first deallocated here";
      return WalkResult::interrupt();
    }
    BufDeallocOp dealloc = deallocs.front();
    if (dealloc->getBlock() != alloc->getBlock()) {
      dealloc.emitOpError() << "ends a buffer's lifetime outside the block of "
                               "its flight.buf_alloc ("
                            << pass << " needs both in one block)";
      return WalkResult::interrupt();
    }
    for (Operation *user : usersAfter(buffer, dealloc)) {
      InFlightDiagnostic d = user->emitOpError()
                             << "uses a buffer after its flight.buf_dealloc ("
                             << pass << " needs uses within the lifetime)";
      d.attachNote(dealloc.getLoc()) << "deallocated here";
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}
