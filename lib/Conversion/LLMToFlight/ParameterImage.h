//===- ParameterImage.h - The HBM image: where every parameter lives ------===//
//
// Lays out the HBM contents every channel starts with:
//
//   [global parameters][layer 0][layer 1]...[layer L-1]   (the .flb image)
//   [KV cache, L layer slots][input rows][logits][scratch] (run-time areas)
//
// Layer slots have the same size and internal layout in every channel, so
// base register B1 = origin + L * stride addresses layer L's copy of any
// parameter; KV slots likewise through B2. Tiles are dealt round-robin over
// the channels so a layer's loads use every channel's bandwidth.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_LIB_CONVERSION_LLMTOFLIGHT_PARAMETERIMAGE_H
#define FLIGHTLLM_LIB_CONVERSION_LLMTOFLIGHT_PARAMETERIMAGE_H

#include "Layouts.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

namespace flightllm::lowering {

/// A blob in one channel: `offset` is relative to the global area (absolute)
/// or to the layer slot (add B1), in bytes.
struct HBMLoc {
  uint32_t channel = 0;
  uint64_t offset = 0;
  uint64_t bytes = 0;
  bool perLayer = false;
  /// In a DDR channel (a weight tile the layout put in the board's DDR,
  /// read through B3) rather than an HBM one.
  bool ddr = false;
  uint32_t units() const { return static_cast<uint32_t>(roundUp(bytes, kUnitBytes) / kUnitBytes); }
  uint32_t offsetUnits() const { return static_cast<uint32_t>(offset / kUnitBytes); }
};

/// (op index in its segment or an op's address, role, tile)
using ParamKey = std::tuple<uintptr_t, int, int>;

/// Places blobs; in a sizing pass it only advances the cursors, in the
/// filling pass it also writes the bytes at their final place.
class ImagePacker {
public:
  ImagePacker(unsigned channels, bool perLayer, bool ddr = false)
      : cursor(channels, 0), perLayer(perLayer), ddr(ddr) {}
  unsigned channels() const { return static_cast<unsigned>(cursor.size()); }

  /// `channel` < 0: the next channel round-robin.
  HBMLoc place(uint64_t bytes, llvm::function_ref<void(uint8_t *)> fill,
               int channel = -1) {
    unsigned ch = channel >= 0 ? static_cast<unsigned>(channel)
                               : roundRobin++ % cursor.size();
    HBMLoc loc{ch, cursor[ch], bytes, perLayer, ddr};
    cursor[ch] += roundUp(bytes, 64);
    if (target)
      fill((*target)[ch].data() + base + loc.offset);
    return loc;
  }
  /// Writes into `image` at byte `base` of every channel from now on.
  void fillInto(std::vector<std::vector<uint8_t>> *image, uint64_t base) {
    target = image;
    this->base = base;
  }
  uint64_t maxUsed() const {
    uint64_t m = 0;
    for (uint64_t c : cursor)
      m = std::max(m, c);
    return m;
  }

private:
  std::vector<uint64_t> cursor;
  unsigned roundRobin = 0;
  bool perLayer, ddr;
  std::vector<std::vector<uint8_t>> *target = nullptr;
  uint64_t base = 0;
};

} // namespace flightllm::lowering

#endif
