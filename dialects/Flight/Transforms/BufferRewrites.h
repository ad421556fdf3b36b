//===- BufferRewrites.h - Lifetimes for buffer-level rewrites -*- C++ -*-===//
//
// What the fusions on the buffer level (flight-fuse-swiglu,
// flight-share-quantize, flight-fuse-in-place) need to know about a buffer:
// which ops write or read it, where its lifetime ends, and how to make two
// buffers one. A buffer is a flight.buf_alloc result; its lifetime runs to
// its flight.buf_dealloc.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DIALECTS_FLIGHT_TRANSFORMS_BUFFERREWRITES_H
#define FLIGHTLLM_DIALECTS_FLIGHT_TRANSFORMS_BUFFERREWRITES_H

#include "flightllm/Dialect/Flight/FlightDialect.h"

#include "mlir/Support/LogicalResult.h"

namespace flightllm::flight {

/// Whether `op` writes rows of `buffer` (a MISC, MM or MV output, a load's
/// destination, an exchange).
bool writesBuffer(mlir::Operation *op, mlir::Value buffer);

/// The ancestor of `op` in `block` (op itself, or the op whose region holds
/// it); null when `op` is not inside `block`.
mlir::Operation *ancestorIn(mlir::Block *block, mlir::Operation *op);

/// The uses of `buffer` by ops after `op` in op's block (nested ops count at
/// their ancestor in the block), deallocs included.
llvm::SmallVector<mlir::Operation *> usersAfter(mlir::Value buffer,
                                                mlir::Operation *op);

/// The flight.buf_dealloc ops of `buffer`, in program order.
llvm::SmallVector<BufDeallocOp> deallocsOf(mlir::Value buffer);

/// Makes `drop` (a flight.buf_alloc result) the same buffer as `keep`:
/// every use of `drop` uses `keep`, drop's alloc goes, and of the deallocs
/// both had only the last one in program order stays (the merged buffer
/// lives as long as the longer-lived of the two). With `keepAlive`, or
/// when either has no dealloc, no dealloc stays (the buffer outlives the
/// block, like a layer's input).
void mergeBuffers(mlir::Value keep, mlir::Value drop, bool keepAlive = false);

/// Whether `later` computes what `earlier` already holds: both MISC
/// quantize_dynamic of the same rows (operand, rows, steps, k) into buffers
/// of one type that only they write, `earlier` not in place, and nothing
/// between them writes the source or earlier's buffer.
bool sameQuantization(BufMiscOp earlier, BufMiscOp later);

/// One quantized copy for both: `later` goes and its readers read
/// `earlier`'s buffer, which lives until the last of their lifetimes.
/// Requires sameQuantization(earlier, later).
void shareQuantization(BufMiscOp earlier, BufMiscOp later);

/// The precondition of every lifetime rewrite: each flight.buf_alloc of the
/// bucket has at most one flight.buf_dealloc, in the alloc's block, and no
/// use after it. An error at the offending op otherwise.
mlir::LogicalResult checkBufferLifetimes(BucketOp bucket,
                                         llvm::StringRef pass);

} // namespace flightllm::flight

#endif
