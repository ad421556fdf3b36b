//===- QuantizeWeights.cpp - 8- and 4-bit weight codes --------------------===//
//
// Rounds (rtn) or GPTQ-quantizes the float weights of llm.linear and
// llm.logits into the formats of llm.linear's description, and with
// bits=auto chooses 8 or 4 bits (and optionally an N:M sparsity) per
// projection under an average bits-per-weight budget from the measured
// output error.
//
//===----------------------------------------------------------------------===//

#include "FormatChoice.h"
#include "Pruning.h"
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
  /// bits=auto: pinned to dense 8 bits by keep-8bit.
  bool kept = false;
};

/// bits=auto: one candidate format of a projection, quantized.
struct Candidate {
  /// The N:M pattern it is pruned to (none: as the weight is).
  std::optional<llm::pruning::SparsityPattern> pattern;
  Quantized q;
  llm::format_choice::Candidate cost;
};

/// The zeros of `w`, [N][K].
std::vector<bool> zerosOf(const RowMatrix &w) {
  std::vector<bool> zeros(w.values.size());
  for (size_t i = 0; i < w.values.size(); ++i)
    zeros[i] = w.values[i] == 0;
  return zeros;
}

struct QuantizeWeightsPass
    : public flightllm::llm::impl::QuantizeWeightsPassBase<
          QuantizeWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    candidates.clear();
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
    if (!autoBits && !sparsityCandidates.empty())
      return fail(module, "sparsity-candidates applies to bits=auto");
    if (!llm::pruning::isMethod(sparsityMethod))
      return fail(module, "sparsity-method must be magnitude, wanda or "
                          "sparsegpt, got '" +
                              sparsityMethod + "'");
    patterns.clear();
    for (const std::string &text : sparsityCandidates) {
      FailureOr<llm::pruning::SparsityPattern> parsed =
          llm::pruning::parsePattern(text);
      if (failed(parsed) || parsed->block)
        return fail(module, "sparsity-candidates: '" + text +
                                "' is not S:M with 0 < S < M (8:16, 4:16)");
      patterns.push_back(*parsed);
    }
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
      Projection p{op,
                   weightOp,
                   transposed,
                   llm::second_order::rowsOfWeight(*value, transposed),
                   {},
                   requested,
                   false};
      bool kept = llvm::any_of(keep8Bit, [&](const std::string &pattern) {
        return llm::matchesProjectionPattern(pattern, op);
      });
      if (kept) {
        p.chosen = eight;
        p.kept = true;
      }
      if (p.chosen.groupSize && p.w.cols % p.chosen.groupSize != 0) {
        op->emitError() << "group-size " << p.chosen.groupSize
                        << " does not divide the " << p.w.cols << " inputs of '"
                        << weightOp.getName() << "'";
        ok = false;
        return;
      }
      if (op->getAttr("sparsity") || op->getAttr("block_sparsity"))
        p.zeros = zerosOf(p.w);
      if (autoBits && !kept && isa<llm::LinearOp>(op) && p.zeros.empty())
        for (const llm::pruning::SparsityPattern &pattern : patterns)
          if (std::string why =
                  llm::pruning::misfit(pattern, p.w.cols, p.w.rows);
              !why.empty()) {
            op->emitError() << "sparsity candidate " << pattern.str()
                            << " does not fit '" << weightOp.getName()
                            << "' (" << p.w.cols << " inputs): " << why;
            ok = false;
            return;
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
      auto quantize = [&](const RowMatrix &w, Format f,
                          const std::vector<bool> &zeros) {
        return method == "gptq" ? quantizeGptq(w, f, *u, dead, zeros)
                                : quantizeRtn(w, f);
      };
      if (!autoBits) {
        results[i] = quantize(p.w, p.chosen, p.zeros);
        continue;
      }
      FailureOr<std::vector<Candidate>> measured =
          measureCandidates(p, *s, eight, requested, quantize);
      if (failed(measured))
        return signalPassFailure();
      candidates.push_back(std::move(*measured));
    }
    if (autoBits && failed(choose(module, projections, results)))
      return signalPassFailure();

    OpBuilder b(&getContext());
    for (auto [p, q] : llvm::zip(projections, results))
      replaceWeight(b, p, *q);
  }

  /// bits=auto: each candidate format of `p`, quantized, with its stored
  /// bits and output error against the float weight.
  FailureOr<std::vector<Candidate>> measureCandidates(
      Projection &p, const llm::InputStatistics &s, Format eight,
      Format four,
      llvm::function_ref<Quantized(const RowMatrix &, Format,
                                   const std::vector<bool> &)>
          quantize) {
    std::vector<Candidate> out;
    auto add = [&](std::optional<llm::pruning::SparsityPattern> pattern,
                   const RowMatrix &w, const std::vector<bool> &zeros,
                   Format f) {
      Quantized q = quantize(w, f, zeros);
      double error = llm::second_order::relativeOutputError(
          p.w, q.dequantized(), s.secondMoment);
      out.push_back({pattern, std::move(q), {storedBits(p, f, pattern), error}});
    };
    add(std::nullopt, p.w, p.zeros, eight);
    if (p.kept)
      return out;
    add(std::nullopt, p.w, p.zeros, four);
    if (!isa<llm::LinearOp>(p.op) || !p.zeros.empty())
      return out;
    for (const llm::pruning::SparsityPattern &pattern : patterns) {
      RowMatrix pruned = p.w;
      std::string error;
      if (failed(llm::pruning::prune(pruned, pattern, sparsityMethod, &s, damp,
                                     error)))
        return p.op->emitError() << "sparsity candidate " << pattern.str()
                                 << " of '" << p.weightOp.getName()
                                 << "': " << error;
      std::vector<bool> zeros = zerosOf(pruned);
      add(pattern, pruned, zeros, eight);
      add(pattern, pruned, zeros, four);
    }
    return out;
  }

  /// The stored bits of `p`'s weight in format `f`, pruned to `pattern` or
  /// with the sparsity claim it has (the compile report's count).
  static double storedBits(const Projection &p, const Format &f,
                           std::optional<llm::pruning::SparsityPattern> pattern) {
    llm::ProjectionFootprint claim = llm::projectionFootprint(p.op);
    int64_t keep = pattern ? pattern->keep : claim.keep;
    int64_t run = pattern ? pattern->run : claim.run;
    int64_t weights = p.w.rows * p.w.cols;
    double bits =
        llm::storedWeightBits(weights, p.w.rows, p.w.cols, f.grid.bits,
                              f.groupSize, !f.grid.symmetric, keep, run);
    if (!run && claim.blockRun) {
      // Block sparsity stores the kept blocks' codes.
      double code = double(weights) * double(f.grid.bits);
      bits -= code - code * double(claim.blockKeep) / double(claim.blockRun);
    }
    return bits;
  }

  /// Chooses one candidate per projection: least summed output error with
  /// the average stored bits per weight within the budget.
  LogicalResult choose(ModuleOp module, MutableArrayRef<Projection> ps,
                       MutableArrayRef<std::optional<Quantized>> results) {
    std::vector<std::vector<llm::format_choice::Candidate>> items;
    double weights = 0;
    for (auto [p, cs] : llvm::zip(ps, candidates)) {
      weights += double(p.w.rows * p.w.cols);
      items.emplace_back();
      for (const Candidate &c : cs)
        items.back().push_back(c.cost);
    }
    std::optional<std::vector<size_t>> chosen =
        llm::format_choice::choose(items, budget * weights);
    if (!chosen)
      return module.emitError()
             << "budget " << shortNumber(budget)
             << " bits per weight is below the smallest this model reaches, "
             << llvm::formatv("{0:F3}",
                              llm::format_choice::floorBits(items) / weights)
                    .str()
             << " (every projection in its smallest candidate format)";
    for (auto [i, p] : llvm::enumerate(ps)) {
      Candidate &c = candidates[i][(*chosen)[i]];
      p.chosen = c.q.format;
      if (c.pattern)
        cast<llm::LinearOp>(p.op).setSparsity(
            ArrayRef<int64_t>{c.pattern->keep, c.pattern->run});
      results[i] = std::move(c.q);
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

  /// bits=auto: the parsed sparsity-candidates.
  SmallVector<llm::pruning::SparsityPattern> patterns;
  /// bits=auto: the candidates of each projection, in order.
  std::vector<std::vector<Candidate>> candidates;
};

} // namespace
