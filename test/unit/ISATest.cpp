//===- ISATest.cpp - The FlightLLM ISA: encode, decode, limits, text ------===//

#include "flightllm/ISA/Disassembler.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

using namespace flightllm::isa;

extern "C" int flightllmISAFreestandingSelfTest();

namespace {

/// Every field of every instruction, for parameterised loops.
std::vector<Field> allFields() {
  std::vector<Field> fields;
  for (unsigned i = 0; i < kNumFields; ++i)
    fields.push_back(fieldOf(i));
  return fields;
}

/// An instruction of `op` whose masks use every queue but its own.
Instruction busyInstruction(Opcode op) {
  Instruction inst(op);
  unsigned others = ((1u << kNumQueues) - 1) & ~queueBit(inst.queue());
  inst.wait = static_cast<uint8_t>(others);
  inst.release = static_cast<uint8_t>(others & 0x15);
  return inst;
}

std::string label(Field f) { return qualifiedFieldName(f.id); }

std::string disassembleToString(llvm::ArrayRef<uint32_t> words,
                                uint64_t start, std::string *error) {
  std::string text;
  llvm::raw_string_ostream os(text);
  if (llvm::Error err = disassemble(words, os, start))
    *error = llvm::toString(std::move(err));
  return text;
}

} // namespace

TEST(ISA, TableFollowsTheArtifactLayout) {
  struct Expected {
    Opcode op;
    unsigned opcode, words;
    Queue queue;
  } expected[] = {{Opcode::LD, 1, 7, Queue::load},
                  {Opcode::ST, 2, 3, Queue::store},
                  {Opcode::MM, 3, 4, Queue::matrix},
                  {Opcode::MV, 4, 4, Queue::matrix},
                  {Opcode::MISC, 5, 6, Queue::misc},
                  {Opcode::SYS, 15, 1, Queue::sys}};
  ASSERT_EQ(kNumInstructions, std::size(expected));
  for (const Expected &e : expected) {
    const InstructionInfo &info = instructionInfo(e.op);
    EXPECT_EQ(unsigned(info.opcode), e.opcode) << info.mnemonic;
    EXPECT_EQ(info.words, e.words) << info.mnemonic;
    EXPECT_EQ(info.queue, e.queue) << info.mnemonic;
  }
  EXPECT_EQ(header::opcode.lsb, 28u);
  EXPECT_EQ(header::wait.lsb, 23u);
  EXPECT_EQ(header::wait.width, 5u);
  EXPECT_EQ(header::release.lsb, 18u);
  EXPECT_EQ(header::release.width, 5u);
  // Queue bits are the flight dialect's Queue enum values.
  EXPECT_EQ(queueBit(Queue::load), 1u);
  EXPECT_EQ(queueBit(Queue::sys), 16u);
  EXPECT_EQ(kMaxFields, numFields(Opcode::LD));
  for (unsigned op = 0; op < kNumOpcodes; ++op)
    EXPECT_EQ(instructionWords(op << 28),
              lookupInstruction(op) ? lookupInstruction(op)->words : 0u);
}

TEST(ISA, LimitsAreConstexpr) {
  static_assert(LD::onchip_addr.max() == 65535);
  static_assert(LD::addr.max() == (int64_t(1) << 30) - 1);
  static_assert(ST::addr.max() == (int64_t(1) << 26) - 1);
  static_assert(MM::k_blocks.max() == 16383);
  static_assert(MV::sparsity.max() == 3);
  static_assert(MM::n.max() == 16383);
  static_assert(MM::out_stride.max() == 4095);
  static_assert(MV::out_format.max() == 2);
  static_assert(MISC::kind.max() == 18);
  static_assert(MISC::kind.max() ==
                static_cast<int64_t>(MiscKind::place));
  static_assert(static_cast<int>(MiscKind::quantize4) ==
                static_cast<int>(MiscKind::copy) + 1);
  static_assert(static_cast<int>(MiscKind::quantize_dynamic) ==
                static_cast<int>(MiscKind::quantize) + 1);
  static_assert(MISC::rows.max() == 65535);
  static_assert(MISC::pos_off.max() == 65535);
  static_assert(MISC::out_step.max() == 65535);
  static_assert(kMaxTokensPerCounter == 255);
  static_assert(SYS::kind.max() == 10); // select_seq (batched decode)
  static_assert(SYS::imm.min() == -2048 && SYS::imm.max() == 2047);
  static_assert(LD::loop1.min() == 0);
  SUCCEED();
}

