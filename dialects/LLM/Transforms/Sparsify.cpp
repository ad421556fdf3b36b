//===- Sparsify.cpp - N:M and block sparsity of linear weights ------------===//

#include "Pruning.h"
#include "SecondOrder.h"
#include "flightllm/Dialect/LLM/Transforms/Calibration.h"
#include "flightllm/Dialect/LLM/Transforms/Passes.h"
#include "flightllm/Reference/HostTensor.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"


namespace flightllm::llm {
#define GEN_PASS_DEF_SPARSIFYPASS
#include "flightllm/Dialect/LLM/Transforms/Passes.h.inc"
} // namespace flightllm::llm

using namespace mlir;
using namespace flightllm;
using flightllm::llm::pruning::SparsityPattern;
using flightllm::llm::second_order::RowMatrix;
using flightllm::reference::HostTensor;

namespace {

/// Back to the weight's layout as f32.
DenseElementsAttr attrOf(const RowMatrix &m, RankedTensorType type,
                         bool transposed) {
  std::vector<float> out(size_t(m.rows * m.cols));
  int64_t d1 = type.getDimSize(1);
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < m.cols; ++c)
      out[size_t(transposed ? r * d1 + c : c * d1 + r)] = float(m.at(r, c));
  return DenseElementsAttr::get(
      RankedTensorType::get(type.getShape(),
                            Float32Type::get(type.getContext())),
      ArrayRef<float>(out));
}

struct SparsifyPass
    : public flightllm::llm::impl::SparsifyPassBase<SparsifyPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<SparsityPattern> parsed = llm::pruning::parsePattern(pattern);
    if (failed(parsed)) {
      module.emitError() << "pattern must be S:M with 0 < S < M (2:4, 8:16, "
                            "4:16, 2:16) or blockB (block16), got '"
                         << pattern << "'";
      return signalPassFailure();
    }
    SparsityPattern p = *parsed;
    if (!llm::pruning::isMethod(method)) {
      module.emitError() << "method must be magnitude, wanda or sparsegpt, "
                            "got '"
                         << method << "'";
      return signalPassFailure();
    }

    // The float linears with constant weights, checked before any work.
    SmallVector<llm::LinearOp> linears;
    bool ok = true;
    module.walk([&](llm::LinearOp op) {
      auto weight = op.getWeight().getDefiningOp<llm::WeightOp>();
      auto type = cast<RankedTensorType>(op.getWeight().getType());
      if (!weight || !isa<FloatType>(type.getElementType()) ||
          !type.hasStaticShape())
        return;
      int64_t n = type.getDimSize(op.getTransposeWeight() ? 0 : 1);
      int64_t k = type.getDimSize(op.getTransposeWeight() ? 1 : 0);
      if (std::string why = llm::pruning::misfit(p, k, n); !why.empty()) {
        op.emitError() << "cannot sparsify '" << weight.getName() << "' (" << k
                       << " inputs x " << n << " outputs) to pattern "
                       << pattern << ": " << why;
        ok = false;
        return;
      }
      linears.push_back(op);
    });
    if (!ok)
      return signalPassFailure();
    if (linears.empty())
      return;

    llvm::DenseMap<Value, llm::InputStatistics> stats;
    if (method != "magnitude") {
      auto source =
          llm::CalibrationSource::of(textFile, tokens, maxTokens, window);
      auto collected = llm::collectInputStatistics(
          module, source, /*secondMoment=*/method == "sparsegpt");
      if (failed(collected))
        return signalPassFailure();
      stats = std::move(*collected);
    }

    OpBuilder b(&getContext());
    for (llm::LinearOp op : linears) {
      auto weightOp = op.getWeight().getDefiningOp<llm::WeightOp>();
      auto value = HostTensor::fromElementsAttr(weightOp.getValue());
      if (!value) {
        op.emitError() << "cannot read weight '" << weightOp.getName()
                       << "': " << llvm::toString(value.takeError());
        return signalPassFailure();
      }
      bool transposed = op.getTransposeWeight();
      RowMatrix w = llm::second_order::rowsOfWeight(*value, transposed);
      if (failed(sparsify(op, w, p, stats)))
        return signalPassFailure();
      auto type = cast<RankedTensorType>(op.getWeight().getType());
      b.setInsertionPointAfter(weightOp);
      DenseElementsAttr data = attrOf(w, type, transposed);
      auto pruned = llm::WeightOp::create(b, weightOp.getLoc(), data.getType(),
                                          weightOp.getNameAttr(), data);
      op.getWeightMutable().assign(pruned.getResult());
      if (weightOp.use_empty())
        weightOp.erase();
      // The result type stays: the weight keeps its shape; f16/bf16
      // weights become f32 (their values are exact in f32).
      if (p.block)
        op.setBlockSparsity(ArrayRef<int64_t>{p.block, p.block, p.keep, p.run});
      else
        op.setSparsity(ArrayRef<int64_t>{p.keep, p.run});
    }
  }

  LogicalResult
  sparsify(llm::LinearOp op, RowMatrix &w, const SparsityPattern &p,
           const llvm::DenseMap<Value, llm::InputStatistics> &stats) {
    const llm::InputStatistics *s = nullptr;
    if (method != "magnitude") {
      auto it = stats.find(op.getX());
      if (it == stats.end() || it->second.rows == 0)
        return op.emitError() << "no calibration statistics for the input of "
                                 "this projection (was it reached?)";
      s = &it->second;
    }
    std::string error;
    if (failed(llm::pruning::prune(w, p, method, s, damp, error)))
      return op.emitError() << error;
    return success();
  }
};

} // namespace
