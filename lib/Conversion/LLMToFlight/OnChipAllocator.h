//===- OnChipAllocator.h - Rows of one on-chip buffer, by liveness --------===//
//
// Two policies over one buffer of rows. Values (allocateLow) are placed
// first-fit from the bottom, so long-lived activations pack together and
// large ones (a 128-token FFN intermediate of OPT-6.7B takes half of act)
// find contiguous room. Temporaries (allocate) are placed next-fit from
// where the previous one ended, preferring the upper part of the buffer: a
// temporary freed and requested again lands elsewhere, so the hardware can
// fill the next copy while the previous one is still being read (double
// buffering falls out of the allocation order; the dependency tokens keep
// reuse safe when it wraps).
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

  /// A temporary: next-fit, from the upper part of the buffer first.
  std::optional<Region> allocate(uint32_t rows) {
    if (rows == 0)
      rows = 1;
    uint32_t upper = tempBase();
    if (auto r = findFrom(std::max(cursor, upper), rows))
      return take(*r, rows, true);
    if (auto r = findFrom(upper, rows))
      return take(*r, rows, true);
    if (auto r = findFrom(0, rows))
      return take(*r, rows, true);
    return std::nullopt;
  }
  /// A value: first-fit from the bottom.
  std::optional<Region> allocateLow(uint32_t rows) {
    if (rows == 0)
      rows = 1;
    if (auto r = findFrom(0, rows))
      return take(*r, rows, false);
    return std::nullopt;
  }
  void free(const Region &r) { live.erase(r.row); }
  void reset() {
    live.clear();
    cursor = 0;
    hasValues = false;
  }
  /// Pins `r` (allocated elsewhere, e.g. the layer input) as live.
  void pin(const Region &r) { live[r.row] = r.rows; }
  uint32_t peakRows() const { return peak; }
  uint32_t capacityRows() const { return capacity; }
  isa::Buffer bufferKind() const { return buffer; }

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
  /// Temporaries go to the top half of a buffer that values share with
  /// them; a buffer without values (weight, meta) rotates through all of it.
  uint32_t tempBase() const { return hasValues ? capacity / 2 : 0; }
  Region take(uint32_t row, uint32_t rows, bool temporary) {
    live[row] = rows;
    if (temporary)
      cursor = row + rows;
    else
      hasValues = true;
    peak = std::max(peak, row + rows);
    return Region{buffer, row, rows};
  }

  isa::Buffer buffer;
  uint32_t capacity;
  uint32_t cursor = 0, peak = 0;
  bool hasValues = false;
  std::map<uint32_t, uint32_t> live; // start row -> rows
};

} // namespace flightllm::lowering

#endif
