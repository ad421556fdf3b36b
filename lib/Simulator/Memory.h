//===- Memory.h - Lazily paged off-chip memory of the simulator -*- C++ -*-===//
//
// One HBM pseudo-channel or DDR channel: pages are allocated on first write,
// never-written bytes read as zero. With keep = false writes are accepted and
// dropped (timing-only mode for HBM).
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_LIB_SIMULATOR_MEMORY_H
#define FLIGHTLLM_LIB_SIMULATOR_MEMORY_H

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

namespace flightllm::sim {

class PagedMemory {
public:
  static constexpr unsigned kPageBits = 16; // 64 KiB pages
  static constexpr uint64_t kPageBytes = uint64_t(1) << kPageBits;

  PagedMemory(uint64_t bytes, bool keep) : bytes_(bytes), keep_(keep) {
    if (keep_)
      pages_.resize((bytes + kPageBytes - 1) >> kPageBits);
  }

  uint64_t size() const { return bytes_; }
  bool inRange(uint64_t offset, uint64_t n) const {
    return offset <= bytes_ && n <= bytes_ - offset;
  }

  void write(uint64_t offset, const uint8_t *src, uint64_t n) {
    if (!keep_)
      return;
    while (n > 0) {
      uint64_t page = offset >> kPageBits, in = offset & (kPageBytes - 1);
      uint64_t chunk = std::min<uint64_t>(n, kPageBytes - in);
      std::memcpy(pageFor(page) + in, src, chunk);
      src += chunk;
      offset += chunk;
      n -= chunk;
    }
  }

  void read(uint64_t offset, uint8_t *dst, uint64_t n) const {
    while (n > 0) {
      uint64_t page = offset >> kPageBits, in = offset & (kPageBytes - 1);
      uint64_t chunk = std::min<uint64_t>(n, kPageBytes - in);
      if (keep_ && pages_[page])
        std::memcpy(dst, pages_[page].get() + in, chunk);
      else
        std::memset(dst, 0, chunk);
      dst += chunk;
      offset += chunk;
      n -= chunk;
    }
  }

  /// Pages allocated so far.
  size_t residentPages() const {
    size_t n = 0;
    for (const auto &p : pages_)
      n += p != nullptr;
    return n;
  }

private:
  uint8_t *pageFor(uint64_t page) {
    std::unique_ptr<uint8_t[]> &p = pages_[page];
    if (!p)
      p.reset(new uint8_t[kPageBytes]()); // zeroed
    return p.get();
  }

  uint64_t bytes_;
  bool keep_;
  std::vector<std::unique_ptr<uint8_t[]>> pages_;
};

} // namespace flightllm::sim

#endif // FLIGHTLLM_LIB_SIMULATOR_MEMORY_H
