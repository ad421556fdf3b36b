//===- FakeHal.h - An in-memory accelerator behind the runtime's HAL -------===//
//
// Device memory (HBM and DDR channels of a fixed size; an access outside one
// fails like a bus error), the register file, a log of register writes and
// runs, and a stand-in for the accelerator: each run writes logits computed
// from the registers and the last input row, so that tests can check what the
// runtime wrote and read. Any HAL call can be told to fail, and any run to
// report a fault.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_TEST_RUNTIME_FAKEHAL_H
#define FLIGHTLLM_TEST_RUNTIME_FAKEHAL_H

#include "flightllm/runtime/hal.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace flightllm::runtime::test {

class FakeDevice {
public:
  static constexpr uint32_t kChannels = 4;
  static constexpr uint64_t kChannelBytes = 64 * 1024;
  /// Runs after which every run faults (bounds the tests' work).
  static constexpr size_t kMaxRuns = 4096;

  /// Where the stand-in accelerator finds its input rows and puts logits.
  struct Layout {
    uint32_t inputChannel = 0;
    uint64_t inputOffset = 0;
    uint32_t rowBytes = 64;
    uint32_t logitsChannel = 0;
    uint64_t logitsOffset = 0;
    uint32_t logitsCount = 0;
  };

  struct Run {
    uint32_t regs[FLIGHT_REG_COUNT];
    uint32_t firstWord; // the stream's first word at STREAM_OFFSET
  };

  explicit FakeDevice(Layout layout) : layout(layout) {
    for (auto &memory : mem)
      for (auto &channel : memory)
        channel.assign(kChannelBytes, 0);
    hal.ctx = this;
    hal.mem_write = [](void *ctx, uint32_t m, uint32_t c, uint64_t o,
                       const void *src, uint64_t n) {
      return static_cast<FakeDevice *>(ctx)->memWrite(m, c, o, src, n);
    };
    hal.mem_read = [](void *ctx, uint32_t m, uint32_t c, uint64_t o, void *dst,
                      uint64_t n) {
      return static_cast<FakeDevice *>(ctx)->memRead(m, c, o, dst, n);
    };
    hal.reg_write = [](void *ctx, uint32_t r, uint32_t v) {
      return static_cast<FakeDevice *>(ctx)->regWrite(r, v);
    };
    hal.reg_read = [](void *ctx, uint32_t r, uint32_t *v) {
      return static_cast<FakeDevice *>(ctx)->regRead(r, v);
    };
    hal.run = [](void *ctx) { return static_cast<FakeDevice *>(ctx)->run(); };
  }
  FakeDevice(const FakeDevice &) = delete;
  FakeDevice &operator=(const FakeDevice &) = delete;

  /// The logits the stand-in writes for a run.
  static float expectedLogit(uint32_t marker, uint32_t p, uint32_t layer,
                             uint32_t j) {
    return static_cast<float>(marker) + 0.5f * static_cast<float>(j) +
           100.0f * static_cast<float>(p) + 10000.0f * static_cast<float>(layer);
  }

  /// Makes the `nth` (0-based) later call named `call` ("mem_write",
  /// "mem_read", "reg_write", "reg_read", "run") fail.
  void failCall(std::string call, int nth = 0) {
    failName = std::move(call);
    failCountdown = nth;
  }
  /// Makes the `nth` later run report fault `code`.
  void faultRun(uint32_t code, int nth = 0) {
    faultCode = code;
    faultCountdown = nth;
  }

  std::vector<uint8_t> &memory(uint32_t m, uint32_t channel) {
    return mem[m][channel];
  }

