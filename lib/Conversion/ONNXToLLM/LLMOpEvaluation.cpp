//===- LLMOpEvaluation.cpp - One llm op through the reference interpreter -===//
//
// The numeric checks evaluate candidate llm ops with the reference
// interpreter, so that "equal to llm.attention" means equal to what every
// later stage is checked against. The op is cloned into a scratch function
// whose arguments are its operands.
//===----------------------------------------------------------------------===//

#include "RaiseContext.h"

#include "flightllm/Interpreter/Interpreter.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace flightllm;

FailureOr<SmallVector<reference::HostTensor>>
raising::evaluateLLMOp(Operation *op, ArrayRef<reference::HostTensor> operands) {
  if (auto weight = dyn_cast<llm::WeightOp>(op)) {
    auto t = HostTensor::fromElementsAttr(weight.getValue(),
                                          HostTensor::Constant::Borrow);
    if (!t) {
      llvm::consumeError(t.takeError());
      return failure();
    }
    return SmallVector<HostTensor>{std::move(*t)};
  }
  OpBuilder b(op->getContext());
  OwningOpRef<ModuleOp> scratch = ModuleOp::create(op->getLoc());
  b.setInsertionPointToEnd(scratch->getBody());
  auto func = func::FuncOp::create(
      b, op->getLoc(), "op",
      b.getFunctionType(op->getOperandTypes(), op->getResultTypes()));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToEnd(entry);
  IRMapping mapping;
  mapping.map(op->getOperands(), entry->getArguments());
  Operation *clone = b.clone(*op, mapping);
  func::ReturnOp::create(b, op->getLoc(), clone->getResults());
  // Pre-quantized weights mean what the graph's DequantizeLinear computes.
  interpreter::InterpreterOptions options;
  options.dequantizeWeights = true;
  auto interp = interpreter::Interpreter::create(func, options);
  if (failed(interp))
    return failure();
  return (*interp)->run(operands);
}
