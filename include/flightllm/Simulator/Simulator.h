//===- Simulator.h - Cycle-level, bit-exact accelerator simulator -*- C++ -*-===//
//
// A FlightLLM accelerator, all of its cores, behind the HAL (runtime/include/flightllm/
// runtime/hal.h): paged HBM and DDR channels, the on-chip buffers of the
// target, the registers, the dispatcher and the five instruction queues with
// their dependency-token counters. Functional execution follows
// docs/execution-model.md bit for bit (every arithmetic rule comes from
// flightllm/ISA/Numerics.h); the timing model and its parameters are
// docs/simulator.md.
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_SIMULATOR_SIMULATOR_H
#define FLIGHTLLM_SIMULATOR_SIMULATOR_H

#include "flightllm/ISA/ISA.h"
#include "flightllm/Target/TargetDescription.h"
#include "flightllm/runtime/hal.h"

#include "llvm/Support/raw_ostream.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace flightllm::sim {

/// Fault codes, read from FLIGHT_REG_STATUS after a failed run.
enum class Fault : uint32_t {
  None = 0,
  Decode = 1,          ///< a word of the stream does not decode
  BufferRange = 2,     ///< an on-chip access outside its buffer
  ChannelRange = 3,    ///< a bad channel or an off-chip access outside it
  BadSys = 4,          ///< a SYS misuse (registers, loops)
  TokensLeft = 5,      ///< SYS end with a non-zero token counter
  Deadlock = 6,        ///< every queue and the dispatcher are blocked
  Unsupported = 7,     ///< e.g. N:M sparsity (dense only in this version)
  StreamRange = 8,     ///< the stream lies outside DDR channel 0, or has no end
};

const char *faultName(Fault f);

/// The instruction kinds the counters distinguish.
enum class Kind : uint8_t { LD, ST, MM, MV, MISC, SYS };
inline constexpr unsigned kNumKinds = 6;
const char *kindName(Kind k);

/// Timing-model parameters that the target description does not carry;
/// docs/simulator.md gives the reasons for the defaults.
struct TimingParams {
  unsigned fifoDepth = 32;          ///< entries of each queue's FIFO
  unsigned loadInFlight = 32;       ///< LDs issued and not yet retired
  unsigned storeInFlight = 8;       ///< STs issued and not yet retired
  unsigned matrixInFlight = 4;      ///< MM/MV in the engine's pipeline
  unsigned miscInFlight = 4;        ///< MISC in the SFU pipeline
  unsigned hbmLatency = 48;         ///< cycles from a transfer's last beat to completion
  unsigned ddrLatency = 64;
  unsigned matrixLatency = 32;      ///< MM/MV pipeline depth (DSP chain, adder tree, output)
  unsigned sfuLatency = 24;         ///< SFU pipeline depth
  unsigned onChipBytesPerCycle = 64; ///< zero fill: one 512-bit row per cycle
  /// Achieved fraction of a DDR channel's peak: not in the target
  /// description; an assumption (docs/simulator.md).
  double ddrEfficiency = 0.7;
  /// Model the port bandwidth of the on-chip buffers (loads, stores and the
  /// matrix engine share each buffer's RAM ports; docs/simulator.md). false:
  /// ports are unlimited (the timing before issue 12), for comparisons.
  bool bufferPorts = true;
  /// Multi-core runs (docs/simulator.md, cores): the link between two
  /// neighbouring SLRs, per direction, and the cross-core sync. Assumptions
  /// (docs/targets.md): a 1024-bit stream per direction and boundary at the
  /// core clock (2,048 of a boundary's super long lines), 8 registered
  /// cycles per boundary crossed, 16 cycles to collect and broadcast a sync.
  unsigned coreLinkBytesPerCycle = 128;
  unsigned coreLinkLatency = 8;
  unsigned syncLatency = 16;
};

/// Power model (docs/simulator.md gives the sources): static board power
/// plus energy per event.
struct PowerParams {
  double staticWatts = 30.0;        ///< assumption: idle U280 board with the design loaded
  double hbmPicojoulesPerByte = 31.2; ///< HBM2 ~3.9 pJ/bit
  double ddrPicojoulesPerByte = 160.0; ///< DDR4 ~20 pJ/bit
  double macPicojoules = 2.0;       ///< one INT8 MAC on a DSP48 incl. operand delivery
  double sfuPicojoulesPerElement = 15.0; ///< one fp16 element through the SFU
};

struct Options {
  /// false: timing only; HBM contents and on-chip buffers are not kept
  /// (for 7B-sized models), HBM reads return zeros. DDR is always kept.
  bool functional = true;
  /// Where to write a Chrome trace-event JSON (Perfetto); null: no trace.
  /// The stream must outlive the simulator (tools pass an OutputFiles
  /// stream, committed after the run).
  llvm::raw_ostream *trace = nullptr;
  /// Stop recording after this many instruction events (the trace says so).
  uint64_t maxTraceEvents = 200000;
  /// >= 0: this simulator is card `traceCard` of a multi-card trace: it
  /// writes only its events (process id card + 1, named "card N"); the
  /// caller writes the JSON around them (Driver/PipelineSession.h).
  int traceCard = -1;
  /// Timing-only runs: reuse the result of an identical earlier run.
  bool timingCache = true;
  /// Debugging aid: dispatch an instruction only when every queue is idle,
  /// so everything runs in program order without overlap. A stream whose
  /// results change with it lacks a dependency token.
  bool sequential = false;
  TimingParams timing;
  PowerParams power;
};

