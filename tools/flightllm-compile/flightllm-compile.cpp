//===- flightllm-compile.cpp - The FlightLLM compiler driver --------------===//
//
// The front door: reads an ONNX model and emits the requested stage. Built
// as the library FlightLLMCompileDriver (flightllm/Driver/Compile.h): the
// tool (main.cpp) and the Python API (flightllm.compile) both run it.
//
//   flightllm-compile MODEL.onnx -o model.flb [--target=u280] [--report=r.json]
//   flightllm-compile MODEL.onnx --emit=flight --buckets=decode:16
//   flightllm-compile MODEL.onnx --emit=llm|onnx|summary
//   flightllm-compile EXPORT_DIR -o model.flb   (an optimum export directory)
//
// On any error it prints diagnostics naming the place (ONNX node, file
// offset), exits non-zero and leaves every file as it was: all outputs (-o,
// --report, ROM images) are committed together at the end (OutputFiles).
//===----------------------------------------------------------------------===//

#include "flightllm/Driver/Compile.h"
#include "flightllm/Conversion/LLMToFlight/LLMToFlight.h"
#include "flightllm/Conversion/LLMToFlight/Passes.h"
#include "flightllm/Dialect/Flight/Transforms/Passes.h"
#include "flightllm/Conversion/ONNXToLLM/Passes.h"
#include "flightllm/Dialect/Flight/Encoding.h"
#include "flightllm/Target/TargetDescription.h"
#include "flightllm/Dialect/LLM/Transforms/Passes.h"
#include "flightllm/Dialect/LLM/LLMDialect.h"
#include "flightllm/Import/ModelSummary.h"
#include "flightllm/Import/SupportedOperators.h"
#include "flightllm/Import/NodeDiagnostics.h"
#include "flightllm/Import/ONNXImporter.h"
#include "flightllm/Offload/OffloadPlanner.h"
#include "flightllm/Dialect/LLM/LLMDialect.h"
#include "flightllm/System/PipelinePlan.h"
#include "flightllm/InitAll.h"
#include "flightllm/Support/OutputFiles.h"
#include "flightllm/Support/Progress.h"
#include "flightllm/Version.h"

#include "CompressionReport.h"
#include "ModelInputs.h"

#include "mlir/IR/AsmState.h"

#include <cmath>
#include <chrono>
#include <mutex>
#include <unistd.h>
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/ToolUtilities.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;
using flightllm::OutputFiles;
namespace cl = llvm::cl;

