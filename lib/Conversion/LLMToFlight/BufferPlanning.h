//===- BufferPlanning.h - Buffer level to addressed instructions -*- C++ -*-===//
//
// flight-plan-buffers' algorithm on one flight.bucket: walks it in program
// order, gives every flight.buf_alloc its rows (OnChipAllocator: values
// first-fit, temporaries next-fit) and frees them at flight.buf_dealloc,
// and turns every op into the instruction it names with its addresses,
// recording what each reads and writes (for the dependency tokens).
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_LIB_CONVERSION_LLMTOFLIGHT_BUFFERPLANNING_H
#define FLIGHTLLM_LIB_CONVERSION_LLMTOFLIGHT_BUFFERPLANNING_H

#include "flightllm/Conversion/LLMToFlight/LLMToFlight.h"
#include "flightllm/Dialect/Flight/FlightDialect.h"

namespace flightllm::lowering {

/// Rows of the on-chip buffers the planner may use.
struct OnChipCapacity {
  uint32_t act = 0, weight = 0, meta = 0;
  static OnChipCapacity of(const target::TargetDescription &target);
};

/// Peak rows used per buffer.
struct OnChipPeaks {
  uint32_t act = 0, weight = 0, meta = 0;
};

/// Plans `bucket` into `info`: its name, stage and lengths, its words and
/// statistics, and either the dependency tokens (`insertTokens`) or every
/// instruction's accesses. Errors are emitted at the op that causes them.
/// `cores` streams (0: as many as the ops' flight.core attributes and
/// exchanges name), one buffer plan.
mlir::LogicalResult planBucket(flight::BucketOp bucket,
                               const OnChipCapacity &capacity,
                               bool insertTokens, StreamInfo &info,
                               OnChipPeaks &peaks, unsigned cores = 1);

/// An error at `at` unless the streams fit the target's instruction memory.
mlir::LogicalResult checkInstructionMemory(llvm::ArrayRef<StreamInfo> streams,
                                           const target::TargetDescription &target,
                                           mlir::Operation *at);

} // namespace flightllm::lowering

#endif
