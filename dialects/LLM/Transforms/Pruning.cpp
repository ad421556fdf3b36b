//===- Pruning.cpp - N:M and block pruning of a weight --------------------===//

#include "Pruning.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using mlir::failure;
using mlir::FailureOr;
using mlir::LogicalResult;
using mlir::success;
using llvm::StringRef;

namespace flightllm::llm::pruning {

using second_order::RowMatrix;

std::string SparsityPattern::str() const {
  if (block)
    return "block" + std::to_string(block);
  return std::to_string(keep) + ":" + std::to_string(run);
}

FailureOr<SparsityPattern> parsePattern(StringRef text) {
  SparsityPattern p;
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

std::string misfit(const SparsityPattern &p, int64_t k, int64_t n) {
  int64_t kUnit = p.block ? 2 * p.block : p.run;
  if (k % kUnit == 0 && (!p.block || n % p.block == 0))
    return "";
  if (p.block)
    return "blocks of " + std::to_string(p.block) + " need K a multiple of " +
           std::to_string(kUnit) + " and N of " + std::to_string(p.block);
  return "M = " + std::to_string(p.run) + " must divide K";
}

bool isMethod(StringRef method) {
  return method == "magnitude" || method == "wanda" || method == "sparsegpt";
}

namespace {

/// Marks in `pruned` (rows x cols) the M - S lowest `score`s of row r in
/// columns [c0, c0 + M).
void pruneRun(const std::vector<double> &score, int64_t cols, int64_t r,
              int64_t c0, const SparsityPattern &p, std::vector<bool> &pruned) {
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

} // namespace

LogicalResult prune(RowMatrix &w, const SparsityPattern &p, StringRef method,
                             const InputStatistics *s, double damp,
                             std::string &error) {
  int64_t rows = w.rows, cols = w.cols;
  if (method != "sparsegpt") {
    // |W| (magnitude) or |W| * ||X_k|| (Wanda); the mask is final.
    bool wanda = method == "wanda";
    std::vector<double> score(size_t(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        score[size_t(r * cols + c)] =
            std::fabs(w.at(r, c)) *
            (wanda ? std::sqrt(s->sumSquares[size_t(c)]) : 1.0);
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
      second_order::inverseFactor(s->secondMoment, cols, damp, dead);
  if (!u) {
    error = "sparsegpt: the calibration inputs' second moment is not "
            "positive definite even after dampening";
    return failure();
  }
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
  second_order::sweep(
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

} // namespace flightllm::llm::pruning
