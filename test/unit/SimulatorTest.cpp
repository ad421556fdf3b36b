//===- SimulatorTest.cpp - The cycle-level simulator ----------------------===//
//
// Hand-assembled streams (isa::Instruction + encode) run through the
// simulator: every instruction's functional result is checked bit for bit
// against flightllm/ISA/Numerics.h computed here, plus registers, loops,
// dependency tokens, faults, the timing model and the timing cache.
//
//===----------------------------------------------------------------------===//

#include "flightllm/Simulator/Simulator.h"

#include "flightllm/ISA/Numerics.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

using namespace flightllm;
using namespace flightllm::isa;
using namespace flightllm::sim;
namespace nm = flightllm::numerics;

namespace {

/// Bytes per on-chip row (the unit of every on-chip address and step).
constexpr uint64_t kRow = kOnChipRowBytes;
static_assert(kRow == nm::kRowBytes, "Numerics.h and the ISA disagree");

target::TargetDescription u280() {
  auto t = target::loadTarget("u280");
  EXPECT_TRUE(static_cast<bool>(t));
  return *t;
}

struct Stream {
  std::vector<uint32_t> words;
  Stream &add(const Instruction &in) {
    uint32_t w[kMaxWords];
    FieldId bad{};
    Status s = encode(in, w, kMaxWords, &bad);
    EXPECT_EQ(s, Status::Ok) << statusName(s) << " field "
                             << kFields[static_cast<unsigned>(bad)].name;
    words.insert(words.end(), w, w + in.info().words);
    return *this;
  }
  Stream &end() { return add(sys(SysKind::end)); }

  static Instruction sys(SysKind k, int64_t imm = 0,
                         ParamReg reg = ParamReg::zero) {
    Instruction in(Opcode::SYS);
    in.set(SYS::kind, k).set(SYS::imm, imm).set(SYS::reg, reg);
    return in;
  }
};

Instruction ld(Buffer buf, uint32_t row, Memory mem, uint32_t channel,
               uint64_t addr, uint32_t length) {
  Instruction in(Opcode::LD);
  in.set(LD::buf, buf).set(LD::onchip_addr, row).set(LD::mem, mem);
  in.set(LD::channel, channel).set(LD::addr, addr).set(LD::length, length);
  in.set(LD::loop1, 1).set(LD::loop2, 1).set(LD::loop3, 1);
  return in;
}

Instruction st(Buffer buf, uint32_t row, uint32_t channel, uint64_t addr,
               uint32_t length) {
  Instruction in(Opcode::ST);
  in.set(ST::buf, buf).set(ST::onchip_addr, row).set(ST::channel, channel);
  in.set(ST::addr, addr).set(ST::length, length);
  return in;
}

/// Writes the stream to DDR channel 0 at `offset` and runs it.
int runStream(Simulator &sim, const Stream &s, uint64_t offset = 0) {
  std::vector<uint8_t> bytes(4 * s.words.size());
  for (size_t i = 0; i < s.words.size(); ++i)
    storeWordLE(s.words[i], &bytes[4 * i]);
  EXPECT_EQ(sim.memWrite(FLIGHT_MEM_DDR, 0, offset, bytes.data(), bytes.size()),
            0);
  EXPECT_EQ(sim.regWrite(FLIGHT_REG_STREAM_OFFSET, uint32_t(offset)), 0);
  EXPECT_EQ(sim.regWrite(FLIGHT_REG_STREAM_WORDS, uint32_t(s.words.size())),
            0);
  return sim.run();
}

std::vector<uint8_t> randomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto &b : v)
    b = static_cast<uint8_t>(rng());
  return v;
}

std::vector<uint16_t> randomF16(size_t n, uint32_t seed, float range = 4.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-range, range);
  std::vector<uint16_t> v(n);
  for (auto &h : v)
    h = nm::toF16(d(rng));
  return v;
}

template <typename T> void put(Simulator &sim, Buffer b, uint64_t byte,
                               const std::vector<T> &v) {
  std::memcpy(sim.buffer(b) + byte, v.data(), v.size() * sizeof(T));
}
template <typename T> std::vector<T> get(Simulator &sim, Buffer b,
                                         uint64_t byte, size_t n) {
  std::vector<T> v(n);
  std::memcpy(v.data(), sim.buffer(b) + byte, n * sizeof(T));
  return v;
}

} // namespace

//===----------------------------------------------------------------------===//
// Memory, registers, HAL
//===----------------------------------------------------------------------===//

TEST(Simulator, MemoryReadsZeroUntilWrittenAndChecksRanges) {
  Simulator sim(u280());
  uint8_t buf[100];
  std::memset(buf, 0xAA, sizeof(buf));
  ASSERT_EQ(sim.memRead(FLIGHT_MEM_HBM, 31, 268435456 - 100, buf, 100), 0);
  for (uint8_t b : buf)
    EXPECT_EQ(b, 0);
  auto data = randomBytes(70000, 1); // crosses a 64 KiB page
  ASSERT_EQ(sim.memWrite(FLIGHT_MEM_HBM, 3, 1000, data.data(), data.size()), 0);
  std::vector<uint8_t> back(data.size());
  ASSERT_EQ(sim.memRead(FLIGHT_MEM_HBM, 3, 1000, back.data(), back.size()), 0);
  EXPECT_EQ(back, data);
  EXPECT_NE(sim.memRead(FLIGHT_MEM_HBM, 32, 0, buf, 1), 0);
  EXPECT_NE(sim.memRead(FLIGHT_MEM_HBM, 0, 268435456 - 10, buf, 11), 0);
  EXPECT_NE(sim.memWrite(FLIGHT_MEM_DDR, 2, 0, buf, 1), 0);
  EXPECT_NE(sim.memWrite(7, 0, 0, buf, 1), 0);
  EXPECT_FALSE(sim.halError().empty());
}

TEST(Simulator, TimingOnlyDropsHbmButKeepsDdr) {
  Options o;
  o.functional = false;
  Simulator sim(u280(), o);
  EXPECT_EQ(sim.buffer(Buffer::act), nullptr);
  uint8_t one = 7, back = 1;
  ASSERT_EQ(sim.memWrite(FLIGHT_MEM_HBM, 0, 0, &one, 1), 0);
  ASSERT_EQ(sim.memRead(FLIGHT_MEM_HBM, 0, 0, &back, 1), 0);
  EXPECT_EQ(back, 0);
  ASSERT_EQ(sim.memWrite(FLIGHT_MEM_DDR, 1, 5, &one, 1), 0);
  ASSERT_EQ(sim.memRead(FLIGHT_MEM_DDR, 1, 5, &back, 1), 0);
  EXPECT_EQ(back, 7);
}

TEST(Simulator, HalCallsTheObject) {
  Simulator sim(u280());
  flight_hal hal = sim.hal();
  EXPECT_EQ(hal.reg_write(hal.ctx, FLIGHT_REG_P, 42), 0);
  uint32_t v = 0;
  EXPECT_EQ(hal.reg_read(hal.ctx, FLIGHT_REG_P, &v), 0);
  EXPECT_EQ(v, 42u);
  EXPECT_NE(hal.reg_write(hal.ctx, FLIGHT_REG_STATUS, 1), 0);
  EXPECT_NE(hal.reg_write(hal.ctx, FLIGHT_REG_CYCLES_LO, 1), 0);
  EXPECT_NE(hal.reg_write(hal.ctx, FLIGHT_REG_COUNT, 1), 0);
  Stream s;
  s.end();
  std::vector<uint8_t> bytes(4 * s.words.size());
  for (size_t i = 0; i < s.words.size(); ++i)
    storeWordLE(s.words[i], &bytes[4 * i]);
  ASSERT_EQ(hal.mem_write(hal.ctx, FLIGHT_MEM_DDR, 0, 128, bytes.data(),
                          bytes.size()),
            0);
  hal.reg_write(hal.ctx, FLIGHT_REG_STREAM_OFFSET, 128);
  hal.reg_write(hal.ctx, FLIGHT_REG_STREAM_WORDS, 1);
  EXPECT_EQ(hal.run(hal.ctx), 0);
  EXPECT_EQ(hal.reg_read(hal.ctx, FLIGHT_REG_STATUS, &v), 0);
  EXPECT_EQ(v, 0u);
  EXPECT_EQ(hal.reg_read(hal.ctx, FLIGHT_REG_CYCLES_LO, &v), 0);
  EXPECT_GT(v, 0u);
  EXPECT_EQ(sim.lastRun().cycles, v);
}

//===----------------------------------------------------------------------===//
// LD / ST
//===----------------------------------------------------------------------===//

