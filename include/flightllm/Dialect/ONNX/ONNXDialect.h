//===- ONNXDialect.h - The onnx dialect -------------------------*- C++ -*-===//

#ifndef FLIGHTLLM_DIALECT_ONNX_ONNXDIALECT_H
#define FLIGHTLLM_DIALECT_ONNX_ONNXDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "flightllm/Dialect/ONNX/ONNXOpsDialect.h.inc"

#define GET_OP_CLASSES
#include "flightllm/Dialect/ONNX/ONNXOps.h.inc"

#endif // FLIGHTLLM_DIALECT_ONNX_ONNXDIALECT_H
