//===- StreamEmitter.h - Instruction streams with dependency tokens -------===//
//
// Appends instructions to one stream and inserts the dependency tokens they
// need. Every instruction declares the on-chip rows it reads and writes (and
// the off-chip regions, coarsely); a read after a write, a write after a read
// or a write after a write on another queue becomes a release on the newest
// producing instruction the consumer depends on and a wait on the consumer.
// Waits are matched to releases in program order, so the k-th wait of queue
// Q on queue P takes the token of the k-th release of P to Q (docs/isa.md).
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_LIB_CONVERSION_LLMTOFLIGHT_STREAMEMITTER_H
#define FLIGHTLLM_LIB_CONVERSION_LLMTOFLIGHT_STREAMEMITTER_H

#include "flightllm/ISA/ISA.h"

#include <cstdint>
#include <string>
#include <vector>

namespace flightllm::lowering {

/// Rows [row, row + rows) of one on-chip buffer.
struct Region {
  isa::Buffer buffer = isa::Buffer::act;
  uint32_t row = 0;
  uint32_t rows = 0;
  bool overlaps(const Region &o) const {
    return buffer == o.buffer && row < o.row + o.rows && o.row < row + rows;
  }
};

/// Off-chip data the dependency tracker orders: the KV cache (ST then LD of
/// the same layer) and the prefill spill area.
enum class OffChip : uint8_t { None, KVCache, Scratch, Logits };

struct Access {
  std::vector<Region> reads, writes;
  OffChip offChipRead = OffChip::None, offChipWrite = OffChip::None;
};

struct StreamStats {
  uint64_t instructions = 0, words = 0;
  uint64_t perOpcode[16] = {};
};

class StreamEmitter {
public:
  /// Appends `inst` (which must validate) with the tokens `access` needs.
  void emit(isa::Instruction inst, const Access &access);
  /// SYS instructions that order nothing but themselves.
  void sys(isa::SysKind kind, int64_t imm = 0,
           isa::ParamReg reg = isa::ParamReg::zero);
  /// SYS barrier; forgets every tracked access (all of them completed).
  void barrier();

  const std::vector<uint32_t> &words() const { return stream; }
  std::vector<uint32_t> takeWords() { return std::move(stream); }
  const StreamStats &stats() const { return counts; }
  /// The first instruction that could not be encoded (empty: none).
  const std::string &error() const { return firstError; }
  size_t size() const { return stream.size(); }

private:
  struct Use {
    Region region;
    uint8_t queue;
    uint32_t index; // instruction index in the stream
  };
  void need(uint8_t producerQueue, int64_t producerIndex, uint8_t consumer);

  std::vector<uint32_t> stream;
  std::vector<uint32_t> instStart; // word offset of every instruction
  StreamStats counts;
  // Tracked since the last barrier.
  std::vector<Use> writers, readers;
  int64_t covered[isa::kNumQueues][isa::kNumQueues];
  /// While emitting one instruction: per producer queue, the newest
  /// instruction it depends on (-1: none).
  int64_t pending[isa::kNumQueues] = {-1, -1, -1, -1, -1};
  struct OffChipUse {
    OffChip what;
    uint8_t queue;
    uint32_t index;
    bool write;
  };
  std::vector<OffChipUse> offChip;
  bool initialized = false;
  std::string firstError;
  void reset();
};

} // namespace flightllm::lowering

#endif
