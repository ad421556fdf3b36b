//===- LLMDialect.cpp - The llm dialect -----------------------------------===//

#include "flightllm/Dialect/LLM/LLMDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace flightllm::llm;

#include "flightllm/Dialect/LLM/LLMOpsDialect.cpp.inc"

void LLMDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "flightllm/Dialect/LLM/LLMOps.cpp.inc"
      >();
}

#define GET_OP_CLASSES
#include "flightllm/Dialect/LLM/LLMOps.cpp.inc"
