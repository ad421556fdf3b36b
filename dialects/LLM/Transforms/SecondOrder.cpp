//===- SecondOrder.cpp - OBS column sweeps of SparseGPT and GPTQ ----------===//

#include "SecondOrder.h"

#include <algorithm>
#include <cmath>

using namespace flightllm::llm::second_order;

namespace {

/// In-place lower Cholesky factor of the K x K matrix `a` (upper part
/// zeroed); false if `a` is not positive definite.
bool cholesky(std::vector<double> &a, int64_t k) {
  for (int64_t j = 0; j < k; ++j) {
    double d = a[size_t(j * k + j)];
    for (int64_t p = 0; p < j; ++p)
      d -= a[size_t(j * k + p)] * a[size_t(j * k + p)];
    if (!(d > 0))
      return false;
    double l = std::sqrt(d);
    a[size_t(j * k + j)] = l;
    for (int64_t i = j + 1; i < k; ++i) {
      double s = a[size_t(i * k + j)];
      for (int64_t p = 0; p < j; ++p)
        s -= a[size_t(i * k + p)] * a[size_t(j * k + p)];
      a[size_t(i * k + j)] = s / l;
    }
    for (int64_t i = 0; i < j; ++i)
      a[size_t(i * k + j)] = 0;
  }
  return true;
}

} // namespace

RowMatrix
flightllm::llm::second_order::rowsOfWeight(const reference::HostTensor &weight,
                                           bool transposed) {
  reference::HostTensor w = weight.castTo(reference::ElementKind::F32);
  RowMatrix m;
  int64_t d0 = w.getDim(0), d1 = w.getDim(1);
  m.rows = transposed ? d0 : d1;
  m.cols = transposed ? d1 : d0;
  m.values.resize(size_t(m.rows * m.cols));
  llvm::ArrayRef<float> v = w.getValues<float>();
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < m.cols; ++c)
      m.at(r, c) = transposed ? v[size_t(r * d1 + c)] : v[size_t(c * d1 + r)];
  return m;
}

std::optional<std::vector<double>> flightllm::llm::second_order::inverseFactor(
    std::vector<double> h, int64_t k, double damp, std::vector<bool> &dead) {
  dead.assign(size_t(k), false);
  double mean = 0;
  for (int64_t i = 0; i < k; ++i) {
    double &d = h[size_t(i * k + i)];
    if (d == 0) {
      d = 1;
      dead[size_t(i)] = true;
    }
    mean += d;
  }
  mean /= double(k);
  for (int attempt = 0; attempt < 6; ++attempt, damp *= 10) {
    std::vector<double> l = h;
    for (int64_t i = 0; i < k; ++i)
      l[size_t(i * k + i)] += damp * mean;
    if (!cholesky(l, k))
      continue;
    // L^-1 (lower), by forward substitution column by column.
    std::vector<double> li(size_t(k * k), 0.0);
    for (int64_t c = 0; c < k; ++c) {
      li[size_t(c * k + c)] = 1.0 / l[size_t(c * k + c)];
      for (int64_t i = c + 1; i < k; ++i) {
        double s = 0;
        for (int64_t p = c; p < i; ++p)
          s += l[size_t(i * k + p)] * li[size_t(p * k + c)];
        li[size_t(i * k + c)] = -s / l[size_t(i * k + i)];
      }
    }
    // H^-1 = L^-T L^-1.
    std::vector<double> inv(size_t(k * k), 0.0);
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j <= i; ++j) {
        double s = 0;
        for (int64_t p = i; p < k; ++p)
          s += li[size_t(p * k + i)] * li[size_t(p * k + j)];
        inv[size_t(i * k + j)] = inv[size_t(j * k + i)] = s;
      }
    if (!cholesky(inv, k))
      continue;
    // U = L2^T.
    std::vector<double> u(size_t(k * k), 0.0);
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = i; j < k; ++j)
        u[size_t(i * k + j)] = inv[size_t(j * k + i)];
    return u;
  }
  return std::nullopt;
}

void flightllm::llm::second_order::sweep(
    RowMatrix &w, const std::vector<double> &u, int64_t blockSize,
    llvm::function_ref<void(int64_t, const RowMatrix &)> beforeColumn,
    llvm::function_ref<double(int64_t, int64_t, double)> project) {
  int64_t n = w.rows, k = w.cols;
  auto uAt = [&](int64_t i, int64_t j) { return u[size_t(i * k + j)]; };
  for (int64_t i1 = 0; i1 < k; i1 += blockSize) {
    int64_t i2 = std::min(i1 + blockSize, k), count = i2 - i1;
    std::vector<double> err(size_t(n * count), 0.0);
    for (int64_t c = i1; c < i2; ++c) {
      beforeColumn(c, w);
      double d = uAt(c, c);
      for (int64_t r = 0; r < n; ++r) {
        double value = w.at(r, c);
        double q = project(r, c, value);
        w.at(r, c) = q;
        double e = (value - q) / d;
        err[size_t(r * count + (c - i1))] = e;
        if (e == 0)
          continue;
        for (int64_t j = c + 1; j < i2; ++j)
          w.at(r, j) -= e * uAt(c, j);
      }
    }
    if (i2 == k)
      continue;
    for (int64_t r = 0; r < n; ++r)
      for (int64_t i = 0; i < count; ++i) {
        double e = err[size_t(r * count + i)];
        if (e == 0)
          continue;
        for (int64_t j = i2; j < k; ++j)
          w.at(r, j) -= e * uAt(i1 + i, j);
      }
  }
}

double flightllm::llm::second_order::relativeOutputError(
    const RowMatrix &exact, const RowMatrix &approx,
    const std::vector<double> &h) {
  int64_t k = exact.cols;
  double num = 0, den = 0;
  std::vector<double> d(static_cast<size_t>(k));
  auto quadratic = [&](const std::vector<double> &v) {
    double s = 0;
    for (int64_t i = 0; i < k; ++i) {
      if (v[size_t(i)] == 0)
        continue;
      double t = 0;
      for (int64_t j = 0; j < k; ++j)
        t += h[size_t(i * k + j)] * v[size_t(j)];
      s += v[size_t(i)] * t;
    }
    return s;
  };
  std::vector<double> row(static_cast<size_t>(k));
  for (int64_t r = 0; r < exact.rows; ++r) {
    for (int64_t i = 0; i < k; ++i) {
      row[size_t(i)] = exact.at(r, i);
      d[size_t(i)] = approx.at(r, i) - exact.at(r, i);
    }
    num += quadratic(d);
    den += quadratic(row);
  }
  return den > 0 ? num / den : 0.0;
}
