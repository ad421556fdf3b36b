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

/// Marks the ops of one attention stage for flight-schedule: array<i64:
/// attention, query head, stage (0 A, 1 B, 2 C, 3 D)>.
inline constexpr llvm::StringLiteral kAttentionStageAttr =
    "flight.attention_stage";

/// Multi-core buckets: the core (i64) that runs a buffer-level op; an op
/// without it runs on every core (docs/lowering.md, cores).
inline constexpr llvm::StringLiteral kCoreAttr = "flight.core";

/// flight-schedule on one bucket (what the pass runs; the lowering driver
/// calls it per bucket).
void scheduleBucket(BucketOp bucket, const SchedulePassOptions &options = {});

/// flight-fuse on one bucket (what the pass runs; the lowering driver calls
/// it per bucket).
void fuseBucket(BucketOp bucket, const FusePassOptions &options = {});

/// flight-share-layers on one bucket; `origins` are the B1 and B2 origins
/// (32-byte units, flight.bases), used when unrolling. Errors at the op.
mlir::LogicalResult shareLayers(BucketOp bucket,
                                const ShareLayersPassOptions &options,
                                llvm::ArrayRef<int64_t> origins);

} // namespace flightllm::flight

#endif // FLIGHTLLM_DIALECT_FLIGHT_TRANSFORMS_PASSES_H
