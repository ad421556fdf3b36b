//===- flightllm-opt.cpp - mlir-opt with every FlightLLM dialect and pass -===//
//
// mlir-opt's driver, except that -o goes through OutputFiles: the output is
// renamed into place only when the run succeeded, and never over the input.
//===----------------------------------------------------------------------===//

#include "flightllm/InitAll.h"
#include "flightllm/Support/OutputFiles.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"

static int fail(const llvm::Twine &message) {
  llvm::errs() << "flightllm-opt: error: " << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::DialectRegistry registry;
  flightllm::registerAllDialects(registry);
  flightllm::registerAllPasses();
  auto [inputFilename, outputFilename] = mlir::registerAndParseCLIOptions(
      argc, argv, "FlightLLM optimizer driver\n", registry);
  mlir::MlirOptMainConfig config =
      mlir::MlirOptMainConfig::createFromCLOptions();
  // Listing dialects or passes writes no file.
  if (config.shouldShowDialects() || config.shouldListPasses())
    return mlir::asMainReturnCode(
        mlir::MlirOptMain(argc, argv, inputFilename, outputFilename, registry));

  flightllm::OutputFiles files;
  llvm::Expected<llvm::raw_pwrite_stream &> os =
      files.addInputAndOutput(inputFilename, outputFilename);
  if (!os)
    return fail(llvm::toString(os.takeError()));
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input =
      mlir::openInputFile(inputFilename, &error);
  if (!input)
    return fail(error);
  if (failed(mlir::MlirOptMain(*os, std::move(input), registry, config)))
    return 1;
  if (llvm::Error e = files.commit())
    return fail(llvm::toString(std::move(e)));
  return 0;
}
