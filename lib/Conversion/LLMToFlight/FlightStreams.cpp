//===- FlightStreams.cpp - Lowered streams as flight IR; the pass ---------===//

#include "flightllm/Conversion/LLMToFlight/LLMToFlight.h"
#include "flightllm/Conversion/LLMToFlight/Passes.h"

#include "flightllm/Dialect/Flight/Encoding.h"
#include "flightllm/Dialect/Flight/Transforms/AccessAttributes.h"

#include "mlir/IR/Builders.h"

#include "BufferPlanning.h"
#include "Lowering.h"

namespace flightllm {
#define GEN_PASS_DEF_CONVERTLLMTOFLIGHTPASS
#define GEN_PASS_DEF_SELECTINSTRUCTIONSPASS
#define GEN_PASS_DEF_HBMLAYOUTPASS
#define GEN_PASS_DEF_PLANBUFFERSPASS
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

/// Core `core`'s stream of bucket `s` as a flight.stream at the builder's
/// insertion point (a multi-core bucket's core k > 0 is "<bucket>.core<k>";
/// every stream of one has a `core` attribute).
static LogicalResult buildCoreStream(const StreamInfo &s, OpBuilder &b,
                                     Location loc, uint32_t core) {
  OpBuilder::InsertionGuard guard(b);
  auto stream = flight::decodeStream(
      core ? s.otherCoreWords[core - 1] : s.words, b, loc,
      core ? s.name + ".core" + std::to_string(core) : s.name);
  if (failed(stream))
    return failure();
  if (s.cores() > 1)
    (*stream)->setAttr("core", b.getI64IntegerAttr(core));
  (*stream)->setAttr("stage", b.getStringAttr(s.stage == binary::Stage::Prefill
                                                  ? "prefill"
                                                  : "decode"));
  (*stream)->setAttr("min_length", b.getI64IntegerAttr(s.minLength));
  (*stream)->setAttr("max_length", b.getI64IntegerAttr(s.maxLength));
  // Without tokens: what every instruction accesses, for
  // flight-insert-tokens.
  static const std::vector<flight::Access> none;
  const std::vector<flight::Access> &accesses =
      core == 0                               ? s.accesses
      : core <= s.otherCoreAccesses.size()    ? s.otherCoreAccesses[core - 1]
                                              : none;
  if (!accesses.empty()) {
    auto access = accesses.begin();
    for (Operation &op : stream->getBody().front())
      if (access != accesses.end())
        flight::setAccessAttributes(&op, *access++);
  }
  return success();
}

/// The streams of one bucket, core 0 first.
static LogicalResult buildFlightStream(const StreamInfo &s, OpBuilder &b,
                                       Location loc) {
  for (uint32_t core = 0; core < s.cores(); ++core)
    if (failed(buildCoreStream(s, b, loc, core)))
      return failure();
  return success();
}

LogicalResult flightllm::lowering::buildFlightStreams(const LoweredModel &model,
                                                      OpBuilder &b,
                                                      Location loc) {
  for (const StreamInfo &s : model.streams)
    if (failed(buildFlightStream(s, b, loc)))
      return failure();
  return success();
}

namespace {
/// The lowering options flight-select-instructions ran with, for
/// flight-hbm-layout (which must size the same regions).
constexpr llvm::StringLiteral kLoweringOptions = "flight.lowering";

/// The pass option `target`'s description; none (an error at the module)
/// if it does not load.
std::optional<target::TargetDescription> loadPassTarget(ModuleOp module,
                                                        StringRef name) {
  auto t = target::loadTarget(name);
  if (!t) {
    module.emitError() << "target: " << llvm::toString(t.takeError());
    return std::nullopt;
  }
  return std::move(*t);
}

/// A pass with the lowering's options (convert-llm-to-flight,
/// flight-select-instructions).
template <typename Derived, template <typename> class GeneratedBase>
struct LoweringPass : public GeneratedBase<Derived> {
  using GeneratedBase<Derived>::GeneratedBase;

