//===- ONNXOps.td - The onnx dialect's operations ---------*- tablegen -*-===//

#ifndef FLIGHTLLM_DIALECT_ONNX_ONNXOPS_TD
#define FLIGHTLLM_DIALECT_ONNX_ONNXOPS_TD

include "flightllm/Dialect/ONNX/ONNXDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// Written at build time by flightllm-onnx-odsgen from the ONNX schemas.
include "flightllm/Dialect/ONNX/ONNXOps.gen.td"

#endif // FLIGHTLLM_DIALECT_ONNX_ONNXOPS_TD
