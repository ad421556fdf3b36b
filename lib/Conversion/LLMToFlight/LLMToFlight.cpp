//===- LLMToFlight.cpp - llm programs to accelerator streams --------------===//
//
// The driver: analyses the program (ModelStructure), chooses activation
// layouts and weight tiles, packs the HBM image (ParameterImage), and runs
// the pass pipeline's steps bucket by bucket: instruction selection to the
// buffer level, the buffer-level passes (an mlir::PassManager on each
// bucket), buffer planning and the dependency tokens.
// docs/lowering.md.
//===----------------------------------------------------------------------===//

#include "flightllm/Conversion/LLMToFlight/LLMToFlight.h"

#include "BufferPlanning.h"
#include "Lowering.h"
#include "ModelStructure.h"

#include "flightllm/Dialect/Flight/Transforms/Passes.h"
#include "flightllm/Dialect/LLM/LLMDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassRegistry.h"

#include <chrono>

using namespace mlir;
using namespace flightllm;
using namespace flightllm::lowering;

FailureOr<LoweredModel>
flightllm::lowering::lowerToFlight(ModuleOp module,
                                   const target::TargetDescription &target,
                                   const LoweringOptions &options) {
  FailureOr<ModelStructure> structure = analyzeModelStructure(module);
  if (failed(structure))
    return failure();
  Operation *func = structure->func;
  ModelLowering lowering(module, std::move(*structure), target, options);
  if (failed(lowering.prepare()) ||
      failed(lowering.layout(options.weightStripes)))
    return failure();
  LoweredModel &model = lowering.model();
  // The buffer-level passes, one pass manager run per bucket (the tools
  // register the passes too; registering them again is harmless).
  static const bool registered =
      (flight::registerFlightTransformsPasses(), true);
  (void)registered;
  PassManager bucketPasses(module.getContext(),
                           flight::BucketOp::getOperationName());
  std::string pipelineError;
  llvm::raw_string_ostream pipelineErrors(pipelineError);
  LogicalResult parsed = parsePassPipeline(options.bucketPipeline,
                                           bucketPasses, pipelineErrors);
  // Every pass must run on a bucket (a module pass would see the bucket).
  for (Pass &pass : bucketPasses.getPasses())
    if (std::optional<StringRef> anchor = pass.getOpName();
        succeeded(parsed) && anchor &&
        *anchor != flight::BucketOp::getOperationName()) {
      pipelineErrors << "'" << pass.getArgument() << "' runs on '" << *anchor
                     << "'";
      parsed = failure();
    }
  if (failed(parsed)) {
    emitError(module.getLoc())
        << "the bucket pipeline '" << options.bucketPipeline
        << "' is not a pipeline of flight.bucket passes: " << pipelineError;
    return failure();
  }
  // The bucket is verified once after its passes, below.
  bucketPasses.enableVerifier(false);
  if (options.configurePassManager &&
      failed(options.configurePassManager(bucketPasses)))
    return failure();
  OnChipCapacity capacity = OnChipCapacity::of(target);
  OnChipPeaks peaks;
  // The pipeline one bucket at a time (flight-select-instructions, the
  // bucket pipeline (flight-schedule, the fusions), the places of flight-hbm-layout,
  // flight-share-layers, flight-plan-buffers, the tokens of flight-insert-tokens),
  // each bucket's IR dropped once it is encoded: a 7B model's 144 buckets
  // (1.5 million instructions) never exist as IR at once.
  OpBuilder b(module.getContext());
  OwningOpRef<ModuleOp> scratch = ModuleOp::create(module.getLoc());
  using Clock = std::chrono::steady_clock;
  for (const auto &[i, range] : llvm::enumerate(lowering.buckets())) {
    if (options.progress)
      options.progress("emitting buckets", i, lowering.buckets().size());
    auto start = Clock::now();
    b.setInsertionPointToEnd(scratch->getBody());
    FailureOr<flight::BucketOp> bucket = lowering.selectBucket(range, b);
    if (failed(bucket))
      return failure();
    if (failed(bucketPasses.run(*bucket)))
      return failure();
    flight::ShareLayersPassOptions share;
    share.shareLayers = options.shareLayers;
    if (failed(lowering.placeRegions(*bucket)) ||
        failed(flight::shareLayers(
            *bucket, share,
            {int64_t(model.baseOrigin[0]), int64_t(model.baseOrigin[1]),
             int64_t(model.baseOrigin[2])})) ||
        failed(verify(*bucket)))
      return failure();
    auto selected = Clock::now();
    StreamInfo info;
    if (failed(planBucket(*bucket, capacity, options.insertTokens, info, peaks,
                          options.cores)))
      return failure();
    (*bucket)->erase();
    model.selectSeconds +=
        std::chrono::duration<double>(selected - start).count();
    model.planSeconds +=
        std::chrono::duration<double>(Clock::now() - selected).count();
    model.streams.push_back(std::move(info));
  }
  model.peakActBytes = uint64_t(peaks.act) * kRowBytes;
  model.peakWeightBytes = uint64_t(peaks.weight) * kRowBytes;
  model.peakMetaBytes = uint64_t(peaks.meta) * kRowBytes;
  if (failed(checkInstructionMemory(model.streams, target, func)))
    return failure();
  // With weights in DDR the streams must stay below them in DDR channel 0
  // (the runtime writes them there consecutively, 64-byte aligned).
  if (!model.ddr.empty()) {
    uint64_t streamBytes = 0;
    for (const StreamInfo &s : model.streams)
      streamBytes += roundUp(4 * s.allWords(), 64) + 64 * s.otherCoreWords.size();
    if (streamBytes > model.ddrOffset)
      return func->emitError()
             << "the instruction streams take " << streamBytes
             << " bytes of DDR channel 0, beyond the " << model.ddrOffset
             << " before the weights placed in DDR";
  }
  return std::move(model);
}