namespace {

cl::OptionCategory category("flightllm-compile options");

/// Where messages go: stderr for the CLI, a string for compileInProcess.
llvm::raw_ostream *errorStream = &llvm::errs();
llvm::raw_ostream &errs() { return *errorStream; }
/// Where the report text goes: stdout for the CLI, a string in process.
llvm::raw_ostream *outputStream = &llvm::outs();
llvm::raw_ostream &outs() { return *outputStream; }
/// compileInProcess: where to record the first error diagnostic.
std::optional<flightllm::driver::DiagnosticRecord> *firstErrorRecord = nullptr;

enum class EmitKind { ONNX, LLM, Summary, Flight, Bin, OffloadPlan };

cl::opt<std::string> inputFilename(cl::Positional,
                                   cl::desc("<model.onnx | export directory>"),
                                   cl::cat(category));

cl::opt<std::string> outputFilename("o", cl::desc("Output file ('-' for stdout)"),
                                    cl::value_desc("file"), cl::init("-"),
                                    cl::cat(category));

cl::opt<EmitKind> emit(
    "emit", cl::desc("What to emit"), cl::init(EmitKind::Bin),
    cl::values(clEnumValN(EmitKind::Bin, "bin",
                          "the accelerator binary (.flb) and a compile "
                          "report (default)"),
               clEnumValN(EmitKind::Flight, "flight",
                          "MLIR of the flight dialect: the instruction "
                          "streams of the buckets"),
               clEnumValN(EmitKind::ONNX, "onnx",
                          "MLIR of the onnx dialect, as imported"),
               clEnumValN(EmitKind::LLM, "llm",
                          "MLIR of the llm dialect: the raised model program"),
               clEnumValN(EmitKind::Summary, "summary",
                          "a human-readable summary of the model"),
               clEnumValN(EmitKind::OffloadPlan, "offload-plan",
                          "where the weights and KV cache go among HBM, DDR "
                          "and host memory (--offload; JSON with --report)")),
    cl::cat(category));

cl::opt<flightllm::ONNXInputFormat> inputFormat(
    "input-format", cl::desc("How to read the model"),
    cl::init(flightllm::ONNXInputFormat::Auto),
    cl::values(clEnumValN(flightllm::ONNXInputFormat::Auto, "auto",
                          "by extension or content (default)"),
               clEnumValN(flightllm::ONNXInputFormat::Binary, "binary",
                          "ONNX protobuf"),
               clEnumValN(flightllm::ONNXInputFormat::Text, "text",
                          "ONNX text syntax")),
    cl::cat(category));

enum class Quantization { None, W8A8 };

cl::opt<Quantization> quantize(
    "quantize", cl::desc("Precision of the llm program (--emit=llm)"),
    cl::init(Quantization::None),
    cl::values(clEnumValN(Quantization::None, "none", "fp32 (default)"),
               clEnumValN(Quantization::W8A8, "w8a8",
                          "int8 weights per output channel, int8 activations "
                          "with scales from --calibration")),
    cl::cat(category));

// Compression (docs/compression.md): passes on the llm program, --emit=llm.
cl::OptionCategory compressionCategory(
    "Compression (--emit=llm; docs/compression.md)");

cl::opt<std::string> weightBits(
    "weight-bits",
    cl::desc("Weight bits of the projections: 8 (default), 4, or auto "
             "(8 or 4, and with --auto-sparsity N:M, per projection under "
             "--budget)"),
    cl::value_desc("8|4|auto"), cl::init("8"), cl::cat(compressionCategory));

cl::opt<int64_t> groupSize(
    "group-size",
    cl::desc("Weights per scale along K (default 128 with --weight-bits=4 "
             "or auto, 0 = one scale per output channel with 8)"),
    cl::value_desc("n"), cl::init(-1), cl::cat(compressionCategory));

cl::opt<bool> weightZeroPoints(
    "weight-zero-points",
    cl::desc("Asymmetric weight codes with zero points"), cl::init(false),
    cl::cat(compressionCategory));

cl::opt<std::string> weightMethod(
    "weight-method",
    cl::desc("rtn (round to nearest, default) or gptq (calibrated)"),
    cl::value_desc("rtn|gptq"), cl::init("rtn"), cl::cat(compressionCategory));

cl::opt<double> bitsBudget(
    "budget",
    cl::desc("--weight-bits=auto: average stored bits per weight to stay "
             "under (codes, N:M indices, scales and zero points)"),
    cl::value_desc("bits"), cl::init(0), cl::cat(compressionCategory));

cl::list<std::string> keep8Bit(
    "keep-8bit",
    cl::desc("Projections kept at 8 bits per channel, by name pattern "
             "(lm_head,layers.0.*)"),
    cl::CommaSeparated, cl::value_desc("patterns"),
    cl::cat(compressionCategory));

cl::list<std::string> autoSparsity(
    "auto-sparsity",
    cl::desc("--weight-bits=auto: N:M patterns each linear may also take, "
             "pruned by --sparsity-method (8:16,4:16)"),
    cl::CommaSeparated, cl::value_desc("patterns"),
    cl::cat(compressionCategory));

cl::opt<std::string> sparsityPattern(
    "sparsity",
    cl::desc("Prune the linear weights: none (default), S:M (2:4, 8:16, "
             "4:16, 2:16) or blockB (block16)"),
    cl::value_desc("pattern"), cl::init("none"), cl::cat(compressionCategory));

cl::opt<std::string> sparsityMethod(
    "sparsity-method",
    cl::desc("Pruning criterion: magnitude, wanda (default) or sparsegpt"),
    cl::value_desc("method"), cl::init("wanda"), cl::cat(compressionCategory));

cl::opt<double> smoothAlpha(
    "smooth-alpha",
    cl::desc("SmoothQuant migration strength in (0, 1] before quantization "
             "(default 0: off)"),
    cl::value_desc("alpha"), cl::init(0), cl::cat(compressionCategory));

cl::opt<unsigned> kvBits(
    "kv-bits", cl::desc("KV cache bits: 8 (default) or 4 (KIVI layout)"),
    cl::value_desc("8|4"), cl::init(8), cl::cat(compressionCategory));

cl::opt<std::string> calibrationFile(
    "calibration",
    cl::desc("Calibration text for W8A8 (through the model's tokenizer.json, "
             "else bytes as tokens); 'none' for the "
             "binary: no calibration run, fixed KV-cache ranges (for "
             "benchmarks of models too large to run on the host)"),
    cl::value_desc("file"), cl::cat(category));

cl::opt<std::string> targetName(
    "target", cl::desc("Hardware: u280, vhk158 or a description FILE.json"),
    cl::value_desc("name|file"), cl::init("u280"), cl::cat(category));

cl::opt<std::string> systemName(
    "system",
    cl::desc("Compile for several cards: u280x2, u280x4, u280x8, u280x16 or a "
             "system description FILE.json (docs/targets.md); the decoder "
             "layers are split into one pipeline stage per card "
             "(--emit=bin only)"),
    cl::value_desc("name|file"), cl::cat(category));

cl::opt<unsigned> maxContext(
    "max-context",
    cl::desc("Longest context to compile for (default: 2048, or the model's "
             "own limit when smaller)"),
    cl::init(0), cl::cat(category));

cl::opt<unsigned> prefillBucket(
    "prefill-bucket", cl::desc("Prefill bucket width in tokens"),
    cl::init(128), cl::cat(category));

cl::opt<unsigned> decodeBucket(
    "decode-bucket", cl::desc("Decode bucket width in context tokens"),
    cl::init(16), cl::cat(category));

cl::opt<unsigned> cores(
    "cores",
    cl::desc("Accelerator cores each bucket runs on: linears split by output "
             "channels, attention by KV heads, an all-gather between "
             "(0: all of the target's; default 1)"),
    cl::init(1), cl::cat(category));

cl::opt<unsigned> kvSlots(
    "kv-slots",
    cl::desc("KV-cache slots: sequences with their own cache that the "
             "runtime serves in turn (flight_select_slot; flightllm-run "
             "--users), 1 to 64"),
    cl::init(1), cl::cat(category));

cl::opt<unsigned> batch(
    "batch",
    cl::desc("Sequences one decode run serves (1 to 16): each weight tile "
             "loaded once for all, attention per sequence on its own KV-cache "
             "slot and length (flight_decode_batch; flightllm-run --users); "
             "--kv-slots defaults to it"),
    cl::init(1), cl::cat(category));

/// KV-cache slots: --kv-slots, or at least one per sequence of a batch.
static unsigned kvSlotCount() {
  return kvSlots.getNumOccurrences() ? unsigned(kvSlots)
                                     : std::max<unsigned>(kvSlots, batch);
}

cl::list<std::string> bucketFilter(
    "buckets",
    cl::desc("Only these buckets, as STAGE:MAXLEN (prefill:128,decode:16); "
             "for inspecting streams with --emit=flight"),
    cl::CommaSeparated, cl::cat(category));

cl::opt<std::string> reportFile(
    "report", cl::desc("Also write the compile report as JSON"),
    cl::value_desc("file.json"), cl::cat(category));

cl::list<std::string> romFormats(
    "rom",
    cl::desc("Also write every instruction stream as ROM images next to the "
             "output: bin, coe, mem, h (comma separated)"),
    cl::CommaSeparated, cl::cat(category));

cl::opt<std::string> offload(
    "offload",
    cl::desc("Place weights and KV cache over HBM, DDR and host memory: "
             "'auto' (a linear program chooses) or the percentages "
             "W_HBM,W_DDR,KV_HBM,KV_DDR (the host takes the rest); "
             "docs/offloading.md"),
    cl::value_desc("auto|percentages"), cl::cat(category));

cl::opt<unsigned> planPrompt(
    "plan-prompt", cl::desc("Prompt length the offload plan is for (512)"),
    cl::init(512), cl::cat(category));

cl::opt<unsigned> planGenerate(
    "plan-generate",
    cl::desc("Generated tokens per sequence the offload plan is for (32)"),
    cl::init(32), cl::cat(category));

cl::opt<unsigned> planBatch(
    "plan-batch",
    cl::desc("Sequences per batch of the offload plan (default: searched)"),
    cl::init(0), cl::cat(category));

cl::opt<unsigned> planBatches(
    "plan-batches",
    cl::desc("Batches per block of the offload plan (default: searched)"),
    cl::init(0), cl::cat(category));

cl::opt<bool> planEmitted(
    "plan-emitted",
    cl::desc("--emit=offload-plan: plan what --emit=bin emits (the KV cache "
             "in HBM, weights in HBM and DDR read in place, one block of at "
             "most 16 sequences)"),
    cl::init(false), cl::cat(category));

cl::opt<unsigned> planWeightBits(
    "plan-weight-bits",
    cl::desc("--emit=offload-plan: size the layers' weights at 8 or 4 bits "
             "without quantizing them (for models too large to quantize "
             "here; --weight-bits quantizes and sizes them exactly)"),
    cl::init(8), cl::cat(category));

cl::opt<bool> printTiming(
    "timing", cl::desc("Print the wall time of each compilation phase to stderr"),
    cl::init(false), cl::cat(category));

/// Whether the MLIR pass-manager options (--mlir-print-ir-after, ...) are
/// registered: by the command-line tool, not in process.
bool passManagerOptionsRegistered = false;

/// The steps of the llm program --stop-after may name, in order; the
/// accelerator pipeline's follow (loweringSteps()).
const char *const kLLMSteps[] = {"onnx-to-llm", "llm-quantize-weights",
                                 "llm-calibrate"};

cl::opt<std::string> stopAfter(
    "stop-after-pass",
    cl::desc("With --emit=flight: print the IR after this step of the "
             "pipeline: onnx-to-llm, llm-quantize-weights, llm-calibrate, "
             "flight-select-instructions, a pass of --bucket-pipeline "
             "(flight-schedule, flight-fuse-swiglu, flight-share-quantize, "
             "flight-fuse-in-place, flight-fuse: buckets at the buffer level; "
             "the llm program stays for the HBM layout), flight-hbm-layout "
             "(buckets with placed HBM regions, the binary's data), "
             "flight-plan-buffers (addressed streams annotated with their "
             "accesses, before the dependency tokens) or flight-insert-tokens "
             "(the default)"),
    cl::value_desc("step"), cl::init("flight-insert-tokens"), cl::cat(category));

cl::opt<std::string> bucketPipeline(
    "bucket-pipeline",
    cl::desc("The buffer-level passes every bucket runs after instruction "
             "selection, as a textual pipeline on flight.bucket (default: "
             "flight-schedule,flight-fuse-swiglu,flight-share-quantize,"
             "flight-fuse-in-place,flight-fuse; docs/lowering.md)"),
    cl::value_desc("passes"),
    cl::init(flightllm::lowering::kDefaultBucketPipeline.str()),
    cl::cat(category));

cl::opt<bool> printPipeline(
    "print-pipeline",
    cl::desc("Print the lowering as the textual pass pipeline that "
             "flightllm-opt --pass-pipeline=... runs on the --emit=llm program "
             "(flightllm-translate --flight-to-flb then writes the binary "
             "--emit=bin writes) and exit"),
    cl::init(false), cl::cat(category));

cl::opt<bool> quietReport(
    "quiet", cl::desc("Do not print the compile report or progress bars"),
    cl::init(false), cl::cat(category));

cl::opt<flightllm::ProgressMode> progressMode(
    "progress",
    cl::desc("Progress bars with ETA on stderr for the long phases (reading "
             "weights, calibrating, quantizing, packing, emitting buckets)"),
    cl::init(flightllm::ProgressMode::Auto), flightllm::progressModeValues(),
    cl::cat(category));

cl::opt<unsigned> calibrationTokens(
    "calibration-tokens",
    cl::desc("Use at most this many tokens of the calibration text (default "
             "16384: all of a license-sized text; the first 1024 bytes alone "
             "miss KV-cache ranges that change greedy decisions)"),
    cl::init(16384), cl::cat(category));

cl::opt<bool> noVerifyRaising(
    "no-verify-raising",
    cl::desc("Skip running the raised program next to the ONNX graph at a few "
             "sizes (saves its time on huge models; a wrong raising is then "
             "not caught)"),
    cl::init(false), cl::cat(category));

cl::opt<double> verifyRaisingBudget(
    "verify-raising-budget",
    cl::desc("GFLOP of host arithmetic the raising check may spend (default "
             "100, about a minute): sizes beyond it are skipped with a "
             "remark, the smallest never"),
    cl::value_desc("GFLOP"), cl::init(flightllm::kDefaultVerifyRaisingBudget),
    cl::cat(category));

cl::opt<std::string> maxMemory(
    "max-memory",
    cl::desc("Refuse a model whose file, or whose weights and constants in "
             "total, exceed this many bytes (a K, M, G or T suffix multiplies "
             "by 1024, 1024^2, ...), naming the tensor, before allocating it"),
    cl::value_desc("bytes"), cl::cat(category));

cl::opt<bool> elideWeights(
    "elide-weights",
    cl::desc("Print weight blobs as '__elided__' (output does not re-parse)"),
    cl::init(false), cl::cat(category));

cl::opt<bool> listONNXOperators(
    "list-onnx-operators",
    cl::desc("Print the ONNX operators, domains and opsets the importer "
             "accepts (Markdown) and exit"),
    cl::init(false), cl::cat(category));

cl::opt<bool> printLocations(
    "print-locations",
    cl::desc("Print op locations (ONNX node names) inline; for reading, "
             "the weight blobs are left out"),
    cl::init(false), cl::cat(category));

cl::opt<bool> verifyDiagnostics(
    "verify-diagnostics",
    cl::desc("Check diagnostics against expected-* comments in the input "
             "(ONNX text syntax only)"),
    cl::init(false), cl::cat(category));

} // namespace

