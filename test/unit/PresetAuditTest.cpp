//===- PresetAuditTest.cpp - The presets against the devices they model ---===//
//
// Each preset's compute, on-chip memory, buffer ports, HBM and clock against
// the published figures of its device (docs/targets.md, "Preset audit", gives
// the sources). A preset edited past what its device has fails here, with
// the arithmetic in the message.
//
//===----------------------------------------------------------------------===//

#include "TargetTestUtil.h"

#include "flightllm/Target/TargetDescription.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace flightllm::target;
using flightllm::isa::Buffer;
using flightllm::target::test::preset;

namespace {

/// What a device is known to have; 0 where no source is at hand (the preset's
/// figure is then an assumption, docs/targets.md).
struct Device {
  const char *preset;
  uint64_t slrs, dsps, urams, brams;
  uint64_t hbmChannels;
  double hbmGBPerSPerChannel;
  /// Achieved fraction of peak HBM bandwidth, measured (0: none published).
  double measuredHbmEfficiency;
  /// The clock the published implementation of FlightLLM closed at.
  double implementedClockMHz;
  /// The DSP's maximum clock with every pipeline register (data sheet).
  double dspFmaxMHz;
};

const Device kDevices[] = {
    // Alveo U280 data sheet (DS963): 3 SLRs, 9,024 DSP48E2, 960 UltraRAM,
    // 2,016 block RAM (36 Kb), 32 HBM2 pseudo-channels of 14.375 GB/s.
    // Shuhai (Wang et al., FCCM 2020): 425 of 460 GB/s for long sequential
    // reads. FlightLLM (FPGA'24): the U280 design runs at 225 MHz. DS923:
    // DSP48E2 FMAX 644 MHz at -2, VCCINT 0.72 V (the slowest U280 setting).
    {"u280", 3, 9024, 960, 2016, 32, 14.375, 425.0 / 460.0, 225, 644},
    // VHK158 (XCVH1582): HBM2e 2 stacks x 16 pseudo-channels of 25.6 GB/s
    // (PG313, 819.2 GB/s). FlightLLM (FPGA'24): the VHK158 design runs at
    // 310 MHz. No data-sheet figures for SLRs, DSP58s, UltraRAM, block RAM,
    // or a DSP58 FMAX, and no HBM measurement, at hand: assumptions.
    {"vhk158", 0, 0, 0, 0, 32, 25.6, 0, 310, 0},
};

} // namespace

TEST(PresetAudit, EveryPresetIsAudited) {
  for (llvm::StringRef name : presetNames()) {
    bool found = false;
    for (const Device &d : kDevices)
      found |= name == d.preset;
    EXPECT_TRUE(found) << name.str() << " has no entry in kDevices";
  }
}

TEST(PresetAudit, PublishedDeviceFiguresAreThePresets) {
  for (const Device &d : kDevices) {
    SCOPED_TRACE(d.preset);
    TargetDescription t = preset(d.preset);
    // A zero figure is not published: the preset's value is an assumption.
    if (d.slrs) {
      EXPECT_EQ(t.slrs, d.slrs);
    }
    if (d.dsps) {
      EXPECT_EQ(t.dspCount, d.dsps);
    }
    if (d.urams) {
      EXPECT_EQ(t.uramBlocks, d.urams);
    }
    if (d.brams) {
      EXPECT_EQ(t.bramBlocks, d.brams);
    }
    EXPECT_EQ(t.uramBitsPerBlock, 288u * 1024); // 288 Kb, 4K x 72
    EXPECT_EQ(t.bramBitsPerBlock, 36u * 1024);  // 36 Kb, 512 x 72
    EXPECT_EQ(t.hbmChannels, d.hbmChannels);
    EXPECT_DOUBLE_EQ(t.hbmGBPerSPerChannel, d.hbmGBPerSPerChannel);
    EXPECT_EQ(t.clockMHz, d.implementedClockMHz);
    if (d.dspFmaxMHz) {
      EXPECT_LE(t.clockMHz, d.dspFmaxMHz);
    }
    if (d.measuredHbmEfficiency) {
      // Three digits in the preset: 0.924 for 425/460 = 0.92391.
      EXPECT_NEAR(t.hbmEfficiencyWithinChannel, d.measuredHbmEfficiency,
                  5e-4);
    }
  }
}

