//===- ONNXEvaluator.h - Reference semantics of the onnx dialect -*- C++
//-*-===//
//
// Executes onnx dialect ops on HostTensors with the exact ONNX semantics of
// opsets 13-17: numpy broadcasting, negative axes, every attribute, and every
// element type the schemas allow (f16 / bf16 compute in f32 and round once
// per op). Used by constant folding, by the ONNX backend node test runner and
// as the ground truth that later stages are compared against.
//
// Problems (unsupported combinations, out-of-range indices, shape mismatches,
// integer division by zero, results above the size limit) are reported with
// op->emitError(...) and a failure result; the evaluator never aborts.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_REFERENCE_ONNXEVALUATOR_H
#define FLIGHTLLM_REFERENCE_ONNXEVALUATOR_H

#include "flightllm/Reference/HostTensor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Operation.h"
#include "mlir/Support/LLVM.h"

#include <optional>
#include <utility>

namespace flightllm::reference {

struct EvaluatorOptions {
  /// Results with more elements than this fail (before any allocation).
  int64_t maxResultElements = int64_t(1) << 31;
};

/// Evaluates one onnx dialect op. `operands` line up with op->getOperands()
/// (absent optional operands are simply not there) and must have the element
/// types of the op's operands and shapes compatible with their types. The
/// results line up with op->getResults(); their element types are those of
/// the op's results and their shapes are checked against the result types.
mlir::FailureOr<llvm::SmallVector<HostTensor>>
evaluateONNXOp(mlir::Operation *op, llvm::ArrayRef<HostTensor> operands,
               const EvaluatorOptions &options = {});

/// True for the onnx dialect ops evaluateONNXOp implements.
bool hasReferenceSemantics(mlir::Operation *op);

/// The dimensions [first, second) that onnx.Shape with `start` and `end`
/// selects from a rank-`rank` input (negative values count from the back,
/// both are clamped to [0, rank]; empty when end <= start).
std::pair<int64_t, int64_t> getShapeOpRange(int64_t rank, int64_t start,
                                            std::optional<int64_t> end);

/// Evaluates a function of onnx ops (single block, ending in func.return) in
/// order on `args`, releasing each intermediate after its last use.
mlir::FailureOr<llvm::SmallVector<HostTensor>>
evaluateFunction(mlir::func::FuncOp func, llvm::ArrayRef<HostTensor> args,
                 const EvaluatorOptions &options = {});

} // namespace flightllm::reference

#endif // FLIGHTLLM_REFERENCE_ONNXEVALUATOR_H