  flight_hal hal{};
  Layout layout;
  std::vector<uint8_t> mem[2][kChannels];
  uint32_t regs[FLIGHT_REG_COUNT] = {};
  std::vector<std::pair<uint32_t, uint32_t>> regWrites;
  std::vector<Run> runs;
  uint64_t memWrites = 0, memReads = 0;
  uint64_t cyclesPerRun = 1234567890123ull;

private:
  bool shouldFail(const char *call) {
    if (failName != call)
      return false;
    if (failCountdown-- > 0)
      return false;
    failName.clear();
    return true;
  }
  std::vector<uint8_t> *range(uint32_t m, uint32_t c, uint64_t o,
                              uint64_t n) {
    if (m > 1 || c >= kChannels || n > kChannelBytes ||
        o > kChannelBytes - n)
      return nullptr;
    return &mem[m][c];
  }
  int memWrite(uint32_t m, uint32_t c, uint64_t o, const void *src,
               uint64_t n) {
    ++memWrites;
    if (shouldFail("mem_write"))
      return -5;
    auto *bytes = range(m, c, o, n);
    if (bytes == nullptr)
      return -14;
    if (n > 0)
      std::memcpy(bytes->data() + o, src, n);
    return 0;
  }
  int memRead(uint32_t m, uint32_t c, uint64_t o, void *dst, uint64_t n) {
    ++memReads;
    if (shouldFail("mem_read"))
      return -5;
    auto *bytes = range(m, c, o, n);
    if (bytes == nullptr)
      return -14;
    if (n > 0)
      std::memcpy(dst, bytes->data() + o, n);
    return 0;
  }
  int regWrite(uint32_t r, uint32_t v) {
    if (shouldFail("reg_write"))
      return -5;
    if (r >= FLIGHT_REG_COUNT || r == FLIGHT_REG_STATUS ||
        r == FLIGHT_REG_CYCLES_LO || r == FLIGHT_REG_CYCLES_HI)
      return -22;
    regs[r] = v;
    regWrites.push_back({r, v});
    return 0;
  }
  int regRead(uint32_t r, uint32_t *v) {
    if (shouldFail("reg_read"))
      return -5;
    if (r >= FLIGHT_REG_COUNT)
      return -22;
    *v = regs[r];
    return 0;
  }
  int run() {
    if (shouldFail("run"))
      return -5;
    if (runs.size() >= kMaxRuns) { // a runaway repeat count: fault
      regs[FLIGHT_REG_STATUS] = 0xDEAD;
      return 1;
    }
    Run record;
    std::memcpy(record.regs, regs, sizeof(regs));
    record.firstWord = 0;
    const uint64_t streamAt = regs[FLIGHT_REG_STREAM_OFFSET];
    if (streamAt + 4 <= kChannelBytes)
      std::memcpy(&record.firstWord, mem[FLIGHT_MEM_DDR][0].data() + streamAt,
                  4);
    runs.push_back(record);
    regs[FLIGHT_REG_CYCLES_LO] = static_cast<uint32_t>(cyclesPerRun);
    regs[FLIGHT_REG_CYCLES_HI] = static_cast<uint32_t>(cyclesPerRun >> 32);
    if (faultCode != 0 && faultCountdown-- == 0) {
      regs[FLIGHT_REG_STATUS] = faultCode;
      faultCode = 0;
      return 1;
    }
    regs[FLIGHT_REG_STATUS] = 0;
    // The stand-in accelerator: logits from the marker (first u32) of the
    // last new token's input row and the registers P and L.
    const uint32_t s = regs[FLIGHT_REG_S];
    uint32_t marker = 0;
    const uint64_t row =
        layout.inputOffset + uint64_t(s == 0 ? 0 : s - 1) * layout.rowBytes;
    if (range(FLIGHT_MEM_HBM, layout.inputChannel, row, 4) != nullptr)
      std::memcpy(&marker, mem[FLIGHT_MEM_HBM][layout.inputChannel].data() + row,
                  4);
    for (uint32_t j = 0; j < layout.logitsCount; ++j) {
      float v = expectedLogit(marker, regs[FLIGHT_REG_P], regs[FLIGHT_REG_L], j);
      const uint64_t at = layout.logitsOffset + 4ull * j;
      if (range(FLIGHT_MEM_HBM, layout.logitsChannel, at, 4) != nullptr)
        std::memcpy(mem[FLIGHT_MEM_HBM][layout.logitsChannel].data() + at, &v,
                    4);
    }
    return 0;
  }

  std::string failName;
  int failCountdown = 0;
  uint32_t faultCode = 0;
  int faultCountdown = 0;
};

} // namespace flightllm::runtime::test

#endif // FLIGHTLLM_TEST_RUNTIME_FAKEHAL_H
