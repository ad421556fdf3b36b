//===- LLMToFlight.cpp - llm programs to accelerator streams --------------===//
//
// The driver: analyses the program (ModelStructure), chooses activation
// layouts and weight tiles, packs the HBM image (ParameterImage) and emits
// one stream per bucket (StreamLowering). docs/lowering.md.
//===----------------------------------------------------------------------===//

#include "flightllm/Conversion/LLMToFlight/LLMToFlight.h"

#include "Lowering.h"
#include "ModelStructure.h"

#include "flightllm/Dialect/LLM/LLMDialect.h"

#include "mlir/IR/BuiltinOps.h"

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
  ModelLowering lowering(module, *structure, target, options);
  return lowering.run();
}
