//===- Passes.h - Lowering llm programs to flight streams -------*- C++ -*-===//

#ifndef FLIGHTLLM_CONVERSION_LLMTOFLIGHT_PASSES_H
#define FLIGHTLLM_CONVERSION_LLMTOFLIGHT_PASSES_H

#include "flightllm/Conversion/LLMToFlight/LLMToFlight.h"
#include "flightllm/Dialect/Flight/FlightDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <string>
#include <vector>

namespace flightllm {

#define GEN_PASS_DECL
#include "flightllm/Conversion/LLMToFlight/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "flightllm/Conversion/LLMToFlight/Passes.h.inc"

} // namespace flightllm

#endif
