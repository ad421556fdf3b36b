//===- flightllm-compile.cpp - The FlightLLM compiler driver --------------===//
//
// The front door: reads an ONNX model and emits the requested stage.
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

#include "flightllm/Conversion/LLMToFlight/LLMToFlight.h"
#include "flightllm/Conversion/ONNXToLLM/Passes.h"
#include "flightllm/Dialect/Flight/Encoding.h"
#include "flightllm/Target/TargetDescription.h"
#include "flightllm/Dialect/LLM/Transforms/Passes.h"
#include "flightllm/Import/ModelSummary.h"
#include "flightllm/Import/NodeDiagnostics.h"
#include "flightllm/Import/ONNXImporter.h"
#include "flightllm/InitAll.h"
#include "flightllm/Support/OutputFiles.h"
#include "flightllm/Version.h"

#include "ModelInputs.h"

#include "mlir/IR/AsmState.h"

#include <chrono>
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/ToolUtilities.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;
using flightllm::OutputFiles;
namespace cl = llvm::cl;

namespace {

cl::OptionCategory category("flightllm-compile options");

enum class EmitKind { ONNX, LLM, Summary, Flight, Bin };

cl::opt<std::string> inputFilename(cl::Positional,
                                   cl::desc("<model.onnx | export directory>"),
                                   cl::Required, cl::cat(category));

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
                          "a human-readable summary of the model")),
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

cl::opt<bool> printTiming(
    "timing", cl::desc("Print the wall time of each compilation phase to stderr"),
    cl::init(false), cl::cat(category));

/// The steps of the accelerator pipeline --stop-after may name, in order.
const char *const kPipelineSteps[] = {"onnx-to-llm", "llm-quantize-weights",
                                      "llm-calibrate", "convert-llm-to-flight",
                                      "flight-insert-tokens"};

cl::opt<std::string> stopAfter(
    "stop-after-pass",
    cl::desc("With --emit=flight: print the IR after this step of the "
             "pipeline: onnx-to-llm, llm-quantize-weights, llm-calibrate, "
             "convert-llm-to-flight (streams annotated with their accesses, "
             "before the dependency tokens) or flight-insert-tokens (the "
             "default)"),
    cl::value_desc("step"), cl::init("flight-insert-tokens"), cl::cat(category));

cl::opt<bool> quietReport("quiet", cl::desc("Do not print the compile report"),
                          cl::init(false), cl::cat(category));

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
      llvm::errs() << "timing: " << phase << " "
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

/// Quantizes and calibrates the raised program as the accelerator runs it:
/// INT8 weights per output channel, INT8 activations per token, INT8 KV
/// cache with calibrated per-channel scales.
static void addAcceleratorQuantization(PassManager &pm, bool calibrate = true) {
  pm.addPass(flightllm::llm::createQuantizeWeightsPass());
  if (!calibrate)
    return;
  flightllm::llm::CalibratePassOptions options;
  if (calibrationIds)
    options.tokens.assign(calibrationIds->begin(), calibrationIds->end());
  else
    options.textFile = calibrationFile;
  options.maxTokens = calibrationTokens;
  pm.addPass(flightllm::llm::createCalibratePass(options));
}

static bool noCalibration() { return calibrationFile == "none"; }

/// Lowers the llm program for --emit=flight and --emit=bin.
static FailureOr<flightllm::lowering::LoweredModel>
lowerModule(ModuleOp module, const flightllm::target::TargetDescription &target,
            bool insertTokens = true) {
  flightllm::lowering::LoweringOptions options;
  options.insertTokens = insertTokens;
  options.maxContext = maxContext;
  options.prefillBucket = prefillBucket;
  options.decodeBucket = decodeBucket;
  options.runnable = emit == EmitKind::Bin;
  if (noCalibration())
    options.uncalibratedKVRange = 8.0f;
  if (llvm::Error e = flightllm::lowering::parseBucketList(
          std::vector<std::string>(bucketFilter.begin(), bucketFilter.end()),
          options)) {
    llvm::errs() << "flightllm-compile: error: --buckets: "
                 << llvm::toString(std::move(e)) << "\n";
    return failure();
  }
  return flightllm::lowering::lowerToFlight(module, target, options);
}