TEST(Simulator, LoadWithBaseParamAndThreeLoops) {
  Simulator sim(u280());
  auto data = randomBytes(1 << 16, 2);
  ASSERT_EQ(sim.memWrite(FLIGHT_MEM_HBM, 5, 0, data.data(), data.size()), 0);
  // B1 = origin 10 + L 2 * stride 20 = 50 units; P = 3, scale 4: +12 units.
  sim.regWrite(FLIGHT_REG_B1_ORIGIN, 10);
  sim.regWrite(FLIGHT_REG_B1_STRIDE, 20);
  sim.regWrite(FLIGHT_REG_L, 2);
  sim.regWrite(FLIGHT_REG_P, 3);
  Instruction in = ld(Buffer::weight, 7, Memory::hbm, 5, 5, 2);
  in.set(LD::base, BaseReg::B1).set(LD::param, ParamReg::P).set(LD::scale, 4);
  in.set(LD::loop1, 3).set(LD::stride1, 4);
  in.set(LD::loop2, 2).set(LD::stride2, 50);
  in.set(LD::loop3, 2).set(LD::stride3, 200);
  Stream s;
  s.add(in).end();
  ASSERT_EQ(runStream(sim, s), 0) << sim.faultMessage();
  uint64_t origin = 32 * (50 + 5 + 12);
  const uint8_t *dst = sim.buffer(Buffer::weight) + 7 * kRow;
  for (int i3 = 0; i3 < 2; ++i3)
    for (int i2 = 0; i2 < 2; ++i2)
      for (int i1 = 0; i1 < 3; ++i1) {
        uint64_t src = origin + 32 * (i3 * 200 + i2 * 50 + i1 * 4);
        ASSERT_EQ(std::memcmp(dst, &data[src], 64), 0)
            << i3 << " " << i2 << " " << i1;
        dst += 64;
      }
  EXPECT_EQ(sim.lastRun().instructions[unsigned(Kind::LD)], 1u);
  EXPECT_EQ(sim.lastRun().hbmReadBytes, 12u * 64);
  EXPECT_EQ(sim.lastRun().hbmReadBytesPerChannel[5], 12u * 64);
}

TEST(Simulator, LoadFromDdrZeroFillAndStore) {
  Simulator sim(u280());
  auto data = randomBytes(256, 3);
  ASSERT_EQ(sim.memWrite(FLIGHT_MEM_DDR, 1, 4096, data.data(), 256), 0);
  std::memset(sim.buffer(Buffer::acc), 0x55, 4096);
  sim.regWrite(FLIGHT_REG_B2_ORIGIN, 100);
  sim.regWrite(FLIGHT_REG_B2_STRIDE, 1000);
  sim.regWrite(FLIGHT_REG_L, 1);
  sim.regWrite(FLIGHT_REG_P, 2);
  sim.regWrite(FLIGHT_REG_S, 3);
  Stream s;
  s.add(ld(Buffer::act, 2, Memory::ddr, 1, 128, 8).releaseTo(Queue::store));
  Instruction zf = ld(Buffer::acc, 1, Memory::hbm, 0, 0, 4);
  zf.set(LD::zero_fill, 1);
  s.add(zf);
  // ST to B2 + 7 + T * 3 units on channel 9.
  Instruction out = st(Buffer::act, 2, 9, 7, 8);
  out.set(ST::base, BaseReg::B2).set(ST::param, ParamReg::T).set(ST::scale, 3);
  s.add(out.waitOn(Queue::load)).end();
  ASSERT_EQ(runStream(sim, s), 0) << sim.faultMessage();
  EXPECT_EQ(std::memcmp(sim.buffer(Buffer::act) + 2 * kRow, data.data(), 256),
            0);
  // The zero fill: 4 units (128 bytes) from acc row 1.
  const uint8_t *acc = sim.buffer(Buffer::acc);
  for (uint64_t i = 0; i < kRow; ++i)
    EXPECT_EQ(acc[i], 0x55);
  for (uint64_t i = kRow; i < kRow + 128; ++i)
    ASSERT_EQ(acc[i], 0) << i;
  EXPECT_EQ(acc[kRow + 128], 0x55);
  std::vector<uint8_t> back(256);
  uint64_t addr = 32 * (100 + 1000 + 7 + 5 * 3);
  ASSERT_EQ(sim.memRead(FLIGHT_MEM_HBM, 9, addr, back.data(), 256), 0);
  EXPECT_EQ(back, data);
  EXPECT_EQ(sim.lastRun().ddrReadBytes, 256u);
  EXPECT_EQ(sim.lastRun().hbmWriteBytes, 256u);
  EXPECT_EQ(sim.lastRun().zeroFillBytes, 128u);
}

//===----------------------------------------------------------------------===//
// MM / MV
//===----------------------------------------------------------------------===//

namespace {
struct MatrixCase {
  Opcode op;
  uint32_t kBlocks, n;
  bool int4, kmajor, bias, relu, accumulate;
  OutFormat format;
};

void checkMatrix(const MatrixCase &mc) {
  auto t = u280();
  Simulator sim(t);
  uint32_t K = 16 * mc.kBlocks, n = mc.n;
  uint32_t tokens = mc.op == Opcode::MM ? uint32_t(t.mmTokens) : 1;
  uint32_t qrows = nm::qvecRows(K);
  const uint32_t aRow = 3, bRow = 5, sRow = 2, oRow = 600, oStride = 3;
  std::mt19937 rng(K * 31 + n);
  // A: qvecs of random int8 (-127..127) with random scales.
  std::vector<std::vector<int8_t>> A(tokens, std::vector<int8_t>(K));
  std::vector<float> aScale(tokens);
  for (uint32_t tk = 0; tk < tokens; ++tk) {
    for (auto &v : A[tk])
      v = static_cast<int8_t>(int(rng() % 255) - 127);
    aScale[tk] = 0.001f * (1 + rng() % 100);
    uint64_t at = kRow * (aRow + tk * qrows);
    std::memcpy(sim.buffer(Buffer::act) + at, A[tk].data(), K);
    std::memcpy(sim.buffer(Buffer::act) + at + nm::qvecScaleOffset(K),
                &aScale[tk], 4);
  }
  // B as logical int8 [n][K] (int4 range when int4), then its layout.
  std::vector<int8_t> B(size_t(n) * K);
  for (auto &v : B)
    v = mc.int4 ? static_cast<int8_t>(int(rng() % 16) - 8)
                : static_cast<int8_t>(int(rng() % 255) - 127);
  uint8_t *b = sim.buffer(Buffer::weight) + kRow * bRow;
  auto putElem = [&](uint64_t byteBase, uint64_t idx, int8_t v) {
    if (!mc.int4) {
      b[byteBase + idx] = static_cast<uint8_t>(v);
      return;
    }
    uint8_t &byte = b[byteBase + idx / 2];
    uint8_t nib = static_cast<uint8_t>(v) & 0xF;
    byte = (idx & 1) ? static_cast<uint8_t>((byte & 0x0F) | (nib << 4))
                     : static_cast<uint8_t>((byte & 0xF0) | nib);
  };
  if (!mc.kmajor) {
    uint64_t row = nm::roundUpRow(mc.int4 ? K / 2 : K);
    for (uint32_t c = 0; c < n; ++c)
      for (uint32_t k = 0; k < K; ++k)
        putElem(c * row, k, B[size_t(c) * K + k]);
  } else {
    uint64_t row = nm::roundUpRow(mc.int4 ? (n + 1) / 2 : n);
    for (uint32_t k = 0; k < K; ++k)
      for (uint32_t c = 0; c < n; ++c)
        putElem(k * row, c, B[size_t(c) * K + k]);
  }
  std::vector<float> wScale(n), bias(n);
  for (uint32_t c = 0; c < n; ++c) {
    wScale[c] = 0.01f * (1 + rng() % 50);
    bias[c] = 0.5f * (int(rng() % 21) - 10);
  }
  put(sim, Buffer::meta, kRow * sRow, wScale);
  put(sim, Buffer::meta, kRow * sRow + nm::roundUpRow(4 * n), bias);
  // Old i32 values for accumulate.
  std::vector<int32_t> old(size_t(tokens) * n);
  for (uint32_t tk = 0; tk < tokens; ++tk)
    for (uint32_t c = 0; c < n; ++c) {
      old[tk * n + c] = int32_t(rng() % 2000) - 1000;
      std::memcpy(sim.buffer(Buffer::acc) + kRow * (oRow + tk * oStride) + 4 * c,
                  &old[tk * n + c], 4);
    }

  Instruction in(mc.op);
  bool mm = mc.op == Opcode::MM;
  in.set(mm ? MM::k_blocks : MV::k_blocks, mc.kBlocks);
  in.set(mm ? MM::n : MV::n, n);
  in.set(mm ? MM::a_addr : MV::a_addr, aRow);
  in.set(mm ? MM::b_addr : MV::b_addr, bRow);
  in.set(mm ? MM::scale_addr : MV::scale_addr, sRow);
  in.set(mm ? MM::out_addr : MV::out_addr, oRow);
  in.set(mm ? MM::out_stride : MV::out_stride, oStride);
  in.set(mm ? MM::out_format : MV::out_format, mc.format);
  in.set(mm ? MM::wbits : MV::wbits, mc.int4 ? WeightBits::int4 : WeightBits::int8);
  in.set(mm ? MM::b_kmajor : MV::b_kmajor, mc.kmajor);
  in.set(mm ? MM::bias : MV::bias, mc.bias);
  in.set(mm ? MM::relu : MV::relu, mc.relu);
  in.set(mm ? MM::accumulate : MV::accumulate, mc.accumulate);
  Stream s;
  s.add(in).end();
  ASSERT_EQ(runStream(sim, s), 0) << sim.faultMessage();

  for (uint32_t tk = 0; tk < tokens; ++tk)
    for (uint32_t c = 0; c < n; ++c) {
      int32_t acc = nm::dotI8(A[tk].data(), &B[size_t(c) * K], K);
      uint64_t at = kRow * (oRow + tk * oStride);
      switch (mc.format) {
      case OutFormat::f16: {
        uint16_t want = nm::mmOutputF16(acc, aScale[tk], wScale[c], mc.bias,
                                        bias[c], mc.relu);
        uint16_t got = get<uint16_t>(sim, Buffer::act, at + 2 * c, 1)[0];
        ASSERT_EQ(got, want) << "token " << tk << " channel " << c;
        break;
      }
      case OutFormat::f32: {
        float want = nm::mmOutputF32(acc, aScale[tk], wScale[c], mc.bias,
                                     bias[c], mc.relu);
        float got = get<float>(sim, Buffer::act, at + 4 * c, 1)[0];
        ASSERT_EQ(nm::floatBits(got), nm::floatBits(want))
            << "token " << tk << " channel " << c;
        break;
      }
      case OutFormat::i32: {
        int32_t want =
            nm::mmOutputI32(acc, old[tk * n + c], mc.accumulate, mc.relu);
        int32_t got = get<int32_t>(sim, Buffer::acc, at + 4 * c, 1)[0];
        ASSERT_EQ(got, want) << "token " << tk << " channel " << c;
        break;
      }
      }
    }
  uint64_t macs = uint64_t(tokens) * n * K;
  EXPECT_EQ(mm ? sim.lastRun().mmMacs : sim.lastRun().mvMacs, macs);
}
} // namespace

