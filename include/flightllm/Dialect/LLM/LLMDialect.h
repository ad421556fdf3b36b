//===- LLMDialect.h - The llm dialect ---------------------------*- C++ -*-===//
//
// Everything a pass needs to build or match llm ops: the dialect, the rope
// style enum and attribute, and the op classes.
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DIALECT_LLM_LLMDIALECT_H
#define FLIGHTLLM_DIALECT_LLM_LLMDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "flightllm/Dialect/LLM/LLMOpsDialect.h.inc"

#include "flightllm/Dialect/LLM/LLMEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "flightllm/Dialect/LLM/LLMAttrs.h.inc"

#define GET_OP_CLASSES
#include "flightllm/Dialect/LLM/LLMOps.h.inc"

#endif // FLIGHTLLM_DIALECT_LLM_LLMDIALECT_H
