//===- InsertTokens.cpp - The flight-insert-tokens pass -------------------===//

#include "flightllm/Dialect/Flight/Transforms/Passes.h"

#include "flightllm/Dialect/Flight/Encoding.h"
#include "flightllm/Dialect/Flight/Transforms/AccessAttributes.h"

#include "mlir/IR/Builders.h"

namespace flightllm::flight {
#define GEN_PASS_DEF_INSERTTOKENSPASS
#include "flightllm/Dialect/Flight/Transforms/Passes.h.inc"
} // namespace flightllm::flight

using namespace mlir;
using namespace flightllm;
using namespace flightllm::flight;

namespace {
struct InsertTokensPass
    : public flight::impl::InsertTokensPassBase<InsertTokensPass> {
  using Base::Base;

  void runOnOperation() override {
    StreamOp stream = getOperation();
    Builder b(stream.getContext());
    DependencyTracker tracker;
    SmallVector<Operation *> instructions;
    auto mask = [](Operation *op, StringRef name) -> uint32_t {
      auto attr = dyn_cast_or_null<IntegerAttr>(op->getAttr(name));
      return attr ? static_cast<uint32_t>(attr.getInt()) : 0;
    };
    for (Operation &op : stream.getBody().front()) {
      std::optional<isa::Opcode> opcode = getInstructionOpcode(&op);
      if (!opcode)
        continue; // the stream's verifier admits only instructions
      auto index = static_cast<uint32_t>(instructions.size());
      instructions.push_back(&op);
      if (mask(&op, "wait") || mask(&op, "release")) {
        op.emitError() << "the instruction already has dependency tokens; "
                          "flight-insert-tokens sets every token of a stream";
        return signalPassFailure();
      }
      if (*opcode == isa::Opcode::SYS) {
        if (hasAccessAttributes(&op)) {
          op.emitError() << "SYS instructions access no buffer (the "
                            "dispatcher runs them)";
          return signalPassFailure();
        }
        auto kind = dyn_cast_or_null<StringAttr>(op.getAttr("kind"));
        // SYS sync drains the queues as a barrier does (and then waits for
        // the other cores).
        if (kind && (kind.getValue() == "barrier" || kind.getValue() == "sync"))
          tracker.barrier();
        continue;
      }
      FailureOr<Access> access = getAccessAttributes(&op);
      if (failed(access))
        return signalPassFailure();
      isa::Queue queue = isa::instructionInfo(*opcode).queue;
      TokenNeeds needs = tracker.add(index, queue, *access);
      for (unsigned p = 0; p < isa::kNumQueues; ++p) {
        if (needs.producer[p] < 0)
          continue;
        Operation *producer = instructions[needs.producer[p]];
        producer->setAttr(
            "release",
            b.getI32IntegerAttr(mask(producer, "release") |
                                isa::queueBit(queue)));
      }
      op.setAttr("wait", b.getI32IntegerAttr(needs.waitMask()));
      if (!keepAccesses)
        removeAccessAttributes(&op);
    }
  }
};
} // namespace
