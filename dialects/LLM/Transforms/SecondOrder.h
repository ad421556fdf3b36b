//===- SecondOrder.h - OBS column sweeps of SparseGPT and GPTQ --*- C++ -*-===//
//
// SparseGPT and GPTQ share one algorithm: visit the columns (input channels
// k) of a weight held as [N][K] rows in order, replace each column by its
// pruned or quantized value, and spread the error over the columns not yet
// visited with the rows of the upper Cholesky factor U of H^-1 (H = X^T X
// of the calibration inputs plus dampening), the Optimal Brain Surgeon
// update. Columns are handled in blocks with lazy updates: inside a block
// updates touch the block only; the block's accumulated errors reach the
// later columns in one product at its end.
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DIALECTS_LLM_TRANSFORMS_SECONDORDER_H
#define FLIGHTLLM_DIALECTS_LLM_TRANSFORMS_SECONDORDER_H

#include "flightllm/Reference/HostTensor.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace flightllm::llm::second_order {

/// A weight as N rows of K input-channel values (row-major, double).
struct RowMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<double> values;
  double &at(int64_t r, int64_t c) { return values[size_t(r * cols + c)]; }
  double at(int64_t r, int64_t c) const { return values[size_t(r * cols + c)]; }
};

/// A 2-D weight (any element kind) as [N][K] rows: `[K, N]`, or `[N, K]`
/// when `transposed`.
RowMatrix rowsOfWeight(const reference::HostTensor &weight, bool transposed);

/// The upper factor U (K x K, row-major, U^T U = (H + d I)^-1) of the
/// dampened second moment `h` (K x K), with d = `damp` * mean(diag h).
/// Input channels that never fired (H_kk = 0) get H_kk = 1 and are listed
/// in `dead` (their weights do not matter and are zeroed by the callers).
/// Retries with ten times the dampening while H is not positive definite;
/// nullopt if it never becomes so.
std::optional<std::vector<double>> inverseFactor(std::vector<double> h,
                                                 int64_t k, double damp,
                                                 std::vector<bool> &dead);

/// The column sweep. Before column c, `beforeColumn(c, w)` may inspect the
/// current values (exact for every column of c's block: blocks are
/// `blockSize` columns, which callers make a multiple of their group
/// sizes). `project(r, c, w)` gives the value w[r][c] becomes; the error
/// (w - q) / U[c][c] updates the later columns.
void sweep(RowMatrix &w, const std::vector<double> &u, int64_t blockSize,
           llvm::function_ref<void(int64_t, const RowMatrix &)> beforeColumn,
           llvm::function_ref<double(int64_t, int64_t, double)> project);

/// sum_r dW_r^T H dW_r / sum_r W_r^T H W_r for dW = approx - exact: the
/// relative output error of a projection on the calibration inputs.
double relativeOutputError(const RowMatrix &exact, const RowMatrix &approx,
                           const std::vector<double> &h);

} // namespace flightllm::llm::second_order

#endif
