//===- RaiseContext.h - Shared machinery of the raising passes --*- C++ -*-===//
//
// The raising recognises model-level structure in exported graphs by two
// means that do not depend on how an exporter happened to spell it:
//
// * Symbolic dimensions are probed: the graph's dynamic sizes are the batch
//   B, the new-token count S and the past length P, read off the function's
//   arguments. A value whose computation reads the inputs only through
//   `Shape` (shape arithmetic, masks, position ids, computed scales) can be
//   evaluated for any concrete (B, S, P); evaluating it for several tells
//   what it is (a constant, `P + s`, a causal mask, ...).
// * Subgraphs between already-raised values are checked numerically: bind
//   their inputs to random tensors, evaluate the ONNX ops, and compare with
//   candidate llm ops evaluated on the same inputs.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_LIB_CONVERSION_ONNXTOLLM_RAISECONTEXT_H
#define FLIGHTLLM_LIB_CONVERSION_ONNXTOLLM_RAISECONTEXT_H

#include "flightllm/Dialect/LLM/LLMDialect.h"
#include "flightllm/Dialect/ONNX/ONNXDialect.h"
#include "flightllm/Reference/HostTensor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <random>

namespace flightllm::raising {

using reference::HostTensor;

/// Concrete values of the symbolic dimensions.
struct DimAssignment {
  int64_t batch, newTokens, past;
};

/// The assignments every probe is run with: they differ in every symbol so
/// that a value equal across them is a constant, and keep sizes tiny.
llvm::ArrayRef<DimAssignment> probeAssignments(bool hasPast);

/// What the @forward arguments and results are.
struct ModelInterface {
  mlir::BlockArgument inputIds;
  llvm::SmallVector<mlir::BlockArgument> pastKeys, pastValues;
  /// True when the ONNX graph read its past arguments (decoder-with-past).
  bool graphHasPast = false;

  /// Reads the roles from the `llm.name` argument attributes written by
  /// -llm-raise-signature. Fails (with a diagnostic) on other functions.
  static mlir::FailureOr<ModelInterface> get(mlir::func::FuncOp func);

  /// The concrete shape of an argument under `a`.
  llvm::SmallVector<int64_t> argShape(mlir::BlockArgument arg,
                                      const DimAssignment &a) const;

  /// `a` with the sizes the export fixed (a batch or a new-token count
  /// static in input_ids' type) in place of the probed ones.
  DimAssignment fix(DimAssignment a) const;
  /// The probe assignments of this model (fixed sizes applied).
  llvm::SmallVector<DimAssignment, 3> probes() const;
};

/// Evaluates values of a function (mixed onnx and llm ops) under one
/// dimension assignment. Values can be bound to tensors; `onnx.Shape` of any
/// value needs only that value's shape, which is derived from types,
/// argument roles and op semantics without evaluating data. Every value's
/// data and shape is computed at most once, failures included: a failure
/// is an answer too, and a failing subgraph would otherwise be re-explored
/// once per path through it (exponential in depth).
class Evaluator {
public:
  Evaluator(const ModelInterface &model, DimAssignment assignment)
      : model(model), assignment(model.fix(assignment)) {}

  void bind(mlir::Value v, HostTensor t) {
    values[v] = std::move(t);
    // What could not be computed before may depend on `v`.
    unevaluable.clear();
    unshaped.clear();
  }

  /// Drops what is known of `v` (its op was rewritten in place): it is
  /// computed afresh when asked again. Failures are forgotten too, as they
  /// may have depended on it.
  void forget(mlir::Value v) {
    values.erase(v);
    shapes.erase(v);
    unevaluable.clear();
    unshaped.clear();
  }

  /// The value's data. Fails when it depends on unbound argument data or on
  /// an op that cannot be evaluated; never emits diagnostics.
  mlir::FailureOr<HostTensor> eval(mlir::Value v);
  /// The value's concrete shape.
  mlir::FailureOr<llvm::SmallVector<int64_t>> shape(mlir::Value v);

  const DimAssignment &getAssignment() const { return assignment; }