TEST(ISA, EveryFieldRoundTripsAtItsEdges) {
  for (Field f : allFields()) {
    std::vector<int64_t> values = {0, 1, f.max()};
    if (f.info().type == FieldType::Signed)
      values.push_back(f.min());
    for (int64_t v : values) {
      Instruction inst = busyInstruction(f.opcode());
      inst.set(f, v);
      uint32_t words[kMaxWords] = {};
      FieldId bad{};
      ASSERT_EQ(encode(inst, words, kMaxWords, &bad), Status::Ok)
          << label(f) << " = " << v;
      EXPECT_EQ(f.extract(words), v) << label(f);
      // No other bit than the header and the field itself is set.
      for (unsigned w = 0; w < inst.info().words; ++w) {
        uint32_t allowed = f.info().word == w ? f.bitMask() : 0;
        if (w == 0)
          allowed |= 0xFFFC0000u;
        EXPECT_EQ(words[w] & ~allowed, 0u) << label(f) << " word " << w;
      }
      Instruction back;
      size_t consumed = 0;
      ASSERT_EQ(decode(words, kMaxWords, back, consumed), Status::Ok)
          << label(f) << " = " << v;
      EXPECT_EQ(consumed, inst.info().words);
      EXPECT_TRUE(back == inst) << label(f) << " = " << v << ": "
                                << formatInstruction(back);
      EXPECT_EQ(back.get(f), v);
    }
  }
}

TEST(ISA, OutOfRangeValuesAreReportedNotTruncated) {
  for (Field f : allFields()) {
    std::vector<int64_t> bad = {f.max() + 1, f.min() - 1};
    if (f.info().type != FieldType::Signed) {
      EXPECT_EQ(f.min(), 0) << label(f);
    }
    for (int64_t v : bad) {
      Instruction inst(f.opcode());
      inst.set(f, v);
      uint32_t words[kMaxWords] = {0xDEADBEEF};
      FieldId reported{};
      EXPECT_EQ(encode(inst, words, kMaxWords, &reported),
                Status::FieldOutOfRange)
          << label(f) << " = " << v;
      EXPECT_EQ(reported, f.id) << label(f);
      EXPECT_EQ(words[0], 0xDEADBEEFu) << "nothing written on failure";
    }
  }
  // Unsigned fields reject negative values: -1 is not 2^width - 1.
  Instruction ld(Opcode::LD);
  ld.set(LD::length, -1);
  llvm::SmallVector<uint32_t> out;
  llvm::Error err = encodeInstruction(ld, out);
  EXPECT_EQ(llvm::toString(std::move(err)),
            "cannot encode LD: field value out of range: LD.length = -1 "
            "(range 0..1048575)");
  EXPECT_TRUE(out.empty());
  Instruction misc(Opcode::MISC);
  misc.set(MISC::kind, 19);
  err = encodeInstruction(misc, out);
  EXPECT_EQ(llvm::toString(std::move(err)),
            "cannot encode MISC: field value out of range: MISC.kind = 19 "
            "(range 0..18, MiscKind)");
  // The 2-bit out_format has three values: 3 is not a format.
  Instruction mm(Opcode::MM);
  mm.set(MM::out_format, 3);
  err = encodeInstruction(mm, out);
  EXPECT_EQ(llvm::toString(std::move(err)),
            "cannot encode MM: field value out of range: MM.out_format = 3 "
            "(range 0..2, OutFormat)");
  EXPECT_TRUE(out.empty());
}

