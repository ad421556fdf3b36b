//===- Layouts.h - How activations sit in on-chip rows --------------------===//
//
// An activation row of N elements is either dense or split into groups (the
// heads of q, k, v and the attention output), each group padded to a whole
// number of on-chip rows so that per-head instructions can address it. The
// padding elements are zero: linears producing a grouped value have zero
// weight rows there, and linears consuming one have zero weight columns, so
// the padding never changes a result (docs/lowering.md).
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_LIB_CONVERSION_LLMTOFLIGHT_LAYOUTS_H
#define FLIGHTLLM_LIB_CONVERSION_LLMTOFLIGHT_LAYOUTS_H

#include "flightllm/ISA/ISA.h"

#include <cstdint>

namespace flightllm::lowering {

inline constexpr uint64_t kRowBytes = isa::kOnChipRowBytes;
inline constexpr uint64_t kUnitBytes = isa::kOffChipUnitBytes;

inline uint64_t roundUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
inline uint32_t rowsFor(uint64_t bytes) {
  return static_cast<uint32_t>((bytes + kRowBytes - 1) / kRowBytes);
}
/// Rows of a qvec of k INT8 values: the values, then the fp32 scale row.
inline uint32_t qvecRows(uint64_t k) { return rowsFor(k) + 1; }

struct Layout {
  int64_t groups = 1, size = 0, pad = 0;

  static Layout dense(int64_t n) { return {1, n, n}; }
  static Layout heads(int64_t heads, int64_t headDim) {
    return {heads, headDim,
            static_cast<int64_t>(roundUp(headDim, kRowBytes / 2))};
  }
  int64_t physical() const { return groups * pad; }
  /// Physical element index of logical element i, or -1.
  int64_t physicalIndex(int64_t i) const {
    return (i / size) * pad + i % size;
  }
  /// Logical index of physical element p, or -1 for padding.
  int64_t logicalIndex(int64_t p) const {
    int64_t g = p / pad, j = p % pad;
    return j < size ? g * size + j : -1;
  }
  uint32_t rowsPerToken(uint64_t elemBytes = 2) const {
    return rowsFor(physical() * elemBytes);
  }
  uint32_t groupRows() const { return rowsFor(pad * 2); }
  bool operator==(const Layout &o) const {
    return groups == o.groups && size == o.size && pad == o.pad;
  }
  bool operator!=(const Layout &o) const { return !(*this == o); }
};

} // namespace flightllm::lowering

#endif