TEST(Simulator, MatrixVectorInt8F16) {
  checkMatrix({Opcode::MV, 5, 70, false, false, true, false, false,
               OutFormat::f16});
}
TEST(Simulator, MatrixVectorInt4KMajorF32Relu) {
  checkMatrix({Opcode::MV, 3, 33, true, true, true, true, false,
               OutFormat::f32});
}
TEST(Simulator, MatrixVectorInt4ChannelMajorI32Accumulate) {
  checkMatrix({Opcode::MV, 4, 9, true, false, false, false, true,
               OutFormat::i32});
}
TEST(Simulator, MatrixMatrixInt8F16) {
  checkMatrix({Opcode::MM, 4, 2, false, false, false, false, false,
               OutFormat::f16});
}
TEST(Simulator, MatrixMatrixKMajorI32Relu) {
  checkMatrix({Opcode::MM, 2, 5, false, true, false, true, false,
               OutFormat::i32});
}
TEST(Simulator, MatrixMatrixF32Bias) {
  checkMatrix({Opcode::MM, 1, 3, false, false, true, false, false,
               OutFormat::f32});
}

// Sparse or grouped B must be channel-major; a group header that does not
// divide K faults when the MV executes (the header is data in meta).
TEST(Simulator, CompressedFormatFaults) {
  {
    Simulator sim(u280());
    Instruction in(Opcode::MV);
    in.set(MV::k_blocks, 1).set(MV::n, 1).set(MV::sparsity, Sparsity::n4)
        .set(MV::b_kmajor, 1);
    Stream s;
    s.add(in).end();
    EXPECT_NE(runStream(sim, s), 0);
    EXPECT_EQ(sim.fault(), Fault::Unsupported);
    EXPECT_NE(sim.faultMessage().find("channel-major"), std::string::npos);
  }
  {
    Simulator sim(u280());
    // Header: 3 K blocks per group, but k_blocks = 4.
    uint32_t header[2] = {3, 0};
    std::vector<uint8_t> row(128, 0);
    std::memcpy(row.data(), header, sizeof(header));
    ASSERT_EQ(sim.memWrite(FLIGHT_MEM_HBM, 0, 0, row.data(), row.size()), 0);
    Instruction ld(Opcode::LD);
    ld.set(LD::buf, Buffer::meta).set(LD::loop1, 1).set(LD::loop2, 1)
        .set(LD::loop3, 1).set(LD::length, 4).releaseTo(Queue::matrix);
    Instruction in(Opcode::MV);
    in.set(MV::k_blocks, 4).set(MV::n, 1).set(MV::grouped, 1)
        .set(MV::a_addr, 0).waitOn(Queue::load);
    Stream s;
    s.add(ld).add(in).end();
    EXPECT_NE(runStream(sim, s), 0);
    EXPECT_EQ(sim.fault(), Fault::Unsupported);
    EXPECT_NE(sim.faultMessage().find("group header"), std::string::npos);
  }
}

//===----------------------------------------------------------------------===//
// MISC
//===----------------------------------------------------------------------===//