TEST(ISA, MasksAreChecked) {
  Instruction mm(Opcode::MM);
  uint32_t words[kMaxWords];
  mm.wait = 0x20;
  EXPECT_EQ(encode(mm, words, kMaxWords), Status::MaskOutOfRange);
  mm.wait = 0;
  mm.release = 0xFF;
  EXPECT_EQ(encode(mm, words, kMaxWords), Status::MaskOutOfRange);
  mm.release = 0;
  mm.waitOn(Queue::matrix);
  EXPECT_EQ(encode(mm, words, kMaxWords), Status::SelfDependency);
  mm.wait = 0;
  mm.releaseTo(Queue::matrix);
  EXPECT_EQ(encode(mm, words, kMaxWords), Status::SelfDependency);

  // Decoding a self-dependency is rejected too.
  uint32_t mv[4] = {4u << 28 | queueBit(Queue::matrix) << 23, 0, 0, 0};
  Instruction out;
  size_t consumed = 7;
  EXPECT_EQ(decode(mv, 4, out, consumed), Status::SelfDependency);
  EXPECT_EQ(consumed, 0u);
}

TEST(ISA, ForeignFieldsAndSmallBuffersAreReported) {
  Instruction ld(Opcode::LD);
  ld.set(MM::a_addr, 3);
  FieldId bad{};
  uint32_t words[kMaxWords];
  EXPECT_EQ(encode(ld, words, kMaxWords, &bad), Status::FieldNotInInstruction);
  EXPECT_EQ(bad, FieldId::MM_a_addr);
  EXPECT_EQ(ld.get(MM::a_addr), 0);

  Instruction st(Opcode::ST);
  EXPECT_EQ(encode(st, words, 2), Status::BufferTooSmall);
  EXPECT_EQ(encode(st, words, 3), Status::Ok);

  Instruction unknown(static_cast<Opcode>(7));
  EXPECT_EQ(encode(unknown, words, kMaxWords), Status::UnknownOpcode);
}

TEST(ISA, DecodeRejectsTruncatedStreamsAndUnknownOpcodes) {
  Instruction out;
  size_t consumed = 0;
  EXPECT_EQ(decode(nullptr, 0, out, consumed), Status::Truncated);
  for (const InstructionInfo &info : kInstructions) {
    uint32_t words[kMaxWords] = {};
    ASSERT_EQ(encode(Instruction(info.opcode), words, kMaxWords), Status::Ok);
    for (size_t n = 1; n < info.words; ++n)
      EXPECT_EQ(decode(words, n, out, consumed), Status::Truncated)
          << info.mnemonic << " with " << n << " words";
    EXPECT_EQ(decode(words, info.words, out, consumed), Status::Ok);
  }
  for (uint32_t op : {0u, 6u, 7u, 8u, 9u, 10u, 11u, 12u, 13u, 14u}) {
    uint32_t word = op << 28;
    EXPECT_EQ(decode(&word, 1, out, consumed), Status::UnknownOpcode) << op;
  }
}

TEST(ISA, DecodeRejectsEverySetReservedBit) {
  unsigned checked = 0;
  for (const InstructionInfo &info : kInstructions) {
    for (unsigned w = 0; w < info.words; ++w) {
      for (unsigned bit = 0; bit < 32; ++bit) {
        if (!(reservedBits(info.opcode, w) & (1u << bit)))
          continue;
        uint32_t words[kMaxWords] = {};
        ASSERT_EQ(encode(Instruction(info.opcode), words, kMaxWords),
                  Status::Ok);
        words[w] |= 1u << bit;
        Instruction out;
        size_t consumed = 0;
        EXPECT_EQ(decode(words, kMaxWords, out, consumed),
                  Status::ReservedBitsSet)
            << info.mnemonic << " word " << w << " bit " << bit;
        ++checked;
      }
    }
  }
  // LD: word 2 [31:28] (src_core is [27:22]) and word 6 [31:21] (row_align
  // is bit 20); MISC: word 0 [17:10] and word 5 [31:16] (MM/MV use every bit
  // since `grouped`).
  EXPECT_EQ(checked, 4u + 11u + 8u + 16u);
  EXPECT_EQ(reservedBits(Opcode::MM, 3), 0u);
  EXPECT_EQ(reservedBits(Opcode::MISC, 0), 0x0003FC00u);
  EXPECT_EQ(reservedBits(Opcode::MISC, 2), 0u);
  EXPECT_EQ(reservedBits(Opcode::MISC, 3), 0u);
  EXPECT_EQ(reservedBits(Opcode::MISC, 4), 0u);
  EXPECT_EQ(reservedBits(Opcode::MISC, 5), 0xFFFF0000u);
}

