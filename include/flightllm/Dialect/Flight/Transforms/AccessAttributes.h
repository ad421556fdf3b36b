//===- AccessAttributes.h - What an addressed instruction accesses -*- C++ -*-===//
//
// Addressed instructions before flight-insert-tokens carry what they read
// and write as discardable attributes: `flight.reads` and `flight.writes`
// (arrays of #flight.rows) and `flight.hbm_read` / `flight.hbm_write`
// (#flight.offchip). These functions convert between them and the tracker's
// Access.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DIALECT_FLIGHT_TRANSFORMS_ACCESSATTRIBUTES_H
#define FLIGHTLLM_DIALECT_FLIGHT_TRANSFORMS_ACCESSATTRIBUTES_H

#include "flightllm/Dialect/Flight/FlightDialect.h"
#include "flightllm/Dialect/Flight/Transforms/DependencyTokens.h"

#include "mlir/IR/Operation.h"

namespace flightllm::flight {

constexpr llvm::StringLiteral kReadsAttr = "flight.reads";
constexpr llvm::StringLiteral kWritesAttr = "flight.writes";
constexpr llvm::StringLiteral kHbmReadAttr = "flight.hbm_read";
constexpr llvm::StringLiteral kHbmWriteAttr = "flight.hbm_write";

/// Sets the access attributes of `op` (empty parts are left out).
void setAccessAttributes(mlir::Operation *op, const Access &access);
/// Whether `op` has any access attribute.
bool hasAccessAttributes(mlir::Operation *op);
/// Removes the access attributes of `op`.
void removeAccessAttributes(mlir::Operation *op);
/// The access `op`'s attributes describe; reports malformed attributes at
/// `op`.
mlir::FailureOr<Access> getAccessAttributes(mlir::Operation *op);

} // namespace flightllm::flight

#endif // FLIGHTLLM_DIALECT_FLIGHT_TRANSFORMS_ACCESSATTRIBUTES_H
