//===- FlightStreams.cpp - Lowered streams as flight IR; the pass ---------===//

#include "flightllm/Conversion/LLMToFlight/LLMToFlight.h"
#include "flightllm/Conversion/LLMToFlight/Passes.h"

#include "flightllm/Dialect/Flight/Encoding.h"
#include "flightllm/Dialect/Flight/Transforms/AccessAttributes.h"

#include "mlir/IR/Builders.h"

namespace flightllm {
#define GEN_PASS_DEF_CONVERTLLMTOFLIGHTPASS
#include "flightllm/Conversion/LLMToFlight/Passes.h.inc"
} // namespace flightllm

using namespace mlir;
using namespace flightllm;
using namespace flightllm::lowering;

llvm::Error flightllm::lowering::parseBucketList(
    llvm::ArrayRef<std::string> buckets, LoweringOptions &options) {
  for (const std::string &b : buckets) {
    auto [stage, len] = llvm::StringRef(b).split(':');
    unsigned n = 0;
    if ((stage != "prefill" && stage != "decode") || len.getAsInteger(10, n))
      return llvm::createStringError(
          "bucket '" + b + "' is not STAGE:MAXLEN (prefill:128, decode:16)");
    options.onlyBuckets.push_back(
        {stage == "prefill" ? binary::Stage::Prefill : binary::Stage::Decode, n});
  }
  return llvm::Error::success();
}

LogicalResult flightllm::lowering::buildFlightStreams(const LoweredModel &model,
                                                      OpBuilder &b,
                                                      Location loc) {
  for (const StreamInfo &s : model.streams) {
    OpBuilder::InsertionGuard guard(b);
    auto stream = flight::decodeStream(s.words, b, loc, s.name);
    if (failed(stream))
      return failure();
    (*stream)->setAttr("stage", b.getStringAttr(s.stage == binary::Stage::Prefill
                                                    ? "prefill"
                                                    : "decode"));
    (*stream)->setAttr("min_length", b.getI64IntegerAttr(s.minLength));
    (*stream)->setAttr("max_length", b.getI64IntegerAttr(s.maxLength));
    // Without tokens: what every instruction accesses, for
    // flight-insert-tokens.
    if (!s.accesses.empty()) {
      auto access = s.accesses.begin();
      for (Operation &op : stream->getBody().front())
        if (access != s.accesses.end())
          flight::setAccessAttributes(&op, *access++);
    }
  }
  return success();
}

namespace {
struct ConvertLLMToFlightPass
    : public flightllm::impl::ConvertLLMToFlightPassBase<ConvertLLMToFlightPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto t = target::loadTarget(target);
    if (!t) {
      module.emitError() << "target: " << llvm::toString(t.takeError());
      return signalPassFailure();
    }
    LoweringOptions options;
    options.maxContext = maxContext;
    options.prefillBucket = prefillBucket;
    options.decodeBucket = decodeBucket;
    options.uncalibratedKVRange = kvRange;
    options.insertTokens = insertTokens;
    if (llvm::Error e = parseBucketList(buckets, options)) {
      module.emitError() << llvm::toString(std::move(e));
      return signalPassFailure();
    }
    FailureOr<LoweredModel> model = lowerToFlight(module, *t, options);
    if (failed(model))
      return signalPassFailure();
    // The streams replace the program.
    for (Operation &op : llvm::make_early_inc_range(*module.getBody()))
      op.erase();
    for (NamedAttribute attr : module->getAttrs())
      if (attr.getName().getValue().starts_with("llm."))
        module->removeAttr(attr.getName());
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    if (failed(buildFlightStreams(*model, b, module.getLoc())))
      return signalPassFailure();
    attachBinaryData(*model, t->fingerprint(), module);
  }
};
} // namespace