TEST(ISA, DecodeRejectsUndefinedEnumValues) {
  // MISC.kind is 5 bits wide with 19 kinds: 19..31 are undefined.
  for (uint32_t kind : {19u, 31u}) {
    uint32_t misc[6] = {5u << 28 | kind, 0, 0, 0, 0, 0};
    Instruction out;
    size_t consumed = 0;
    FieldId bad{};
    EXPECT_EQ(decode(misc, 6, out, consumed, &bad), Status::FieldOutOfRange)
        << kind;
    EXPECT_EQ(bad, FieldId::MISC_kind);
  }
  uint32_t misc[6] = {5u << 28 | 18u, 0, 0, 0, 0, 0};
  Instruction out;
  size_t consumed = 0;
  FieldId bad{};
  ASSERT_EQ(decode(misc, 6, out, consumed), Status::Ok);
  EXPECT_EQ(out.get(MISC::kind), int64_t(MiscKind::place));
  // MM.out_format 3 (word 3 [27:26]) is undefined.
  uint32_t mm[4] = {3u << 28, 0, 0, 3u << 26};
  EXPECT_EQ(decode(mm, 4, out, consumed, &bad), Status::FieldOutOfRange);
  EXPECT_EQ(bad, FieldId::MM_out_format);
  uint32_t sys = 15u << 28 | 11u << 14; // 10 is select_seq
  EXPECT_EQ(decode(&sys, 1, out, consumed, &bad), Status::FieldOutOfRange);
  EXPECT_EQ(bad, FieldId::SYS_kind);
}

TEST(ISA, GoldenEncodings) {
  // SYS end waiting on every other queue.
  Instruction end(Opcode::SYS);
  end.waitOn(Queue::load).waitOn(Queue::store).waitOn(Queue::matrix).waitOn(
      Queue::misc);
  end.set(SYS::kind, SysKind::end);
  uint32_t word = 0;
  ASSERT_EQ(encode(end, &word, 1), Status::Ok);
  EXPECT_EQ(word, 0xF7808000u);

  // SYS add_param P, -1: imm is two's complement.
  Instruction dec(Opcode::SYS);
  dec.set(SYS::kind, SysKind::add_param)
      .set(SYS::reg, ParamReg::P)
      .set(SYS::imm, -1);
  ASSERT_EQ(encode(dec, &word, 1), Status::Ok);
  EXPECT_EQ(word, 0xF0000000u | 4u << 14 | 1u << 12 | 0xFFFu);

  // The KV-cache write of decode: store 4 units of act row 16 to HBM channel
  // 3 at B2 + 100 + P * 4.
  Instruction st(Opcode::ST);
  st.waitOn(Queue::misc).releaseTo(Queue::sys);
  st.set(ST::onchip_addr, 16)
      .set(ST::buf, Buffer::act)
      .set(ST::addr, 100)
      .set(ST::channel, 3)
      .set(ST::length, 4)
      .set(ST::scale, 4)
      .set(ST::param, ParamReg::P)
      .set(ST::base, BaseReg::B2);
  uint32_t words[3];
  ASSERT_EQ(encode(st, words, 3), Status::Ok);
  EXPECT_EQ(words[0], 0x2u << 28 | 0x8u << 23 | 0x10u << 18 | 16u);
  EXPECT_EQ(words[1], 3u << 26 | 100u);
  EXPECT_EQ(words[2], 2u << 30 | 1u << 28 | 4u << 16 | 4u);

  // An MM of K = 64 over 96 int4 channels, K-major B with bias, fp32 output
  // rows 3 apart with ReLU.
  Instruction mm(Opcode::MM);
  mm.waitOn(Queue::load).releaseTo(Queue::misc);
  mm.set(MM::k_blocks, 4)
      .set(MM::bias, 1)
      .set(MM::b_kmajor, 1)
      .set(MM::a_addr, 0x12)
      .set(MM::b_addr, 0x3400)
      .set(MM::out_addr, 0x56)
      .set(MM::scale_addr, 0x78)
      .set(MM::n, 96)
      .set(MM::out_stride, 3)
      .set(MM::out_format, OutFormat::f32)
      .set(MM::wbits, WeightBits::int4)
      .set(MM::relu, 1);
  uint32_t mmWords[4];
  ASSERT_EQ(encode(mm, mmWords, 4), Status::Ok);
  EXPECT_EQ(mmWords[0], 0x3u << 28 | 0x1u << 23 | 0x8u << 18 | 1u << 17 |
                            1u << 16 | 4u);
  EXPECT_EQ(mmWords[1], 0x3400u << 16 | 0x12u);
  EXPECT_EQ(mmWords[2], 0x78u << 16 | 0x56u);
  EXPECT_EQ(mmWords[3], 1u << 30 | 1u << 28 | 1u << 26 | 3u << 14 | 96u);

  // The rotary embedding of 128 query rows of 64 elements from act, the
  // cos/sin tables in meta one pair of rows per position, at P + 2 + r.
  Instruction rope(Opcode::MISC);
  rope.waitOn(Queue::matrix).releaseTo(Queue::store);
  rope.set(MISC::kind, MiscKind::rope)
      .set(MISC::pos_param, ParamReg::P)
      .set(MISC::b_space, BSpace::meta)
      .set(MISC::a_addr, 0x100)
      .set(MISC::b_addr, 0x200)
      .set(MISC::out_addr, 0x300)
      .set(MISC::k, 64)
      .set(MISC::rows, 128)
      .set(MISC::pos_off, 2)
      .set(MISC::a_step, 2)
      .set(MISC::b_step, 4)
      .set(MISC::out_step, 2);
  uint32_t miscWords[6];
  ASSERT_EQ(encode(rope, miscWords, 6), Status::Ok);
  EXPECT_EQ(miscWords[0], 0x5u << 28 | 0x4u << 23 | 0x2u << 18 | 1u << 9 |
                              1u << 6 | 9u);
  EXPECT_EQ(miscWords[1], 0x200u << 16 | 0x100u);
  EXPECT_EQ(miscWords[2], 64u << 16 | 0x300u);
  EXPECT_EQ(miscWords[3], 2u << 16 | 128u);
  EXPECT_EQ(miscWords[4], 4u << 16 | 2u);
  EXPECT_EQ(miscWords[5], 2u);
}