/// Wall-clock phases for --timing.
namespace {
struct PhaseTimer {
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
  void done(llvm::StringRef phase) {
    auto now = std::chrono::steady_clock::now();
    if (printTiming)
      errs() << "timing: " << phase << " "
                   << llvm::format("%.2f", std::chrono::duration<double>(now - last).count())
                   << " s\n";
    last = now;
  }
};
} // namespace

/// --max-memory in bytes, 0 without it (main sets it).
static uint64_t maxMemoryBytes = 0;

/// The model file or directory with its config and tokenizer (main sets it).
static std::optional<flightllm::ModelInputs> modelInputs;
/// The calibration text through the model's tokenizer, when it has one.
static std::optional<std::vector<int64_t>> calibrationIds;

/// The calibration source of a pass's options (they all share the names).
template <typename Options>
static void setCalibration(Options &options) {
  if (calibrationIds)
    options.tokens.assign(calibrationIds->begin(), calibrationIds->end());
  else
    options.textFile = calibrationFile;
  options.maxTokens = calibrationTokens;
}

static bool noCalibration() { return calibrationFile == "none"; }

/// The --group-size in effect: 128 by default for 4-bit and auto weights.
static int64_t effectiveGroupSize() {
  if (groupSize >= 0)
    return groupSize;
  return weightBits == "8" ? 0 : 128;
}

/// Whether any flag asks for quantized weights or KV cache beyond W8A8.
static bool compressionQuantizes() {
  return weightBits != "8" || groupSize.getNumOccurrences() ||
         weightZeroPoints || weightMethod != "rtn" || kvBits != 8 ||
         !keep8Bit.empty() || bitsBudget.getNumOccurrences();
}

/// Smooths (--smooth-alpha) and prunes (--sparsity) the float program,
/// before quantization.
static void addSparsification(PassManager &pm) {
  if (smoothAlpha != 0) {
    flightllm::llm::SmoothActivationsPassOptions options;
    options.alpha = smoothAlpha;
    setCalibration(options);
    pm.addPass(flightllm::llm::createSmoothActivationsPass(options));
  }
  if (sparsityPattern == "none")
    return;
  flightllm::llm::SparsifyPassOptions options;
  options.pattern = sparsityPattern;
  options.method = sparsityMethod;
  setCalibration(options);
  pm.addPass(flightllm::llm::createSparsifyPass(options));
}

/// Quantizes and calibrates the raised program as the accelerator runs it:
/// INT8 weights per output channel (or the compression flags' format),
/// INT8 activations per token, INT8 (or 4-bit) KV cache with calibrated
/// per-channel scales.
static void addAcceleratorQuantization(PassManager &pm, bool calibrate = true) {
  flightllm::llm::QuantizeWeightsPassOptions weights;
  weights.bits = weightBits;
  weights.groupSize = effectiveGroupSize();
  weights.symmetric = !weightZeroPoints;
  weights.method = weightMethod;
  weights.budget = bitsBudget;
  weights.keep8Bit.assign(keep8Bit.begin(), keep8Bit.end());
  weights.sparsityCandidates.assign(autoSparsity.begin(), autoSparsity.end());
  weights.sparsityMethod = sparsityMethod;
  if (weightMethod != "rtn" || weightBits == "auto")
    setCalibration(weights);
  pm.addPass(flightllm::llm::createQuantizeWeightsPass(weights));
  // --calibration=none: no calibration run (the lowering takes the fixed KV
  // range); a 4-bit cache is recorded on the attention ops after the passes.
  if (!calibrate || noCalibration())
    return;
  flightllm::llm::CalibratePassOptions options;
  setCalibration(options);
  options.kvBits = kvBits;
  pm.addPass(flightllm::llm::createCalibratePass(options));
}

/// Percent of each layer's weight tiles --emit=bin puts in DDR
/// (flight-hbm-layout{ddr-weights=}), from --offload.
static unsigned ddrWeightPercent = 0;

/// The DDR share --emit=bin emits for `placement`, or an error for what it
/// cannot emit yet (host memory, the KV cache outside HBM).
static llvm::Expected<unsigned>
emittedDDRPercent(const flightllm::offload::Placement &placement) {
  if (placement.weights[2] > 1e-9 || placement.kv[0] < 1 - 1e-9)
    return llvm::createStringError(llvm::formatv(
        "the placement puts {0:F1}% of the weights in host memory and "
        "{1:F1}% of the KV cache outside HBM; --emit=bin emits weights in HBM "
        "and DDR with the KV cache in HBM (host-tier staging and an "
        "offloaded KV cache are not emitted yet; see the plan with "
        "--emit=offload-plan)",
        100 * placement.weights[2], 100 * (1 - placement.kv[0])));
  // Whole tiles: round the DDR share up so that HBM holds no more than
  // planned.
  return unsigned(std::ceil(100 * placement.weights[1] - 1e-6));
}

/// The offload plan of the raised program for --offload/--emit=offload-plan.
static llvm::Expected<flightllm::offload::OffloadPlan>
planOffload(ModuleOp module, const flightllm::target::TargetDescription &target,
            bool forBinary) {
  FailureOr<flightllm::offload::ModelFootprint> footprint =
      flightllm::offload::measureFootprint(module, planWeightBits);
  if (failed(footprint))
    return llvm::createStringError("cannot measure the model");
  flightllm::offload::Workload workload;
  workload.promptTokens = planPrompt;
  workload.generatedTokens = planGenerate;
  workload.batch = planBatch;
  workload.batches = planBatches;
  if (planEmitted) {
    workload.emitted = true;
    workload.maxBatch = flightllm::binary::kMaxDecodeBatch;
    workload.maxBatches = 1;
  }
  if (!offload.empty() && offload != "auto") {
    auto placement = flightllm::offload::parsePlacement(offload);
    if (!placement)
      return placement.takeError();
    workload.placement = *placement;
  }
  if (forBinary) {
    // What the binary runs: one sequence filling the compiled context.
    flightllm::offload::Workload one = workload;
    one.promptTokens = std::max<uint64_t>(1, maxContext ? maxContext : 2048);
    one.generatedTokens = 1;
    auto inHBM = flightllm::offload::evaluatePlacement(
        *footprint, target, one, workload.placement.value_or(
                                     flightllm::offload::Placement()),
        1, 1);
    if (inHBM && inHBM->fitsInHBM())
      return inHBM;
    if (!inHBM)
      llvm::consumeError(inHBM.takeError());
    // Otherwise the placement the binary emits, for its batch: one run of
    // --batch sequences, the DDR weights read in place.
    workload.emitted = true;
    workload.batch = batch;
    workload.batches = 1;
    workload.kvCapacityTokens = one.promptTokens;
  }
  return flightllm::offload::planOffload(*footprint, target, workload);
}