namespace {
const char *miscKindName(MiscKind k) {
  return enumValueName(EnumId::MiscKind, int64_t(k));
}

/// Runs one MISC kind over `rows` rows and compares with Numerics.h.
void checkMisc(MiscKind kind, uint32_t k, bool masked, bool aAcc = false,
               bool bMeta = false) {
  auto t = u280();
  Simulator sim(t);
  const uint32_t rows = 3, aAddr = 4, bAddr = 40, oAddr = 200;
  const uint32_t aStep = 9, bStep = 13, oStep = 11;
  const int64_t P = 5, posOff = 2;
  sim.regWrite(FLIGHT_REG_P, uint32_t(P));
  Buffer aBuf = aAcc ? Buffer::acc : Buffer::act;
  Buffer bBuf = bMeta ? Buffer::meta : Buffer::act;
  // Random contents everywhere the operands can be.
  for (uint32_t r = 0; r < rows; ++r) {
    auto a = randomF16(k * 2, 100 + r);
    put(sim, aBuf, kRow * (aAddr + r * aStep), a);
    auto b = randomF16(k * 4, 200 + r);
    put(sim, bBuf, kRow * (bAddr + r * bStep), b);
  }
  // Kind-specific operands.
  for (uint32_t r = 0; r < rows; ++r) {
    uint64_t aAt = kRow * (aAddr + r * aStep), bAt = kRow * (bAddr + r * bStep);
    std::mt19937 rng(300 + r);
    std::uniform_real_distribution<float> d(0.01f, 2.0f);
    std::vector<float> f(k);
    for (auto &v : f)
      v = d(rng);
    switch (kind) {
    case MiscKind::softmax:
      put(sim, bBuf, bAt, std::vector<float>{0.125f});
      break;
    case MiscKind::layernorm:
      put(sim, bBuf, bAt + nm::layerNormEpsOffset(k), std::vector<float>{1e-5f});
      break;
    case MiscKind::rmsnorm:
      put(sim, bBuf, bAt + nm::rmsNormEpsOffset(k), std::vector<float>{1e-6f});
      break;
    case MiscKind::rope:
    case MiscKind::rope_interleaved: {
      std::vector<float> cs(k), sn(k);
      for (uint32_t i = 0; i < k; ++i) {
        cs[i] = std::cos(0.1f * i + r);
        sn[i] = std::sin(0.1f * i + r);
      }
      put(sim, bBuf, bAt, cs);
      put(sim, bBuf, bAt + nm::ropeSinOffset(k), sn);
      break;
    }
    case MiscKind::quantize:
      put(sim, bBuf, bAt, f);
      break;
    case MiscKind::dequantize: {
      std::vector<int32_t> a32(k);
      for (auto &v : a32)
        v = int32_t(rng() % 200001) - 100000;
      put(sim, aBuf, aAt, a32);
      for (auto &v : f)
        v *= 1e-3f;
      put(sim, bBuf, bAt, f);
      break;
    }
    default:
      break;
    }
  }
  // Garbage where the outputs go: padding rules must be visible.
  std::memset(sim.buffer(Buffer::act) + kRow * oAddr, 0xA5,
              kRow * (rows * oStep + 4));
  // Snapshot the inputs, then compute the expected outputs.
  std::vector<uint8_t> actBefore(sim.buffer(Buffer::act),
                                 sim.buffer(Buffer::act) + 65536);
  std::vector<std::vector<uint8_t>> want(rows);
  for (uint32_t r = 0; r < rows; ++r) {
    int64_t pos = P + posOff + r;
    const uint8_t *a = sim.buffer(aBuf) + kRow * (aAddr + r * aStep);
    const uint8_t *b = sim.buffer(bBuf) + kRow * (bAddr + r * bStep);
    std::vector<uint16_t> a16(k), b16(k), o16(k);
    std::memcpy(a16.data(), a, 2 * k);
    std::memcpy(b16.data(), b, 2 * k);
    auto f32 = [&](const uint8_t *p) {
      std::vector<float> v(k);
      std::memcpy(v.data(), p, 4 * k);
      return v;
    };
    std::vector<uint8_t> &w = want[r];
    w.assign(2 * k, 0);
    auto f16out = [&] { std::memcpy(w.data(), o16.data(), 2 * k); };
    switch (kind) {
    case MiscKind::add:
      nm::miscAdd(a16.data(), b16.data(), o16.data(), k, masked, pos);
      f16out();
      break;
    case MiscKind::mul:
      nm::miscMul(a16.data(), b16.data(), o16.data(), k, masked, pos);
      f16out();
      break;
    case MiscKind::swiglu:
      nm::miscSwiglu(a16.data(), b16.data(), o16.data(), k, masked, pos);
      f16out();
      break;
    case MiscKind::silu:
      nm::miscSilu(a16.data(), o16.data(), k, masked, pos);
      f16out();
      break;
    case MiscKind::gelu:
      nm::miscGelu(a16.data(), o16.data(), k, masked, pos);
      f16out();
      break;
    case MiscKind::gelu_tanh:
      nm::miscGeluTanh(a16.data(), o16.data(), k, masked, pos);
      f16out();
      break;
    case MiscKind::relu:
      nm::miscRelu(a16.data(), o16.data(), k, masked, pos);
      f16out();
      break;
    case MiscKind::softmax: {
      float scale;
      std::memcpy(&scale, b, 4);
      nm::miscSoftmax(a16.data(), scale, o16.data(), k, masked, pos);
      f16out();
      break;
    }
    case MiscKind::layernorm: {
      std::vector<uint16_t> beta(k);
      std::memcpy(beta.data(), b + nm::layerNormBetaOffset(k), 2 * k);
      float eps;
      std::memcpy(&eps, b + nm::layerNormEpsOffset(k), 4);
      nm::miscLayerNorm(a16.data(), b16.data(), beta.data(), eps, o16.data(),
                        k, masked, pos);
      f16out();
      break;
    }
    case MiscKind::rmsnorm: {
      float eps;
      std::memcpy(&eps, b + nm::rmsNormEpsOffset(k), 4);
      nm::miscRmsNorm(a16.data(), b16.data(), eps, o16.data(), k, masked, pos);
      f16out();
      break;
    }
    case MiscKind::rope:
    case MiscKind::rope_interleaved: {
      auto cs = f32(b), sn = f32(b + nm::ropeSinOffset(k));
      if (kind == MiscKind::rope)
        nm::miscRope(a16.data(), cs.data(), sn.data(), o16.data(), k, masked,
                     pos);
      else
        nm::miscRopeInterleaved(a16.data(), cs.data(), sn.data(), o16.data(),
                                k, masked, pos);
      f16out();
      break;
    }
    case MiscKind::quantize: {
      auto inv = f32(b);
      // q[k], then zeros to the end of its last row.
      w.assign(nm::roundUpRow(k), 0);
      nm::miscQuantize(a16.data(), inv.data(),
                       reinterpret_cast<int8_t *>(w.data()), k, masked, pos);
      break;
    }
    case MiscKind::quantize_dynamic: {
      // q[k], zeros to the scale row, the scale.
      w.assign(nm::qvecScaleOffset(k) + 4, 0);
      float s = nm::miscQuantizeDynamic(
          a16.data(), reinterpret_cast<int8_t *>(w.data()), k, masked, pos);
      std::memcpy(w.data() + nm::qvecScaleOffset(k), &s, 4);
      break;
    }
    case MiscKind::dequantize: {
      std::vector<int32_t> a32(k);
      std::memcpy(a32.data(), a, 4 * k);
      auto sc = f32(b);
      nm::miscDequantize(a32.data(), sc.data(), o16.data(), k, masked, pos);
      f16out();
      break;
    }
    case MiscKind::copy:
      w.assign(a, a + k);
      break;
    case MiscKind::quantize4:
    case MiscKind::quantize_value4:
    case MiscKind::place:
      ADD_FAILURE() << "the 4-bit KV-cache kinds have their own test";
      return;
    }
  }
  Instruction in(Opcode::MISC);
  in.set(MISC::kind, kind).set(MISC::masked, masked);
  in.set(MISC::pos_param, ParamReg::P).set(MISC::pos_off, posOff);
  in.set(MISC::a_space, aAcc ? ASpace::acc : ASpace::act);
  in.set(MISC::b_space, bMeta ? BSpace::meta : BSpace::act);
  in.set(MISC::a_addr, aAddr).set(MISC::b_addr, bAddr).set(MISC::out_addr, oAddr);
  in.set(MISC::k, k).set(MISC::rows, rows);
  in.set(MISC::a_step, aStep).set(MISC::b_step, bStep).set(MISC::out_step, oStep);
  Stream s;
  s.add(in).end();
  ASSERT_EQ(runStream(sim, s), 0) << sim.faultMessage();
  for (uint32_t r = 0; r < rows; ++r) {
    const uint8_t *got = sim.buffer(Buffer::act) + kRow * (oAddr + r * oStep);
    for (size_t i = 0; i < want[r].size(); ++i)
      ASSERT_EQ(got[i], want[r][i])
          << miscKindName(kind) << " row " << r << " byte " << i;
    // The byte after the output is untouched.
    uint64_t after = kRow * (oAddr + r * oStep) + want[r].size();
    EXPECT_EQ(got[want[r].size()], actBefore[after]) << miscKindName(kind);
  }
  EXPECT_EQ(sim.lastRun().sfuElements, uint64_t(rows) * k);
}

} // namespace

TEST(Simulator, MiscEveryKindBitExact) {
  // The 4-bit KV-cache kinds (from quantize4 on) lay their outputs out
  // differently: MiscKV4Kinds.
  for (unsigned v = 0; v < unsigned(MiscKind::quantize4); ++v) {
    auto kind = static_cast<MiscKind>(v);
    SCOPED_TRACE(miscKindName(kind));
    checkMisc(kind, 40, false);
    checkMisc(kind, 96, true);
  }
}

