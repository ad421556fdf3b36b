//===- ISAFreestanding.cpp - ISA.h as the embedded runtime sees it --------===//
//
// Compiled with -fno-exceptions -fno-rtti -ffreestanding (ISATest.cmake): the
// header must build there, and encode/decode must work both at compile time
// (static_assert) and at run time (called from ISATest).
//
//===----------------------------------------------------------------------===//

#include "flightllm/ISA/ISA.h"

#if __STDC_HOSTED__
#error "ISAFreestanding.cpp must be compiled with -ffreestanding"
#endif
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#error "ISAFreestanding.cpp must be compiled with -fno-exceptions"
#endif
#if defined(__cpp_rtti) || defined(__GXX_RTTI)
#error "ISAFreestanding.cpp must be compiled with -fno-rtti"
#endif

namespace isa = flightllm::isa;

namespace {
constexpr isa::Instruction sampleLoad() {
  isa::Instruction ld(isa::Opcode::LD);
  ld.waitOn(isa::Queue::matrix).releaseTo(isa::Queue::matrix);
  ld.set(isa::LD::buf, isa::Buffer::weight)
      .set(isa::LD::addr, isa::LD::addr.max())
      .set(isa::LD::channel, 31)
      .set(isa::LD::base, isa::BaseReg::B2)
      .set(isa::LD::param, isa::ParamReg::P)
      .set(isa::LD::scale, 4)
      .set(isa::LD::loop1, 1)
      .set(isa::LD::loop2, 1)
      .set(isa::LD::loop3, 1)
      .set(isa::LD::length, 128);
  return ld;
}

/// 0 if `inst` encodes, decodes back to itself and consumes its words.
constexpr int roundTrip(const isa::Instruction &inst) {
  uint32_t words[isa::kMaxWords] = {};
  if (isa::encode(inst, words, isa::kMaxWords) != isa::Status::Ok)
    return 1;
  isa::Instruction back;
  size_t consumed = 0;
  if (isa::decode(words, isa::kMaxWords, back, consumed) != isa::Status::Ok)
    return 2;
  if (consumed != inst.info().words || !(back == inst))
    return 3;
  return 0;
}

constexpr int selfTest() {
  if (int r = roundTrip(sampleLoad()))
    return r;
  isa::Instruction end(isa::Opcode::SYS);
  end.set(isa::SYS::kind, isa::SysKind::end).set(isa::SYS::imm, -1);
  if (int r = roundTrip(end))
    return 10 + r;
  // A MISC over rows: every field of the six words at its limit.
  isa::Instruction rows(isa::Opcode::MISC);
  rows.set(isa::MISC::kind, isa::MiscKind::quantize_dynamic)
      .set(isa::MISC::masked, 1)
      .set(isa::MISC::pos_param, isa::ParamReg::T)
      .set(isa::MISC::k, isa::MISC::k.max())
      .set(isa::MISC::rows, isa::MISC::rows.max())
      .set(isa::MISC::pos_off, isa::MISC::pos_off.max())
      .set(isa::MISC::out_step, isa::MISC::out_step.max());
  if (int r = roundTrip(rows))
    return 30 + r;
  isa::Instruction bad = sampleLoad();
  bad.set(isa::LD::length, isa::LD::length.max() + 1);
  uint32_t words[isa::kMaxWords] = {};
  isa::FieldId field{};
  if (isa::encode(bad, words, isa::kMaxWords, &field) !=
          isa::Status::FieldOutOfRange ||
      field != isa::FieldId::LD_length)
    return 20;
  return 0;
}

static_assert(selfTest() == 0, "ISA encode/decode at compile time");
static_assert(isa::LD::addr.max() == (int64_t(1) << 30) - 1);
static_assert(isa::SYS::imm.min() == -2048 && isa::SYS::imm.max() == 2047);
static_assert(isa::MISC::kind.max() ==
              static_cast<int64_t>(isa::MiscKind::place));
static_assert(isa::instructionInfo(isa::Opcode::MISC).words == 6);
static_assert(isa::MISC::pos_off.max() == 65535);
static_assert(isa::kMaxTokensPerCounter == 255);
} // namespace

/// The same checks at run time, in code built for the embedded runtime.
extern "C" int flightllmISAFreestandingSelfTest() {
  return selfTest();
}