/// Lowers the llm program for --emit=flight and --emit=bin.
static FailureOr<flightllm::lowering::LoweredModel>
lowerModule(ModuleOp module, const flightllm::target::TargetDescription &target,
            bool insertTokens = true,
            flightllm::lowering::PipelineStageRange stage = {}) {
  flightllm::lowering::LoweringOptions options;
  options.insertTokens = insertTokens;
  options.stage = stage;
  options.maxContext = maxContext;
  options.prefillBucket = prefillBucket;
  options.decodeBucket = decodeBucket;
  options.cores = cores;
  options.kvSlots = kvSlotCount();
  options.batch = batch;
  options.ddrWeightPercent = ddrWeightPercent;
  options.runnable = emit == EmitKind::Bin;
  options.bucketPipeline = bucketPipeline;
  options.configurePassManager = [](PassManager &pm) {
    return passManagerOptionsRegistered ? applyPassManagerCLOptions(pm)
                                        : success();
  };
  auto progress = std::make_shared<flightllm::PhasedProgress>();
  options.progress = [progress](llvm::StringRef phase, uint64_t done,
                                uint64_t total) { (*progress)(phase, done, total); };
  if (noCalibration())
    options.uncalibratedKVRange = 8.0f;
  if (llvm::Error e = flightllm::lowering::parseBucketList(
          std::vector<std::string>(bucketFilter.begin(), bucketFilter.end()),
          options)) {
    errs() << "flightllm-compile: error: --buckets: "
                 << llvm::toString(std::move(e)) << "\n";
    return failure();
  }
  return flightllm::lowering::lowerToFlight(module, target, options);
}

/// The Tokenizer section of the binary for a model of `vocab` tokens; an
/// error message otherwise.
static FailureOr<std::vector<uint8_t>> tokenizerSection(uint32_t vocab) {
  llvm::Expected<std::vector<uint8_t>> section =
      flightllm::tokenizerSectionFor(*modelInputs, vocab);
  if (!section) {
    errs() << "flightllm-compile: error: "
                 << llvm::toString(section.takeError()) << "\n";
    return failure();
  }
  return std::move(*section);
}

static void printFlightModule(ModuleOp module, llvm::raw_ostream &os) {
  OpPrintingFlags flags;
  if (elideWeights)
    flags.elideLargeResourceString(64);
  module->print(os, flags);
  os << "\n";
}

/// The streams as flight IR: one flight.stream per bucket, and what else the
/// binary holds (the tokenizer section included) in module attributes.
static LogicalResult printFlight(const flightllm::lowering::LoweredModel &model,
                                 const flightllm::target::TargetDescription &target,
                                 MLIRContext &context, llvm::raw_ostream &os) {
  FailureOr<std::vector<uint8_t>> tokenizer =
      tokenizerSection(model.metadata.vocabSize);
  if (failed(tokenizer))
    return failure();
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> out = ModuleOp::create(b.getUnknownLoc());
  b.setInsertionPointToEnd(out->getBody());
  if (failed(flightllm::lowering::buildFlightStreams(model, b, b.getUnknownLoc())))
    return failure();
  flightllm::lowering::attachBinaryData(model, target.fingerprint(), *out,
                                        *tokenizer);
  printFlightModule(*out, os);
  return success();
}

/// The passes of --bucket-pipeline, as written (top-level commas split).
static SmallVector<StringRef> bucketPasses() {
  SmallVector<StringRef> passes;
  StringRef text = bucketPipeline;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    char c = i < text.size() ? text[i] : ',';
    depth += c == '{' || c == '(';
    depth -= c == '}' || c == ')';
    if (c == ',' && depth == 0) {
      if (StringRef pass = text.slice(start, i).trim(); !pass.empty())
        passes.push_back(pass);
      start = i + 1;
    }
  }
  return passes;
}

/// A pass's name in a pipeline element ("flight-fuse{relu=false}").
static StringRef passName(StringRef element) {
  return element.take_until([](char c) { return c == '{' || c == '('; }).trim();
}

/// The steps of the accelerator pipeline, in order.
static std::vector<std::string> loweringSteps() {
  std::vector<std::string> steps{"flight-select-instructions"};
  for (StringRef pass : bucketPasses())
    steps.push_back(passName(pass).str());
  for (const char *step :
       {"flight-hbm-layout", "flight-plan-buffers", "flight-insert-tokens"})
    steps.push_back(step);
  return steps;
}

/// The lowering as passes on the llm program, as flightllm-opt runs them,
/// up to and including the step `last`, for the target `target` (--target,
/// or the --system's).
static LogicalResult buildLoweringPipeline(OpPassManager &pm, StringRef last,
                                           StringRef target = targetName) {
  // The bucket pipeline names flight passes.
  static const bool registered =
      (flightllm::flight::registerFlightTransformsPasses(), true);
  (void)registered;
  flightllm::SelectInstructionsPassOptions options;
  options.target = target.str();
  options.maxContext = maxContext;
  options.prefillBucket = prefillBucket;
  options.decodeBucket = decodeBucket;
  options.buckets.assign(bucketFilter.begin(), bucketFilter.end());
  options.kvRange = noCalibration() ? 8.0f : 0.0f;
  options.cores = cores;
  options.batch = batch;
  // 0: one slot per sequence of the batch, as kvSlotCount() gives.
  options.kvSlots = kvSlots.getNumOccurrences() ? unsigned(kvSlots) : 0;
  pm.addPass(flightllm::createSelectInstructionsPass(options));
  if (last == "flight-select-instructions")
    return success();
  std::string prefix;
  bool reached = false;
  for (StringRef pass : bucketPasses()) {
    prefix += (prefix.empty() ? "" : ",") + pass.str();
    if ((reached = passName(pass) == last))
      break;
  }
  if (!prefix.empty() &&
      failed(parsePassPipeline(prefix, pm.nest<flightllm::flight::BucketOp>(),
                               errs())))
    return failure();
  if (reached)
    return success();
  flightllm::HbmLayoutPassOptions layout;
  layout.target = target.str();
  layout.ddrWeights = ddrWeightPercent;
  pm.addPass(flightllm::createHbmLayoutPass(layout));
  if (last == "flight-hbm-layout")
    return success();
  pm.nest<flightllm::flight::BucketOp>().addPass(
      flightllm::flight::createShareLayersPass());
  flightllm::PlanBuffersPassOptions plan;
  plan.target = target.str();
  pm.addPass(flightllm::createPlanBuffersPass(plan));
  if (last == "flight-plan-buffers")
    return success();
  pm.nest<flightllm::flight::StreamOp>().addPass(
      flightllm::flight::createInsertTokensPass());
  return success();
}

/// --stop-after-pass=flight-select-instructions, a pass of --bucket-pipeline
/// or flight-hbm-layout: the buckets at the buffer level, with the binary's
/// data (the tokenizer section included).
static LogicalResult printBuckets(ModuleOp module, MLIRContext &context,
                                  llvm::raw_ostream &os) {
  PassManager pm(&context, ModuleOp::getOperationName());
  if (failed(buildLoweringPipeline(pm, stopAfter)))
    return failure();
  if (failed(pm.run(module)))
    return failure();
  auto meta = module->getAttrOfType<DictionaryAttr>("flight.model");
  auto vocab = meta ? meta.getAs<IntegerAttr>("vocab_size") : IntegerAttr();
  FailureOr<std::vector<uint8_t>> tokenizer =
      tokenizerSection(vocab ? static_cast<uint32_t>(vocab.getInt()) : 0);
  if (failed(tokenizer))
    return failure();
  flightllm::lowering::attachTokenizer(module, *tokenizer);
  printFlightModule(module, os);
  return success();
}

