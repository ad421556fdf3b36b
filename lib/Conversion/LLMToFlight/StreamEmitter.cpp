//===- StreamEmitter.cpp - Instruction streams and their accesses ---------===//

#include "StreamEmitter.h"

#include "flightllm/ISA/Disassembler.h"

#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/raw_ostream.h"

using namespace flightllm;
using namespace flightllm::lowering;

namespace {
// docs/isa.md: the header's wait mask is [27:23], the release mask [22:18].
constexpr unsigned kWaitLsb = 23, kReleaseLsb = 18;
} // namespace

void StreamEmitter::append(const isa::Instruction &inst,
                           const Access &access) {
  uint32_t buf[isa::kMaxWords];
  isa::FieldId bad{};
  if (isa::encode(inst, buf, isa::kMaxWords, &bad) != isa::Status::Ok) {
    // A model beyond the ISA's field limits (or a lowering bug): remembered
    // and reported at the op being lowered.
    if (firstError.empty()) {
      llvm::SmallVector<uint32_t, 8> scratch;
      firstError = llvm::toString(isa::encodeInstruction(inst, scratch));
    }
    return;
  }
  instStart.push_back(static_cast<uint32_t>(stream.size()));
  accesses.push_back(access);
  queues.push_back(inst.queue());
  unsigned n = isa::instructionWords(buf[0]);
  stream.insert(stream.end(), buf, buf + n);
  ++counts.instructions;
  counts.words += n;
  ++counts.perOpcode[static_cast<unsigned>(inst.opcode) & 15];
}

void StreamEmitter::emit(const isa::Instruction &inst, const Access &access) {
  append(inst, access);
}

void StreamEmitter::sys(isa::SysKind kind, int64_t imm, isa::ParamReg reg) {
  isa::Instruction inst(isa::Opcode::SYS);
  inst.set(isa::SYS::kind, kind).set(isa::SYS::imm, imm).set(isa::SYS::reg, reg);
  size_t before = instStart.size();
  append(inst, Access());
  if (instStart.size() == before)
    llvm::report_fatal_error("flightllm lowering: bad SYS instruction");
}

void StreamEmitter::barrier() {
  barriers.push_back(static_cast<uint32_t>(instStart.size()));
  sys(isa::SysKind::barrier);
}

void StreamEmitter::syncBarrier() {
  barriers.push_back(static_cast<uint32_t>(instStart.size()));
  sys(isa::SysKind::sync);
}

void StreamEmitter::insertTokens() {
  flight::DependencyTracker tracker;
  size_t nextBarrier = 0;
  for (uint32_t i = 0; i < instStart.size(); ++i) {
    if (nextBarrier < barriers.size() && barriers[nextBarrier] == i) {
      ++nextBarrier;
      tracker.barrier();
      continue;
    }
    if (accesses[i].empty())
      continue;
    isa::Queue queue = queues[i];
    flight::TokenNeeds needs = tracker.add(i, queue, accesses[i]);
    for (unsigned p = 0; p < isa::kNumQueues; ++p)
      if (needs.producer[p] >= 0)
        stream[instStart[needs.producer[p]]] |=
            1u << (kReleaseLsb + static_cast<unsigned>(queue));
    stream[instStart[i]] |= needs.waitMask() << kWaitLsb;
  }
  work = tracker.work();
}