/// The streams as flight IR: one flight.stream per bucket, and what else the
/// binary holds (the tokenizer section included) in module attributes.
static LogicalResult printFlight(const flightllm::lowering::LoweredModel &model,
                                 const flightllm::target::TargetDescription &target,
                                 MLIRContext &context, llvm::raw_ostream &os) {
  llvm::Expected<std::vector<uint8_t>> tokenizerSection =
      flightllm::tokenizerSectionFor(*modelInputs, model.metadata.vocabSize);
  if (!tokenizerSection) {
    llvm::errs() << "flightllm-compile: error: "
                 << llvm::toString(tokenizerSection.takeError()) << "\n";
    return failure();
  }
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> out = ModuleOp::create(b.getUnknownLoc());
  b.setInsertionPointToEnd(out->getBody());
  if (failed(flightllm::lowering::buildFlightStreams(model, b, b.getUnknownLoc())))
    return failure();
  flightllm::lowering::attachBinaryData(model, target.fingerprint(), *out,
                                        *tokenizerSection);
  OpPrintingFlags flags;
  if (elideWeights)
    flags.elideLargeResourceString(64);
  out->print(os, flags);
  os << "\n";
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

/// Imports the model (from `input` when given, else from the file) and emits
/// the requested stage into `out`.
static LogicalResult compile(MLIRContext &context,
                             const llvm::MemoryBuffer *input,
                             llvm::StringRef baseDir, CompileOutputs &out) {
  std::optional<flightllm::target::TargetDescription> target;
  if (emit == EmitKind::Flight || emit == EmitKind::Bin) {
    auto t = flightllm::target::loadTarget(targetName);
    if (!t) {
      llvm::errs() << "flightllm-compile: error: --target: "
                   << llvm::toString(t.takeError()) << "\n";
      return failure();
    }
    target = *t;
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
      llvm::errs() << "flightllm-compile: error: " << llvm::toString(std::move(e))
                   << "\n";
      return failure();
    }
  timer.done("import");
  if (emit != EmitKind::ONNX && emit != EmitKind::Summary) {
    PassManager pm(&context);
    flightllm::ONNXToLLMOptions raising;
    raising.verifyRaising = !noVerifyRaising;
    flightllm::buildONNXToLLMPipeline(pm, raising);
    bool accelerator = emit == EmitKind::Flight || emit == EmitKind::Bin;
    // --stop-after-pass: the llm steps run up to the one named.
    bool quantizeWeights = stopAfter != "onnx-to-llm";
    bool calibrate = quantizeWeights && stopAfter != "llm-quantize-weights";
    if (quantizeWeights &&
        (quantize == Quantization::W8A8 || (accelerator && !noCalibration())))
      addAcceleratorQuantization(pm, calibrate);
    if (failed(pm.run(*module)))
      return failure();
    timer.done("raise and quantize");
  }
  llvm::raw_ostream &os = out.main;
  bool llmStep = emit == EmitKind::Flight &&
                 llvm::is_contained(llvm::ArrayRef(kPipelineSteps).take_front(3),
                                    StringRef(stopAfter));
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
    return success();
  }
  case EmitKind::Summary:
    os << "model " << inputFilename << ": ";
    flightllm::printModelSummary(*module, os);
    return success();
  case EmitKind::Flight: {
    auto model = lowerModule(*module, *target,
                             /*insertTokens=*/stopAfter != "convert-llm-to-flight");
    if (failed(model))
      return failure();
    return printFlight(*model, *target, context, os);
  }
  case EmitKind::Bin: {
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
      llvm::errs() << "timing: dependency tokens visited " << work
                   << " tracked ranges for " << instructions << " instructions ("
                   << llvm::format("%.2f", instructions ? double(work) / instructions : 0.0)
                   << " per instruction)\n";
    }
    // The source module (and its weights) is not needed any more.
    module = nullptr;
    llvm::Expected<std::vector<uint8_t>> tokenizerSection =
        flightllm::tokenizerSectionFor(*modelInputs, model->metadata.vocabSize);
    if (!tokenizerSection) {
      llvm::errs() << "flightllm-compile: error: "
                   << llvm::toString(tokenizerSection.takeError()) << "\n";
      return failure();
    }
    if (llvm::Error e = flightllm::lowering::writeBinary(
            *model, target->fingerprint(), out.main, *tokenizerSection)) {
      llvm::errs() << "flightllm-compile: error: " << out.binaryPath << ": "
                   << llvm::toString(std::move(e)) << "\n";
      return failure();
    }
    timer.done("write");
    if (llvm::Error e = flightllm::lowering::writeStreamRoms(
            *model, out.binaryPath, out.roms, out.files)) {
      llvm::errs() << "flightllm-compile: error: --rom: "
                   << llvm::toString(std::move(e)) << "\n";
      return failure();
    }
    if (out.report)
      flightllm::lowering::printReportJSON(*model, *target, *out.report);
    if (!quietReport)
      flightllm::lowering::printReport(*model, *target, llvm::outs());
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
  llvm::errs() << "flightllm-compile: error: " << llvm::toString(std::move(e))
               << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::AddExtraVersionPrinter([](llvm::raw_ostream &os) {
    os << "FlightLLM " << FLIGHTLLM_VERSION << " (ONNX opsets "
       << flightllm::kMinONNXOpset << "-" << flightllm::kMaxONNXOpset
       << ")\n";
  });
  cl::ParseCommandLineOptions(
      argc, argv,
      "FlightLLM compiler: ONNX decoder-only LLMs to FlightLLM accelerator "
      "binaries\n");
  if (quantize != Quantization::None && emit != EmitKind::LLM) {
    llvm::errs() << "flightllm-compile: error: --quantize applies to "
                    "--emit=llm (the binary is always W8A8)\n";
    return 1;
  }
  if (stopAfter.getNumOccurrences()) {
    if (emit != EmitKind::Flight) {
      llvm::errs() << "flightllm-compile: error: --stop-after-pass applies to "
                      "--emit=flight\n";
      return 1;
    }
    if (!llvm::is_contained(kPipelineSteps, StringRef(stopAfter))) {
      llvm::errs() << "flightllm-compile: error: --stop-after-pass: unknown step '"
                   << stopAfter << "' (the steps: "
                   << llvm::join(llvm::ArrayRef(kPipelineSteps), ", ") << ")\n";
      return 1;
    }
    if ((stopAfter == "llm-quantize-weights" || stopAfter == "llm-calibrate") &&
        noCalibration()) {
      // The lowering then quantizes the float weights itself.
      llvm::errs() << "flightllm-compile: error: --stop-after-pass=" << stopAfter
                   << ": --calibration=none skips that step\n";
      return 1;
    }
  }
  if (noCalibration() && emit == EmitKind::LLM) {
    llvm::errs() << "flightllm-compile: error: --calibration=none applies to "
                    "--emit=bin and --emit=flight\n";
    return 1;
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
    llvm::errs() << "flightllm-compile: error: "
                 << llvm::toString(inputs.takeError()) << "\n";
    return 1;
  }
  modelInputs = std::move(*inputs);
  inputFilename.setValue(modelInputs->source.graphPath);
  if (printTiming)
    flightllm::printModelInputs(*modelInputs, llvm::errs());
  unsigned contextLimit = maxContext;
  if (llvm::Error e = flightllm::boundContextByConfig(*modelInputs, contextLimit)) {
    llvm::errs() << "flightllm-compile: error: " << llvm::toString(std::move(e))
                 << "\n";
    return 1;
  }
  maxContext.setValue(contextLimit);
  if (modelInputs->tokenizer && !calibrationFile.empty() && !noCalibration()) {
    auto ids = flightllm::tokenizeCalibrationText(*modelInputs, calibrationFile);
    if (!ids) {
      llvm::errs() << "flightllm-compile: error: --calibration: "
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
      llvm::errs() << "flightllm-compile: error: --rom: unknown ROM format '"
                   << name << "' (bin, coe, mem, h)\n";
      return 1;
    }
    if (!llvm::is_contained(roms, *format))
      roms.push_back(*format);
  }
  if (emit != EmitKind::Bin && (!roms.empty() || !reportFile.empty())) {
    llvm::errs() << "flightllm-compile: error: --rom and --report apply to "
                    "--emit=bin\n";
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
      llvm::errs() << "flightllm-compile: error: " << error << "\n";
      return 1;
    }
    const llvm::MemoryBuffer *input = file.get();
    sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
    context.printOpOnDiagnostic(false);
    SourceMgrDiagnosticVerifierHandler handler(sourceMgr, &context);
    (void)compile(context, input, baseDir, outputs);
    result = handler.verify();
  } else {
    // Binary models are streamed by the importer; text lines shown in
    // diagnostics are loaded by the handler on demand. Locations name the
    // ONNX node; dumping the op (for an error at @forward, the whole
    // program with its weights) would only bury the message.
    context.printOpOnDiagnostic(false);
    SourceMgrDiagnosticHandler handler(sourceMgr, &context);
    flightllm::NodeDiagnosticHandler nodeHandler(&context, inputFilename);
    result = compile(context, nullptr, baseDir, outputs);
  }
  if (failed(result))
    return 1;
  if (llvm::Error e = files.commit())
    return fail(std::move(e));
  return 0;
}