/// Where compile() writes: the -o stream (the .flb for --emit=bin, else the
/// text), the --report stream, and the set they belong to (for ROM images).
struct CompileOutputs {
  OutputFiles &files;
  llvm::raw_pwrite_stream &main;
  llvm::raw_pwrite_stream *report = nullptr;
  std::string binaryPath;
  std::vector<flightllm::binary::RomFormat> roms;
};

/// --system: one stage binary per card, in one system binary.
static LogicalResult compileSystem(ModuleOp module,
                                   const flightllm::system::SystemDescription &sys,
                                   CompileOutputs &out) {
  // The plan of flight-partition-stages.
  unsigned layers = 0;
  auto plan =
      flightllm::lowering::planPipelineStages(module, sys.cards, layers);
  if (!plan) {
    errs() << "flightllm-compile: error: --system=" << systemName << ": "
           << llvm::toString(plan.takeError()) << "\n";
    return failure();
  }
  std::vector<std::vector<uint8_t>> cards;
  uint32_t rowBytes = 0, vocab = 0;
  for (const auto &[c, stage] : llvm::enumerate(*plan)) {
    flightllm::lowering::PipelineStageRange range;
    range.firstLayer = stage.firstLayer;
    range.layerCount = stage.layerCount;
    range.prologue = stage.prologue;
    range.epilogue = stage.epilogue;
    auto model = lowerModule(module, sys.target, true, range);
    if (failed(model))
      return failure();
    rowBytes = model->deviceMap.embedRowBytes;
    vocab = model->metadata.vocabSize;
    auto image = flightllm::lowering::binaryImage(*model, sys.target.fingerprint());
    if (!image) {
      errs() << "flightllm-compile: error: card " << c << ": "
             << llvm::toString(image.takeError()) << "\n";
      return failure();
    }
    cards.push_back(std::move(*image));
    if (!quietReport) {
      outs() << "== card " << c << "\n";
      flightllm::lowering::printReport(*model, sys.target, outs());
    }
  }
  FailureOr<std::vector<uint8_t>> tokenizer = tokenizerSection(vocab);
  if (failed(tokenizer))
    return failure();
  auto file = flightllm::system::systemBinary(sys, layers, rowBytes, *plan,
                                               cards, *tokenizer);
  if (!file) {
    errs() << "flightllm-compile: error: " << out.binaryPath << ": "
           << llvm::toString(file.takeError()) << "\n";
    return failure();
  }
  out.main.write(reinterpret_cast<const char *>(file->data()), file->size());
  if (!quietReport)
    flightllm::system::printPlan(sys, *plan, outs());
  return success();
}

/// The --system's description, checked against --target; none (an error
/// printed) if it does not load or the targets differ.
static std::optional<flightllm::system::SystemDescription> loadSystemOption() {
  auto s = flightllm::system::loadSystem(systemName);
  if (!s) {
    errs() << "flightllm-compile: error: --system: "
           << llvm::toString(s.takeError()) << "\n";
    return std::nullopt;
  }
  if (targetName.getNumOccurrences()) {
    auto t = flightllm::target::loadTarget(targetName);
    if (!t || t->fingerprint() != s->target.fingerprint()) {
      if (!t)
        llvm::consumeError(t.takeError());
      errs() << "flightllm-compile: error: --target=" << targetName
             << " differs from the system's target '" << s->targetName
             << "' (leave --target out with --system)\n";
      return std::nullopt;
    }
  }
  return std::move(*s);
}

/// Imports the model (from `input` when given, else from the file) and emits
/// the requested stage into `out`.
static LogicalResult compile(MLIRContext &context,
                             const llvm::MemoryBuffer *input,
                             llvm::StringRef baseDir, CompileOutputs &out) {
  std::optional<flightllm::target::TargetDescription> target;
  if (emit == EmitKind::Flight || emit == EmitKind::Bin ||
      emit == EmitKind::OffloadPlan) {
    auto t = flightllm::target::loadTarget(targetName);
    if (!t) {
      errs() << "flightllm-compile: error: --target: "
                   << llvm::toString(t.takeError()) << "\n";
      return failure();
    }
    target = *t;
  }
  std::optional<flightllm::system::SystemDescription> systemDesc;
  if (!systemName.empty()) {
    if (emit != EmitKind::Bin) {
      errs() << "flightllm-compile: error: --system applies to --emit=bin\n";
      return failure();
    }
    std::optional<flightllm::system::SystemDescription> s = loadSystemOption();
    if (!s)
      return failure();
    target = s->target;
    systemDesc = std::move(*s);
  }
  PhaseTimer timer;
  std::vector<std::string> externalData;
  flightllm::ONNXImportOptions importOptions;
  importOptions.externalDataFiles = &externalData;
  importOptions.maxMemoryBytes = maxMemoryBytes;
  OwningOpRef<ModuleOp> module =
      input ? flightllm::importONNXBuffer(*input, baseDir, &context,
                                          importOptions, inputFormat)
            : flightllm::importONNXFile(inputFilename, &context, importOptions,
                                        inputFormat);
  if (!module)
    return failure();
  // The weights' files are inputs too: no output may replace them.
  for (const std::string &path : externalData)
    if (llvm::Error e = out.files.addInput(path, "the model's external data")) {
      errs() << "flightllm-compile: error: " << llvm::toString(std::move(e))
                   << "\n";
      return failure();
    }
  timer.done("import");
  if (emit != EmitKind::ONNX && emit != EmitKind::Summary) {
    PassManager pm(&context);
    flightllm::ONNXToLLMOptions raising;
    raising.verifyRaising = !noVerifyRaising;
    raising.verifyRaisingBudget = verifyRaisingBudget;
    flightllm::buildONNXToLLMPipeline(pm, raising);
    bool accelerator = emit == EmitKind::Flight || emit == EmitKind::Bin;
    // The plan only needs sizes: no calibration run for it.
    // --stop-after-pass: the llm steps run up to the one named.
    bool quantizeWeights = stopAfter != "onnx-to-llm";
    bool calibrate = quantizeWeights && stopAfter != "llm-quantize-weights";
    if (emit == EmitKind::LLM || accelerator)
      addSparsification(pm);
    // Without a calibration run the lowering quantizes float weights
    // itself, densely: pruned weights are quantized here to keep their
    // sparsity claims.
    if (quantizeWeights &&
        (quantize == Quantization::W8A8 || compressionQuantizes() ||
         (accelerator && (!noCalibration() || sparsityPattern != "none"))))
      addAcceleratorQuantization(pm, calibrate);
    if (failed(pm.run(*module)))
      return failure();
    // Without a calibration run llm-calibrate did not set the cache width.
    if (calibrate && noCalibration() && kvBits != 8)
      module->walk([](flightllm::llm::AttentionOp op) { op.setKvBits(kvBits); });
    timer.done("raise and quantize");
  }
  if (emit == EmitKind::OffloadPlan || !offload.empty()) {
    // The binary runs one sequence: it needs no plan when that sequence's
    // weights and KV cache fit in HBM, and then is the same as without
    // --offload.
    llvm::Expected<flightllm::offload::OffloadPlan> plan =
        planOffload(*module, *target, /*forBinary=*/emit == EmitKind::Bin);
    if (!plan) {
      errs() << "flightllm-compile: error: --offload: "
                   << llvm::toString(plan.takeError()) << "\n";
      return failure();
    }
    timer.done("offload plan");
    if (emit == EmitKind::OffloadPlan) {
      out.main << plan->describe();
      if (out.report)
        *out.report << llvm::formatv("{0:2}",
                                     llvm::json::Value(plan->toJSON()))
                    << "\n";
      return success();
    }
    // A model the plan keeps in HBM compiles exactly as without --offload;
    // otherwise the layout puts the plan's DDR share of every layer's
    // weight tiles in DDR.
    if (!plan->fitsInHBM()) {
      llvm::Expected<unsigned> percent = emittedDDRPercent(plan->placement);
      if (!percent) {
        errs() << "flightllm-compile: error: --offload: "
               << llvm::toString(percent.takeError()) << "\n";
        return failure();
      }
      ddrWeightPercent = *percent;
      if (printTiming)
        errs() << "offload: " << ddrWeightPercent
               << "% of each layer's weight tiles in DDR; predicted "
               << llvm::format("%.3f", 1e3 * (double(plan->model.layers) *
                                                  plan->decode.time() +
                                              plan->headSeconds))
               << " ms per decode step\n";
    }
  }
  llvm::raw_ostream &os = out.main;
  bool llmStep = emit == EmitKind::Flight &&
                 llvm::is_contained(kLLMSteps, StringRef(stopAfter));
  switch (llmStep ? EmitKind::LLM : emit.getValue()) {
  case EmitKind::LLM:
  case EmitKind::ONNX: {
    OpPrintingFlags flags;
    if (elideWeights)
      flags.elideLargeResourceString(64);
    if (printLocations)
      flags.enableDebugInfo(/*enable=*/true, /*prettyForm=*/false).useLocalScope();
    module->print(os, flags);
    os << "\n";
    if (emit == EmitKind::LLM) {
      if (out.report)
        flightllm::printCompressionReportJSON(*module, *out.report);
      // The report goes to stdout only when the program does not.
      if (!quietReport && out.binaryPath != "-")
        flightllm::printCompressionReport(*module, outs());
    }
    return success();
  }
  case EmitKind::OffloadPlan:
    return failure(); // handled above
  case EmitKind::Summary:
    os << "model " << inputFilename << ": ";
    flightllm::printModelSummary(*module, os);
    return success();
  case EmitKind::Flight: {
    if (stopAfter != "flight-plan-buffers" &&
        stopAfter != "flight-insert-tokens")
      return printBuckets(*module, context, os);
    auto model = lowerModule(*module, *target,
                             /*insertTokens=*/stopAfter != "flight-plan-buffers");
    if (failed(model))
      return failure();
    return printFlight(*model, *target, context, os);
  }
  case EmitKind::Bin: {
    if (systemDesc)
      return compileSystem(*module, *systemDesc, out);
    auto model = lowerModule(*module, *target);
    if (failed(model))
      return failure();
    timer.done("lower");
    if (printTiming) {
      // The dependency tracker's cost: ranges visited per instruction stays
      // flat however long a layer body gets (docs/lowering.md).
      uint64_t work = 0, instructions = 0;
      for (const auto &s : model->streams) {
        work += s.tokenWork;
        instructions += s.instructions;
      }
      errs() << "timing: dependency tokens visited " << work
                   << " tracked ranges for " << instructions << " instructions ("
                   << llvm::format("%.2f", instructions ? double(work) / instructions : 0.0)
                   << " per instruction)\n";
      // The lowering's steps, summed over the buckets.
      llvm::errs() << "timing:   flight-select-instructions "
                   << llvm::format("%.2f", model->selectSeconds) << " s\n"
                   << "timing:   flight-plan-buffers + flight-insert-tokens "
                   << llvm::format("%.2f", model->planSeconds) << " s\n";
    }
    // The source module (and its weights) is not needed any more.
    module = nullptr;
    FailureOr<std::vector<uint8_t>> tokenizer =
        tokenizerSection(model->metadata.vocabSize);
    if (failed(tokenizer))
      return failure();
    if (llvm::Error e = flightllm::lowering::writeBinary(
            *model, target->fingerprint(), out.main, *tokenizer)) {
      errs() << "flightllm-compile: error: " << out.binaryPath << ": "
                   << llvm::toString(std::move(e)) << "\n";
      return failure();
    }
    timer.done("write");
    if (llvm::Error e = flightllm::lowering::writeStreamRoms(
            *model, out.binaryPath, out.roms, out.files)) {
      errs() << "flightllm-compile: error: --rom: "
                   << llvm::toString(std::move(e)) << "\n";
      return failure();
    }
    if (out.report)
      flightllm::lowering::printReportJSON(*model, *target, *out.report);
    if (!quietReport)
      flightllm::lowering::printReport(*model, *target, outs());
    return success();
  }
  }
  return failure();
}

