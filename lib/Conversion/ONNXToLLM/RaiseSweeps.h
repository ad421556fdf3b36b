//===- RaiseSweeps.h - One sweep of each raising step -----------*- C++ -*-===//
//
// Each step raises what is ready (its inputs already raised) and returns how
// many rewrites it made, so the pipeline can alternate them until nothing
// changes and each pass can run one sweep on its own in lit tests. Steps
// emit diagnostics and return failure only for structure they recognise but
// cannot raise.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_LIB_CONVERSION_ONNXTOLLM_RAISESWEEPS_H
#define FLIGHTLLM_LIB_CONVERSION_ONNXTOLLM_RAISESWEEPS_H

#include "RaiseContext.h"

#include "llvm/ADT/SetVector.h"

namespace flightllm::raising {

unsigned raiseEmbeddings(mlir::func::FuncOp func, const ModelInterface &model);
/// Fails (with a diagnostic) on shape plumbing it would drop but that does
/// not do what the raised op implies.
mlir::FailureOr<unsigned> raiseLinear(mlir::func::FuncOp func,
                                      const ModelInterface &model);
unsigned raiseElementwise(mlir::func::FuncOp func, const ModelInterface &model);
unsigned raiseNorms(mlir::func::FuncOp func, const ModelInterface &model);
unsigned raiseActivations(mlir::func::FuncOp func, const ModelInterface &model);
mlir::FailureOr<unsigned> raiseAttention(mlir::func::FuncOp func,
                                         const ModelInterface &model,
                                         bool reportFailures);

/// The body of a pass that runs one sweep: read the model interface, sweep,
/// and give the function the refined result types.
template <typename Sweep>
mlir::LogicalResult runOneSweep(mlir::func::FuncOp func, Sweep sweep) {
  auto model = ModelInterface::get(func);
  if (mlir::failed(model))
    return mlir::failure();
  eraseDeadOps(func); // Replaced subgraphs would look like live users.
  sweep(func, *model);
  eraseDeadOps(func);
  refreshFunctionType(func);
  return mlir::success();
}

/// The shared `llm.position_ids` with `offset`, created on first use.
mlir::Value getOrCreatePositionIds(mlir::OpBuilder &b, mlir::func::FuncOp func,
                                   const ModelInterface &model, int64_t offset);

/// A subgraph of onnx ops between raised values.
struct Subgraph {
  llvm::SetVector<mlir::Operation *> ops;
  /// Raised values and arguments the region reads (constants and
  /// shape-determined values are evaluated, not inputs).
  llvm::SetVector<mlir::Value> inputs;
  /// Subgraph values used outside it (by llm ops or the function's return).
  llvm::SetVector<mlir::Value> outputs;
};

/// The onnx ops reachable forward from `anchor` (not through `Shape`, which
/// reads no data) and everything they compute from, back to raised values,
/// arguments, constants and shape-determined values. Fails when it grows past
/// `maxOps` or meets an op outside `allowed` (when given).
/// Users for which `isBoundary` holds are left out (what they read becomes an
/// output).
mlir::FailureOr<Subgraph>
collectRegion(mlir::Operation *anchor, unsigned maxOps,
              llvm::function_ref<bool(mlir::Operation *)> allowed = nullptr,
              llvm::function_ref<bool(mlir::Operation *)> isBoundary = nullptr);

/// Backward closure of `v` through onnx ops (same stopping rules).
Subgraph backwardRegion(mlir::Value v);

/// A candidate replacement: the values it computes, in the order of the
/// region outputs they should equal.
struct Candidate {
  llvm::SmallVector<mlir::Value> results;
  llvm::SmallVector<mlir::Operation *> ops; // created ops, for cleanup
};

/// Binds every argument of the function for one probe: input_ids to zeros,
/// past caches to random values (empty caches when the graph has none).
void bindArguments(Evaluator &e, const ModelInterface &model,
                   RandomTensors &random);

/// Checks `candidates` against `expected` for every probe assignment (or
/// those given), binding `inputs` to random tensors of their probed shapes.
/// Returns the index of the first candidate that matches under all of them
/// (within matchTolerance of the expected values' type; with the wider
/// tolerance of f16/bf16, the first of those closest to them).
std::optional<unsigned>
pickMatchingCandidate(const ModelInterface &model,
                      llvm::ArrayRef<mlir::Value> inputs,
                      llvm::ArrayRef<mlir::Value> expected,
                      llvm::ArrayRef<Candidate> candidates, float inputScale = 1.f,
                      llvm::ArrayRef<DimAssignment> assignments = {});

/// Replaces `expected[i]` by the chosen candidate's results and erases the
/// other candidates' ops.
void commitCandidate(llvm::ArrayRef<mlir::Value> expected,
                     llvm::MutableArrayRef<Candidate> candidates, unsigned chosen);

/// The symbolic type of a raised or region value, probed.
mlir::FailureOr<mlir::RankedTensorType> probedType(const ModelInterface &model,
                                                   mlir::Value v);

} // namespace flightllm::raising

#endif // FLIGHTLLM_LIB_CONVERSION_ONNXTOLLM_RAISESWEEPS_H