TEST(ISA, RandomInstructionsRoundTrip) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    const InstructionInfo &info = kInstructions[rng() % kNumInstructions];
    Instruction inst(info.opcode);
    unsigned others = ((1u << kNumQueues) - 1) & ~queueBit(info.queue);
    inst.wait = static_cast<uint8_t>(rng() & others);
    inst.release = static_cast<uint8_t>(rng() & others);
    unsigned first = firstFieldIndex(info.opcode);
    for (unsigned f = 0; f < numFields(info.opcode); ++f) {
      Field field = fieldOf(first + f);
      uint64_t span = uint64_t(field.max() - field.min()) + 1;
      inst.set(field, field.min() + int64_t(rng() % span));
    }
    llvm::SmallVector<uint32_t> words;
    ASSERT_FALSE(llvm::errorToBool(encodeInstruction(inst, words)));
    Instruction back;
    size_t consumed = 0;
    ASSERT_EQ(decode(words.data(), words.size(), back, consumed), Status::Ok);
    ASSERT_TRUE(back == inst) << formatInstruction(inst);
  }
}

TEST(ISA, WordsAreLittleEndian) {
  uint8_t bytes[4];
  storeWordLE(0xF7808000u, bytes);
  EXPECT_EQ(bytes[0], 0x00);
  EXPECT_EQ(bytes[1], 0x80);
  EXPECT_EQ(bytes[2], 0x80);
  EXPECT_EQ(bytes[3], 0xF7);
  EXPECT_EQ(loadWordLE(bytes), 0xF7808000u);
}

TEST(ISA, FreestandingBuildWorks) {
  EXPECT_EQ(flightllmISAFreestandingSelfTest(), 0);
}

