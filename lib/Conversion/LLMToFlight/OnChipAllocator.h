//===- OnChipAllocator.h - Rows of one on-chip buffer, by liveness --------===//
//
// Next-fit allocation of 64/128-byte rows: each allocation starts searching
// where the previous one ended, so a temporary freed and requested again
// lands elsewhere and the hardware can fill the next copy while the previous
// one is still being read (double buffering falls out of the allocation
// order; the dependency tokens keep reuse safe when it wraps).
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_LIB_CONVERSION_LLMTOFLIGHT_ONCHIPALLOCATOR_H
#define FLIGHTLLM_LIB_CONVERSION_LLMTOFLIGHT_ONCHIPALLOCATOR_H

#include "StreamEmitter.h"

#include <algorithm>
#include <map>
#include <optional>

namespace flightllm::lowering {

class OnChipAllocator {
public:
  OnChipAllocator(isa::Buffer buffer, uint32_t rows)
      : buffer(buffer), capacity(rows) {}

  std::optional<Region> allocate(uint32_t rows) {
    if (rows == 0)
      rows = 1;
    if (auto r = findFrom(cursor, rows))
      return take(*r, rows);
    if (auto r = findFrom(0, rows))
      return take(*r, rows);
    return std::nullopt;
  }
  void free(const Region &r) { live.erase(r.row); }
  void reset() {
    live.clear();
    cursor = 0;
  }
  /// Pins `r` (allocated elsewhere, e.g. the layer input) as live.
  void pin(const Region &r) { live[r.row] = r.rows; }
  uint32_t peakRows() const { return peak; }
  uint32_t capacityRows() const { return capacity; }

private:
  std::optional<uint32_t> findFrom(uint32_t start, uint32_t rows) const {
    uint32_t pos = start;
    for (;;) {
      if (pos + rows > capacity)
        return std::nullopt;
      // First live block ending after pos.
      auto it = live.upper_bound(pos);
      if (it != live.begin()) {
        auto prev = std::prev(it);
        if (prev->first + prev->second > pos) {
          pos = prev->first + prev->second;
          continue;
        }
      }
      if (it == live.end() || it->first >= pos + rows)
        return pos;
      pos = it->first + it->second;
    }
  }
  Region take(uint32_t row, uint32_t rows) {
    live[row] = rows;
    cursor = row + rows;
    peak = std::max(peak, row + rows);
    return Region{buffer, row, rows};
  }

  isa::Buffer buffer;
  uint32_t capacity;
  uint32_t cursor = 0, peak = 0;
  std::map<uint32_t, uint32_t> live; // start row -> rows
};

} // namespace flightllm::lowering

#endif
