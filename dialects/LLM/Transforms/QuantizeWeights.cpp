//===- QuantizeWeights.cpp - 8- and 4-bit weight codes --------------------===//
//
// Rounds (rtn) or GPTQ-quantizes the float weights of llm.linear and
// llm.logits into the formats of llm.linear's description, and with
// bits=auto chooses 8 or 4 bits per projection under an average
// bits-per-weight budget from the measured output error.
//
//===----------------------------------------------------------------------===//

#include "SecondOrder.h"
#include "flightllm/Dialect/LLM/Compression.h"
#include "flightllm/Dialect/LLM/Transforms/Calibration.h"
#include "flightllm/Dialect/LLM/Transforms/Passes.h"
#include "flightllm/Support/Progress.h"
#include "flightllm/Dialect/LLM/WeightQuantization.h"
#include "flightllm/Reference/HostTensor.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/GlobPattern.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

namespace flightllm::llm {
#define GEN_PASS_DEF_QUANTIZEWEIGHTSPASS
#include "flightllm/Dialect/LLM/Transforms/Passes.h.inc"
} // namespace flightllm::llm

using namespace mlir;
using namespace flightllm;
using flightllm::llm::GroupParams;
using flightllm::llm::WeightGrid;
using flightllm::llm::second_order::RowMatrix;
using flightllm::reference::HostTensor;