TEST(ISADisassembler, PrintsOneLinePerInstruction) {
  llvm::SmallVector<uint32_t> words;
  Instruction ld(Opcode::LD);
  ld.releaseTo(Queue::matrix);
  ld.set(LD::buf, Buffer::weight)
      .set(LD::addr, 4096)
      .set(LD::channel, 7)
      .set(LD::loop1, 1)
      .set(LD::loop2, 1)
      .set(LD::loop3, 1)
      .set(LD::length, 64);
  Instruction mv(Opcode::MV);
  mv.waitOn(Queue::load).releaseTo(Queue::misc);
  mv.set(MV::k_blocks, 256).set(MV::sparsity, Sparsity::n4).set(
      MV::wbits, WeightBits::int4);
  Instruction softmax(Opcode::MISC);
  softmax.waitOn(Queue::matrix);
  softmax.set(MISC::kind, MiscKind::softmax)
      .set(MISC::masked, 1)
      .set(MISC::pos_param, ParamReg::P)
      .set(MISC::k, 2048)
      .set(MISC::rows, 1);
  Instruction end(Opcode::SYS);
  end.set(SYS::kind, SysKind::end);
  for (const Instruction &inst : {ld, mv, softmax, end})
    ASSERT_FALSE(llvm::errorToBool(encodeInstruction(inst, words)));

  std::string error;
  std::string text = disassembleToString(words, 10, &error);
  EXPECT_EQ(error, "");
  EXPECT_EQ(
      text,
      "10 @0: LD wait{} release{matrix} onchip_addr=0 buf=weight addr=4096 "
      "mem=hbm zero_fill=0 channel=7 base=zero param=zero scale=0 src_core=0 stride1=0 "
      "loop1=1 stride2=0 loop2=1 stride3=0 loop3=1 length=64 "
      "row_align=0\n"
      "11 @7: MV wait{load} release{misc} k_blocks=256 sparsity=n4 bias=0 "
      "b_kmajor=0 a_addr=0 b_addr=0 out_addr=0 scale_addr=0 n=0 "
      "out_stride=0 out_format=f16 wbits=int4 accumulate=0 relu=0 grouped=0\n"
      "12 @11: MISC wait{matrix} release{} kind=softmax masked=1 pos_param=P "
      "a_space=act b_space=act a_addr=0 b_addr=0 out_addr=0 k=2048 rows=1 "
      "pos_off=0 a_step=0 b_step=0 out_step=0\n"
      "13 @17: SYS wait{} release{} imm=0 reg=zero kind=end\n");

  llvm::SmallVector<Instruction> decoded;
  ASSERT_FALSE(llvm::errorToBool(decodeStream(words, decoded)));
  ASSERT_EQ(decoded.size(), 4u);
  EXPECT_TRUE(decoded[2] == softmax);
}

TEST(ISADisassembler, ErrorsNameTheWordOffset) {
  llvm::SmallVector<uint32_t> words;
  Instruction nop(Opcode::SYS);
  ASSERT_FALSE(llvm::errorToBool(encodeInstruction(nop, words)));
  words.push_back(0x70000000u); // opcode 7
  std::string error;
  std::string text = disassembleToString(words, 0, &error);
  EXPECT_EQ(text, "0 @0: SYS wait{} release{} imm=0 reg=zero kind=nop\n");
  EXPECT_EQ(error, "word offset 1 (instruction 1): unknown opcode 7 (word "
                   "0x70000000)");

  words.back() = 0x10000000u; // LD, but only one word left
  disassembleToString(words, 5, &error);
  EXPECT_EQ(error, "word offset 1 (instruction 6): truncated instruction "
                   "stream: LD needs 7 words, 1 remain (word 0x10000000)");

  words.pop_back(); // MISC with bit 10 of word 0 set
  ASSERT_FALSE(llvm::errorToBool(encodeInstruction(Instruction(Opcode::MISC), words)));
  words[1] |= 1u << 10;
  disassembleToString(words, 0, &error);
  EXPECT_EQ(error, "word offset 1 (instruction 1): reserved bits set in MISC "
                   "(word 0x50000400)");

  words.resize(1);
  words.push_back(0xF0000000u | 12u << 14); // SYS kind 12
  disassembleToString(words, 0, &error);
  EXPECT_EQ(error, "word offset 1 (instruction 1): field value out of range: "
                   "SYS.kind = 12 (range 0..10) (word 0xf0030000)");
}
