//===- Passes.h - Raising the onnx dialect to the llm dialect ---*- C++ -*-===//

#ifndef FLIGHTLLM_CONVERSION_ONNXTOLLM_PASSES_H
#define FLIGHTLLM_CONVERSION_ONNXTOLLM_PASSES_H

#include "flightllm/Dialect/LLM/LLMDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace flightllm {

/// -llm-verify-raising's default budget, in GFLOP of host arithmetic (about
/// a minute of the reference kernels): every size of a model up to ~1B
/// parameters; a 7B model only at the smallest.
constexpr double kDefaultVerifyRaisingBudget = 100;

#define GEN_PASS_DECL
#include "flightllm/Conversion/ONNXToLLM/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "flightllm/Conversion/ONNXToLLM/Passes.h.inc"

struct ONNXToLLMOptions {
  /// Check the raised program against the ONNX graph numerically
  /// (-llm-verify-raising); off only to save the time on huge models.
  bool verifyRaising = true;
  /// Its cost budget in GFLOP (-llm-verify-raising's `budget`).
  double verifyRaisingBudget = kDefaultVerifyRaisingBudget;
};

/// The whole raising, from an imported ONNX graph to an llm program.
void buildONNXToLLMPipeline(mlir::OpPassManager &pm,
                            const ONNXToLLMOptions &options = {});

/// Registers the passes and the `onnx-to-llm` pipeline.
void registerONNXToLLMPipeline();

} // namespace flightllm

#endif // FLIGHTLLM_CONVERSION_ONNXTOLLM_PASSES_H
