//===- MultiCoreSimulatorTest.cpp - Several cores in one run --------------===//
//
// Hand-assembled per-core streams: the CORES/CORE_SELECT registers, SYS sync
// across cores, LD from another core's act buffer (the inter-core link, its
// timing over SLR boundaries), shared HBM channels, and the faults of a
// multi-core run (a core that never syncs, a source core not running).
//
//===----------------------------------------------------------------------===//

#include "flightllm/Simulator/Simulator.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

using namespace flightllm;
using namespace flightllm::isa;
using namespace flightllm::sim;

namespace {

constexpr uint64_t kRow = kOnChipRowBytes;

Options timingOnly() {
  Options o;
  o.functional = false;
  return o;
}

target::TargetDescription u280() {
  auto t = target::loadTarget("u280");
  EXPECT_TRUE(static_cast<bool>(t));
  return *t;
}

struct Stream {
  std::vector<uint32_t> words;
  Stream &add(const Instruction &in) {
    uint32_t w[kMaxWords];
    EXPECT_EQ(encode(in, w, kMaxWords), Status::Ok);
    words.insert(words.end(), w, w + in.info().words);
    return *this;
  }
  Stream &sys(SysKind k) {
    Instruction in(Opcode::SYS);
    in.set(SYS::kind, k);
    return add(in);
  }
};

/// LD of `units` 32-byte units from core `src`'s act buffer at `srcByte` to
/// row `row` of this core's act buffer.
Instruction pull(unsigned src, uint64_t srcByte, uint32_t row, uint32_t units) {
  Instruction in(Opcode::LD);
  in.set(LD::buf, Buffer::act).set(LD::onchip_addr, row)
      .set(LD::src_core, src + 1).set(LD::addr, srcByte / kOffChipUnitBytes)
      .set(LD::length, units).set(LD::loop1, 1).set(LD::loop2, 1)
      .set(LD::loop3, 1);
  return in;
}

Instruction hbmLoad(uint32_t channel, uint32_t row, uint32_t units) {
  Instruction in(Opcode::LD);
  in.set(LD::buf, Buffer::weight).set(LD::onchip_addr, row)
      .set(LD::mem, Memory::hbm).set(LD::channel, channel)
      .set(LD::length, units).set(LD::loop1, 1).set(LD::loop2, 1)
      .set(LD::loop3, 1);
  return in;
}

/// Places each core's stream in DDR and sets CORES; returns run().
int runCores(Simulator &sim, const std::vector<Stream> &streams) {
  uint64_t offset = 0;
  for (unsigned k = 0; k < streams.size(); ++k) {
    const Stream &s = streams[k];
    std::vector<uint8_t> bytes(4 * s.words.size());
    for (size_t i = 0; i < s.words.size(); ++i)
      storeWordLE(s.words[i], &bytes[4 * i]);
    EXPECT_EQ(sim.memWrite(FLIGHT_MEM_DDR, 0, offset, bytes.data(),
                           bytes.size()),
              0);
    EXPECT_EQ(sim.regWrite(FLIGHT_REG_CORE_SELECT, k), 0);
    EXPECT_EQ(sim.regWrite(FLIGHT_REG_STREAM_OFFSET, uint32_t(offset)), 0);
    EXPECT_EQ(sim.regWrite(FLIGHT_REG_STREAM_WORDS, uint32_t(s.words.size())),
              0);
    offset += (bytes.size() + 63) / 64 * 64;
  }
  EXPECT_EQ(sim.regWrite(FLIGHT_REG_CORE_SELECT, 0), 0);
  EXPECT_EQ(sim.regWrite(FLIGHT_REG_CORES, uint32_t(streams.size())), 0);
  return sim.run();
}

} // namespace

TEST(MultiCoreSimulator, StreamRegistersAreBankedPerCore) {
  Simulator sim(u280());
  ASSERT_EQ(sim.regWrite(FLIGHT_REG_CORE_SELECT, 2), 0);
  ASSERT_EQ(sim.regWrite(FLIGHT_REG_STREAM_OFFSET, 640), 0);
  ASSERT_EQ(sim.regWrite(FLIGHT_REG_CORE_SELECT, 0), 0);
  ASSERT_EQ(sim.regWrite(FLIGHT_REG_STREAM_OFFSET, 64), 0);
  uint32_t v = 0;
  ASSERT_EQ(sim.regRead(FLIGHT_REG_STREAM_OFFSET, &v), 0);
  EXPECT_EQ(v, 64u);
  ASSERT_EQ(sim.regWrite(FLIGHT_REG_CORE_SELECT, 2), 0);
  ASSERT_EQ(sim.regRead(FLIGHT_REG_STREAM_OFFSET, &v), 0);
  EXPECT_EQ(v, 640u);
  // The u280 has three cores.
  EXPECT_NE(sim.regWrite(FLIGHT_REG_CORE_SELECT, 3), 0);
  EXPECT_NE(sim.regWrite(FLIGHT_REG_CORES, 4), 0);
  EXPECT_NE(sim.halError().find("3 cores"), std::string::npos)
      << sim.halError();
}

