//===- StreamEmitter.cpp - Instruction streams with dependency tokens -----===//

#include "StreamEmitter.h"

#include "flightllm/ISA/Disassembler.h"

#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

using namespace flightllm;
using namespace flightllm::lowering;

namespace {
constexpr unsigned kReleaseLsb = 18; // docs/isa.md: release mask [22:18]
} // namespace

void StreamEmitter::reset() {
  writers.clear();
  readers.clear();
  offChip.clear();
  for (auto &row : covered)
    for (int64_t &c : row)
      c = -1;
  initialized = true;
}

void StreamEmitter::need(uint8_t producer, int64_t producerIndex,
                         uint8_t consumer) {
  if (producer == consumer || producerIndex < 0)
    return;
  // Collected per producer queue: the consumer takes one token per queue,
  // released by the newest instruction it depends on there.
  pending[producer] = std::max(pending[producer], producerIndex);
}

void StreamEmitter::emit(isa::Instruction inst, const Access &access) {
  if (!initialized)
    reset();
  uint8_t q = static_cast<uint8_t>(inst.queue());
  uint32_t waitMask = 0;
  for (const Region &r : access.reads)
    for (const Use &w : writers)
      if (w.region.overlaps(r))
        need(w.queue, w.index, q);
  for (const Region &r : access.writes) {
    for (const Use &w : writers)
      if (w.region.overlaps(r))
        need(w.queue, w.index, q);
    for (const Use &rd : readers)
      if (rd.region.overlaps(r))
        need(rd.queue, rd.index, q);
  }
  for (const OffChipUse &u : offChip) {
    if (access.offChipRead != OffChip::None && u.write &&
        u.what == access.offChipRead)
      need(u.queue, u.index, q);
    if (access.offChipWrite != OffChip::None && u.what == access.offChipWrite)
      need(u.queue, u.index, q);
  }
  for (uint8_t p = 0; p < isa::kNumQueues; ++p) {
    int64_t i = pending[p];
    pending[p] = -1;
    if (i < 0 || covered[p][q] >= i)
      continue;
    // Release exactly from that instruction (not the producer queue's newest
    // one), so the consumer starts as soon as what it reads is ready: a load
    // into a weight slot waits for the matrix op that last read that slot,
    // not for the latest one. Waits of one queue are emitted in program order
    // and `covered` only grows, so the k-th wait takes the k-th release.
    stream[instStart[i]] |= 1u << (kReleaseLsb + q);
    waitMask |= 1u << p;
    covered[p][q] = i;
  }
  inst.wait = static_cast<uint8_t>(waitMask);
  uint32_t buf[isa::kMaxWords];
  isa::FieldId bad{};
  isa::Status s = isa::encode(inst, buf, isa::kMaxWords, &bad);
  if (s != isa::Status::Ok) {
    // A model beyond the ISA's field limits (or a lowering bug): remembered
    // and reported at the op being lowered.
    if (firstError.empty()) {
      llvm::SmallVector<uint32_t, 8> scratch;
      firstError = llvm::toString(isa::encodeInstruction(inst, scratch));
    }
    return;
  }
  uint32_t index = static_cast<uint32_t>(instStart.size());
  instStart.push_back(static_cast<uint32_t>(stream.size()));
  unsigned n = isa::instructionWords(buf[0]);
  stream.insert(stream.end(), buf, buf + n);
  ++counts.instructions;
  counts.words += n;
  ++counts.perOpcode[static_cast<unsigned>(inst.opcode) & 15];

  // Track; drop what this access supersedes to keep the lists short.
  for (const Region &r : access.writes) {
    auto contained = [&](const Use &u) {
      return u.region.buffer == r.buffer && u.region.row >= r.row &&
             u.region.row + u.region.rows <= r.row + r.rows;
    };
    writers.erase(std::remove_if(writers.begin(), writers.end(), contained),
                  writers.end());
    readers.erase(std::remove_if(readers.begin(), readers.end(), contained),
                  readers.end());
  }
  for (const Region &r : access.writes)
    writers.push_back({r, q, index});
  for (const Region &r : access.reads)
    readers.push_back({r, q, index});
  if (access.offChipRead != OffChip::None)
    offChip.push_back({access.offChipRead, q, index, false});
  if (access.offChipWrite != OffChip::None)
    offChip.push_back({access.offChipWrite, q, index, true});
  if (offChip.size() > 64) {
    // Keep only the newest use per (what, queue, write): older ones of the
    // same queue are covered by in-order completion.
    std::vector<OffChipUse> kept;
    for (auto it = offChip.rbegin(); it != offChip.rend(); ++it) {
      bool dup = false;
      for (const OffChipUse &k : kept)
        dup |= k.what == it->what && k.queue == it->queue && k.write == it->write;
      if (!dup)
        kept.push_back(*it);
    }
    std::reverse(kept.begin(), kept.end());
    offChip = std::move(kept);
  }
}

void StreamEmitter::sys(isa::SysKind kind, int64_t imm, isa::ParamReg reg) {
  if (!initialized)
    reset();
  isa::Instruction inst(isa::Opcode::SYS);
  inst.set(isa::SYS::kind, kind).set(isa::SYS::imm, imm).set(isa::SYS::reg, reg);
  uint32_t buf[isa::kMaxWords];
  isa::FieldId bad{};
  if (isa::encode(inst, buf, isa::kMaxWords, &bad) != isa::Status::Ok)
    llvm::report_fatal_error("flightllm lowering: bad SYS instruction");
  instStart.push_back(static_cast<uint32_t>(stream.size()));
  stream.push_back(buf[0]);
  ++counts.instructions;
  ++counts.words;
  ++counts.perOpcode[static_cast<unsigned>(isa::Opcode::SYS)];
}

void StreamEmitter::barrier() {
  sys(isa::SysKind::barrier);
  reset();
}
