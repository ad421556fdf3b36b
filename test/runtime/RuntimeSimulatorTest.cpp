//===- RuntimeSimulatorTest.cpp - The runtime over the simulator's HAL ----===//
//
// The embedded runtime driving lib/Simulator (u280) through the HAL: a small
// .flb whose streams copy the last new token's input row to the logits area
// (LD from the input rows, addressed with the S register; ST through base
// register B1 set from the bucket), so that the logits the runtime returns are
// the embedding row it copied: weight image -> HBM, embedding copy, stream
// placement in DDR, registers, runs and the logits read all agree between the
// two programs. Also: a stream that faults, and the observer's cycles.
//===----------------------------------------------------------------------===//

#include "flightllm/Binary/Writer.h"
#include "flightllm/ISA/ISA.h"
#include "flightllm/Simulator/Simulator.h"
#include "flightllm/Target/TargetDescription.h"
#include "flightllm/runtime/runtime.h"

#include "gtest/gtest.h"

#include <cstring>
#include <vector>

using namespace flightllm;
using namespace flightllm::isa;
namespace bin = flightllm::binary;

namespace {

constexpr uint32_t kVocab = 16, kHidden = 32, kRowBytes = 64;
constexpr uint32_t kWeightChannel = 0;
constexpr uint32_t kInputChannel = 1, kInputUnits = 128;  // byte 4096
constexpr uint32_t kLogitsChannel = 2, kLogitsUnits = 256; // byte 8192
constexpr uint32_t kInputRows = 8, kMaxContext = 12;

float embedding(uint32_t token, uint32_t j) {
  return static_cast<float>(token) * 100.0f + static_cast<float>(j);
}

std::vector<uint32_t> encodeAll(const std::vector<Instruction> &program) {
  std::vector<uint32_t> words;
  for (const Instruction &in : program) {
    uint32_t w[kMaxWords];
    EXPECT_EQ(encode(in, w, kMaxWords), Status::Ok);
    words.insert(words.end(), w, w + in.info().words);
  }
  return words;
}

Instruction sys(SysKind kind) {
  Instruction in(Opcode::SYS);
  in.set(SYS::kind, kind);
  return in;
}

/// Input row S - 1 -> act row 0 -> logits (B1 + 0).
std::vector<uint32_t> copyLastRowToLogits() {
  const uint32_t rowUnits = kRowBytes / kOffChipUnitBytes;
  Instruction ld(Opcode::LD);
  ld.set(LD::buf, Buffer::act).set(LD::onchip_addr, 0).set(LD::mem, Memory::hbm);
  ld.set(LD::channel, kInputChannel).set(LD::addr, kInputUnits - rowUnits);
  ld.set(LD::param, ParamReg::S).set(LD::scale, rowUnits);
  ld.set(LD::length, rowUnits);
  ld.set(LD::loop1, 1).set(LD::loop2, 1).set(LD::loop3, 1);
  Instruction st(Opcode::ST);
  st.set(ST::buf, Buffer::act).set(ST::onchip_addr, 0);
  st.set(ST::channel, kLogitsChannel).set(ST::base, BaseReg::B1);
  st.set(ST::addr, 0).set(ST::length, kVocab * 4 / kOffChipUnitBytes);
  return encodeAll({ld, sys(SysKind::barrier), st, sys(SysKind::end)});
}

bin::DeviceMap deviceMap() {
  bin::DeviceMap d;
  d.embedRowBytes = kRowBytes;
  d.vocab = kVocab;
  d.hiddenSize = kHidden;
  d.inputChannel = kInputChannel;
  d.inputOffsetUnits = kInputUnits;
  d.inputRows = kInputRows;
  d.logitsChannel = kLogitsChannel;
  d.logitsOffsetUnits = kLogitsUnits;
  d.logitsCount = kVocab;
  return d;
}

std::vector<uint8_t> buildBinary(uint64_t fingerprint, bool faultingDecode) {
  bin::BinaryWriter w(fingerprint);
  bin::ModelMetadata meta;
  meta.family = static_cast<uint32_t>(bin::ModelFamily::GPT2);
  meta.numLayers = 2;
  meta.hiddenSize = kHidden;
  meta.numHeads = 2;
  meta.numKVHeads = 2;
  meta.headDim = 16;
  meta.vocabSize = kVocab;
  meta.maxContext = kMaxContext;
  meta.prefillBucketWidth = 8;
  meta.decodeBucketWidth = 12;
  w.setMetadata(meta);
  w.takeStream(0, copyLastRowToLogits());
  // Stream 1: decode; opcode 0 does not decode when asked to fault.
  w.takeStream(1, faultingDecode ? std::vector<uint32_t>{0u, 0u}
                                 : copyLastRowToLogits());
  bin::BucketEntry prefill;
  prefill.stage = static_cast<uint16_t>(bin::Stage::Prefill);
  prefill.minLength = 1;
  prefill.maxLength = kInputRows;
  prefill.streamId = 0;
  prefill.repeatCount = 2;
  prefill.baseOrigin[0] = kLogitsUnits;
  w.addBucket(prefill);
  bin::BucketEntry decode = prefill;
  decode.stage = static_cast<uint16_t>(bin::Stage::Decode);
  decode.maxLength = kMaxContext;
  decode.streamId = 1;
  decode.repeatCount = 1;
  w.addBucket(decode);
  std::vector<uint8_t> table; // alive until writeToBuffer
  for (uint32_t t = 0; t < kVocab; ++t)
    for (uint32_t j = 0; j < kRowBytes / 4; ++j) {
      float v = embedding(t, j);
      uint8_t b[4];
      std::memcpy(b, &v, 4);
      table.insert(table.end(), b, b + 4);
    }
  w.addRawSection(static_cast<uint32_t>(bin::SectionKind::EmbeddingTable), 0,
                  table);
  w.takeWeightImage(kWeightChannel, std::vector<uint8_t>(64, 0));
  w.setDeviceMap(deviceMap());
  auto bytes = w.writeToBuffer();
  EXPECT_TRUE(static_cast<bool>(bytes));
  if (!bytes) {
    llvm::consumeError(bytes.takeError());
    return {};
  }
  return *bytes;
}

struct SimHarness {
  explicit SimHarness(bool faultingDecode = false)
      : target(*target::loadTarget("u280")), sim(target),
        flb(buildBinary(target.fingerprint(), faultingDecode)),
        arena(flight_runtime_arena_bytes()) {
    hal = sim.hal();
  }
  ~SimHarness() { flight_close(rt); }
  target::TargetDescription target;
  sim::Simulator sim;
  std::vector<uint8_t> flb;
  std::vector<uint8_t> arena;
  flight_hal hal;
  flight_runtime *rt = nullptr;
  std::vector<float> logits = std::vector<float>(kVocab, -1.0f);
};

TEST(RuntimeSimulator, PrefillAndDecodeReturnTheCopiedRows) {
  SimHarness h;
  ASSERT_EQ(flight_open(&h.rt, h.arena.data(), h.arena.size(), h.flb.data(),
                        h.flb.size(), &h.hal, h.target.fingerprint(), 0),
            FLIGHT_OK)
      << flight_last_error(h.rt) << " / " << h.sim.halError();
  uint64_t cycles = 0;
  uint32_t runs = 0;
  struct Seen {
    uint64_t *cycles;
    uint32_t *runs;
  } seen{&cycles, &runs};
  flight_set_observer(
      h.rt,
      [](void *user, uint32_t, uint32_t, uint64_t c) {
        auto *s = static_cast<Seen *>(user);
        *s->cycles += c;
        ++*s->runs;
      },
      &seen);
  const int32_t prompt[] = {3, 9, 5};
  ASSERT_EQ(flight_prefill(h.rt, prompt, 3, h.logits.data()), FLIGHT_OK)
      << flight_last_error(h.rt) << " / " << h.sim.faultMessage();
  for (uint32_t j = 0; j < kVocab; ++j)
    EXPECT_EQ(h.logits[j], embedding(5, j)) << j;
  EXPECT_EQ(runs, 2u);
  EXPECT_GT(cycles, 0u);
  for (int32_t token : {7, 0, 15}) {
    ASSERT_EQ(flight_decode_step(h.rt, token, h.logits.data()), FLIGHT_OK)
        << flight_last_error(h.rt) << " / " << h.sim.faultMessage();
    for (uint32_t j = 0; j < kVocab; ++j)
      EXPECT_EQ(h.logits[j], embedding(uint32_t(token), j)) << j;
  }
  EXPECT_EQ(flight_context_length(h.rt), 6u);
  EXPECT_EQ(runs, 5u);
}

TEST(RuntimeSimulator, AFaultingStreamIsADeviceFault) {
  SimHarness h(/*faultingDecode=*/true);
  ASSERT_EQ(flight_open(&h.rt, h.arena.data(), h.arena.size(), h.flb.data(),
                        h.flb.size(), &h.hal, 0, 0),
            FLIGHT_OK)
      << flight_last_error(h.rt);
  const int32_t prompt[] = {1};
  ASSERT_EQ(flight_prefill(h.rt, prompt, 1, h.logits.data()), FLIGHT_OK)
      << flight_last_error(h.rt);
  EXPECT_EQ(flight_decode_step(h.rt, 2, h.logits.data()),
            FLIGHT_ERR_DEVICE_FAULT);
  const std::string message = flight_last_error(h.rt);
  EXPECT_NE(message.find("device fault " +
                         std::to_string(unsigned(sim::Fault::Decode))),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("decode bucket 1"), std::string::npos) << message;
  EXPECT_EQ(flight_context_length(h.rt), 1u);
}

TEST(RuntimeSimulator, WrongTarget) {
  SimHarness h;
  auto other = target::loadTarget("vhk158");
  ASSERT_TRUE(static_cast<bool>(other));
  EXPECT_EQ(flight_open(&h.rt, h.arena.data(), h.arena.size(), h.flb.data(),
                        h.flb.size(), &h.hal, other->fingerprint(), 0),
            FLIGHT_ERR_TARGET_MISMATCH);
}

} // namespace
