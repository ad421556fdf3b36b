//===- DependencyTokens.h - Tokens between the accelerator's queues -------===//
//
// Which dependency tokens an instruction stream needs (docs/isa.md): every
// instruction declares the on-chip rows it reads and writes and the off-chip
// data it orders (the KV cache, the prefill spill area, the logits). A read
// after a write, or a write after a read or a write, on another queue needs a
// token released by the exact producing instruction (the newest one of that
// queue the consumer depends on) and a wait on the consumer. Waits are matched
// to releases in program order, so a token that an earlier wait of the same
// queue pair already covers is not released again.
//
// The tracker is used by the `flight-insert-tokens` pass and by the lowering,
// which runs it over each stream once the stream is complete. Its cost is
// linear in the number of instructions: accesses are kept per buffer and per
// length class (rows in [2^(c-1), 2^c)) in maps ordered by start row, so a
// query looks only where a range of that class could overlap; a write
// forgets the accesses it covers and an access forgets the older ones of its
// queue it contains, which keeps what is tracked near any row small
// (work() counts the ranges visited).
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DIALECT_FLIGHT_TRANSFORMS_DEPENDENCYTOKENS_H
#define FLIGHTLLM_DIALECT_FLIGHT_TRANSFORMS_DEPENDENCYTOKENS_H

#include "flightllm/ISA/ISA.h"

#include "llvm/ADT/SmallVector.h"

#include <array>
#include <cstdint>
#include <map>
#include <vector>

namespace flightllm::flight {

/// Rows [row, row + rows) of one on-chip buffer.
struct OnChipRows {
  isa::Buffer buffer = isa::Buffer::act;
  uint32_t row = 0;
  uint32_t rows = 0;
  uint32_t end() const { return row + rows; }
  bool overlaps(const OnChipRows &o) const {
    return buffer == o.buffer && row < o.end() && o.row < end();
  }
  bool contains(const OnChipRows &o) const {
    return buffer == o.buffer && o.row >= row && o.end() <= end();
  }
};

/// Off-chip data whose accesses are ordered: the KV cache (ST of this run's
/// rows before the LD that reads them back), the prefill spill area and the
/// logits.
enum class OffChipData : uint8_t { None, KVCache, Scratch, Logits };
constexpr unsigned kNumOffChipData = 4;

/// What one instruction reads and writes (a few ranges each: inline).
struct Access {
  llvm::SmallVector<OnChipRows, 3> reads, writes;
  OffChipData offChipRead = OffChipData::None;
  OffChipData offChipWrite = OffChipData::None;
  bool empty() const {
    return reads.empty() && writes.empty() &&
           offChipRead == OffChipData::None && offChipWrite == OffChipData::None;
  }
};

/// For every producer queue, the instruction that must release a token to
/// the consumer's queue (-1: none). The consumer waits on each of them.
struct TokenNeeds {
  std::array<int64_t, isa::kNumQueues> producer;
  uint32_t waitMask() const {
    uint32_t mask = 0;
    for (unsigned p = 0; p < isa::kNumQueues; ++p)
      if (producer[p] >= 0)
        mask |= 1u << p;
    return mask;
  }
};

class DependencyTracker {
public:
  DependencyTracker() { barrier(); }

  /// Instruction `index` (increasing from call to call) on `queue` accesses
  /// `access`: returns the tokens it needs and tracks the access.
  TokenNeeds add(uint32_t index, isa::Queue queue, const Access &access);
  /// A SYS barrier: every tracked access has completed.
  void barrier();
  /// Tracked ranges visited so far (the cost, for scaling checks).
  uint64_t work() const { return visited; }

private:
  struct Use {
    uint32_t end;
    uint8_t queue;
    uint32_t index;
  };
  /// Length classes: 0 for empty ranges, c for 2^(c-1) <= rows < 2^c.
  static constexpr unsigned kClasses = 33;
  static unsigned lengthClass(uint32_t rows) {
    unsigned c = 0;
    while (rows) {
      ++c;
      rows >>= 1;
    }
    return c;
  }
  /// The tracked ranges of one buffer and kind (read or write), per length
  /// class, by start row.
  struct Uses {
    std::multimap<uint32_t, Use> byStart[kClasses];
    uint64_t nonEmpty = 0; ///< bit c: class c holds ranges
    void clear() {
      for (auto &m : byStart)
        m.clear();
      nonEmpty = 0;
    }
  };
  static constexpr unsigned kBuffers = 4;
  enum Kind { Write = 0, Read = 1 };

  Uses &uses(Kind kind, isa::Buffer buffer);
  /// Raises `need` to the newest use of every queue that overlaps `rows`.
  void collect(Uses &u, const OnChipRows &rows, int64_t *need);
  /// Forgets the uses `rows` contains (of queue `queue` only, unless -1).
  void forget(Uses &u, const OnChipRows &rows, int queue);
  /// Tracks `rows`; `pruned`: the older uses of `queue` it contains are
  /// already forgotten.
  void track(Kind kind, const OnChipRows &rows, uint8_t queue, uint32_t index,
             bool pruned);

  Uses tracked[2][kBuffers];
  /// The newest off-chip access per (data, queue, is-write); -1: none.
  int64_t offChip[kNumOffChipData][isa::kNumQueues][2];
  /// The newest producer (per producer, consumer queue) whose token the
  /// consumer queue has already waited for.
  int64_t covered[isa::kNumQueues][isa::kNumQueues];
  uint64_t visited = 0;
};

} // namespace flightllm::flight

#endif // FLIGHTLLM_DIALECT_FLIGHT_TRANSFORMS_DEPENDENCYTOKENS_H
