//===- FoldConstants.cpp - Fold onnx ops on constants ---------------------===//
//
// Evaluates onnx ops whose operands are all constants with the reference
// evaluator and replaces them by onnx.Constant; folds onnx.Shape of inputs
// whose selected dimensions are static. See Passes.td for the contract.
//===----------------------------------------------------------------------===//

#include "flightllm/Dialect/ONNX/Transforms/Passes.h"

#include "flightllm/Reference/HostTensor.h"
#include "flightllm/Reference/ONNXEvaluator.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/SetVector.h"

namespace flightllm::onnxir {
#define GEN_PASS_DEF_ONNXFOLDCONSTANTSPASS
#include "flightllm/Dialect/ONNX/Transforms/Passes.h.inc"
} // namespace flightllm::onnxir

using namespace mlir;
using namespace flightllm;
using namespace flightllm::onnxir;
using reference::HostTensor;

namespace {

/// Element count of a statically shaped type, or nullopt.
std::optional<int64_t> staticNumElements(Type type) {
  auto shaped = dyn_cast<ShapedType>(type);
  if (!shaped || !shaped.hasStaticShape())
    return std::nullopt;
  return shaped.getNumElements();
}

struct ONNXFoldConstantsPass
    : onnxir::impl::ONNXFoldConstantsPassBase<ONNXFoldConstantsPass> {
  using Base::Base;

  void runOnOperation() override;

private:
  /// The values of `op`'s results, or nullopt when it does not fold.
  std::optional<SmallVector<HostTensor>>
  evaluateOnConstants(Operation *op, llvm::SetVector<Operation *> &operandDefs);
  std::optional<SmallVector<HostTensor>> foldStaticShape(ShapeOp op);
  std::optional<SmallVector<HostTensor>>
  foldGatherOfShape(GatherOp op, llvm::SetVector<Operation *> &operandDefs);
  /// Replaces the results of `op` by constants; returns true if `op` is gone.
  bool replaceWithConstants(Operation *op, ArrayRef<HostTensor> values);
};

std::optional<SmallVector<HostTensor>>
ONNXFoldConstantsPass::evaluateOnConstants(
    Operation *op, llvm::SetVector<Operation *> &operandDefs) {
  SmallVector<ElementsAttr> attrs;
  for (Value v : op->getOperands()) {
    ElementsAttr attr;
    if (!matchPattern(v, m_Constant(&attr)))
      return std::nullopt;
    std::optional<int64_t> n = staticNumElements(attr.getType());
    if (!n || *n > maxElements)
      return std::nullopt;
    attrs.push_back(attr);
  }
  for (Type t : op->getResultTypes())
    if (std::optional<int64_t> n = staticNumElements(t); n && *n > maxElements)
      return std::nullopt;

  SmallVector<HostTensor> operands;
  for (ElementsAttr attr : attrs) {
    auto t = HostTensor::fromElementsAttr(attr);
    if (!t) {
      llvm::consumeError(t.takeError());
      return std::nullopt;
    }
    operands.push_back(std::move(*t));
  }
  // Ops the evaluator rejects stay as they are, without a diagnostic: the
  // program may never execute them.
  ScopedDiagnosticHandler silence(op->getContext(),
                                  [](Diagnostic &) { return success(); });
  reference::EvaluatorOptions options;
  options.maxResultElements = maxElements;
  auto results = reference::evaluateONNXOp(op, operands, options);
  if (failed(results))
    return std::nullopt;
  for (Value v : op->getOperands())
    operandDefs.insert(v.getDefiningOp());
  return std::move(*results);
}

/// The dimensions of `shape`'s input that it selects, if its input is ranked.
std::optional<ArrayRef<int64_t>> selectedDims(ShapeOp shape) {
  auto type = dyn_cast<RankedTensorType>(shape.getData().getType());
  if (!type)
    return std::nullopt;
  std::optional<int64_t> end;
  if (shape.getEnd())
    end = int64_t(*shape.getEnd());
  auto [first, last] = reference::getShapeOpRange(
      type.getRank(), int64_t(shape.getStart()), end);
  return type.getShape().slice(first, last - first);
}

std::optional<SmallVector<HostTensor>>
ONNXFoldConstantsPass::foldStaticShape(ShapeOp op) {
  std::optional<ArrayRef<int64_t>> dims = selectedDims(op);
  if (!dims || llvm::any_of(*dims, ShapedType::isDynamic))
    return std::nullopt;
  SmallVector<HostTensor> results;
  results.push_back(HostTensor::get<int64_t>({int64_t(dims->size())}, *dims));
  return results;
}

std::optional<SmallVector<HostTensor>> ONNXFoldConstantsPass::foldGatherOfShape(
    GatherOp op, llvm::SetVector<Operation *> &operandDefs) {
  // Gather(Shape(x), constant indices) picking static dimensions of x, the
  // usual way exporters read one dimension (x.size(1)).
  auto shape = op.getData().getDefiningOp<ShapeOp>();
  ElementsAttr indices;
  if (!shape || !matchPattern(op.getIndices(), m_Constant(&indices)))
    return std::nullopt;
  std::optional<ArrayRef<int64_t>> dims = selectedDims(shape);
  std::optional<int64_t> count = staticNumElements(indices.getType());
  if (!dims || !count || *count > maxElements)
    return std::nullopt;
  auto idx = HostTensor::fromElementsAttr(indices);
  if (!idx) {
    llvm::consumeError(idx.takeError());
    return std::nullopt;
  }
  int64_t n = dims->size();
  HostTensor result(reference::ElementKind::I64, idx->getShape());
  MutableArrayRef<int64_t> values = result.getMutableValues<int64_t>();
  for (int64_t i = 0; i < *count; ++i) {
    int64_t k = idx->getInt(i);
    if (k < -n || k >= n)
      return std::nullopt; // Out of range: the evaluator would reject it.
    int64_t dim = (*dims)[k < 0 ? k + n : k];
    if (ShapedType::isDynamic(dim))
      return std::nullopt;
    values[i] = dim;
  }
  operandDefs.insert(shape);
  operandDefs.insert(op.getIndices().getDefiningOp());
  SmallVector<HostTensor> results;
  results.push_back(std::move(result));
  return results;
}

bool ONNXFoldConstantsPass::replaceWithConstants(Operation *op,
                                                 ArrayRef<HostTensor> values) {
  OpBuilder builder(op);
  MLIRContext *ctx = op->getContext();
  for (auto [result, value] : llvm::zip(op->getResults(), values)) {
    DenseElementsAttr attr = value.toDenseElementsAttr(ctx);
    if (getElementTypeOrSelf(result.getType()) !=
        attr.getType().getElementType())
      continue; // The evaluator checked this; be safe anyway.
    auto constant =
        ConstantOp::create(builder, op->getLoc(), TypeRange{attr.getType()},
                           ValueRange{}, {builder.getNamedAttr("value", attr)});
    if (result.getType() == attr.getType()) {
      result.replaceAllUsesWith(constant.getResult());
      continue;
    }
    // A refined type: onnx ops take any tensor type, other users may not.
    result.replaceUsesWithIf(constant.getResult(), [](OpOperand &use) {
      return isa_and_nonnull<ONNXDialect>(use.getOwner()->getDialect());
    });
    if (constant->use_empty())
      constant->erase();
  }
  if (!op->use_empty())
    return false;
  op->erase();
  return true;
}

void ONNXFoldConstantsPass::runOnOperation() {
  SmallVector<Operation *> ops;
  getOperation()->walk([&](Operation *op) {
    if (isa_and_nonnull<ONNXDialect>(op->getDialect()) && !isa<ConstantOp>(op))
      ops.push_back(op);
  });
  // Producers of folded ops' operands (constants, a Shape read by a
  // Gather); erased at the end if nothing uses them any more.
  llvm::SetVector<Operation *> operandDefs;
  for (Operation *op : ops) {
    std::optional<SmallVector<HostTensor>> values;
    if (auto shape = dyn_cast<ShapeOp>(op))
      values = foldStaticShape(shape);
    else if (auto gather = dyn_cast<GatherOp>(op))
      values = foldGatherOfShape(gather, operandDefs);
    if (!values)
      values = evaluateOnConstants(op, operandDefs);
    if (values)
      replaceWithConstants(op, *values);
  }
  for (Operation *def : operandDefs)
    if (isa<ConstantOp, ShapeOp>(def) && def->use_empty())
      def->erase();
}

} // namespace
