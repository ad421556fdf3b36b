//===- QuantizeWeights.cpp - int8 per-output-channel weights --------------===//

#include "flightllm/Dialect/LLM/Transforms/Passes.h"
#include "flightllm/Support/Progress.h"
#include "flightllm/Dialect/LLM/WeightQuantization.h"
#include "flightllm/Reference/HostTensor.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <cmath>

namespace flightllm::llm {
#define GEN_PASS_DEF_QUANTIZEWEIGHTSPASS
#include "flightllm/Dialect/LLM/Transforms/Passes.h.inc"
} // namespace flightllm::llm

using namespace mlir;
using namespace flightllm;
using flightllm::reference::HostTensor;

namespace {

/// The int8 weight and its per-output-channel scales.
struct QuantizedWeight {
  DenseElementsAttr values, scales;
};

QuantizedWeight quantize(const HostTensor &w, bool transposed,
                         MLIRContext *ctx) {
  int64_t rows = w.getDim(0), cols = w.getDim(1);
  int64_t n = transposed ? rows : cols;
  ArrayRef<float> v = w.getValues<float>();
  auto at = [&](int64_t ch, int64_t i) -> int64_t {
    return transposed ? ch * cols + i : i * cols + ch;
  };
  int64_t k = transposed ? cols : rows;
  std::vector<float> scales(n);
  std::vector<int8_t> q(v.size());
  for (int64_t ch = 0; ch < n; ++ch) {
    float maxAbs = 0;
    for (int64_t i = 0; i < k; ++i)
      maxAbs = std::max(maxAbs, std::abs(v[at(ch, i)]));
    float s = llm::weightChannelScale(maxAbs);
    scales[ch] = s;
    for (int64_t i = 0; i < k; ++i)
      q[at(ch, i)] = llm::quantizeWeight(v[at(ch, i)], s);
  }
  Builder b(ctx);
  auto qType = RankedTensorType::get({rows, cols}, b.getIntegerType(8));
  auto sType = RankedTensorType::get({n}, b.getF32Type());
  return {DenseElementsAttr::get(qType, ArrayRef<int8_t>(q)),
          DenseElementsAttr::get(sType, ArrayRef<float>(scales))};
}

struct QuantizeWeightsPass
    : public flightllm::llm::impl::QuantizeWeightsPassBase<QuantizeWeightsPass> {
  void runOnOperation() override {
    OpBuilder b(&getContext());
    bool failedAny = false;
    uint64_t weights = 0;
    getOperation().walk([&](Operation *op) {
      weights += isa<llm::LinearOp, llm::LogitsOp>(op);
    });
    ProgressBar bar("quantizing weights", weights);
    getOperation().walk([&](Operation *op) {
      auto linear = dyn_cast<llm::LinearOp>(op);
      auto logits = dyn_cast<llm::LogitsOp>(op);
      if (linear || logits)
        bar.advance();
      if ((!linear && !logits) ||
          (linear ? bool(linear.getWeightScalesAttr())
                  : bool(logits.getWeightScalesAttr())))
        return;
      Value weight = op->getOperand(1);
      auto weightOp = weight.getDefiningOp<llm::WeightOp>();
      if (!weightOp || !isa<FloatType>(
                           cast<ShapedType>(weight.getType()).getElementType()))
        return;
      auto value = HostTensor::fromElementsAttr(weightOp.getValue());
      if (!value) {
        op->emitError() << "cannot read weight '" << weightOp.getName()
                        << "': " << llvm::toString(value.takeError());
        failedAny = true;
        return;
      }
      HostTensor w = value->castTo(reference::ElementKind::F32);
      bool transposed = linear ? linear.getTransposeWeight()
                               : logits.getTransposeWeight();
      QuantizedWeight qw = quantize(w, transposed, &getContext());
      b.setInsertionPointAfter(weightOp);
      auto q = llm::WeightOp::create(b, weightOp.getLoc(), qw.values.getType(),
                                     b.getStringAttr(weightOp.getName()),
                                     qw.values);
      op->setOperand(1, q.getResult());
      if (linear)
        linear.setWeightScalesAttr(qw.scales);
      else
        logits.setWeightScalesAttr(qw.scales);
      if (weightOp.use_empty())
        weightOp.erase();
    });
    if (failedAny)
      signalPassFailure();
  }
};

} // namespace