/// --max-memory's value: digits with an optional binary K/M/G/T suffix.
static llvm::Expected<uint64_t> parseByteCount(llvm::StringRef text) {
  llvm::StringRef digits = text;
  unsigned shift = 0;
  if (!digits.empty()) {
    size_t suffix = llvm::StringRef("KMGT").find(llvm::toUpper(digits.back()));
    if (suffix != llvm::StringRef::npos) {
      shift = 10 * unsigned(suffix + 1);
      digits = digits.drop_back();
    }
  }
  uint64_t value = 0;
  if (digits.empty() || !llvm::all_of(digits, llvm::isDigit) ||
      digits.getAsInteger(10, value) || value == 0 ||
      value > (UINT64_MAX >> shift))
    return llvm::createStringError(
        "--max-memory: '" + text +
        "' is not a positive byte count (digits, optionally followed by K, M, "
        "G or T)");
  return value << shift;
}

/// Prints `flightllm-compile: error: ...` for `e`; returns the exit status.
static int fail(llvm::Error e) {
  errs() << "flightllm-compile: error: " << llvm::toString(std::move(e))
               << "\n";
  return 1;
}

/// "file:line:col", "at 'node'" or "" for `loc`.
static std::string describeLocation(Location loc) {
  std::string text;
  llvm::raw_string_ostream os(text);
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    os << file.getFilename().getValue() << ":" << file.getLine() << ":"
       << file.getColumn();
  else if (auto name = dyn_cast<NameLoc>(loc))
    os << "at '" << name.getName().getValue() << "'";
  else if (auto fused = dyn_cast<FusedLoc>(loc); fused && !fused.getLocations().empty())
    return describeLocation(fused.getLocations().front());
  else if (auto callSite = dyn_cast<CallSiteLoc>(loc))
    return describeLocation(callSite.getCallee());
  return text;
}

