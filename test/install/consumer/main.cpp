//===- main.cpp - Uses an installed FlightLLM -----------------------------===//
//
// Registers the FlightLLM dialects through flightllm/InitAll.h, parses a module
// with onnx and flight ops, verifies it and prints it.
//
//===----------------------------------------------------------------------===//

#include "flightllm/Dialect/Flight/FlightDialect.h"
#include "flightllm/InitAll.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include "llvm/Support/raw_ostream.h"

static constexpr const char *kSource = R"mlir(
func.func @add(%a: tensor<2x4xf32>, %b: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %0 = "onnx.Add"(%a, %b) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}
func.func @buffers() {
  %0 = flight.alloc act offset 128 : !flight.buffer<16x128xi8, act>
  flight.sync
  return
}
)mlir";

int main() {
  mlir::DialectRegistry registry;
  flightllm::registerAllDialects(registry);
  mlir::MLIRContext context(registry);

  llvm::outs() << "FlightLLM dialects:";
  for (llvm::StringRef name : registry.getDialectNames())
    if (name == "onnx" || name == "llm" || name == "flight")
      llvm::outs() << ' ' << name;
  llvm::outs() << '\n';

  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(kSource, &context);
  if (!module || mlir::failed(mlir::verify(*module))) {
    llvm::errs() << "failed to parse or verify the module\n";
    return 1;
  }
  module->print(llvm::outs());

  auto buffer = flightllm::flight::BufferType::get(
      {16, 128}, mlir::IntegerType::get(&context, 8),
      flightllm::flight::MemorySpace::Act);
  llvm::outs() << "buffer bits: " << buffer.getSizeInBits() << '\n';
  return 0;
}
