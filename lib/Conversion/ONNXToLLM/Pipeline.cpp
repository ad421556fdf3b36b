//===- Pipeline.cpp - The onnx-to-llm pipeline ----------------------------===//

#include "RaiseSweeps.h"

#include "flightllm/Conversion/ONNXToLLM/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace flightllm {
#define GEN_PASS_DEF_RAISELAYERSPASS
#include "flightllm/Conversion/ONNXToLLM/Passes.h.inc"
} // namespace flightllm

using namespace mlir;
using namespace flightllm;
using namespace flightllm::raising;

namespace {
struct RaiseLayersPass : public flightllm::impl::RaiseLayersPassBase<RaiseLayersPass> {
  using Base::Base;
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    auto model = ModelInterface::get(func);
    if (failed(model))
      return signalPassFailure();
    eraseDeadOps(func);
    for (unsigned sweep = 0; sweep < maxSweeps; ++sweep) {
      unsigned changed = raiseElementwise(func, *model);
      changed += raiseNorms(func, *model);
      changed += raiseActivations(func, *model);
      FailureOr<unsigned> attention =
          raiseAttention(func, *model, /*report=*/false);
      if (failed(attention))
        return signalPassFailure();
      changed += *attention;
      eraseDeadOps(func);
      refreshFunctionType(func);
      if (!changed)
        break;
    }
    // What is still there is reported where it stands.
    if (failed(raiseAttention(func, *model, /*report=*/true)))
      return signalPassFailure();
    refreshFunctionType(func);
  }
};
} // namespace

void flightllm::buildONNXToLLMPipeline(OpPassManager &pm,
                                       const ONNXToLLMOptions &options) {
  pm.addPass(createRaiseSignaturePass());
  if (options.verifyRaising)
    pm.addPass(createSnapshotONNXGraphPass());
  OpPassManager &fpm = pm.nest<func::FuncOp>();
  fpm.addPass(createNormalizeGraphPass());
  // Errors of the graph itself, before the raising fails far from them.
  fpm.addPass(createCheckShapeArithmeticPass());
  fpm.addPass(createRaiseEmbeddingsPass());
  fpm.addPass(createRaiseLinearPass());
  fpm.addPass(createRaiseLayersPass());
  pm.addPass(createFinalizeRaisingPass());
  pm.addPass(createCSEPass());
  if (options.verifyRaising) {
    VerifyRaisingPassOptions verify;
    verify.budget = options.verifyRaisingBudget;
    pm.addPass(createVerifyRaisingPass(verify));
  }
}

namespace {
struct ONNXToLLMPipelineOptions
    : public PassPipelineOptions<ONNXToLLMPipelineOptions> {
  Option<bool> verifyRaising{
      *this, "verify-raising",
      llvm::cl::desc("Check the raised program against the ONNX graph "
                     "numerically (-llm-verify-raising)"),
      llvm::cl::init(true)};
  Option<double> verifyRaisingBudget{
      *this, "verify-raising-budget",
      llvm::cl::desc("GFLOP the verification may cost (-llm-verify-raising's "
                     "budget)"),
      llvm::cl::init(kDefaultVerifyRaisingBudget)};
};
} // namespace

void flightllm::registerONNXToLLMPipeline() {
  registerONNXToLLMPasses();
  PassPipelineRegistration<ONNXToLLMPipelineOptions>(
      "onnx-to-llm",
      "Raise an imported ONNX decoder graph to an llm program",
      [](OpPassManager &pm, const ONNXToLLMPipelineOptions &options) {
        ONNXToLLMOptions o;
        o.verifyRaising = options.verifyRaising;
        o.verifyRaisingBudget = options.verifyRaisingBudget;
        buildONNXToLLMPipeline(pm, o);
      });
}