  /// The error the reference semantics reported for `op` itself (its
  /// operands were computed), if its evaluation failed that way.
  std::optional<llvm::StringRef> getOpError(mlir::Operation *op) const {
    auto it = opErrors.find(op);
    if (it == opErrors.end())
      return std::nullopt;
    return llvm::StringRef(it->second);
  }

private:
  mlir::FailureOr<llvm::SmallVector<int64_t>> inferShape(mlir::Operation *op,
                                                         unsigned result);
  /// The terminator of the branch an If takes (its condition evaluated).
  mlir::FailureOr<onnxir::YieldOp> takenBranch(onnxir::IfOp op);
  /// Evaluates `op` on computed operands, recording its own error.
  mlir::FailureOr<llvm::SmallVector<HostTensor>>
  evaluateOp(mlir::Operation *op, llvm::ArrayRef<HostTensor> operands);

  const ModelInterface &model;
  DimAssignment assignment;
  llvm::DenseMap<mlir::Value, HostTensor> values;
  llvm::DenseMap<mlir::Value, llvm::SmallVector<int64_t>> shapes;
  llvm::DenseSet<mlir::Value> unevaluable, unshaped;
  llvm::DenseMap<mlir::Operation *, std::string> opErrors;
};


/// The result shape of ONNX `Reshape(data of shape in, target)`, or failure
/// when ONNX rejects it (a size other than -1 below 0, two -1, a product
/// that differs from the input's).
mlir::FailureOr<llvm::SmallVector<int64_t>>
reshapedShape(llvm::ArrayRef<int64_t> in, llvm::ArrayRef<int64_t> target,
              bool allowZero);

/// Checks, under every probe assignment, that `reshape` turns its input's
/// shape into `expected(input shape)`: the raising drops a Reshape only when
/// it is exactly the one the raised op implies. Otherwise reports at the
/// Reshape what it does instead (or that ONNX rejects it) and fails.
mlir::LogicalResult checkDroppedReshape(
    const ModelInterface &model, mlir::Operation *reshape,
    llvm::function_ref<llvm::SmallVector<int64_t>(llvm::ArrayRef<int64_t>)>
        expected);

/// One Evaluator per probe assignment, kept across queries so that what one
/// query computed serves the next (a fresh Evaluator per query re-walks the
/// graph above the value: quadratic in depth over a sweep). Valid while the
/// ops it has seen keep their meaning: new ops and redirected uses are fine,
/// erasing ops is not.
class ProbeSession {
public:
  explicit ProbeSession(const ModelInterface &model);
  /// Concrete shapes of `v` under every probe assignment.
  mlir::FailureOr<llvm::SmallVector<llvm::SmallVector<int64_t>>>
  shapes(mlir::Value v);
  /// The symbolic type of `v` (dimensions equal across the probes static).
  mlir::FailureOr<mlir::RankedTensorType> type(mlir::Value v);
  /// Drops what is known of `v`, whose op was rewritten in place.
  void forget(mlir::Value v) {
    for (Evaluator &e : evaluators)
      e.forget(v);
  }

private:
  llvm::SmallVector<Evaluator> evaluators;
};

/// True when `v` can be computed from constants and input shapes alone.
bool isShapeDetermined(mlir::Value v);

/// Evaluates a shape-determined value under every probe assignment.
mlir::FailureOr<llvm::SmallVector<HostTensor>>
probe(const ModelInterface &model, mlir::Value v);

/// A scalar that is the same under every probe (a constant, or a constant
/// computed from shapes such as GPT-2's sqrt(head size)).
std::optional<double> probeScalar(const ModelInterface &model, mlir::Value v);

/// The constant behind `v` (onnx.Constant or llm.weight), or null.
mlir::ElementsAttr getConstant(mlir::Value v);

/// A matrix operand given as integer codes and scales: onnx.DequantizeLinear
/// of constant codes, possibly behind a Reshape, a 2-D Transpose and a float
/// Cast (QDQ weights; MatMulNBits as the importer expands it).
struct PrequantizedWeight {
  /// The codes as llm.linear holds them (i8, `[K, N]`, or `[N, K]` when
  /// `transposed`) and the attributes that give their meaning.
  mlir::DenseElementsAttr codes;
  bool transposed = false;
  int64_t k = 0, n = 0;
  mlir::DenseElementsAttr scales, zeroPoints; // zeroPoints null: symmetric
  int64_t groupSize = 0, bits = 8;
  std::string name;
  mlir::Location loc;
};
/// Matches `v` as a pre-quantized weight. std::nullopt: not one; failure:
/// one that llm.linear cannot hold exactly (reported at the
/// DequantizeLinear).
mlir::FailureOr<std::optional<PrequantizedWeight>>
matchPrequantizedWeight(const ModelInterface &model, mlir::Value v);
/// Sets `weight_scales`, `weight_bits`, `group_size` and
/// `weight_zero_points` of the llm.linear / llm.logits `op` from `w`.
void setWeightFormat(mlir::Operation *op, const PrequantizedWeight &w);

/// Deterministic random tensors for numeric checks.
class RandomTensors {
public:
  explicit RandomTensors(unsigned seed = 0x5eed) : rng(seed) {}
  HostTensor uniform(llvm::ArrayRef<int64_t> shape, float lo = -1.f,
                     float hi = 1.f);
  /// The same, in the float type of `value` (f16/bf16 values of a reduced
  /// precision graph get their own type, which its ops require).
  HostTensor uniformFor(mlir::Value value, llvm::ArrayRef<int64_t> shape,
                        float lo = -1.f, float hi = 1.f);

private:
  std::mt19937 rng;
};

/// Largest |a - e| / (1 + |e|) over the elements, or infinity when the
/// shapes or kinds differ.
double relativeError(const HostTensor &actual, const HostTensor &expected);

/// Unit attribute on the graph function: its attention has no causal mask
/// because it was traced with one new token, so it means the model only for
/// one new token (the raising generalises it as causal).
constexpr llvm::StringLiteral kOneNewTokenGraphAttr = "llm.one_new_token_graph";

/// Tolerance of the numeric checks (fp32 round-off of the small probes).
constexpr double kMatchTolerance = 2e-4;

/// The tolerance of a numeric check on values of `elementType`: the graph of
/// an f16/bf16 model rounds every op's result, the llm ops far fewer, so
/// their difference grows with the type's epsilon (`epsilons` of them: 8 for
/// one subgraph); at least `floor` (kMatchTolerance for f32).
double matchTolerance(mlir::Type elementType, double floor = kMatchTolerance,
                      double epsilons = 8);

/// Creates (or reuses) the llm.weight holding the constant behind `v`,
/// reshaped to `shape` when given. Weights are placed at the top of the
/// function and named after the ONNX initializer.
mlir::Value getOrCreateWeight(mlir::OpBuilder &b, mlir::func::FuncOp func,
                              mlir::Value constant,
                              std::optional<llvm::ArrayRef<int64_t>> shape = {});

/// `v` with type `type`, through a tensor.cast when it differs (the casts
/// between raised values fold away once their producers are raised too).
mlir::Value castTo(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v,
                   mlir::Type type);

/// The symbolic type of a value whose concrete shapes under the probe
/// assignments are `shapes`: dimensions equal across them are static.
mlir::RankedTensorType
symbolicType(llvm::ArrayRef<llvm::SmallVector<int64_t>> shapes,
             mlir::Type elementType);

/// Concrete shapes of `v` under every probe assignment.
mlir::FailureOr<llvm::SmallVector<llvm::SmallVector<int64_t>>>
probeShapes(const ModelInterface &model, mlir::Value v);

/// Erases every op without uses or side effects, last to first, until none
/// is left: the ONNX shape arithmetic and the subgraphs llm ops replaced.
void eraseDeadOps(mlir::func::FuncOp func);

/// Makes the function's result types those of the values it returns (the
/// raised values have more precise types than the exported graph's).
void refreshFunctionType(mlir::func::FuncOp func);

/// True for ops of the llm dialect (raised values are their results).
bool isRaised(mlir::Value v);

/// Evaluates one llm op on host tensors (the reference interpreter's
/// semantics).
mlir::FailureOr<llvm::SmallVector<HostTensor>>
evaluateLLMOp(mlir::Operation *op, llvm::ArrayRef<HostTensor> operands);

} // namespace flightllm::raising

#endif // FLIGHTLLM_LIB_CONVERSION_ONNXTOLLM_RAISECONTEXT_H