/// The command after its options were parsed: checks them, compiles and
/// commits the outputs; returns the exit status.
static int runParsedCommand() {
  modelInputs.reset();
  calibrationIds.reset();
  flightllm::setProgressMode(quietReport ? flightllm::ProgressMode::Never
                                         : progressMode.getValue());
  if (listONNXOperators) {
    flightllm::printSupportedOperators(outs());
    return 0;
  }
  if (inputFilename.empty()) {
    errs() << "flightllm-compile: error: no input model (see --help)\n";
    return 1;
  }
  if (quantize != Quantization::None && emit != EmitKind::LLM) {
    errs() << "flightllm-compile: error: --quantize applies to "
                    "--emit=llm (the binary is always W8A8)\n";
    return 1;
  }
  if (weightBits != "8" && weightBits != "4" && weightBits != "auto") {
    errs() << "flightllm-compile: error: --weight-bits must be 8, 4 "
                    "or auto, got '"
                 << weightBits << "'\n";
    return 1;
  }
  if ((weightBits == "auto") != bool(bitsBudget.getNumOccurrences())) {
    errs() << "flightllm-compile: error: "
                 << (weightBits == "auto"
                         ? "--weight-bits=auto needs --budget=B (average "
                           "bits per weight, e.g. 4.5)"
                         : "--budget applies to --weight-bits=auto")
                 << "\n";
    return 1;
  }
  if (!autoSparsity.empty() && weightBits != "auto") {
    errs() << "flightllm-compile: error: --auto-sparsity applies to "
              "--weight-bits=auto\n";
    return 1;
  }
  if (!autoSparsity.empty() && sparsityPattern != "none") {
    errs() << "flightllm-compile: error: --auto-sparsity chooses the "
              "sparsity per linear; it takes no --sparsity\n";
    return 1;
  }
  if (kvBits != 8 && kvBits != 4) {
    errs() << "flightllm-compile: error: --kv-bits must be 8 or 4, got "
                 << kvBits << "\n";
    return 1;
  }
  if (quantize == Quantization::None && quantize.getNumOccurrences() &&
      compressionQuantizes()) {
    errs() << "flightllm-compile: error: --quantize=none contradicts "
                    "the weight and KV-cache bit flags\n";
    return 1;
  }
  if (stopAfter.getNumOccurrences()) {
    if (emit != EmitKind::Flight) {
      errs() << "flightllm-compile: error: --stop-after-pass applies to "
                      "--emit=flight\n";
      return 1;
    }
    std::vector<std::string> steps(std::begin(kLLMSteps), std::end(kLLMSteps));
    for (std::string &step : loweringSteps())
      steps.push_back(std::move(step));
    if (!llvm::is_contained(steps, stopAfter.getValue())) {
      errs() << "flightllm-compile: error: --stop-after-pass: unknown step '"
                   << stopAfter << "' (the steps: "
                   << llvm::join(steps, ", ") << ")\n";
      return 1;
    }
    if ((stopAfter == "llm-quantize-weights" || stopAfter == "llm-calibrate") &&
        noCalibration()) {
      // The lowering then quantizes the float weights itself.
      errs() << "flightllm-compile: error: --stop-after-pass=" << stopAfter
                   << ": --calibration=none skips that step\n";
      return 1;
    }
  }
  if (noCalibration() && emit == EmitKind::LLM) {
    errs() << "flightllm-compile: error: --calibration=none applies to "
                    "--emit=bin and --emit=flight\n";
    return 1;
  }
  if (noCalibration()) {
    // Compression that measures the model needs its activations; RTN
    // weights and magnitude pruning do not (the 7B sizes-only benches).
    std::string needs = weightBits == "auto"         ? "--weight-bits=auto"
                        : weightMethod != "rtn"      ? "--weight-method=" + weightMethod
                        : smoothAlpha != 0           ? "--smooth-alpha"
                        : sparsityPattern != "none" && sparsityMethod != "magnitude"
                            ? "--sparsity-method=" + sparsityMethod
                            : "";
    if (!needs.empty()) {
      errs() << "flightllm-compile: error: --calibration=none: " << needs
             << " measures the model on calibration text (give "
                "--calibration=FILE, or use RTN weights and "
                "--sparsity-method=magnitude)\n";
      return 1;
    }
  }

  if (maxMemory.getNumOccurrences()) {
    llvm::Expected<uint64_t> bytes = parseByteCount(maxMemory);
    if (!bytes)
      return fail(bytes.takeError());
    maxMemoryBytes = *bytes;
  }

  // A directory is an optimum export: compile its chosen graph. Either way
  // the config and tokenizer next to the graph come along.
  llvm::Expected<flightllm::ModelInputs> inputs =
      flightllm::resolveModelInputs(inputFilename);
  if (!inputs) {
    errs() << "flightllm-compile: error: "
                 << llvm::toString(inputs.takeError()) << "\n";
    return 1;
  }
  modelInputs = std::move(*inputs);
  inputFilename.setValue(modelInputs->source.graphPath);
  if (printTiming)
    flightllm::printModelInputs(*modelInputs, errs());
  unsigned contextLimit = maxContext;
  if (llvm::Error e = flightllm::boundContextByConfig(*modelInputs, contextLimit)) {
    errs() << "flightllm-compile: error: " << llvm::toString(std::move(e))
                 << "\n";
    return 1;
  }
  maxContext.setValue(contextLimit);
  if (printPipeline) {
    // The binary's options only: everything else --emit=bin does is the
    // passes' defaults. --offload percentages are flight-hbm-layout's
    // ddr-weights; auto's placement depends on the model.
    if (emit != EmitKind::Bin) {
      errs() << "flightllm-compile: error: --print-pipeline prints the "
                "pipeline of --emit=bin\n";
      return 1;
    }
    if (offload == "auto") {
      errs() << "flightllm-compile: error: --print-pipeline cannot print "
                "--offload=auto (its placement needs the model's plan; give "
                "the percentages that --emit=offload-plan prints)\n";
      return 1;
    }
    if (!offload.empty()) {
      auto placement = flightllm::offload::parsePlacement(offload);
      llvm::Expected<unsigned> percent =
          placement ? emittedDDRPercent(*placement)
                    : llvm::Expected<unsigned>(placement.takeError());
      if (!percent) {
        errs() << "flightllm-compile: error: --offload: "
               << llvm::toString(percent.takeError()) << "\n";
        return 1;
      }
      ddrWeightPercent = *percent;
    }
    DialectRegistry registry;
    flightllm::registerAllDialects(registry);
    MLIRContext context(registry);
    PassManager pm(&context, ModuleOp::getOperationName());
    if (systemName.empty()) {
      if (failed(buildLoweringPipeline(pm, "flight-insert-tokens")))
        return 1;
    } else {
      // --system: the partition into one module per card, then the
      // lowering on each card's module.
      std::optional<flightllm::system::SystemDescription> sys =
          loadSystemOption();
      if (!sys)
        return 1;
      flightllm::PartitionStagesPassOptions partition;
      partition.system = systemName;
      pm.addPass(flightllm::createPartitionStagesPass(partition));
      if (failed(buildLoweringPipeline(pm.nest<ModuleOp>(),
                                       "flight-insert-tokens",
                                       sys->targetName)))
        return 1;
    }
    pm.printAsTextualPipeline(outs());
    outs() << "\n";
    return 0;
  }
  if (modelInputs->tokenizer && !calibrationFile.empty() && !noCalibration()) {
    auto ids = flightllm::tokenizeCalibrationText(*modelInputs, calibrationFile);
    if (!ids) {
      errs() << "flightllm-compile: error: --calibration: "
                   << llvm::toString(ids.takeError()) << "\n";
      return 1;
    }
    calibrationIds = std::move(*ids);
  }

  // Every option value is checked before any work.
  std::vector<flightllm::binary::RomFormat> roms;
  for (const std::string &name : romFormats) {
    std::optional<flightllm::binary::RomFormat> format =
        flightllm::binary::parseRomFormat(name);
    if (!format) {
      errs() << "flightllm-compile: error: --rom: unknown ROM format '"
                   << name << "' (bin, coe, mem, h)\n";
      return 1;
    }
    if (!llvm::is_contained(roms, *format))
      roms.push_back(*format);
  }
  if (emit != EmitKind::Bin && !roms.empty()) {
    errs() << "flightllm-compile: error: --rom applies to --emit=bin\n";
    return 1;
  }
  if (batch < 1 || batch > flightllm::binary::kMaxDecodeBatch) {
    errs() << "flightllm-compile: error: --batch=" << batch << ": expected 1 to "
           << flightllm::binary::kMaxDecodeBatch
           << " (the ISA's per-sequence registers)\n";
    return 1;
  }
  if (kvSlots < 1 || kvSlots > flightllm::binary::kMaxKVSlots) {
    errs() << "flightllm-compile: error: --kv-slots=" << kvSlots
           << ": expected 1 to " << flightllm::binary::kMaxKVSlots << "\n";
    return 1;
  }
  if (emit != EmitKind::Bin && emit != EmitKind::LLM &&
      emit != EmitKind::OffloadPlan && !reportFile.empty()) {
    errs() << "flightllm-compile: error: --report applies to --emit=bin, "
              "--emit=llm and --emit=offload-plan\n";
    return 1;
  }
  if (planWeightBits != 8 && planWeightBits != 4) {
    errs() << "flightllm-compile: error: --plan-weight-bits=" << planWeightBits
           << ": expected 8 or 4\n";
    return 1;
  }
  if ((planEmitted || planWeightBits.getNumOccurrences()) &&
      emit != EmitKind::OffloadPlan) {
    errs() << "flightllm-compile: error: --plan-emitted and "
              "--plan-weight-bits apply to --emit=offload-plan\n";
    return 1;
  }
  if (!offload.empty() && emit != EmitKind::Bin &&
      emit != EmitKind::OffloadPlan) {
    errs() << "flightllm-compile: error: --offload applies to "
                    "--emit=bin and --emit=offload-plan\n";
    return 1;
  }
  if (offload != "auto" && !offload.empty())
    if (auto placement = flightllm::offload::parsePlacement(offload);
        !placement) {
      errs() << "flightllm-compile: error: --offload: "
                   << llvm::toString(placement.takeError()) << "\n";
      return 1;
    }

  // Every output is written to a temporary file and renamed into place only
  // when the whole command succeeded; no output may name an input.
  OutputFiles files;
  if (llvm::Error e = files.addInput(inputFilename, "the model"))
    return fail(std::move(e));
  if (inputFilename != "-")
    for (const char *side :
         {"tokenizer.json", "config.json", "generation_config.json"})
      if (llvm::Error e = files.addInput(modelInputs->source.dir + "/" + side,
                                         "the model's " + std::string(side)))
        return fail(std::move(e));
  if (!calibrationFile.empty() && !noCalibration())
    if (llvm::Error e = files.addInput(calibrationFile, "--calibration"))
      return fail(std::move(e));
  if (!llvm::is_contained(flightllm::target::presetNames(), targetName))
    if (llvm::Error e = files.addInput(targetName, "--target"))
      return fail(std::move(e));
  if (!systemName.empty() &&
      !llvm::is_contained(flightllm::system::systemPresetNames(), systemName))
    if (llvm::Error e = files.addInput(systemName, "--system"))
      return fail(std::move(e));

  // --emit=bin writes the binary and prints the report to stdout; without -o
  // the binary goes to the working directory, named after the model.
  std::string mainPath = outputFilename;
  if (emit == EmitKind::Bin &&
      (outputFilename.getNumOccurrences() == 0 || mainPath == "-")) {
    mainPath = modelInputs->outputStem + ".flb";
  }
  llvm::Expected<llvm::raw_pwrite_stream &> mainStream =
      files.addOutput(mainPath, "-o");
  if (!mainStream)
    return fail(mainStream.takeError());
  CompileOutputs outputs{files, *mainStream, nullptr, mainPath, roms};
  if (!reportFile.empty()) {
    llvm::Expected<llvm::raw_pwrite_stream &> report =
        files.addOutput(reportFile, "--report");
    if (!report)
      return fail(report.takeError());
    outputs.report = &*report;
  }

  DialectRegistry registry;
  flightllm::registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  std::string error;
  llvm::SmallString<256> baseDir(
      inputFilename == "-" ? std::string(".") : inputFilename.getValue());
  llvm::sys::path::remove_filename(baseDir);
  if (baseDir.empty())
    baseDir = ".";

  llvm::SourceMgr sourceMgr;
  LogicalResult result = failure();
  if (verifyDiagnostics) {
    // The expected-* comments live in the (text) model, so it is loaded here.
    auto file = openInputFile(inputFilename, &error);
    if (!file) {
      errs() << "flightllm-compile: error: " << error << "\n";
      return 1;
    }
    const llvm::MemoryBuffer *input = file.get();
    sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
    context.printOpOnDiagnostic(false);
    SourceMgrDiagnosticVerifierHandler handler(sourceMgr, &context, errs());
    (void)compile(context, input, baseDir, outputs);
    result = handler.verify();
  } else {
    // Binary models are streamed by the importer; text lines shown in
    // diagnostics are loaded by the handler on demand. Locations name the
    // ONNX node; dumping the op (for an error at @forward, the whole
    // program with its weights) would only bury the message.
    context.printOpOnDiagnostic(false);
    SourceMgrDiagnosticHandler handler(sourceMgr, &context, errs());
    flightllm::NodeDiagnosticHandler nodeHandler(&context, inputFilename,
                                                 errs());
    // In process, the first error is also kept with its location; the
    // handlers above still print it.
    ScopedDiagnosticHandler recorder(&context, [](Diagnostic &diag) {
      if (firstErrorRecord && !*firstErrorRecord &&
          diag.getSeverity() == DiagnosticSeverity::Error)
        *firstErrorRecord = flightllm::driver::DiagnosticRecord{
            diag.str(), describeLocation(diag.getLocation())};
      return failure();
    });
    result = compile(context, nullptr, baseDir, outputs);
  }
  if (failed(result))
    return 1;
  if (llvm::Error e = files.commit())
    return fail(std::move(e));
  return 0;
}

