//===- FlightDialect.h - The flight dialect ---------------------------*- C++ -*-===//

#ifndef FLIGHTLLM_DIALECT_FLIGHT_FLIGHTDIALECT_H
#define FLIGHTLLM_DIALECT_FLIGHT_FLIGHTDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "flightllm/Dialect/Flight/FlightOpsDialect.h.inc"

#define GET_OP_CLASSES
#include "flightllm/Dialect/Flight/FlightOps.h.inc"

#endif // FLIGHTLLM_DIALECT_FLIGHT_FLIGHTDIALECT_H
