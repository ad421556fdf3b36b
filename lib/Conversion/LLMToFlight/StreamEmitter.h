//===- StreamEmitter.h - Instruction streams and their accesses -----------===//
//
// Appends instructions to one stream, encoded without dependency tokens, and
// records what each reads and writes. Once the stream is complete,
// insertTokens() runs the dependency tracker (flight-insert-tokens' algorithm,
// DependencyTokens.h) over it and sets the wait and release masks; or the
// accesses are handed over, to be printed as the annotations that pass reads.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_LIB_CONVERSION_LLMTOFLIGHT_STREAMEMITTER_H
#define FLIGHTLLM_LIB_CONVERSION_LLMTOFLIGHT_STREAMEMITTER_H

#include "flightllm/Dialect/Flight/Transforms/DependencyTokens.h"
#include "flightllm/ISA/ISA.h"

#include <cstdint>
#include <string>
#include <vector>

namespace flightllm::lowering {

using Region = flight::OnChipRows;
using OffChip = flight::OffChipData;
using flight::Access;

struct StreamStats {
  uint64_t instructions = 0, words = 0;
  uint64_t perOpcode[16] = {};
};

class StreamEmitter {
public:
  /// Appends `inst` (which must validate), which accesses `access`.
  void emit(const isa::Instruction &inst, const Access &access);
  /// SYS instructions that order nothing but themselves.
  void sys(isa::SysKind kind, int64_t imm = 0,
           isa::ParamReg reg = isa::ParamReg::zero);
  /// SYS barrier: every access before it has completed.
  void barrier();
  /// SYS sync: a barrier that also waits for the other cores.
  void syncBarrier();

  /// Sets every instruction's wait and release masks from the accesses.
  void insertTokens();

  const std::vector<uint32_t> &words() const { return stream; }
  std::vector<uint32_t> takeWords() { return std::move(stream); }
  /// One per instruction, in order (SYS instructions access nothing).
  std::vector<Access> takeAccesses() { return std::move(accesses); }
  const StreamStats &stats() const { return counts; }
  /// Tracked ranges the dependency tracker visited (its cost).
  uint64_t trackerWork() const { return work; }
  /// The first instruction that could not be encoded (empty: none).
  const std::string &error() const { return firstError; }
  size_t size() const { return stream.size(); }

private:
  void append(const isa::Instruction &inst, const Access &access);

  std::vector<uint32_t> stream;
  std::vector<uint32_t> instStart; // word offset of every instruction
  std::vector<Access> accesses;    // per instruction
  std::vector<isa::Queue> queues;  // per instruction
  std::vector<uint32_t> barriers;  // indices of the SYS barriers
  StreamStats counts;
  uint64_t work = 0;
  std::string firstError;
};

} // namespace flightllm::lowering

#endif
