//===- SmoothActivations.cpp - SmoothQuant migration into norm weights ----===//

#include "flightllm/Dialect/LLM/Transforms/Calibration.h"
#include "flightllm/Dialect/LLM/Transforms/Passes.h"
#include "flightllm/Reference/HostTensor.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/SetVector.h"

#include <cmath>

namespace flightllm::llm {
#define GEN_PASS_DEF_SMOOTHACTIVATIONSPASS
#include "flightllm/Dialect/LLM/Transforms/Passes.h.inc"
} // namespace flightllm::llm

using namespace mlir;
using namespace flightllm;
using flightllm::reference::HostTensor;

namespace {

/// A norm whose output channels can be rescaled, with its consumers.
struct Site {
  Operation *norm;
  SmallVector<llm::LinearOp> linears;
};

/// The f32 values of a weight defined by llm.weight, or failure.
FailureOr<HostTensor> readWeight(Value v) {
  auto weight = v.getDefiningOp<llm::WeightOp>();
  if (!weight)
    return failure();
  auto value = HostTensor::fromElementsAttr(weight.getValue());
  if (!value) {
    llvm::consumeError(value.takeError());
    return failure();
  }
  return value->castTo(reference::ElementKind::F32);
}

/// A new llm.weight named like `old`'s definition holding `t` (f32); the
/// old definition joins `replaced`.
Value rewrittenWeight(OpBuilder &b, Value old, const HostTensor &t,
                      llvm::SetVector<llm::WeightOp> &replaced) {
  auto weight = old.getDefiningOp<llm::WeightOp>();
  replaced.insert(weight);
  b.setInsertionPointAfter(weight);
  auto type = RankedTensorType::get(t.getShape(), b.getF32Type());
  auto data = DenseElementsAttr::get(type, t.getValues<float>());
  return llm::WeightOp::create(b, weight.getLoc(), type, weight.getNameAttr(),
                               data)
      .getResult();
}

struct SmoothActivationsPass
    : public flightllm::llm::impl::SmoothActivationsPassBase<
          SmoothActivationsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!(alpha >= 0 && alpha <= 1)) {
      module.emitError() << "alpha must be in [0, 1], got " << alpha;
      return signalPassFailure();
    }
    SmallVector<Site> sites;
    module.walk([&](Operation *op) {
      if (!isa<llm::RMSNormOp, llm::LayerNormOp>(op))
        return;
      Site site{op, {}};
      for (Operation *user : op->getResult(0).getUsers()) {
        auto linear = dyn_cast<llm::LinearOp>(user);
        if (!linear || linear.getX() != op->getResult(0) ||
            !linear.getWeight().getDefiningOp<llm::WeightOp>() ||
            !isa<FloatType>(cast<ShapedType>(linear.getWeight().getType())
                                .getElementType()))
          return;
        site.linears.push_back(linear);
      }
      if (!site.linears.empty())
        sites.push_back(std::move(site));
    });
    if (sites.empty())
      return;

    // max |x_j| of each norm output over the calibration tokens.
    llvm::DenseMap<Value, std::vector<float>> actMax;
    for (const Site &site : sites)
      actMax[site.norm->getResult(0)];
    auto source =
        llm::CalibrationSource::of(textFile, tokens, maxTokens, window);
    LogicalResult ran =
        llm::runCalibration(module, source, [&](Value v, const HostTensor &t) {
          auto it = actMax.find(v);
          if (it != actMax.end() &&
              t.getKind() == reference::ElementKind::F32 && t.getRank() >= 1)
            llm::accumulateChannelMax(t, it->second);
        });
    if (failed(ran))
      return signalPassFailure();

    OpBuilder b(&getContext());
    llvm::SetVector<llm::WeightOp> replaced;
    for (Site &site : sites) {
      const std::vector<float> &act = actMax[site.norm->getResult(0)];
      int64_t d = int64_t(act.size());
      SmallVector<HostTensor> weights;
      std::vector<float> wMax(size_t(d), 0.0f);
      bool readable = d > 0;
      for (llm::LinearOp linear : site.linears) {
        FailureOr<HostTensor> w = readWeight(linear.getWeight());
        if (failed(w)) {
          readable = false;
          break;
        }
        bool t = linear.getTransposeWeight();
        int64_t n = w->getDim(t ? 0 : 1);
        ArrayRef<float> v = w->getValues<float>();
        for (int64_t j = 0; j < d; ++j)
          for (int64_t o = 0; o < n; ++o)
            wMax[size_t(j)] =
                std::max(wMax[size_t(j)],
                         std::abs(v[size_t(t ? o * d + j : j * n + o)]));
        weights.push_back(std::move(*w));
      }
      Operation *norm = site.norm;
      FailureOr<HostTensor> gamma = readWeight(norm->getOperand(1));
      Value betaValue =
          norm->getNumOperands() > 2 ? norm->getOperand(2) : Value();
      FailureOr<HostTensor> beta = betaValue
                                       ? readWeight(betaValue)
                                       : FailureOr<HostTensor>(HostTensor());
      if (!readable || failed(gamma) || failed(beta))
        continue;

      std::vector<float> s(size_t(d), 1.0f);
      for (int64_t j = 0; j < d; ++j)
        if (act[size_t(j)] > 0 && wMax[size_t(j)] > 0)
          s[size_t(j)] = float(std::pow(double(act[size_t(j)]), double(alpha)) /
                               std::pow(double(wMax[size_t(j)]), 1.0 - alpha));
      for (int64_t j = 0; j < d; ++j) {
        gamma->getMutableValues<float>()[size_t(j)] /= s[size_t(j)];
        if (betaValue)
          beta->getMutableValues<float>()[size_t(j)] /= s[size_t(j)];
      }
      norm->setOperand(
          1, rewrittenWeight(b, norm->getOperand(1), *gamma, replaced));
      if (betaValue)
        norm->setOperand(2, rewrittenWeight(b, betaValue, *beta, replaced));
      for (auto [linear, w] : llvm::zip(site.linears, weights)) {
        bool t = linear.getTransposeWeight();
        int64_t n = w.getDim(t ? 0 : 1);
        MutableArrayRef<float> v = w.getMutableValues<float>();
        for (int64_t j = 0; j < d; ++j)
          for (int64_t o = 0; o < n; ++o)
            v[size_t(t ? o * d + j : j * n + o)] *= s[size_t(j)];
        Value old = linear.getWeight();
        linear.getWeightMutable().assign(rewrittenWeight(b, old, w, replaced));
      }
    }
    // The parameters this pass replaced, once nothing reads them.
    for (llm::WeightOp weight : replaced)
      if (weight->use_empty())
        weight->erase();
  }
};

} // namespace
