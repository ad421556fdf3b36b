//===- Passes.h - Transformations of flight programs ------------*- C++ -*-===//

#ifndef FLIGHTLLM_DIALECT_FLIGHT_TRANSFORMS_PASSES_H
#define FLIGHTLLM_DIALECT_FLIGHT_TRANSFORMS_PASSES_H

#include "flightllm/Dialect/Flight/FlightDialect.h"

#include "mlir/Pass/Pass.h"

namespace flightllm::flight {

#define GEN_PASS_DECL
#include "flightllm/Dialect/Flight/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "flightllm/Dialect/Flight/Transforms/Passes.h.inc"

/// flight-fuse on one bucket (what the pass runs; the lowering driver calls
/// it per bucket).
void fuseBucket(BucketOp bucket, const FusePassOptions &options = {});

} // namespace flightllm::flight

#endif // FLIGHTLLM_DIALECT_FLIGHT_TRANSFORMS_PASSES_H
