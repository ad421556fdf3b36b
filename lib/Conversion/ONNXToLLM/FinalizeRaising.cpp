//===- FinalizeRaising.cpp - Check the result and record the model --------===//

#include "RaiseContext.h"
#include "RaiseSweeps.h"

#include "flightllm/Conversion/ONNXToLLM/Passes.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Transforms/RegionUtils.h"

namespace flightllm {
#define GEN_PASS_DEF_FINALIZERAISINGPASS
#include "flightllm/Conversion/ONNXToLLM/Passes.h.inc"
} // namespace flightllm

using namespace mlir;
using namespace flightllm;
using namespace flightllm::raising;
namespace onnxir = flightllm::onnxir;

namespace {

/// Folds casts whose source already has the target type.
void foldCasts(func::FuncOp func) {
  func.walk([](tensor::CastOp c) {
    if (c.getSource().getType() == c.getType()) {
      c.getResult().replaceAllUsesWith(c.getSource());
      c.erase();
    }
  });
}

std::string nodeName(Operation *op) {
  Location loc = op->getLoc();
  if (auto n = dyn_cast<NameLoc>(loc))
    return n.getName().str();
  return "<unnamed>";
}

struct FinalizeRaisingPass
    : public flightllm::impl::FinalizeRaisingPassBase<FinalizeRaisingPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (func::FuncOp func : module.getOps<func::FuncOp>())
      if (failed(finalize(module, func)))
        return signalPassFailure();
  }

  LogicalResult finalize(ModuleOp module, func::FuncOp func) {
    OpBuilder b(func.getContext());
    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());

    // The LM head.
    if (ret.getNumOperands())
      if (auto linear = ret.getOperand(0).getDefiningOp<llm::LinearOp>();
          linear && !linear.getBias()) {
        b.setInsertionPoint(linear);
        auto logits = llm::LogitsOp::create(
            b, linear.getLoc(), linear.getType(), linear.getX(),
            linear.getWeight(), linear.getTransposeWeight(),
            linear.getWeightScalesAttr(), linear.getInputScaleAttr());
        // A pre-quantized LM head keeps its format.
        for (StringRef name : {"weight_bits", "group_size", "weight_zero_points"})
          if (Attribute attr = linear->getAttr(name))
            logits->setAttr(name, attr);
        ret.setOperand(0, logits.getResult());
        if (linear.use_empty())
          linear.erase();
      }

    foldCasts(func);
    // Identity ops (e.g. a cache returned unchanged) carry nothing to raise.
    func.walk([](onnxir::IdentityOp op) {
      op.getOutput().replaceAllUsesWith(op.getInput());
    });
    refreshFunctionType(func);
    eraseDeadOps(func);

    // Whatever ONNX computation is still needed could not be raised. Report
    // the first ones in program order: later ones usually depend on them.
    SmallVector<Operation *> leftovers;
    func.walk([&](Operation *op) {
      if (isa<onnxir::ONNXDialect, tensor::TensorDialect>(op->getDialect()))
        leftovers.push_back(op);
    });
    if (!leftovers.empty()) {
      unsigned shown = 0;
      for (Operation *op : leftovers) {
        if (isa<tensor::CastOp>(op))
          continue;
        if (shown++ == 5)
          break;
        InFlightDiagnostic diag = op->emitError()
                                  << "ONNX node '" << nodeName(op) << "' ("
                                  << op->getName().stripDialect()
                                  << ") could not be absorbed into llm ops";
        if (shown == 1)
          diag.attachNote(op->getLoc())
              << leftovers.size()
              << " operation(s) of the exported graph remain after raising";
      }
      if (!shown)
        leftovers.front()->emitError()
            << "a value of unknown shape could not be absorbed into llm ops";
      return failure();
    }

    // The raised types are the program's types.
    SmallVector<Type> results(ret.getOperandTypes());
    func.setType(b.getFunctionType(func.getArgumentTypes(), results));
    func->removeAttr("llm.graph_has_past");

    // Model facts for later stages and the runtime.
    unsigned layers = 0;
    bool rms = false, relu = false;
    int64_t maxPositions = -1;
    auto limit = [&](int64_t n) {
      maxPositions = maxPositions < 0 ? n : std::min(maxPositions, n);
    };
    func.walk([&](Operation *op) {
      layers += isa<llm::AttentionOp>(op);
      rms |= isa<llm::RMSNormOp>(op);
      relu |= isa<llm::ReluOp>(op);
      if (auto emb = dyn_cast<llm::EmbeddingOp>(op))
        if (auto pos = emb.getIds().getDefiningOp<llm::PositionIdsOp>())
          limit(cast<ShapedType>(emb.getTable().getType()).getDimSize(0) -
                int64_t(pos.getOffset()));
      if (auto rope = dyn_cast<llm::RopeOp>(op))
        limit(cast<ShapedType>(rope.getCos().getType()).getDimSize(0));
    });
    module->setAttr("llm.family",
                    b.getStringAttr(rms ? "llama" : relu ? "opt" : "gpt2"));
    module->setAttr("llm.num_layers", b.getI64IntegerAttr(layers));
    if (auto logits = dyn_cast<RankedTensorType>(results.front()))
      module->setAttr("llm.vocab_size",
                      b.getI64IntegerAttr(logits.getShape().back()));
    if (maxPositions > 0)
      module->setAttr("llm.max_positions", b.getI64IntegerAttr(maxPositions));
    for (StringRef onnxAttr : {"onnx.opset", "onnx.ir_version", "onnx.producer",
                               "onnx.graph_name", "onnx.merged_decoder_branch"})
      module->removeAttr(onnxAttr);
    return success();
  }
};

} // namespace
