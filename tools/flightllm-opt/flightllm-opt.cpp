//===- flightllm-opt.cpp - mlir-opt with every FlightLLM dialect and pass -===//

#include "flightllm/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  flightllm::registerAllDialects(registry);
  flightllm::registerAllPasses();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "FlightLLM optimizer driver\n", registry));
}