namespace {

/// `x` as a person writes it (4.5, not 4.500000e+00).
std::string shortNumber(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

/// One format to quantize to.
struct Format {
  WeightGrid grid;
  int64_t groupSize = 0;
};

/// A quantized weight as [N][K] codes with [N][groups] parameters.
struct Quantized {
  Format format;
  int64_t rows = 0, cols = 0;
  std::vector<int8_t> codes;
  std::vector<GroupParams> params;

  int64_t groups() const {
    return format.groupSize ? cols / format.groupSize : 1;
  }
  const GroupParams &paramsAt(int64_t r, int64_t c) const {
    return params[size_t(r * groups() +
                         (format.groupSize ? c / format.groupSize : 0))];
  }
  /// The dequantized weight, [N][K].
  RowMatrix dequantized() const {
    RowMatrix m{rows, cols, std::vector<double>(size_t(rows * cols))};
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        m.at(r, c) = llm::dequantizeWeightCode(codes[size_t(r * cols + c)],
                                               paramsAt(r, c));
    return m;
  }
};

/// The parameters of row r's columns [c0, c1) as they are in `w`.
GroupParams paramsOf(const RowMatrix &w, int64_t r, int64_t c0, int64_t c1,
                     WeightGrid grid) {
  float lo = 0, hi = 0;
  for (int64_t c = c0; c < c1; ++c) {
    float v = float(w.at(r, c));
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (grid.symmetric) {
    // Symmetric scales take max |w| only (exactly weightChannelScale).
    float maxAbs = 0;
    for (int64_t c = c0; c < c1; ++c)
      maxAbs = std::max(maxAbs, std::abs(float(w.at(r, c))));
    return llm::weightGroupParams(-maxAbs, maxAbs, grid);
  }
  return llm::weightGroupParams(lo, hi, grid);
}

/// Round to nearest: each group's parameters from its weights.
Quantized quantizeRtn(const RowMatrix &w, Format f) {
  Quantized q{f, w.rows, w.cols, std::vector<int8_t>(w.values.size()), {}};
  int64_t g = f.groupSize ? f.groupSize : w.cols;
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t c0 = 0; c0 < w.cols; c0 += g) {
      GroupParams p = paramsOf(w, r, c0, c0 + g, f.grid);
      q.params.push_back(p);
      for (int64_t c = c0; c < c0 + g; ++c)
        q.codes[size_t(r * w.cols + c)] =
            llm::quantizeWeightCode(float(w.at(r, c)), p, f.grid);
    }
  return q;
}

/// GPTQ: columns in order, each group's parameters from its updated
/// weights when the sweep reaches it; `zeros` (may be empty) are weights
/// that must stay zero (sparsity).
Quantized quantizeGptq(RowMatrix w, Format f, const std::vector<double> &u,
                       const std::vector<bool> &dead,
                       const std::vector<bool> &zeros) {
  Quantized q{f, w.rows, w.cols, std::vector<int8_t>(w.values.size()), {}};
  int64_t groups = q.groups();
  q.params.resize(size_t(w.rows * groups));
  for (int64_t c = 0; c < w.cols; ++c)
    if (dead[size_t(c)])
      for (int64_t r = 0; r < w.rows; ++r)
        w.at(r, c) = 0;
  int64_t g = f.groupSize ? f.groupSize : w.cols;
  int64_t blockSize = f.groupSize ? std::lcm<int64_t>(128, g) : 128;
  llm::second_order::sweep(
      w, u, blockSize,
      [&](int64_t c, const RowMatrix &current) {
        if (c % g != 0)
          return;
        for (int64_t r = 0; r < w.rows; ++r)
          q.params[size_t(r * groups + c / g)] =
              paramsOf(current, r, c, c + g, f.grid);
      },
      [&](int64_t r, int64_t c, double value) {
        const GroupParams &p = q.paramsAt(r, c);
        int8_t code = !zeros.empty() && zeros[size_t(r * w.cols + c)]
                          ? int8_t(p.zeroPoint)
                          : llm::quantizeWeightCode(float(value), p, f.grid);
        q.codes[size_t(r * w.cols + c)] = code;
        return double(llm::dequantizeWeightCode(code, p));
      });
  return q;
}

/// A projection to quantize, with its float weight as [N][K].
struct Projection {
  Operation *op;
  llm::WeightOp weightOp;
  bool transposed;
  RowMatrix w;
  /// Weights that are zero under a sparsity claim, [N][K] (empty if none).
  std::vector<bool> zeros;
  Format chosen;
  double error8 = 0, error4 = 0;
};

struct QuantizeWeightsPass
    : public flightllm::llm::impl::QuantizeWeightsPassBase<
          QuantizeWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    pending4.clear();
    bool autoBits = bits == "auto";
    if (bits != "8" && bits != "4" && !autoBits)
      return fail(module, "bits must be 8, 4 or auto, got '" + bits + "'");
    if (method != "rtn" && method != "gptq")
      return fail(module, "method must be rtn or gptq, got '" + method + "'");
    if (groupSize < 0)
      return fail(module, "group-size must be non-negative");
    if (autoBits && !(budget > 0))
      return fail(module, "bits=auto needs budget=B, the average bits per "
                          "weight (for example 4.5)");
    if (!autoBits && budget != 0)
      return fail(module, "budget applies to bits=auto");
    for (const std::string &pattern : keep8Bit)
      if (llvm::Error e = llvm::GlobPattern::create(pattern).takeError()) {
        llvm::consumeError(std::move(e));
        return fail(module, "keep-8bit: bad pattern '" + pattern + "'");
      }

    Format eight{WeightGrid{8, true}, 0};
    Format requested{WeightGrid{autoBits ? 4 : std::stoi(bits), symmetric},
                     groupSize};

    SmallVector<Projection> projections;
    bool ok = true;
    module.walk([&](Operation *op) {
      if (!isa<llm::LinearOp, llm::LogitsOp>(op) ||
          op->getAttr("weight_scales"))
        return;
      auto weightOp = op->getOperand(1).getDefiningOp<llm::WeightOp>();
      auto type = cast<RankedTensorType>(op->getOperand(1).getType());
      if (!weightOp || !isa<FloatType>(type.getElementType()))
        return;
      auto linear = dyn_cast<llm::LinearOp>(op);
      bool transposed = linear ? linear.getTransposeWeight()
                               : cast<llm::LogitsOp>(op).getTransposeWeight();
      auto value = HostTensor::fromElementsAttr(weightOp.getValue());
      if (!value) {
        op->emitError() << "cannot read weight '" << weightOp.getName()
                        << "': " << llvm::toString(value.takeError());
        ok = false;
        return;
      }
      Projection p{
          op,         weightOp,
          transposed, llm::second_order::rowsOfWeight(*value, transposed),
          {},         requested,
          0,          0};
      bool kept = llvm::any_of(keep8Bit, [&](const std::string &pattern) {
        return llm::matchesProjectionPattern(pattern, op);
      });
      if (kept)
        p.chosen = eight;
      if (p.chosen.groupSize && p.w.cols % p.chosen.groupSize != 0) {
        op->emitError() << "group-size " << p.chosen.groupSize
                        << " does not divide the " << p.w.cols << " inputs of '"
                        << weightOp.getName() << "'";
        ok = false;
        return;
      }
      if (op->getAttr("sparsity") || op->getAttr("block_sparsity")) {
        p.zeros.resize(p.w.values.size());
        for (size_t i = 0; i < p.w.values.size(); ++i)
          p.zeros[i] = p.w.values[i] == 0;
      }
      projections.push_back(std::move(p));
    });
    if (!ok)
      return signalPassFailure();
    if (projections.empty())
      return;

    bool needStatistics = method == "gptq" || autoBits;
    llvm::DenseMap<Value, llm::InputStatistics> stats;
    if (needStatistics) {
      auto source =
          llm::CalibrationSource::of(textFile, tokens, maxTokens, window);
      auto collected =
          llm::collectInputStatistics(module, source, /*secondMoment=*/true);
      if (failed(collected))
        return signalPassFailure();
      stats = std::move(*collected);
    }

    // Per projection: the quantizer of a format (rtn, or GPTQ with its
    // factor), and with bits=auto the errors of both candidates.
    SmallVector<std::optional<Quantized>> results(projections.size());
    ProgressBar bar("quantizing weights", projections.size());
    for (auto [i, p] : llvm::enumerate(projections)) {
      bar.advance();
      const llm::InputStatistics *s = nullptr;
      std::optional<std::vector<double>> u;
      std::vector<bool> dead;
      if (needStatistics) {
        auto it = stats.find(p.op->getOperand(0));
        if (it == stats.end() || it->second.rows == 0) {
          p.op->emitError() << "no calibration statistics for the input of '"
                            << p.weightOp.getName() << "' (was it reached?)";
          return signalPassFailure();
        }
        s = &it->second;
      }
      if (method == "gptq") {
        u = llm::second_order::inverseFactor(s->secondMoment, p.w.cols, damp,
                                             dead);
        if (!u) {
          p.op->emitError() << "gptq: the calibration inputs' second moment "
                               "of '"
                            << p.weightOp.getName()
                            << "' is not positive definite even after "
                               "dampening";
          return signalPassFailure();
        }
      }
      auto run = [&](Format f) {
        return method == "gptq" ? quantizeGptq(p.w, f, *u, dead, p.zeros)
                                : quantizeRtn(p.w, f);
      };
      if (!autoBits) {
        results[i] = run(p.chosen);
        continue;
      }
      Quantized q8 = run(eight);
      p.error8 = llm::second_order::relativeOutputError(p.w, q8.dequantized(),
                                                        s->secondMoment);
      if (p.chosen.grid.bits == 8) {
        results[i] = std::move(q8);
        continue;
      }
      Quantized q4 = run(requested);
      p.error4 = llm::second_order::relativeOutputError(p.w, q4.dequantized(),
                                                        s->secondMoment);
      // Starts at 8 bits; the budget search may switch it to 4.
      p.chosen = eight;
      results[i] = std::move(q8);
      pending4.push_back({i, std::move(q4)});
    }
    if (autoBits && failed(chooseBits(module, projections, results, requested)))
      return signalPassFailure();

    OpBuilder b(&getContext());
    for (auto [p, q] : llvm::zip(projections, results))
      replaceWeight(b, p, *q);
  }

