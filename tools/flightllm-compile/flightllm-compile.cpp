//===- flightllm-compile.cpp - The FlightLLM compiler driver --------------===//
//
// The front door: reads an ONNX model and emits the requested stage.
//
//   flightllm-compile MODEL.onnx --emit=onnx -o model.mlir
//   flightllm-compile MODEL.onnx --emit=summary
//
// On any error it prints diagnostics naming the place (ONNX node, file
// offset), exits non-zero and leaves no output file behind.
//===----------------------------------------------------------------------===//

#include "flightllm/Conversion/ONNXToLLM/Passes.h"
#include "flightllm/Dialect/LLM/Transforms/Passes.h"
#include "flightllm/Import/ModelSummary.h"
#include "flightllm/Import/NodeDiagnostics.h"
#include "flightllm/Import/ONNXImporter.h"
#include "flightllm/InitAll.h"
#include "flightllm/Version.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/ToolUtilities.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {

cl::OptionCategory category("flightllm-compile options");

enum class EmitKind { ONNX, LLM, Summary };

cl::opt<std::string> inputFilename(cl::Positional, cl::desc("<model.onnx>"),
                                   cl::Required, cl::cat(category));

cl::opt<std::string> outputFilename("o", cl::desc("Output file ('-' for stdout)"),
                                    cl::value_desc("file"), cl::init("-"),
                                    cl::cat(category));

cl::opt<EmitKind> emit(
    "emit", cl::desc("What to emit"), cl::init(EmitKind::ONNX),
    cl::values(clEnumValN(EmitKind::ONNX, "onnx",
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
    cl::desc("Calibration text for --quantize=w8a8 (bytes as tokens)"),
    cl::value_desc("file"), cl::cat(category));

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

/// Imports the model (from `input` when given, else from the file) and emits
/// the requested stage.
static LogicalResult compile(MLIRContext &context,
                             const llvm::MemoryBuffer *input,
                             llvm::StringRef baseDir, llvm::raw_ostream &os) {
  OwningOpRef<ModuleOp> module =
      input ? flightllm::importONNXBuffer(*input, baseDir, &context, {},
                                          inputFormat)
            : flightllm::importONNXFile(inputFilename, &context, {},
                                        inputFormat);
  if (!module)
    return failure();
  if (emit == EmitKind::LLM) {
    PassManager pm(&context);
    flightllm::buildONNXToLLMPipeline(pm);
    if (quantize == Quantization::W8A8) {
      pm.addPass(flightllm::llm::createQuantizeWeightsPass());
      flightllm::llm::CalibratePassOptions options;
      options.textFile = calibrationFile;
      pm.addPass(flightllm::llm::createCalibratePass(options));
    }
    if (failed(pm.run(*module)))
      return failure();
  }
  switch (emit) {
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
  }
  return failure();
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
  if (quantize == Quantization::W8A8 && calibrationFile.empty()) {
    llvm::errs() << "flightllm-compile: error: --quantize=w8a8 needs "
                    "--calibration=FILE\n";
    return 1;
  }
  if (quantize != Quantization::None && emit != EmitKind::LLM) {
    llvm::errs() << "flightllm-compile: error: --quantize applies to "
                    "--emit=llm\n";
    return 1;
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

  // The output is only kept when everything succeeded.
  auto output = openOutputFile(outputFilename, &error);
  if (!output) {
    llvm::errs() << "flightllm-compile: error: " << error << "\n";
    return 1;
  }

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
    (void)compile(context, input, baseDir, output->os());
    result = handler.verify();
  } else {
    // Binary models are streamed by the importer; text lines shown in
    // diagnostics are loaded by the handler on demand.
    SourceMgrDiagnosticHandler handler(sourceMgr, &context);
    flightllm::NodeDiagnosticHandler nodeHandler(&context, inputFilename);
    result = compile(context, nullptr, baseDir, output->os());
  }
  if (failed(result))
    return 1;
  output->keep();
  return 0;
}