TEST(Simulator, MiscKV4Kinds) {
  Simulator sim(u280());
  const uint32_t k = 40, rows = 3, aAddr = 4, aStep = 2, bAddr = 10,
                 oAddr = 20, vAddr = 40, sAddr = 60;
  const int64_t P = 5, posOff = 7;
  sim.regWrite(FLIGHT_REG_P, uint32_t(P));
  std::vector<uint16_t> a[rows];
  for (uint32_t r = 0; r < rows; ++r) {
    a[r] = randomF16(k, 300 + r);
    if (r == 2) // a row below the smallest fp16 scale is stored as zeros
      for (auto &h : a[r])
        h = nm::toF16(nm::fromF16(h) * 1e-5f);
    put(sim, Buffer::act, kRow * (aAddr + r * aStep), a[r]);
  }
  std::vector<float> inv(k);
  for (uint32_t i = 0; i < k; ++i)
    inv[i] = 1.0f + 0.25f * float(i % 7);
  put(sim, Buffer::meta, kRow * bAddr, inv);
  std::memset(sim.buffer(Buffer::act) + kRow * oAddr, 0xA5, kRow * 40);
  auto scaleVector = randomF16(64, 400);
  put(sim, Buffer::act, kRow * sAddr, scaleVector);

  auto misc = [&](MiscKind kind, uint32_t aRow, uint32_t out, uint32_t kk,
                  uint32_t n, uint32_t off) {
    Instruction in(Opcode::MISC);
    in.set(MISC::kind, kind).set(MISC::pos_param, ParamReg::P)
        .set(MISC::pos_off, off).set(MISC::b_space, BSpace::meta)
        .set(MISC::a_addr, aRow).set(MISC::b_addr, bAddr)
        .set(MISC::out_addr, out).set(MISC::k, kk).set(MISC::rows, n)
        .set(MISC::a_step, aStep);
    return in;
  };
  const uint32_t rowBytes = nm::kv4RowBytes(k); // 20 code bytes in 32
  const uint32_t scalesAt = nm::kv4ScalesOffset(k, rows);
  Stream s;
  s.add(misc(MiscKind::quantize4, aAddr, oAddr, k, rows, 0));
  s.add(misc(MiscKind::quantize_value4, aAddr, vAddr, k, rows, 0));
  s.end();
  ASSERT_EQ(runStream(sim, s), 0) << sim.faultMessage();
  int8_t codes[k];
  for (uint32_t r = 0; r < rows; ++r) {
    std::vector<uint8_t> want(rowBytes, 0);
    for (uint32_t i = 0; i < k; ++i)
      nm::setNibble(want.data(), i,
                    uint32_t(nm::quantizeOne4(nm::fromF16(a[r][i]), inv[i])));
    EXPECT_EQ(get<uint8_t>(sim, Buffer::act, kRow * oAddr + r * rowBytes,
                           rowBytes),
              want) << "quantize4 row " << r;
    std::vector<float> v(k);
    for (uint32_t i = 0; i < k; ++i)
      v[i] = nm::fromF16(a[r][i]);
    float vs = nm::quantizeValueToken4(v.data(), codes, k);
    std::fill(want.begin(), want.end(), 0);
    for (uint32_t i = 0; i < k; ++i)
      nm::setNibble(want.data(), i, uint32_t(codes[i]));
    EXPECT_EQ(get<uint8_t>(sim, Buffer::act, kRow * vAddr + r * rowBytes,
                           rowBytes),
              want) << "quantize_value4 row " << r;
    EXPECT_EQ(get<uint16_t>(sim, Buffer::act, kRow * vAddr + scalesAt + 2 * r,
                            1)[0],
              nm::toF16(vs)) << "scale of row " << r;
    EXPECT_EQ(vs == 1.0f, r == 2);
  }
  // The first code of row 0 is a nibble; the byte after the packed rows of
  // quantize4 is untouched.
  EXPECT_EQ(sim.buffer(Buffer::act)[kRow * oAddr + rows * rowBytes], 0xA5);

  // place: the three scales go to elements P + posOff .. of the vector.
  Stream p;
  p.add(misc(MiscKind::place, vAddr + scalesAt / kRow, sAddr, rows, 1, posOff));
  p.end();
  ASSERT_EQ(runStream(sim, p), 0) << sim.faultMessage();
  auto back = get<uint16_t>(sim, Buffer::act, kRow * sAddr, 64);
  for (uint32_t i = 0; i < 64; ++i) {
    bool placed = i >= P + posOff && i < P + posOff + rows;
    EXPECT_EQ(back[i],
              placed ? get<uint16_t>(sim, Buffer::act,
                                     kRow * vAddr + scalesAt +
                                         2 * (i - P - posOff),
                                     1)[0]
                     : scaleVector[i])
        << "element " << i;
  }
}

TEST(Simulator, LoadRowAlign) {
  Simulator sim(u280());
  auto data = randomBytes(6 * 32, 9);
  ASSERT_EQ(sim.memWrite(FLIGHT_MEM_HBM, 1, 32 * 100, data.data(), data.size()),
            0);
  std::memset(sim.buffer(Buffer::weight), 0xA5, kRow * 8);
  // Three 64-byte token rows, each into its own 128-byte row.
  Instruction in = ld(Buffer::weight, 1, Memory::hbm, 1, 100, 2);
  in.set(LD::loop1, 3).set(LD::stride1, 2).set(LD::row_align, 1);
  Stream s;
  s.add(in).end();
  ASSERT_EQ(runStream(sim, s), 0) << sim.faultMessage();
  for (uint32_t r = 0; r < 3; ++r) {
    auto row = get<uint8_t>(sim, Buffer::weight, kRow * (1 + r), kRow);
    EXPECT_TRUE(std::equal(row.begin(), row.begin() + 64,
                           data.begin() + 64 * r)) << "row " << r;
    EXPECT_TRUE(std::all_of(row.begin() + 64, row.end(),
                            [](uint8_t b) { return b == 0; })) << "row " << r;
  }
  EXPECT_EQ(sim.buffer(Buffer::weight)[kRow * 4], 0xA5);
  EXPECT_EQ(sim.lastRun().hbmReadBytes, 6u * 32);
}

TEST(Simulator, MiscOperandSpaces) {
  checkMisc(MiscKind::dequantize, 48, false, /*aAcc=*/true, /*bMeta=*/true);
  checkMisc(MiscKind::rmsnorm, 64, false, false, true);
  checkMisc(MiscKind::softmax, 20, true, false, true);
}

//===----------------------------------------------------------------------===//
// SYS
//===----------------------------------------------------------------------===//

TEST(Simulator, SysLoopLayersAndParams) {
  Simulator sim(u280());
  // Layer l's data: 64 bytes at B1 = 1000 + l * 10 units of channel 2.
  std::vector<std::vector<uint8_t>> layer;
  for (int l = 0; l < 4; ++l) {
    layer.push_back(randomBytes(64, 50 + l));
    sim.memWrite(FLIGHT_MEM_HBM, 2, 32 * (1000 + l * 10), layer[l].data(), 64);
  }
  sim.regWrite(FLIGHT_REG_B1_ORIGIN, 1000);
  sim.regWrite(FLIGHT_REG_B1_STRIDE, 10);
  sim.regWrite(FLIGHT_REG_B2_ORIGIN, 5000);
  sim.regWrite(FLIGHT_REG_B2_STRIDE, 2);
  sim.regWrite(FLIGHT_REG_L, 99);
  Stream f;
  f.add(Stream::sys(SysKind::set_layer, 1));
  f.add(Stream::sys(SysKind::set_param, 4, ParamReg::S));
  f.add(Stream::sys(SysKind::add_param, -1, ParamReg::S));
  f.add(Stream::sys(SysKind::loop, 3));
  Instruction ldL = ld(Buffer::act, 0, Memory::hbm, 2, 0, 2);
  ldL.set(LD::base, BaseReg::B1);
  f.add(ldL.releaseTo(Queue::store));
  Instruction stL = st(Buffer::act, 0, 4, 0, 2);
  stL.set(ST::base, BaseReg::B2).set(ST::param, ParamReg::S).set(ST::scale, 100);
  f.add(stL.waitOn(Queue::load).releaseTo(Queue::sys));
  // The dispatcher waits for the store before changing L and looping, so the
  // next LD (fixed at dispatch) cannot overwrite act row 0 too early.
  f.add(Stream::sys(SysKind::add_layer, 1).waitOn(Queue::store));
  f.add(Stream::sys(SysKind::endloop));
  f.end();
  ASSERT_EQ(runStream(sim, f), 0) << sim.faultMessage();
  for (int l = 1; l <= 3; ++l) {
    std::vector<uint8_t> back(64);
    sim.memRead(FLIGHT_MEM_HBM, 4, 32 * (5000 + 2 * l + 300), back.data(), 64);
    EXPECT_EQ(back, layer[l]) << "layer " << l;
  }
  EXPECT_EQ(sim.lastRun().instructions[unsigned(Kind::LD)], 3u);
  EXPECT_EQ(sim.lastRun().instructions[unsigned(Kind::ST)], 3u);
  // The HAL registers are not changed by the stream's SYS writes.
  uint32_t L = 0;
  sim.regRead(FLIGHT_REG_L, &L);
  EXPECT_EQ(L, 99u);
}

TEST(Simulator, SysSelectSeqMovesPAndTheKVBase) {
  // Batched decode: each sequence's row stored at B2 + P of its own slot
  // (SEQ_B2_ORIGIN, SEQ_P), fixed at dispatch after its select_seq.
  Simulator sim(u280());
  std::vector<std::vector<uint8_t>> rows;
  for (int b = 0; b < 3; ++b) {
    rows.push_back(randomBytes(64, 70 + b));
    sim.memWrite(FLIGHT_MEM_HBM, 1, 128 * b, rows[b].data(), 64);
    sim.regWrite(FLIGHT_REG_SEQ_P0 + b, 5 + b);
    sim.regWrite(FLIGHT_REG_SEQ_B2_ORIGIN0 + b, 2000 + 500 * b);
  }
  sim.regWrite(FLIGHT_REG_B2_STRIDE, 7);
  sim.regWrite(FLIGHT_REG_L, 1);
  Stream f;
  f.add(ld(Buffer::act, 0, Memory::hbm, 1, 0, 12).releaseTo(Queue::store));
  for (int b = 0; b < 3; ++b) {
    f.add(Stream::sys(SysKind::select_seq, b));
    Instruction s = st(Buffer::act, uint32_t(b), 3, 0, 2);
    s.set(ST::base, BaseReg::B2).set(ST::param, ParamReg::P).set(ST::scale, 10);
    f.add(b == 0 ? s.waitOn(Queue::load) : s);
  }
  f.end();
  ASSERT_EQ(runStream(sim, f), 0) << sim.faultMessage();
  for (int b = 0; b < 3; ++b) {
    std::vector<uint8_t> back(64);
    sim.memRead(FLIGHT_MEM_HBM, 3, 32 * (2000 + 500 * b + 7 + 10 * (5 + b)),
                back.data(), 64);
    EXPECT_EQ(back, rows[b]) << "sequence " << b;
  }
}

