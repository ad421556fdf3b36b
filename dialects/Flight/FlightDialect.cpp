//===- FlightDialect.cpp - The flight dialect -----------------------------------===//

#include "flightllm/Dialect/Flight/FlightDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace flightllm::flight;

#include "flightllm/Dialect/Flight/FlightOpsDialect.cpp.inc"

void FlightDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "flightllm/Dialect/Flight/FlightOps.cpp.inc"
      >();
}

#define GET_OP_CLASSES
#include "flightllm/Dialect/Flight/FlightOps.cpp.inc"
