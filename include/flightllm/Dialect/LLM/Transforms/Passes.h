//===- Passes.h - Transformations of llm programs ---------------*- C++ -*-===//

#ifndef FLIGHTLLM_DIALECT_LLM_TRANSFORMS_PASSES_H
#define FLIGHTLLM_DIALECT_LLM_TRANSFORMS_PASSES_H

#include "flightllm/Dialect/LLM/LLMDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace flightllm::llm {

#define GEN_PASS_DECL
#include "flightllm/Dialect/LLM/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "flightllm/Dialect/LLM/Transforms/Passes.h.inc"

} // namespace flightllm::llm

#endif // FLIGHTLLM_DIALECT_LLM_TRANSFORMS_PASSES_H