TEST(MultiCoreSimulator, AllGatherBetweenSyncsIsExact) {
  // Each core owns 256 bytes of a 768-byte row; after sync, pulls, sync
  // every core holds all three slices.
  Simulator sim(u280());
  for (unsigned k = 0; k < 3; ++k) {
    uint8_t *act = sim.buffer(Buffer::act, k);
    ASSERT_NE(act, nullptr);
    for (unsigned i = 0; i < 256; ++i)
      act[256 * k + i] = uint8_t(17 * k + i);
  }
  std::vector<Stream> streams(3);
  for (unsigned k = 0; k < 3; ++k) {
    streams[k].sys(SysKind::sync);
    for (unsigned d = 0; d < 3; ++d)
      if (d != k)
        streams[k].add(pull(d, 256 * d, 2 * d, 256 / 32));
    streams[k].sys(SysKind::sync).sys(SysKind::end);
  }
  ASSERT_EQ(runCores(sim, streams), 0) << sim.faultMessage();
  for (unsigned k = 0; k < 3; ++k)
    for (unsigned d = 0; d < 3; ++d)
      for (unsigned i = 0; i < 256; ++i)
        ASSERT_EQ(sim.buffer(Buffer::act, k)[256 * d + i], uint8_t(17 * d + i))
            << "core " << k << " slice " << d << " byte " << i;
  const Counters &c = sim.lastRun();
  EXPECT_EQ(c.coreLinkBytes, 6u * 256);
  EXPECT_EQ(c.syncs, 6u); // two per core
  EXPECT_EQ(c.maxCores, 3u);
}

TEST(MultiCoreSimulator, LinkTimingCountsBoundariesAndBandwidth) {
  // 64 KiB from core 0 to core 1 (one SLR boundary) and to core 2 (two):
  // both take bytes / 128 cycles on the link, the far one 8 cycles more.
  TimingParams tp;
  auto cyclesOf = [&](unsigned dst) {
    Simulator sim(u280(), timingOnly());
    std::vector<Stream> streams(dst + 1);
    for (unsigned k = 0; k <= dst; ++k) {
      if (k == dst)
        streams[k].add(pull(0, 0, 0, 65536 / 32));
      streams[k].sys(SysKind::end);
    }
    EXPECT_EQ(runCores(sim, streams), 0) << sim.faultMessage();
    return sim.lastRun().cycles;
  };
  uint64_t one = cyclesOf(1), two = cyclesOf(2);
  EXPECT_GE(one, 65536 / tp.coreLinkBytesPerCycle);
  EXPECT_LT(one, 65536 / tp.coreLinkBytesPerCycle + 200);
  EXPECT_EQ(two - one, tp.coreLinkLatency);
}

TEST(MultiCoreSimulator, CoresShareHbmChannelsButNotBuffers) {
  // Two cores loading 256 KiB each from one channel take twice as long as
  // one core; from two channels, as long as one.
  auto cyclesOf = [](unsigned cores, bool sameChannel) {
    Simulator sim(u280(), timingOnly());
    std::vector<Stream> streams(cores);
    for (unsigned k = 0; k < cores; ++k)
      streams[k].add(hbmLoad(sameChannel ? 0 : k, 0, 262144 / 32))
          .sys(SysKind::end);
    EXPECT_EQ(runCores(sim, streams), 0) << sim.faultMessage();
    return double(sim.lastRun().cycles);
  };
  double single = cyclesOf(1, true);
  EXPECT_NEAR(cyclesOf(2, true) / single, 2.0, 0.05);
  EXPECT_NEAR(cyclesOf(2, false) / single, 1.0, 0.05);
}

TEST(MultiCoreSimulator, SyncWaitsForTheSlowestCore) {
  // Core 1 loads 256 KiB before its sync; core 0 waits for it.
  Simulator sim(u280(), timingOnly());
  std::vector<Stream> streams(2);
  streams[0].sys(SysKind::sync).sys(SysKind::end);
  streams[1].add(hbmLoad(1, 0, 262144 / 32)).sys(SysKind::sync)
      .sys(SysKind::end);
  ASSERT_EQ(runCores(sim, streams), 0) << sim.faultMessage();
  // Core 0 waits for the load (256 KiB at 59 B/cycle) and the sync's
  // latency, core 1 for the latency alone (the counter sums the cores).
  const Counters &c = sim.lastRun();
  TimingParams tp;
  EXPECT_EQ(c.syncs, 2u);
  EXPECT_GT(c.syncWaitCycles, 4000u);
  EXPECT_LE(c.syncWaitCycles, c.cycles + tp.syncLatency);
}

