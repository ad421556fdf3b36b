//===- InitAll.cpp - Register every FlightLLM dialect and pass ------------===//

#include "flightllm/InitAll.h"

#include "flightllm/Conversion/LLMToFlight/Passes.h"
#include "flightllm/Conversion/ONNXToLLM/Passes.h"

#include "flightllm/Dialect/Flight/FlightDialect.h"
#include "flightllm/Dialect/Flight/Transforms/Passes.h"
#include "flightllm/Dialect/LLM/LLMDialect.h"
#include "flightllm/Dialect/LLM/Transforms/Passes.h"
#include "flightllm/Dialect/ONNX/ONNXDialect.h"
#include "flightllm/Dialect/ONNX/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Transforms/Passes.h"

void flightllm::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<mlir::func::FuncDialect, mlir::tensor::TensorDialect,
                  onnxir::ONNXDialect, llm::LLMDialect, flight::FlightDialect>();
}

void flightllm::registerAllPasses() {
  // Upstream cleanups are useful between our passes in lit tests.
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerSymbolDCEPass();
  onnxir::registerONNXTransformsPasses();
  registerONNXToLLMPipeline();
  llm::registerLLMTransformsPasses();
  flight::registerFlightTransformsPasses();
  registerLLMToFlightPasses();
}
