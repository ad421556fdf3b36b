//===- FlightDialect.h - The flight dialect ---------------------*- C++ -*-===//
//
// The flight dialect: memory spaces, instruction queues, buffer types and the
// ops of the FlightLLM accelerator. Including this header gives all of them.
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DIALECT_FLIGHT_FLIGHTDIALECT_H
#define FLIGHTLLM_DIALECT_FLIGHT_FLIGHTDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "flightllm/Dialect/Flight/FlightOpsDialect.h.inc"

#include "flightllm/Dialect/Flight/FlightOpsEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "flightllm/Dialect/Flight/FlightOpsAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "flightllm/Dialect/Flight/FlightOpsTypes.h.inc"

#define GET_OP_CLASSES
#include "flightllm/Dialect/Flight/FlightOps.h.inc"

namespace flightllm::flight {

/// Whether `space` is an on-chip buffer (act, weight, meta, acc) rather than
/// off-chip memory (hbm, ddr).
constexpr bool isOnChip(MemorySpace space) {
  return space != MemorySpace::Hbm && space != MemorySpace::Ddr;
}

/// The byte alignment of buffer offsets in `space`: one buffer row on chip
/// (isa::kOnChipRowBytes), 32 off chip (one 256-bit HBM pseudo-channel beat).
constexpr int64_t getOffsetAlignment(MemorySpace space) {
  return isOnChip(space) ? 128 : 32;
}

/// The bit of `queue` in the 5-bit wait and release masks of an instruction.
constexpr uint32_t getQueueMaskBit(Queue queue) {
  return 1u << static_cast<uint32_t>(queue);
}

} // namespace flightllm::flight

#endif // FLIGHTLLM_DIALECT_FLIGHT_FLIGHTDIALECT_H
