//===- LLMDialect.cpp - The llm dialect -----------------------------------===//

#include "flightllm/Dialect/LLM/LLMDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace flightllm::llm;

#include "flightllm/Dialect/LLM/LLMOpsDialect.cpp.inc"

#include "flightllm/Dialect/LLM/LLMEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "flightllm/Dialect/LLM/LLMAttrs.cpp.inc"

void LLMDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "flightllm/Dialect/LLM/LLMAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "flightllm/Dialect/LLM/LLMOps.cpp.inc"
      >();
}