TEST(Simulator, SysFaults) {
  struct Case {
    const char *name;
    std::vector<Instruction> body;
    const char *message;
  };
  std::vector<Case> cases = {
      {"set_param zero", {Stream::sys(SysKind::set_param, 1, ParamReg::zero)},
       "only P and S"},
      {"set_param T", {Stream::sys(SysKind::set_param, 1, ParamReg::T)},
       "only P and S"},
      {"negative P", {Stream::sys(SysKind::add_param, -1, ParamReg::P)},
       "makes P -1"},
      {"negative set", {Stream::sys(SysKind::set_param, -3, ParamReg::S)},
       "makes S -3"},
      {"negative L", {Stream::sys(SysKind::add_layer, -1)}, "L would be -1"},
      {"loop 0", {Stream::sys(SysKind::loop, 0)}, "loop count 0"},
      {"nested",
       {Stream::sys(SysKind::loop, 2), Stream::sys(SysKind::loop, 2)},
       "nested loop"},
      {"endloop", {Stream::sys(SysKind::endloop)}, "endloop without loop"},
      {"select_seq 16", {Stream::sys(SysKind::select_seq, 16)},
       "select_seq 16 (0 to 15)"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    Simulator sim(u280());
    Stream s;
    for (const Instruction &in : c.body)
      s.add(in);
    s.end();
    EXPECT_NE(runStream(sim, s), 0);
    EXPECT_EQ(sim.fault(), Fault::BadSys);
    EXPECT_NE(sim.faultMessage().find(c.message), std::string::npos)
        << sim.faultMessage();
    EXPECT_NE(sim.faultMessage().find("SYS"), std::string::npos);
  }
}

TEST(Simulator, StreamWithoutEndFaults) {
  Simulator sim(u280());
  Stream s;
  s.add(Stream::sys(SysKind::nop));
  EXPECT_NE(runStream(sim, s), 0);
  EXPECT_EQ(sim.fault(), Fault::StreamRange);
  sim.regWrite(FLIGHT_REG_STREAM_WORDS, 0);
  EXPECT_NE(sim.run(), 0);
  EXPECT_EQ(sim.fault(), Fault::StreamRange);
}

//===----------------------------------------------------------------------===//
// Dependency tokens
//===----------------------------------------------------------------------===//

namespace {
/// LD of a K = 16 * kb qvec from HBM into act row 0, then MV over it; the
/// MV waits for the LD's token or not.
Stream producerConsumer(bool wait, uint32_t kb) {
  Stream s;
  uint32_t units = uint32_t(nm::qvecRows(16 * kb) * kRow / kOffChipUnitBytes);
  Instruction load = ld(Buffer::act, 0, Memory::hbm, 1, 0, units);
  Instruction mv(Opcode::MV);
  mv.set(MV::k_blocks, kb).set(MV::n, 1).set(MV::out_format, OutFormat::i32);
  mv.set(MV::out_addr, 0);
  if (wait) {
    load.releaseTo(Queue::matrix);
    mv.waitOn(Queue::load);
  }
  s.add(load).add(mv).end();
  return s;
}
} // namespace

TEST(Simulator, ConsumerThatWaitsSeesTheProducersData) {
  for (bool wait : {true, false}) {
    SCOPED_TRACE(wait ? "waits" : "does not wait");
    Simulator sim(u280());
    const uint32_t kb = 4, K = 64;
    std::vector<int8_t> a(K, 1);
    std::vector<uint8_t> q(nm::qvecRows(K) * kRow, 0);
    std::memcpy(q.data(), a.data(), K);
    sim.memWrite(FLIGHT_MEM_HBM, 1, 0, q.data(), q.size());
    std::memset(sim.buffer(Buffer::weight), 2, 64); // B[0][k] = 2
    ASSERT_EQ(runStream(sim, producerConsumer(wait, kb)), 0)
        << sim.faultMessage();
    int32_t out = get<int32_t>(sim, Buffer::acc, 0, 1)[0];
    // Waiting: 64 * 1 * 2. Not waiting: the MV ran before the load landed.
    EXPECT_EQ(out, wait ? 128 : 0);
  }
}

// k_blocks 0 is an empty product: prepareMatrix checks no operand, so
// nothing may be written (found by fuzz-flb-runtime: with n > 0 the
// simulator wrote n outputs, at an address nothing had checked).
TEST(Simulator, EmptyKMatrixWritesNothing) {
  for (OutFormat format : {OutFormat::i32, OutFormat::f16, OutFormat::f32}) {
    Simulator sim(u280());
    std::memset(sim.buffer(Buffer::act), 0x5A, kRow);
    std::memset(sim.buffer(Buffer::acc), 0x5A, kRow);
    Instruction mv(Opcode::MV);
    mv.set(MV::k_blocks, 0).set(MV::n, 64).set(MV::out_format, format);
    mv.set(MV::out_addr, 0).set(MV::scale_addr, 0);
    Stream s;
    s.add(mv).end();
    ASSERT_EQ(runStream(sim, s), 0) << sim.faultMessage();
    EXPECT_EQ(sim.buffer(Buffer::act)[0], 0x5A);
    EXPECT_EQ(sim.buffer(Buffer::acc)[0], 0x5A);
  }
}

TEST(Simulator, UnconsumedTokenFaultsAtEnd) {
  Simulator sim(u280());
  Stream s;
  s.add(ld(Buffer::act, 0, Memory::hbm, 0, 0, 1).releaseTo(Queue::misc));
  s.end();
  EXPECT_NE(runStream(sim, s), 0);
  EXPECT_EQ(sim.fault(), Fault::TokensLeft);
  EXPECT_NE(sim.faultMessage().find("load->misc=1"), std::string::npos)
      << sim.faultMessage();
}

TEST(Simulator, DeadlockIsDetected) {
  Simulator sim(u280());
  Stream s;
  Instruction mv(Opcode::MV);
  mv.set(MV::k_blocks, 1).set(MV::n, 1).set(MV::out_format, OutFormat::i32);
  s.add(mv.waitOn(Queue::load));
  s.add(ld(Buffer::act, 0, Memory::hbm, 0, 0, 1)
            .waitOn(Queue::matrix)
            .releaseTo(Queue::matrix));
  s.end();
  EXPECT_NE(runStream(sim, s), 0);
  EXPECT_EQ(sim.fault(), Fault::Deadlock);
  EXPECT_NE(sim.faultMessage().find("matrix waits"), std::string::npos)
      << sim.faultMessage();
  EXPECT_NE(sim.faultMessage().find("load waits"), std::string::npos)
      << sim.faultMessage();
}

TEST(Simulator, SysWaitAndBarrier) {
  Simulator sim(u280());
  Stream s;
  s.add(ld(Buffer::act, 0, Memory::hbm, 0, 0, 1000).releaseTo(Queue::sys));
  s.add(Stream::sys(SysKind::nop).waitOn(Queue::load));
  s.add(ld(Buffer::act, 0, Memory::hbm, 1, 0, 1000));
  s.add(Stream::sys(SysKind::barrier));
  s.end();
  ASSERT_EQ(runStream(sim, s), 0) << sim.faultMessage();
  // Two 32000-byte loads, serialised by the SYS wait: about two transfers.
  double rate = 14.375e9 * 0.924 / 225e6;
  double one = 32000 / rate + 48;
  EXPECT_GT(double(sim.lastRun().cycles), 2 * one);
  EXPECT_LT(double(sim.lastRun().cycles), 2 * one + 40);
}

//===----------------------------------------------------------------------===//
// Faults
//===----------------------------------------------------------------------===//

TEST(Simulator, BadOpcodeNamesTheWordOffset) {
  Simulator sim(u280());
  Stream s;
  s.add(ld(Buffer::act, 0, Memory::hbm, 0, 0, 1)); // 7 words
  s.words.push_back(0x00000000u);                  // opcode 0 at word 7
  s.end();
  EXPECT_NE(runStream(sim, s), 0);
  EXPECT_EQ(sim.fault(), Fault::Decode);
  EXPECT_NE(sim.faultMessage().find("instruction 1 (word 7"), std::string::npos)
      << sim.faultMessage();
  EXPECT_NE(sim.faultMessage().find("unknown opcode"), std::string::npos);
  uint32_t status = 0;
  sim.regRead(FLIGHT_REG_STATUS, &status);
  EXPECT_EQ(status, uint32_t(Fault::Decode));
}

TEST(Simulator, OutOfRangeAccessesFault) {
  auto t = u280();
  struct Case {
    const char *name;
    Instruction in;
    Fault fault;
    const char *message;
  };
  // act is 65536 rows of 128 bytes (8 MiB): row 65535 is its last row.
  ASSERT_EQ(t.bufferBytes(Buffer::act), 65536 * kRow);
  // 65 f16 outputs (130 bytes) from the last act row: 2 bytes too many.
  Instruction mvOut(Opcode::MV);
  mvOut.set(MV::k_blocks, 1).set(MV::n, 65).set(MV::out_format, OutFormat::f16);
  mvOut.set(MV::out_addr, 65535);
  // Row 0's b is meta's last row; row 1's b is one row past it.
  uint32_t lastMetaRow = uint32_t(t.bufferBytes(Buffer::meta) / kRow - 1);
  Instruction miscB(Opcode::MISC);
  miscB.set(MISC::kind, MiscKind::add).set(MISC::k, 64).set(MISC::rows, 2);
  miscB.set(MISC::b_space, BSpace::meta).set(MISC::b_addr, lastMetaRow);
  miscB.set(MISC::b_step, 1);
  Instruction ldFar = ld(Buffer::act, 0, Memory::hbm, 0, 268435456 / 32 - 1, 2);
  std::vector<Case> cases = {
      // 5 units (160 bytes) into the last act row.
      {"LD past the act buffer", ld(Buffer::act, 65535, Memory::hbm, 0, 0, 5),
       Fault::BufferRange, "outside the act buffer"},
      {"LD bad channel", ld(Buffer::act, 0, Memory::hbm, 32, 0, 1),
       Fault::ChannelRange, "HBM channel 32 of 32"},
      {"LD past the channel", ldFar, Fault::ChannelRange, "outside HBM channel 0"},
      {"LD bad DDR channel", ld(Buffer::act, 0, Memory::ddr, 2, 0, 1),
       Fault::ChannelRange, "DDR channel 2 of 2"},
      {"ST bad channel", st(Buffer::act, 0, 40, 0, 1), Fault::ChannelRange,
       "HBM channel 40"},
      {"MV output", mvOut, Fault::BufferRange, "output"},
      {"MISC b", miscB, Fault::BufferRange, "outside the meta buffer"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    for (bool functional : {true, false}) {
      Options o;
      o.functional = functional;
      Simulator sim(t, o);
      Stream s;
      s.add(Stream::sys(SysKind::nop)).add(c.in).end();
      EXPECT_NE(runStream(sim, s), 0);
      EXPECT_EQ(sim.fault(), c.fault);
      EXPECT_NE(sim.faultMessage().find(c.message), std::string::npos)
          << sim.faultMessage();
      EXPECT_NE(sim.faultMessage().find("instruction 1 (word 1, "),
                std::string::npos)
          << sim.faultMessage();
    }
  }
}

//===----------------------------------------------------------------------===//
// Timing
//===----------------------------------------------------------------------===//

namespace {
// The u280 preset's bytes per cycle per channel: 14.375 GB/s x 0.924 (the
// efficiency Shuhai measured) at 225 MHz.
const double kHbmRate = 14.375e9 * 0.924 / 225e6;
const TimingParams kTiming;
} // namespace

TEST(Simulator, LoadTimeFollowsChannelBandwidth) {
  for (uint32_t units : {64u, 2048u, 32768u}) {
    Options o;
    o.functional = false;
    Simulator sim(u280(), o);
    Stream s;
    s.add(ld(Buffer::weight, 0, Memory::hbm, 0, 0, units)).end();
    ASSERT_EQ(runStream(sim, s), 0) << sim.faultMessage();
    double expect = 32.0 * units / kHbmRate + kTiming.hbmLatency;
    double cycles = double(sim.lastRun().cycles);
    EXPECT_GE(cycles, expect) << units;
    EXPECT_LE(cycles, expect + 8) << units;
    Metrics m = sim.metrics(sim.lastRun());
    EXPECT_NEAR(m.seconds, cycles / 225e6, 1e-12);
    EXPECT_GT(m.hbmBandwidthUtilization, 0);
  }
}

TEST(Simulator, LoadsOnDifferentChannelsOverlap) {
  auto cyclesOf = [](uint32_t ch2) {
    Options o;
    o.functional = false;
    Simulator sim(u280(), o);
    Stream s;
    s.add(ld(Buffer::weight, 0, Memory::hbm, 0, 0, 16384));
    // The second load lands right after the first's 16384 units.
    s.add(ld(Buffer::weight, uint32_t(16384 * kOffChipUnitBytes / kRow),
             Memory::hbm, ch2, 0, 16384))
        .end();
    EXPECT_EQ(runStream(sim, s), 0) << sim.faultMessage();
    return double(sim.lastRun().cycles);
  };
  double one = 32.0 * 16384 / kHbmRate + kTiming.hbmLatency;
  double across = cyclesOf(1), same = cyclesOf(0);
  EXPECT_LT(across, one + 10);
  EXPECT_GT(same, 2 * (one - kTiming.hbmLatency));
  EXPECT_LT(same, 2 * one);
}

TEST(Simulator, MatrixCyclesFollowTheParallelism) {
  auto t = u280();
  struct Case {
    Opcode op;
    uint32_t kb, n;
  };
  for (Case c : {Case{Opcode::MM, 256, 2}, Case{Opcode::MM, 100, 7},
                 Case{Opcode::MV, 256, 64}, Case{Opcode::MV, 688, 130}}) {
    Options o;
    o.functional = false;
    Simulator sim(t, o);
    bool mm = c.op == Opcode::MM;
    Instruction in(c.op);
    in.set(mm ? MM::k_blocks : MV::k_blocks, c.kb).set(mm ? MM::n : MV::n, c.n);
    in.set(mm ? MM::out_format : MV::out_format, OutFormat::i32);
    Stream s;
    s.add(in).add(in).end();
    ASSERT_EQ(runStream(sim, s), 0) << sim.faultMessage();
    uint64_t lanes = mm ? t.mmChannels : t.mvChannels;
    uint64_t compute = (c.n + lanes - 1) / lanes * c.kb;
    // Two back-to-back tiles: the second starts when the first leaves the
    // compute stage; the pipeline latency is paid once.
    double expect = 2.0 * compute + kTiming.matrixLatency;
    EXPECT_GE(double(sim.lastRun().cycles), expect);
    EXPECT_LE(double(sim.lastRun().cycles), expect + 6);
    EXPECT_EQ(sim.lastRun().kindBusyCycles[unsigned(mm ? Kind::MM : Kind::MV)],
              2 * compute);
    Metrics m = sim.metrics(sim.lastRun());
    double useful = double(c.n) / double((c.n + lanes - 1) / lanes * lanes);
    EXPECT_GT(m.macUtilization, 0.95 * useful * 2 * compute / expect);
    EXPECT_LE(m.macUtilization, 1.0);
  }
}

TEST(Simulator, LoadsIntoOneBufferShareItsPorts) {
  // 32 loads of 32 KiB, one per HBM channel: the channels move 59 B/cycle
  // each, 1889 together, but the 2 MiB weight buffer's 64 UltraRAMs take
  // 1024 B/cycle; the 8 MiB act buffer's 256 take 4096.
  auto t = u280();
  ASSERT_EQ(t.bufferPortBytesPerCycle(Buffer::weight), 1024u);
  ASSERT_EQ(t.bufferPortBytesPerCycle(Buffer::act), 4096u);
  auto cyclesOf = [&](Buffer buf, bool ports) {
    Options o;
    o.functional = false;
    o.timing.bufferPorts = ports;
    Simulator sim(t, o);
    Stream s;
    for (uint32_t ch = 0; ch < 32; ++ch)
      s.add(ld(buf, ch * 256, Memory::hbm, ch, 0, 1024));
    s.end();
    EXPECT_EQ(runStream(sim, s), 0) << sim.faultMessage();
    if (ports) {
      EXPECT_EQ(sim.lastRun().bufferPortBytes[unsigned(buf)], 32u << 15);
    }
    return double(sim.lastRun().cycles);
  };
  double channel = 32768 / kHbmRate + kTiming.hbmLatency;
  double port = 32.0 * 32768 / 1024 + kTiming.hbmLatency;
  EXPECT_LT(cyclesOf(Buffer::weight, false), channel + 64);
  EXPECT_GE(cyclesOf(Buffer::weight, true), port);
  EXPECT_LT(cyclesOf(Buffer::weight, true), port + 64);
  EXPECT_LT(cyclesOf(Buffer::act, true), channel + 64);
}

TEST(Simulator, MatrixVectorSharesTheWeightPortsWithLoads) {
  // MV decode reads 64 x 16 = 1024 weight bytes per cycle, all of the
  // weight buffer's ports: a load into the buffer issued first delays it by
  // the load's port time (256 KiB / 1024 B = 256 cycles).
  auto busyOf = [](bool ports) {
    Options o;
    o.functional = false;
    o.timing.bufferPorts = ports;
    Simulator sim(u280(), o);
    Instruction mv(Opcode::MV);
    mv.set(MV::k_blocks, 256).set(MV::n, 64).set(MV::b_addr, 4096);
    mv.set(MV::out_format, OutFormat::i32);
    Stream s;
    s.add(ld(Buffer::weight, 0, Memory::hbm, 0, 0, 8192)).add(mv).end();
    EXPECT_EQ(runStream(sim, s), 0) << sim.faultMessage();
    EXPECT_EQ(sim.lastRun().bufferPortDelayCycles != 0, ports);
    return sim.lastRun().kindBusyCycles[unsigned(Kind::MV)];
  };
  EXPECT_EQ(busyOf(false), 256u);
  uint64_t shared = busyOf(true);
  EXPECT_GE(shared, 256u + 255u);
  EXPECT_LE(shared, 256u + 256u);
}

TEST(Simulator, MiscCyclesFollowTheLanes) {
  Options o;
  o.functional = false;
  Simulator sim(u280(), o);
  Instruction in(Opcode::MISC);
  in.set(MISC::kind, MiscKind::softmax).set(MISC::k, 1000).set(MISC::rows, 8);
  in.set(MISC::a_step, 32).set(MISC::out_step, 32);
  Stream s;
  s.add(in).end();
  ASSERT_EQ(runStream(sim, s), 0) << sim.faultMessage();
  uint64_t compute = 8 * ((1000 + 31) / 32) * 3;
  EXPECT_EQ(sim.lastRun().kindBusyCycles[unsigned(Kind::MISC)], compute);
  EXPECT_GE(sim.lastRun().cycles, compute + kTiming.sfuLatency);
  EXPECT_LE(sim.lastRun().cycles, compute + kTiming.sfuLatency + 6);
}

TEST(Simulator, TimingCacheReturnsEarlierRuns) {
  Options o;
  o.functional = false;
  Simulator sim(u280(), o);
  Stream s;
  Instruction in = ld(Buffer::weight, 0, Memory::hbm, 3, 0, 512);
  in.set(LD::base, BaseReg::B1).set(LD::param, ParamReg::P).set(LD::scale, 1);
  s.add(in).end();
  ASSERT_EQ(runStream(sim, s), 0);
  Counters first = sim.lastRun();
  EXPECT_EQ(first.cachedRuns, 0u);
  EXPECT_EQ(sim.timingCacheSize(), 1u);
  sim.regWrite(FLIGHT_REG_P, 77); // P moves addresses only
  ASSERT_EQ(sim.run(), 0);
  EXPECT_EQ(sim.lastRun().cachedRuns, 1u);
  EXPECT_EQ(sim.lastRun().cycles, first.cycles);
  EXPECT_EQ(sim.lastRun().hbmReadBytes, first.hbmReadBytes);
  sim.regWrite(FLIGHT_REG_B1_ORIGIN, 5); // another key
  ASSERT_EQ(sim.run(), 0);
  EXPECT_EQ(sim.lastRun().cachedRuns, 0u);
  EXPECT_EQ(sim.timingCacheSize(), 2u);
  EXPECT_EQ(sim.total().runs, 3u);
  EXPECT_EQ(sim.total().cachedRuns, 1u);
  EXPECT_EQ(sim.total().cycles, 3 * first.cycles);
  // Rewriting the stream invalidates the cache.
  ASSERT_EQ(runStream(sim, s), 0);
  EXPECT_EQ(sim.lastRun().cachedRuns, 0u);
  // Functional runs never use it.
  Simulator fsim(u280());
  ASSERT_EQ(runStream(fsim, s), 0);
  ASSERT_EQ(fsim.run(), 0);
  EXPECT_EQ(fsim.lastRun().cachedRuns, 0u);
  EXPECT_EQ(fsim.timingCacheSize(), 0u);
}

TEST(Simulator, EnergyModel) {
  Options o;
  o.functional = false;
  Simulator sim(u280(), o);
  Stream s;
  s.add(ld(Buffer::weight, 0, Memory::hbm, 0, 0, 1000)).end();
  ASSERT_EQ(runStream(sim, s), 0);
  Metrics m = sim.metrics(sim.lastRun());
  const PowerParams p;
  EXPECT_NEAR(m.staticJoules, p.staticWatts * m.seconds, 1e-15);
  EXPECT_NEAR(m.hbmJoules, 32000 * p.hbmPicojoulesPerByte * 1e-12, 1e-15);
  EXPECT_NEAR(m.energyJoules,
              m.staticJoules + m.hbmJoules + m.ddrJoules + m.macJoules +
                  m.sfuJoules,
              1e-15);
  EXPECT_GT(m.averageWatts, p.staticWatts);
  EXPECT_LT(m.averageWatts, 225.0); // U280 maximum board power
}

TEST(Simulator, TraceIsChromeTraceJson) {
  std::string text;
  llvm::raw_string_ostream traceStream(text);
  {
    Options o;
    o.trace = &traceStream;
    o.maxTraceEvents = 3;
    Simulator sim(u280(), o);
    Stream s;
    for (int i = 0; i < 4; ++i)
      s.add(ld(Buffer::act, 0, Memory::hbm, i, 0, 1));
    Instruction misc(Opcode::MISC);
    misc.set(MISC::kind, MiscKind::relu).set(MISC::k, 8).set(MISC::rows, 1);
    s.add(misc).end();
    ASSERT_EQ(runStream(sim, s), 0);
  }
  auto json = llvm::json::parse(text);
  ASSERT_TRUE(static_cast<bool>(json)) << llvm::toString(json.takeError());
  const llvm::json::Object *root = json->getAsObject();
  ASSERT_TRUE(root);
  const llvm::json::Array *events = root->getArray("traceEvents");
  ASSERT_TRUE(events);
  unsigned complete = 0;
  for (const llvm::json::Value &e : *events) {
    const llvm::json::Object *o = e.getAsObject();
    ASSERT_TRUE(o);
    if (o->getString("ph") == "X") {
      ++complete;
      EXPECT_TRUE(o->getNumber("ts").has_value());
      EXPECT_TRUE(o->getNumber("dur").has_value());
    }
  }
  EXPECT_EQ(complete, 3u);
  const llvm::json::Object *other = root->getObject("otherData");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->getInteger("events_dropped"), 3); // 2 LDs, SYS end
}

//===----------------------------------------------------------------------===//
// Speed (prints instructions per host second; docs/simulator.md quotes it)
//===----------------------------------------------------------------------===//

namespace {
/// A decode-like stream: per group an LD of a 64-channel weight tile, an MV
/// over it and a MISC on its output, chained by tokens.
Stream decodeLikeStream(unsigned groups) {
  Stream s;
  for (unsigned g = 0; g < groups; ++g) {
    uint32_t wrow = (g % 2) * 4096;
    s.add(ld(Buffer::weight, wrow, Memory::hbm, g % 32, (g / 32) * 1024, 1024)
              .releaseTo(Queue::matrix));
    Instruction mv(Opcode::MV);
    mv.set(MV::k_blocks, 32).set(MV::n, 64).set(MV::b_addr, wrow);
    mv.set(MV::out_format, OutFormat::f16).set(MV::out_addr, 8 + g % 64);
    s.add(mv.waitOn(Queue::load).releaseTo(Queue::misc));
    Instruction misc(Opcode::MISC);
    misc.set(MISC::kind, MiscKind::silu).set(MISC::k, 64).set(MISC::rows, 1);
    misc.set(MISC::a_addr, 8 + g % 64).set(MISC::out_addr, 100 + g % 64);
    s.add(misc.waitOn(Queue::matrix));
  }
  s.end();
  return s;
}
} // namespace

TEST(Simulator, Speed) {
  for (bool functional : {false, true}) {
    unsigned groups = functional ? 5000 : 100000;
    Options o;
    o.functional = functional;
    o.timingCache = false;
    Simulator sim(u280(), o);
    Stream s = decodeLikeStream(groups);
    auto start = std::chrono::steady_clock::now();
    ASSERT_EQ(runStream(sim, s), 0) << sim.faultMessage();
    double secs = std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - start)
                      .count();
    uint64_t n = sim.lastRun().totalInstructions();
    EXPECT_EQ(n, 3u * groups + 1);
    Metrics m = sim.metrics(sim.lastRun());
    std::printf("%s: %" PRIu64 " instructions in %.3f s: %.2f M instructions/s"
                " (simulated %" PRIu64 " cycles, HBM utilization %.3f)\n",
                functional ? "functional" : "timing-only", n, secs,
                n / secs / 1e6, sim.lastRun().cycles,
                m.hbmBandwidthUtilization);
  }
}
