//===- Passes.h - Passes on the onnx dialect --------------------*- C++ -*-===//

#ifndef FLIGHTLLM_DIALECT_ONNX_TRANSFORMS_PASSES_H
#define FLIGHTLLM_DIALECT_ONNX_TRANSFORMS_PASSES_H

#include "flightllm/Dialect/ONNX/ONNXDialect.h"

#include "mlir/Pass/Pass.h"

namespace flightllm::onnxir {

#define GEN_PASS_DECL
#include "flightllm/Dialect/ONNX/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "flightllm/Dialect/ONNX/Transforms/Passes.h.inc"

} // namespace flightllm::onnxir

#endif // FLIGHTLLM_DIALECT_ONNX_TRANSFORMS_PASSES_H