  /// Moves projections to 4 bits, least error per saved bit first, until
  /// the average bits per weight is within the budget.
  LogicalResult chooseBits(ModuleOp module, MutableArrayRef<Projection> ps,
                           MutableArrayRef<std::optional<Quantized>> results,
                           Format four) {
    auto bitsOf = [&](const Projection &p, const Format &f) {
      int64_t weights = p.w.rows * p.w.cols;
      return llm::denseBitsPerWeight(weights, p.w.rows, p.w.cols, f.grid.bits,
                                     f.groupSize, !f.grid.symmetric) *
             double(weights);
    };
    double totalBits = 0, totalWeights = 0, floorBits = 0;
    for (const Projection &p : ps) {
      totalBits += bitsOf(p, p.chosen);
      totalWeights += double(p.w.rows * p.w.cols);
    }
    floorBits = totalBits;
    for (auto &[index, q] : pending4)
      floorBits +=
          bitsOf(ps[index], four) - bitsOf(ps[index], ps[index].chosen);
    if (floorBits / totalWeights > budget + 1e-9)
      return module.emitError()
             << "budget " << shortNumber(budget) << " bits per weight is below the "
             << "smallest this model reaches, "
             << llvm::formatv("{0:F3}", floorBits / totalWeights).str()
             << " (every projection not kept at 8 bits at 4 bits)";
    std::vector<size_t> order(pending4.size());
    std::iota(order.begin(), order.end(), 0);
    auto cost = [&](size_t i) {
      const Projection &p = ps[pending4[i].first];
      double saved = bitsOf(p, p.chosen) - bitsOf(p, four);
      return (p.error4 - p.error8) / saved;
    };
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return cost(a) < cost(b); });
    for (size_t i : order) {
      if (totalBits / totalWeights <= budget)
        break;
      auto &[index, q] = pending4[i];
      Projection &p = ps[index];
      totalBits += bitsOf(p, four) - bitsOf(p, p.chosen);
      p.chosen = four;
      results[index] = std::move(q);
    }
    return success();
  }

  void replaceWeight(OpBuilder &b, Projection &p, const Quantized &q) {
    MLIRContext *ctx = &getContext();
    auto type = cast<RankedTensorType>(p.op->getOperand(1).getType());
    int64_t d1 = type.getDimSize(1);
    std::vector<int8_t> codes(q.codes.size());
    for (int64_t r = 0; r < q.rows; ++r)
      for (int64_t c = 0; c < q.cols; ++c)
        codes[size_t(p.transposed ? r * d1 + c : c * d1 + r)] =
            q.codes[size_t(r * q.cols + c)];
    std::vector<float> scales;
    std::vector<int8_t> zeroPoints;
    for (const GroupParams &gp : q.params) {
      scales.push_back(gp.scale);
      zeroPoints.push_back(int8_t(gp.zeroPoint));
    }
    SmallVector<int64_t> scaleShape{q.rows};
    if (q.format.groupSize)
      scaleShape.push_back(q.groups());
    b.setInsertionPointAfter(p.weightOp);
    auto codeType = RankedTensorType::get(type.getShape(), b.getIntegerType(8));
    auto weight = llm::WeightOp::create(
        b, p.weightOp.getLoc(), codeType, p.weightOp.getNameAttr(),
        DenseElementsAttr::get(codeType, ArrayRef<int8_t>(codes)));
    p.op->setOperand(1, weight.getResult());
    p.op->setAttr("weight_scales",
                  DenseElementsAttr::get(
                      RankedTensorType::get(scaleShape, Float32Type::get(ctx)),
                      ArrayRef<float>(scales)));
    Builder attrs(ctx);
    if (q.format.grid.bits != 8)
      p.op->setAttr("weight_bits", attrs.getI64IntegerAttr(q.format.grid.bits));
    if (q.format.groupSize)
      p.op->setAttr("group_size", attrs.getI64IntegerAttr(q.format.groupSize));
    if (!q.format.grid.symmetric)
      p.op->setAttr(
          "weight_zero_points",
          DenseElementsAttr::get(
              RankedTensorType::get(scaleShape, attrs.getIntegerType(8)),
              ArrayRef<int8_t>(zeroPoints)));
    if (p.weightOp.use_empty())
      p.weightOp.erase();
  }

  void fail(ModuleOp module, const std::string &message) {
    module.emitError(message);
    signalPassFailure();
  }

  /// bits=auto: the 4-bit candidate of each projection that may switch.
  std::vector<std::pair<size_t, Quantized>> pending4;
};

} // namespace