cl::OptionCategory &flightllm::driver::compileOptionCategory() {
  return category;
}

int flightllm::driver::compileMain(int argc, char **argv) {
  // The pass manager's own options apply to the bucket pipeline's passes
  // (hidden from --help like LLVM's; --help-hidden lists them).
  // --mlir-print-ir-after=PASS names a pass registered before the option.
  flightllm::flight::registerFlightTransformsPasses();
  registerPassManagerCLOptions();
  passManagerOptionsRegistered = true;
  cl::HideUnrelatedOptions({&category, &compressionCategory});
  cl::AddExtraVersionPrinter([](llvm::raw_ostream &os) {
    os << "FlightLLM " << FLIGHTLLM_VERSION << " (ONNX opsets "
       << flightllm::kMinONNXOpset << "-" << flightllm::kMaxONNXOpset
       << ")\n";
  });
  cl::ParseCommandLineOptions(
      argc, argv,
      "FlightLLM compiler: ONNX decoder-only LLMs to FlightLLM accelerator "
      "binaries\n");
  return runParsedCommand();
}

/// cl::ParseCommandLineOptions without exiting, its messages into
/// `messages`: a bad option value is reported by the option itself, on
/// llvm::errs() (fd 2), which is pointed at a temporary file meanwhile.
static bool parseCapturingStderr(std::vector<const char *> &argv,
                                 llvm::raw_ostream &messages) {
  llvm::SmallString<128> path;
  int fd = -1;
  int savedStderr = -1;
  if (!llvm::sys::fs::createTemporaryFile("flightllm-compile-args", "txt", fd,
                                          path)) {
    llvm::errs().flush();
    savedStderr = ::dup(2);
    ::dup2(fd, 2);
  }
  bool ok = cl::ParseCommandLineOptions(int(argv.size()), argv.data(), "",
                                        &messages);
  if (savedStderr >= 0) {
    llvm::errs().flush();
    ::dup2(savedStderr, 2);
    ::close(savedStderr);
    ::close(fd);
    if (auto text = llvm::MemoryBuffer::getFile(path))
      messages << (*text)->getBuffer();
    llvm::sys::fs::remove(path);
  }
  return ok;
}

flightllm::driver::CompileInvocation
flightllm::driver::compileInProcess(llvm::ArrayRef<std::string> args) {
  // The options are process-wide: one compile at a time.
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  CompileInvocation result;
  llvm::raw_string_ostream messages(result.diagnostics);
  std::string reportText;
  llvm::raw_string_ostream report(reportText);
  errorStream = &messages;
  outputStream = &report;
  firstErrorRecord = &result.firstError;
  std::vector<const char *> argv{"flightllm-compile"};
  for (const std::string &arg : args)
    argv.push_back(arg.c_str());
  cl::ResetAllOptionOccurrences();
  if (!parseCapturingStderr(argv, messages))
    result.status = 1;
  else
    result.status = runParsedCommand();
  errorStream = &llvm::errs();
  outputStream = &llvm::outs();
  firstErrorRecord = nullptr;
  result.reportText = std::move(reportText);
  return result;
}

std::vector<flightllm::driver::OptionInfo> flightllm::driver::compileOptions() {
  std::vector<OptionInfo> table;
  for (auto &entry : cl::getRegisteredOptions()) {
    cl::Option *option = entry.second;
    if (!llvm::is_contained(option->Categories, &category) &&
        !llvm::is_contained(option->Categories, &compressionCategory))
      continue;
    OptionInfo info;
    info.name = option->ArgStr.str();
    info.help = option->HelpStr.str();
    if (option->getFormattingFlag() == cl::Positional || info.name.empty())
      info.valueKind = "positional";
    else if (option->getValueExpectedFlag() == cl::ValueDisallowed ||
             option->getValueExpectedFlag() == cl::ValueOptional)
      info.valueKind = "bool";
    else if (option->getNumOccurrencesFlag() == cl::ZeroOrMore ||
             option->getNumOccurrencesFlag() == cl::OneOrMore)
      info.valueKind = "list";
    else
      info.valueKind = "value";
    table.push_back(std::move(info));
  }
  llvm::sort(table, [](const OptionInfo &a, const OptionInfo &b) {
    return a.name < b.name;
  });
  return table;
}