TEST(MultiCoreSimulator, FaultsNameTheCore) {
  {
    // Core 1 ends without the sync core 0 waits in: a deadlock naming both.
    Simulator sim(u280(), timingOnly());
    std::vector<Stream> streams(2);
    streams[0].sys(SysKind::sync).sys(SysKind::end);
    streams[1].sys(SysKind::end);
    EXPECT_NE(runCores(sim, streams), 0);
    EXPECT_EQ(sim.fault(), Fault::Deadlock);
    EXPECT_NE(sim.faultMessage().find("core 0: instruction 0"),
              std::string::npos)
        << sim.faultMessage();
    EXPECT_NE(sim.faultMessage().find("SYS sync waits for the other cores"),
              std::string::npos)
        << sim.faultMessage();
    EXPECT_NE(sim.faultMessage().find("core 1 ended"), std::string::npos)
        << sim.faultMessage();
  }
  {
    // A pull from core 2 in a two-core run.
    Simulator sim(u280(), timingOnly());
    std::vector<Stream> streams(2);
    streams[0].sys(SysKind::end);
    streams[1].add(pull(2, 0, 0, 1)).sys(SysKind::end);
    EXPECT_NE(runCores(sim, streams), 0);
    EXPECT_EQ(sim.fault(), Fault::ChannelRange);
    EXPECT_NE(sim.faultMessage().find("core 1: instruction 0"),
              std::string::npos)
        << sim.faultMessage();
    EXPECT_NE(sim.faultMessage().find("source core 2 of 2 running"),
              std::string::npos)
        << sim.faultMessage();
  }
  {
    // Outside the source's act buffer.
    Simulator sim(u280(), timingOnly());
    std::vector<Stream> streams(2);
    streams[0].add(pull(1, 8 * 1024 * 1024 - 32, 0, 2)).sys(SysKind::end);
    streams[1].sys(SysKind::end);
    EXPECT_NE(runCores(sim, streams), 0);
    EXPECT_EQ(sim.fault(), Fault::BufferRange);
    EXPECT_NE(sim.faultMessage().find("outside core 1's act buffer"),
              std::string::npos)
        << sim.faultMessage();
  }
  {
    // A second core without a stream.
    Simulator sim(u280(), timingOnly());
    Stream s;
    s.sys(SysKind::end);
    std::vector<Stream> streams{s};
    ASSERT_EQ(runCores(sim, streams), 0);
    ASSERT_EQ(sim.regWrite(FLIGHT_REG_CORES, 2), 0);
    EXPECT_NE(sim.run(), 0);
    EXPECT_EQ(sim.fault(), Fault::StreamRange);
    EXPECT_NE(sim.faultMessage().find("core 1: the stream"),
              std::string::npos)
        << sim.faultMessage();
  }
}

TEST(MultiCoreSimulator, TimingCacheKeysOnEveryCoresStream) {
  Simulator sim(u280(), timingOnly());
  Stream end, longer;
  end.sys(SysKind::end);
  longer.add(hbmLoad(0, 0, 1024)).sys(SysKind::end);
  auto place = [&](const Stream &s, uint64_t offset) {
    std::vector<uint8_t> bytes(4 * s.words.size());
    for (size_t i = 0; i < s.words.size(); ++i)
      storeWordLE(s.words[i], &bytes[4 * i]);
    ASSERT_EQ(sim.memWrite(FLIGHT_MEM_DDR, 0, offset, bytes.data(),
                           bytes.size()),
              0);
  };
  place(end, 0);
  place(longer, 64);
  auto run = [&](uint32_t core1Offset, uint32_t core1Words) {
    EXPECT_EQ(sim.regWrite(FLIGHT_REG_CORE_SELECT, 0), 0);
    EXPECT_EQ(sim.regWrite(FLIGHT_REG_STREAM_OFFSET, 0), 0);
    EXPECT_EQ(sim.regWrite(FLIGHT_REG_STREAM_WORDS, 1), 0);
    EXPECT_EQ(sim.regWrite(FLIGHT_REG_CORE_SELECT, 1), 0);
    EXPECT_EQ(sim.regWrite(FLIGHT_REG_STREAM_OFFSET, core1Offset), 0);
    EXPECT_EQ(sim.regWrite(FLIGHT_REG_STREAM_WORDS, core1Words), 0);
    EXPECT_EQ(sim.regWrite(FLIGHT_REG_CORE_SELECT, 0), 0);
    EXPECT_EQ(sim.regWrite(FLIGHT_REG_CORES, 2), 0);
    EXPECT_EQ(sim.run(), 0) << sim.faultMessage();
    return sim.lastRun();
  };
  Counters slow = run(64, uint32_t(longer.words.size()));
  EXPECT_EQ(slow.cachedRuns, 0u);
  // Core 0's stream is the same; core 1's differs: not the cached entry.
  Counters fast = run(0, 1);
  EXPECT_EQ(fast.cachedRuns, 0u);
  EXPECT_LT(fast.cycles, slow.cycles);
  EXPECT_EQ(run(64, uint32_t(longer.words.size())).cachedRuns, 1u);
  EXPECT_EQ(run(0, 1).cachedRuns, 1u);
}
