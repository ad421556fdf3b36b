//===- CheckShapeArithmetic.cpp - ONNX errors in the shape arithmetic -----===//
//
// The raising probes shape arithmetic silently: a value that fails to
// evaluate is simply not recognised. When it fails because the graph is
// wrong (a Range with delta 0, a Gather index out of range), the raising
// would stop far from the cause, so the cause is reported first, at its node.
//===----------------------------------------------------------------------===//

#include "RaiseContext.h"
#include "RaiseSweeps.h"

#include "flightllm/Conversion/ONNXToLLM/Passes.h"
#include "flightllm/Reference/ONNXEvaluator.h"

#include "llvm/ADT/MapVector.h"

namespace flightllm {
#define GEN_PASS_DEF_CHECKSHAPEARITHMETICPASS
#include "flightllm/Conversion/ONNXToLLM/Passes.h.inc"
} // namespace flightllm

using namespace mlir;
using namespace flightllm;
using namespace flightllm::raising;
namespace onnxir = flightllm::onnxir;

/// Reports the first op of the shape arithmetic that fails under every probe
/// assignment.
static LogicalResult checkShapeArithmetic(func::FuncOp func,
                                          const ModelInterface &model) {
  // In program order, the ops computing from input shapes: each reads only
  // constants and shape arithmetic, and through a Shape at least once (ops
  // on constants alone are weights, not shape arithmetic).
  llvm::DenseSet<Operation *> fromShapes;
  SmallVector<Operation *> checked;
  for (Operation &op : func.getBody().front()) {
    if (isa<onnxir::ShapeOp>(op)) {
      fromShapes.insert(&op);
      continue;
    }
    if (!isa<onnxir::ONNXDialect>(op.getDialect()) || op.getNumRegions() ||
        !reference::hasReferenceSemantics(&op))
      continue;
    bool readsShapes = false, onlyShapes = true;
    for (Value operand : op.getOperands()) {
      Operation *def = operand.getDefiningOp();
      if (def && fromShapes.contains(def))
        readsShapes = true;
      else if (!getConstant(operand))
        onlyShapes = false;
    }
    if (readsShapes && onlyShapes) {
      fromShapes.insert(&op);
      checked.push_back(&op);
    }
  }
  // An error under only some sizes may be the model's own limit (a fixed
  // batch, a table length); one under every size is the graph's.
  llvm::MapVector<Operation *, std::string> errors;
  for (auto [i, a] : llvm::enumerate(probeAssignments(model.graphHasPast))) {
    Evaluator e(model, a);
    llvm::MapVector<Operation *, std::string> here;
    for (Operation *op : checked) {
      if (op->getNumResults())
        (void)e.eval(op->getResult(0));
      if (std::optional<StringRef> message = e.getOpError(op))
        if (i == 0 || errors.count(op))
          here[op] = message->str();
    }
    errors = std::move(here);
  }
  if (errors.empty())
    return success();
  // Later failures follow from the first one.
  auto &[op, message] = errors.front();
  op->emitError() << op->getName().stripDialect()
                  << " fails for every probed input size: " << message;
  return failure();
}

namespace {
struct CheckShapeArithmeticPass
    : public flightllm::impl::CheckShapeArithmeticPassBase<
          CheckShapeArithmeticPass> {
  void runOnOperation() override {
    auto model = ModelInterface::get(getOperation());
    if (failed(model) || failed(checkShapeArithmetic(getOperation(), *model)))
      signalPassFailure();
  }
};
} // namespace