/// Counters of one run, or summed over runs.
struct Counters {
  uint64_t runs = 0;
  uint64_t cachedRuns = 0; ///< runs served from the timing cache
  uint64_t cycles = 0;
  std::array<uint64_t, kNumKinds> instructions{};
  std::array<uint64_t, kNumKinds> kindBusyCycles{};
  std::array<uint64_t, isa::kNumQueues> queueBusyCycles{};
  uint64_t hbmReadBytes = 0, hbmWriteBytes = 0;
  std::vector<uint64_t> hbmReadBytesPerChannel, hbmWriteBytesPerChannel;
  uint64_t ddrReadBytes = 0;  ///< LD from DDR
  uint64_t ddrFetchBytes = 0; ///< instruction words fetched by the dispatcher
  uint64_t zeroFillBytes = 0;
  uint64_t mmMacs = 0, mvMacs = 0; ///< MACs executed (tile shape x K; N:M sparse B: N of every 16)
  uint64_t sfuElements = 0;        ///< rows x k of every MISC
  /// Bytes moved through each on-chip buffer's ports (isa::Buffer order) by
  /// LD, ST, MM and MV (with TimingParams::bufferPorts).
  std::array<uint64_t, 4> bufferPortBytes{};
  /// Cycles by which buffer ports delayed instructions' completion, summed.
  uint64_t bufferPortDelayCycles = 0;
  /// Multi-core runs: bytes LD pulled from another core's act buffer, SYS
  /// syncs passed (per core) and the cycles cores waited in them; the most
  /// cores one run used.
  uint64_t coreLinkBytes = 0, syncs = 0, syncWaitCycles = 0;
  uint64_t maxCores = 0;

  uint64_t totalInstructions() const;
  void add(const Counters &other);
};

/// Figures derived from counters and the target.
struct Metrics {
  double seconds = 0;             ///< cycles at the target clock
  double hbmBandwidthUtilization = 0; ///< bytes / (cycles * peak bytes/cycle of all channels)
  double hbmGBPerS = 0;
  double macUtilization = 0;      ///< MM MACs / (cycles * MM peak) + MV MACs / (cycles * MV peak), peaks of the cores the runs used (Counters::maxCores)
  double energyJoules = 0;
  double staticJoules = 0, hbmJoules = 0, ddrJoules = 0, macJoules = 0,
         sfuJoules = 0;
  double averageWatts = 0;
};

class Simulator {
public:
  explicit Simulator(const target::TargetDescription &target,
                     Options options = {});
  ~Simulator();
  Simulator(const Simulator &) = delete;
  Simulator &operator=(const Simulator &) = delete;

  /// The HAL whose callbacks call this object (valid while it lives).
  flight_hal hal();

  // The HAL operations, also callable directly. 0 = ok.
  int memWrite(uint32_t mem, uint32_t channel, uint64_t offset,
               const void *src, uint64_t bytes);
  int memRead(uint32_t mem, uint32_t channel, uint64_t offset, void *dst,
              uint64_t bytes);
  int regWrite(uint32_t reg, uint32_t value);
  int regRead(uint32_t reg, uint32_t *value) const;
  /// Runs the stream at STREAM_OFFSET/STREAM_WORDS to its SYS end.
  int run();

  /// Why the last run faulted ("" after a good run): instruction index,
  /// word offset, mnemonic and what went wrong.
  const std::string &faultMessage() const { return faultMessage_; }
  Fault fault() const { return fault_; }
  /// The message of the last failed HAL call (bad channel, range, register).
  const std::string &halError() const { return halError_; }

  const Counters &lastRun() const { return last_; }
  const Counters &total() const { return total_; }
  void resetCounters();
  Metrics metrics(const Counters &c) const;

  const target::TargetDescription &target() const { return target_; }
  const Options &options() const { return options_; }

  /// Direct access to an on-chip buffer (functional mode; nullptr else),
  /// for tests and debugging.
  uint8_t *buffer(isa::Buffer b, unsigned core = 0);
  uint64_t bufferBytes(isa::Buffer b) const;

  /// Writes the trace file now (also done by the destructor).
  void flushTrace();
  /// Multi-card traces: the next run starts at `cycles` on the system's
  /// time line (each card otherwise counts its own runs back to back).
  void setTraceTime(uint64_t cycles);

  /// Entries in the timing cache.
  size_t timingCacheSize() const;

  struct Impl;

private:
  target::TargetDescription target_;
  Options options_;
  std::unique_ptr<Impl> impl_;
  Counters last_, total_;
  Fault fault_ = Fault::None;
  std::string faultMessage_, halError_;
};

} // namespace flightllm::sim

#endif // FLIGHTLLM_SIMULATOR_SIMULATOR_H
