//===- onnx-proto-raise.cpp - Fuzz: ONNX protobuf -> onnx -> llm ----------===//
//
// flightllm-compile MODEL.onnx --emit=llm, in process: the binary protobuf
// importer (with the fuzzers' memory budget) and the raising pipeline
// (normalization, the raisers and the raising's verification against the
// ONNX graph on the evaluator).
//===----------------------------------------------------------------------===//

#include "FuzzSupport.h"

#include "flightllm/Conversion/ONNXToLLM/Passes.h"

#include "mlir/Pass/PassManager.h"

using namespace flightllm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > fuzz::kMaxModelBytes)
    return -1;
  fuzz::FuzzContext fc;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      fuzz::importModel(data, size, fc, ONNXInputFormat::Binary);
  if (!module)
    return 0;
  mlir::PassManager pm(&fc.context);
  buildONNXToLLMPipeline(pm);
  (void)pm.run(*module);
  return 0;
}
