//===- InitAll.h - Register every FlightLLM dialect and pass ----*- C++ -*-===//

#ifndef FLIGHTLLM_INITALL_H
#define FLIGHTLLM_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace flightllm {

/// Adds the onnx, llm and flight dialects and the upstream dialects the
/// pipeline uses (func, ...) to `registry`.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Registers every FlightLLM pass and pass pipeline with the global registry
/// so that flightllm-opt can run them one by one.
void registerAllPasses();

} // namespace flightllm

#endif // FLIGHTLLM_INITALL_H
