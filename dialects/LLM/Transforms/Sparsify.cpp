//===- Sparsify.cpp - N:M and block sparsity of linear weights ------------===//

#include "SecondOrder.h"
#include "flightllm/Dialect/LLM/Transforms/Calibration.h"
#include "flightllm/Dialect/LLM/Transforms/Passes.h"
#include "flightllm/Reference/HostTensor.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace flightllm::llm {
#define GEN_PASS_DEF_SPARSIFYPASS
#include "flightllm/Dialect/LLM/Transforms/Passes.h.inc"
} // namespace flightllm::llm

using namespace mlir;
using namespace flightllm;
using flightllm::llm::second_order::RowMatrix;
using flightllm::reference::HostTensor;

namespace {

/// The structure to reach: S of every M along k, or one of every two
/// consecutive B x B blocks along k.
struct Pattern {
  int64_t keep = 0, run = 0;
  int64_t block = 0; // > 0: block sparsity with B x B blocks, 1:2
};

FailureOr<Pattern> parsePattern(StringRef text) {
  Pattern p;
  if (text.consume_front("block")) {
    if (text.getAsInteger(10, p.block) || p.block <= 0)
      return failure();
    p.keep = 1;
    p.run = 2;
    return p;
  }
  auto [s, m] = text.split(':');
  if (s.getAsInteger(10, p.keep) || m.getAsInteger(10, p.run) || p.run <= 0 ||
      p.keep <= 0 || p.keep >= p.run)
    return failure();
  return p;
}

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

/// Marks in `pruned` (rows x cols) the M - S lowest `score`s of row r in
/// columns [c0, c0 + M).
void pruneRun(const std::vector<double> &score, int64_t cols, int64_t r,
              int64_t c0, const Pattern &p, std::vector<bool> &pruned) {
  std::vector<int64_t> order(static_cast<size_t>(p.run));
  std::iota(order.begin(), order.end(), c0);
  // Lowest score first; on ties the later column goes first (the earlier
  // one stays).
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    double sa = score[size_t(r * cols + a)], sb = score[size_t(r * cols + b)];
    return sa < sb || (sa == sb && a > b);
  });
  for (int64_t i = 0; i < p.run - p.keep; ++i)
    pruned[size_t(r * cols + order[size_t(i)])] = true;
}

/// Block pattern: in each column of B x B blocks (B output rows), keeps the
/// block with the larger summed score of every two consecutive along k.
std::vector<bool> blockMask(const std::vector<double> &score, int64_t rows,
                            int64_t cols, int64_t b) {
  std::vector<bool> pruned(size_t(rows * cols), false);
  auto blockScore = [&](int64_t rb, int64_t cb) {
    double s = 0;
    for (int64_t r = rb * b; r < (rb + 1) * b; ++r)
      for (int64_t c = cb * b; c < (cb + 1) * b; ++c)
        s += score[size_t(r * cols + c)];
    return s;
  };
  for (int64_t rb = 0; rb < rows / b; ++rb)
    for (int64_t cb = 0; cb < cols / b; cb += 2) {
      int64_t drop = blockScore(rb, cb) < blockScore(rb, cb + 1) ? cb : cb + 1;
      for (int64_t r = rb * b; r < (rb + 1) * b; ++r)
        for (int64_t c = drop * b; c < (drop + 1) * b; ++c)
          pruned[size_t(r * cols + c)] = true;
    }
  return pruned;
}

struct SparsifyPass
    : public flightllm::llm::impl::SparsifyPassBase<SparsifyPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<Pattern> parsed = parsePattern(pattern);
    if (failed(parsed)) {
      module.emitError() << "pattern must be S:M with 0 < S < M (2:4, 8:16, "
                            "4:16, 2:16) or blockB (block16), got '"
                         << pattern << "'";
      return signalPassFailure();
    }
    Pattern p = *parsed;
    if (method != "magnitude" && method != "wanda" && method != "sparsegpt") {
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
      int64_t kUnit = p.block ? 2 * p.block : p.run;
      if (k % kUnit != 0 || (p.block && n % p.block != 0)) {
        op.emitError()
            << "cannot sparsify '" << weight.getName() << "' (" << k
            << " inputs x " << n << " outputs) to pattern " << pattern << ": "
            << (p.block ? "blocks of " + std::to_string(p.block) +
                              " need K a multiple of " + std::to_string(kUnit) +
                              " and N of " + std::to_string(p.block)
                        : "M = " + std::to_string(p.run) + " must divide K");
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
  sparsify(llm::LinearOp op, RowMatrix &w, const Pattern &p,
           const llvm::DenseMap<Value, llm::InputStatistics> &stats) {
    int64_t rows = w.rows, cols = w.cols;
    const llm::InputStatistics *s = nullptr;
    if (method != "magnitude") {
      auto it = stats.find(op.getX());
      if (it == stats.end() || it->second.rows == 0)
        return op.emitError() << "no calibration statistics for the input of "
                                 "this projection (was it reached?)";
      s = &it->second;
    }
    if (method != "sparsegpt") {
      // |W| (magnitude) or |W| * ||X_k|| (Wanda); the mask is final.
      std::vector<double> score(size_t(rows * cols));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          score[size_t(r * cols + c)] =
              std::fabs(w.at(r, c)) *
              (s ? std::sqrt(s->sumSquares[size_t(c)]) : 1.0);
      std::vector<bool> pruned(size_t(rows * cols), false);
      if (p.block)
        pruned = blockMask(score, rows, cols, p.block);
      else
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c0 = 0; c0 < cols; c0 += p.run)
            pruneRun(score, cols, r, c0, p, pruned);
      for (size_t i = 0; i < pruned.size(); ++i)
        if (pruned[i])
          w.values[i] = 0;
      return success();
    }

    // SparseGPT: OBS saliency w^2 / U_kk^2, chosen per run of M columns
    // from the updated weights; block patterns choose up front.
    std::vector<bool> dead;
    std::optional<std::vector<double>> u =
        llm::second_order::inverseFactor(s->secondMoment, cols, damp, dead);
    if (!u)
      return op.emitError() << "sparsegpt: the calibration inputs' second "
                               "moment is not positive definite even after "
                               "dampening";
    for (int64_t c = 0; c < cols; ++c)
      if (dead[size_t(c)])
        for (int64_t r = 0; r < rows; ++r)
          w.at(r, c) = 0;
    auto saliency = [&](const RowMatrix &m, int64_t r, int64_t c) {
      double d = (*u)[size_t(c * cols + c)];
      return m.at(r, c) * m.at(r, c) / (d * d);
    };
    std::vector<bool> pruned(size_t(rows * cols), false);
    if (p.block) {
      std::vector<double> score(size_t(rows * cols));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          score[size_t(r * cols + c)] = saliency(w, r, c);
      pruned = blockMask(score, rows, cols, p.block);
    }
    int64_t blockSize = std::lcm<int64_t>(128, p.block ? 2 * p.block : p.run);
    std::vector<double> score(size_t(rows * cols), 0.0);
    llm::second_order::sweep(
        w, *u, blockSize,
        [&](int64_t c, const RowMatrix &current) {
          if (p.block || c % p.run != 0)
            return;
          for (int64_t r = 0; r < rows; ++r) {
            for (int64_t j = c; j < c + p.run; ++j)
              score[size_t(r * cols + j)] = saliency(current, r, j);
            pruneRun(score, cols, r, c, p, pruned);
          }
        },
        [&](int64_t r, int64_t c, double value) {
          return pruned[size_t(r * cols + c)] ? 0.0 : value;
        });
    return success();
  }
};

} // namespace