  /// The target and the lowering options; none (the pass failed, an error
  /// on the module) if they are invalid.
  std::optional<target::TargetDescription> loweringOptions(LoweringOptions &options) {
    ModuleOp module = this->getOperation();
    std::optional<target::TargetDescription> t =
        loadPassTarget(module, this->target);
    if (!t) {
      this->signalPassFailure();
      return std::nullopt;
    }
    options.maxContext = this->maxContext;
    options.prefillBucket = this->prefillBucket;
    options.decodeBucket = this->decodeBucket;
    options.uncalibratedKVRange = this->kvRange;
    options.cores = this->cores;
    // By default one KV-cache slot per sequence.
    options.batch = this->batch;
    options.kvSlots =
        this->kvSlots ? this->kvSlots : std::max<uint32_t>(this->batch, 1);
    // A card's module (flight-partition-stages) lowers its stage's layers.
    FailureOr<PipelineStageRange> stage = moduleStage(module);
    if (failed(stage)) {
      this->signalPassFailure();
      return std::nullopt;
    }
    options.stage = *stage;
    if (llvm::Error e = parseBucketList(
            std::vector<std::string>(this->buckets.begin(), this->buckets.end()),
            options)) {
      module.emitError() << llvm::toString(std::move(e));
      this->signalPassFailure();
      return std::nullopt;
    }
    return std::move(*t);
  }
};

/// The program's ops go; what the binary needs stays in module attributes.
void replaceProgram(ModuleOp module, const LoweredModel &model,
                    const target::TargetDescription &t, bool keepBuckets) {
  for (Operation &op : llvm::make_early_inc_range(*module.getBody()))
    if (!keepBuckets || !llvm::isa<flight::BucketOp>(op))
      op.erase();
  for (NamedAttribute attr : module->getAttrs())
    if (attr.getName().getValue().starts_with("llm."))
      module->removeAttr(attr.getName());
  attachBinaryData(model, t.fingerprint(), module);
}

struct ConvertLLMToFlightPass
    : public LoweringPass<ConvertLLMToFlightPass,
                          flightllm::impl::ConvertLLMToFlightPassBase> {
  using LoweringPass::LoweringPass;
  void runOnOperation() override {
    LoweringOptions options;
    options.insertTokens = insertTokens;
    options.bucketPipeline = bucketPipeline;
    std::optional<target::TargetDescription> t = loweringOptions(options);
    if (!t)
      return;
    ModuleOp module = getOperation();
    FailureOr<LoweredModel> model = lowerToFlight(module, *t, options);
    if (failed(model))
      return signalPassFailure();
    // The streams replace the program.
    replaceProgram(module, *model, *t, /*keepBuckets=*/false);
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    if (failed(buildFlightStreams(*model, b, module.getLoc())))
      return signalPassFailure();
  }
};

struct SelectInstructionsPass
    : public LoweringPass<SelectInstructionsPass,
                          flightllm::impl::SelectInstructionsPassBase> {
  using LoweringPass::LoweringPass;
  void runOnOperation() override {
    LoweringOptions options;
    std::optional<target::TargetDescription> t = loweringOptions(options);
    if (!t)
      return;
    ModuleOp module = getOperation();
    FailureOr<ModelStructure> structure = analyzeModelStructure(module);
    if (failed(structure))
      return signalPassFailure();
    ModelLowering lowering(module, std::move(*structure), *t, options);
    if (failed(lowering.prepare()))
      return signalPassFailure();
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    for (const BucketRange &range : lowering.buckets())
      if (failed(lowering.selectBucket(range, b)))
        return signalPassFailure();
    // The llm program stays: flight-hbm-layout places the regions and builds
    // the image from its parameters.
    attachModelData(lowering.model(), t->fingerprint(), module);
    SmallVector<NamedAttribute> selected = {
        b.getNamedAttr("max_context", b.getI64IntegerAttr(options.maxContext)),
        b.getNamedAttr("prefill_bucket",
                       b.getI64IntegerAttr(options.prefillBucket)),
        b.getNamedAttr("decode_bucket",
                       b.getI64IntegerAttr(options.decodeBucket)),
        b.getNamedAttr("kv_range",
                       b.getF32FloatAttr(options.uncalibratedKVRange)),
    };
    if (options.batch > 1)
      selected.push_back(
          b.getNamedAttr("batch", b.getI64IntegerAttr(options.batch)));
    if (options.kvSlots != std::max<uint32_t>(options.batch, 1))
      selected.push_back(
          b.getNamedAttr("kv_slots", b.getI64IntegerAttr(options.kvSlots)));
    module->setAttr(kLoweringOptions, b.getDictionaryAttr(selected));
  }
};

struct HbmLayoutPass
    : public flightllm::impl::HbmLayoutPassBase<HbmLayoutPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::optional<target::TargetDescription> t = loadPassTarget(module, target);
    if (!t)
      return signalPassFailure();
    if (stripes < 1 || stripes > 64) {
      module.emitError() << "stripes = " << static_cast<uint64_t>(stripes)
                         << ": a weight tile is striped over 1 to 64 channels";
      return signalPassFailure();
    }
    if (ddrWeights > 100) {
      module.emitError() << "ddr-weights = " << static_cast<uint64_t>(ddrWeights)
                         << ": a percentage of the layer weights (0-100)";
      return signalPassFailure();
    }
    auto selected = module->getAttrOfType<DictionaryAttr>(kLoweringOptions);
    if (!selected) {
      module.emitError() << "no '" << kLoweringOptions
                         << "' attribute: flight-hbm-layout runs after "
                            "flight-select-instructions, on the module it "
                            "leaves (buckets and the llm program)";
      return signalPassFailure();
    }
    auto fingerprint =
        module->getAttrOfType<IntegerAttr>("flight.target_fingerprint");
    if (fingerprint && uint64_t(fingerprint.getInt()) != t->fingerprint()) {
      module.emitError() << "target '" << target
                         << "' is not the one flight-select-instructions "
                            "selected the instructions for";
      return signalPassFailure();
    }
    LoweringOptions options;
    auto integer = [&](StringRef name) -> uint32_t {
      auto v = selected.getAs<IntegerAttr>(name);
      return v ? static_cast<uint32_t>(v.getInt()) : 0;
    };
    options.maxContext = integer("max_context");
    options.prefillBucket = integer("prefill_bucket");
    options.decodeBucket = integer("decode_bucket");
    options.batch = std::max<uint32_t>(integer("batch"), 1);
    options.kvSlots = integer("kv_slots") ? integer("kv_slots") : options.batch;
    FailureOr<PipelineStageRange> stage = moduleStage(module);
    if (failed(stage))
      return signalPassFailure();
    options.stage = *stage;
    if (auto range = selected.getAs<FloatAttr>("kv_range"))
      options.uncalibratedKVRange = range.getValueAsDouble();
    options.weightStripes = stripes;
    options.ddrWeightPercent = ddrWeights;
    FailureOr<ModelStructure> structure = analyzeModelStructure(module);
    if (failed(structure))
      return signalPassFailure();
    ModelLowering lowering(module, std::move(*structure), *t, options);
    if (failed(lowering.prepare()) || failed(lowering.layout(stripes)))
      return signalPassFailure();
    for (auto bucket : module.getBody()->getOps<flight::BucketOp>())
      if (failed(lowering.placeRegions(bucket)))
        return signalPassFailure();
    replaceProgram(module, lowering.model(), *t, /*keepBuckets=*/true);
    module->removeAttr(kLoweringOptions);
  }
};

struct PlanBuffersPass
    : public flightllm::impl::PlanBuffersPassBase<PlanBuffersPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::optional<target::TargetDescription> t = loadPassTarget(module, target);
    if (!t)
      return signalPassFailure();
    OnChipCapacity capacity = OnChipCapacity::of(*t);
    OnChipPeaks peaks;
    std::vector<StreamInfo> streams;
    for (auto bucket : llvm::make_early_inc_range(
             module.getBody()->getOps<flight::BucketOp>())) {
      StreamInfo info;
      OpBuilder b(bucket);
      if (failed(planBucket(bucket, capacity, /*insertTokens=*/false, info,
                            peaks, /*cores=*/0)) ||
          failed(buildFlightStream(info, b, bucket.getLoc())))
        return signalPassFailure();
      bucket.erase();
      info.accesses.clear();
      info.otherCoreAccesses.clear();
      streams.push_back(std::move(info));
    }
    if (failed(checkInstructionMemory(streams, *t, module)))
      return signalPassFailure();
  }
};
} // namespace