TEST(PresetAudit, MatrixEnginesFitTheDSPs) {
  for (llvm::StringRef name : presetNames()) {
    SCOPED_TRACE(name.str());
    TargetDescription t = preset(name);
    // FlightLLM packs 2 INT8 MACs per DSP48E2. A DSP58 does a 3-element INT8
    // dot product (AM004), so a 16-deep K block takes 6 of them (2.7 MACs
    // each): 2 per DSP is the conservative figure for both.
    EXPECT_EQ(t.int8MacsPerDsp, 2u);
    // The unified engine (FlightLLM's MPE) is the larger of its two modes.
    uint64_t perCore = std::max(t.mmMacsPerCycle(), t.mvMacsPerCycle()) /
                       t.int8MacsPerDsp;
    EXPECT_LE(t.cores * perCore, t.dspCount)
        << t.cores << " cores x " << perCore << " DSPs";
  }
  TargetDescription u280 = preset("u280");
  EXPECT_EQ(u280.dspsNeeded(), 6144u); // 68% of 9,024
}

TEST(PresetAudit, BuffersFitEachCoresSLR) {
  for (llvm::StringRef name : presetNames()) {
    SCOPED_TRACE(name.str());
    TargetDescription t = preset(name);
    // One core per SLR: its buffers come from that SLR's share.
    ASSERT_EQ(t.cores, t.slrs);
    EXPECT_LE(t.blocksPerCore(OnChipMemory::uram), t.uramBlocks / t.slrs);
    EXPECT_LE(t.blocksPerCore(OnChipMemory::bram), t.bramBlocks / t.slrs);
    // Every byte of a buffer is backed: no buffer is larger than its blocks.
    for (Buffer b : {Buffer::act, Buffer::weight, Buffer::meta, Buffer::acc})
      EXPECT_LE(t.bufferBytes(b),
                t.bufferBlocks(b) * t.dataBytesPerBlock(t.bufferMemory(b)));
  }
  // The U280 arithmetic of docs/targets.md: 32 KiB of data per UltraRAM
  // (4K x 64 of its 4K x 72), 4 KiB per block RAM (512 x 64).
  TargetDescription u280 = preset("u280");
  EXPECT_EQ(u280.dataBytesPerBlock(OnChipMemory::uram), 32u * 1024);
  EXPECT_EQ(u280.dataBytesPerBlock(OnChipMemory::bram), 4u * 1024);
  EXPECT_EQ(u280.bufferBlocks(Buffer::act), 256u);    // 8 MiB
  EXPECT_EQ(u280.bufferBlocks(Buffer::weight), 64u);  // 2 MiB
  EXPECT_EQ(u280.bufferBlocks(Buffer::meta), 256u);   // 1 MiB
  EXPECT_EQ(u280.bufferBlocks(Buffer::acc), 64u);     // 256 KiB
  // Every UltraRAM of an SLR (320 of 960), under half its block RAM.
  EXPECT_EQ(u280.blocksPerCore(OnChipMemory::uram), 320u);
  EXPECT_EQ(u280.blocksPerCore(OnChipMemory::bram), 320u);
}

TEST(PresetAudit, BufferPortsFeedTheEngines) {
  for (llvm::StringRef name : presetNames()) {
    SCOPED_TRACE(name.str());
    TargetDescription t = preset(name);
    // Alone, each engine mode streams its operands at full rate: MV reads
    // mv.channels x 16 weight bytes per cycle, MM mm.tokens x 16 act bytes
    // (and mm.channels x 16 weight bytes).
    EXPECT_GE(t.bufferPortBytesPerCycle(Buffer::weight),
              t.mvChannels * t.mvK);
    EXPECT_GE(t.bufferPortBytesPerCycle(Buffer::act), t.mmTokens * t.mmK);
    EXPECT_GE(t.bufferPortBytesPerCycle(Buffer::weight),
              t.mmChannels * t.mmK);
  }
  // The issue-12 arithmetic: 64 UltraRAMs x 2 ports x 8 bytes = 1 KiB per
  // cycle for the 2 MiB weight buffer, all of which MV decode reads; loads
  // writing the buffer contend with it (the simulator models this).
  TargetDescription u280 = preset("u280");
  EXPECT_EQ(u280.bufferPortBytesPerCycle(Buffer::weight), 1024u);
  EXPECT_EQ(u280.mvChannels * u280.mvK, 1024u);
  EXPECT_EQ(u280.bufferPortBytesPerCycle(Buffer::act), 4096u);
}

TEST(PresetAudit, HBMPeakIsTheDataSheets) {
  // U280: 460 GB/s (data sheet); VHK158: 819.2 GB/s (PG313).
  EXPECT_DOUBLE_EQ(preset("u280").hbmPeakGBPerS(), 460);
  EXPECT_NEAR(preset("vhk158").hbmPeakGBPerS(), 819.2, 1e-9);
}
