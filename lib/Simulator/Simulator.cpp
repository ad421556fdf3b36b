//===- Simulator.cpp - Cycle-level, bit-exact accelerator simulator -------===//
//
// The dispatcher, the queues, the token counters and the timing model
// (docs/simulator.md), and the functional execution of every instruction
// (docs/execution-model.md, through flightllm/ISA/Numerics.h).
//
//===----------------------------------------------------------------------===//

#include "flightllm/Simulator/Simulator.h"

#include "Memory.h"

#include "flightllm/ISA/Numerics.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "llvm/Support/Format.h"

using namespace flightllm;
using namespace flightllm::sim;
using namespace flightllm::isa;

//===----------------------------------------------------------------------===//
// Names and counters
//===----------------------------------------------------------------------===//

const char *flightllm::sim::faultName(Fault f) {
  switch (f) {
  case Fault::None:
    return "ok";
  case Fault::Decode:
    return "decode";
  case Fault::BufferRange:
    return "buffer-range";
  case Fault::ChannelRange:
    return "channel-range";
  case Fault::BadSys:
    return "bad-sys";
  case Fault::TokensLeft:
    return "tokens-left";
  case Fault::Deadlock:
    return "deadlock";
  case Fault::Unsupported:
    return "unsupported";
  case Fault::StreamRange:
    return "stream-range";
  }
  return "unknown";
}

const char *flightllm::sim::kindName(Kind k) {
  static const char *names[kNumKinds] = {"LD", "ST", "MM", "MV", "MISC", "SYS"};
  return names[static_cast<unsigned>(k)];
}

uint64_t Counters::totalInstructions() const {
  uint64_t n = 0;
  for (uint64_t v : instructions)
    n += v;
  return n;
}

static void addVector(std::vector<uint64_t> &to,
                      const std::vector<uint64_t> &from) {
  if (to.size() < from.size())
    to.resize(from.size());
  for (size_t i = 0; i < from.size(); ++i)
    to[i] += from[i];
}

void Counters::add(const Counters &o) {
  runs += o.runs;
  cachedRuns += o.cachedRuns;
  cycles += o.cycles;
  for (unsigned i = 0; i < kNumKinds; ++i) {
    instructions[i] += o.instructions[i];
    kindBusyCycles[i] += o.kindBusyCycles[i];
  }
  for (unsigned i = 0; i < kNumQueues; ++i)
    queueBusyCycles[i] += o.queueBusyCycles[i];
  hbmReadBytes += o.hbmReadBytes;
  hbmWriteBytes += o.hbmWriteBytes;
  addVector(hbmReadBytesPerChannel, o.hbmReadBytesPerChannel);
  addVector(hbmWriteBytesPerChannel, o.hbmWriteBytesPerChannel);
  ddrReadBytes += o.ddrReadBytes;
  ddrFetchBytes += o.ddrFetchBytes;
  zeroFillBytes += o.zeroFillBytes;
  mmMacs += o.mmMacs;
  mvMacs += o.mvMacs;
  sfuElements += o.sfuElements;
  for (unsigned b = 0; b < bufferPortBytes.size(); ++b)
    bufferPortBytes[b] += o.bufferPortBytes[b];
  bufferPortDelayCycles += o.bufferPortDelayCycles;
  coreLinkBytes += o.coreLinkBytes;
  syncs += o.syncs;
  syncWaitCycles += o.syncWaitCycles;
  maxCores = std::max(maxCores, o.maxCores);
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {

enum : unsigned { QLoad = 0, QStore = 1, QMatrix = 2, QMisc = 3, QSys = 4 };
const char *const kQueueNames[kNumQueues] = {"load", "store", "matrix", "misc",
                                             "sys"};

template <typename T> class Ring {
public:
  void init(size_t capacity) {
    data_.assign(capacity, T());
    head_ = count_ = 0;
  }
  bool empty() const { return count_ == 0; }
  bool full() const { return count_ == data_.size(); }
  size_t size() const { return count_; }
  T &front() { return data_[head_]; }
  const T &front() const { return data_[head_]; }
  T &push() {
    T &slot = data_[(head_ + count_) % data_.size()];
    ++count_;
    return slot;
  }
  void pop() {
    head_ = (head_ + 1) % data_.size();
    --count_;
  }

private:
  std::vector<T> data_;
  size_t head_ = 0, count_ = 0;
};

Kind kindOf(Opcode op) {
  switch (op) {
  case Opcode::LD:
    return Kind::LD;
  case Opcode::ST:
    return Kind::ST;
  case Opcode::MM:
    return Kind::MM;
  case Opcode::MV:
    return Kind::MV;
  case Opcode::MISC:
    return Kind::MISC;
  case Opcode::SYS:
    break;
  }
  return Kind::SYS;
}

/// A dispatched instruction with what the dispatcher fixed for it.
struct Entry {
  Instruction inst;
  uint32_t index = 0; ///< position in the stream (instructions)
  uint32_t word = 0;  ///< word offset in the stream
  Kind kind = Kind::SYS;
  uint64_t offAddr = 0; ///< LD/ST: effective off-chip byte address
  int64_t pos = 0;      ///< MISC: position of row 0
  uint64_t issueAt = 0, doneAt = 0;
};

const char *bufferName(unsigned b) {
  static const char *names[4] = {"act", "weight", "meta", "acc"};
  return b < 4 ? names[b] : "?";
}

const char *miscKindName(MiscKind k) {
  const char *n = enumValueName(EnumId::MiscKind, static_cast<int64_t>(k));
  return n ? n : "?";
}

const char *sysKindName(SysKind k) {
  const char *n = enumValueName(EnumId::SysKind, static_cast<int64_t>(k));
  return n ? n : "?";
}

uint64_t ceilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
static_assert(FLIGHT_MAX_BATCH == kMaxBatch,
              "hal.h and the ISA disagree on the batch registers");
static_assert(numerics::kRowBytes == kOnChipRowBytes,
              "Numerics.h and the ISA disagree on the on-chip row size");

uint64_t roundUpRow(uint64_t bytes) {
  return (bytes + kOnChipRowBytes - 1) / kOnChipRowBytes * kOnChipRowBytes;
}

/// SFU passes over a row per MISC kind (docs/simulator.md).
unsigned sfuPasses(MiscKind k) {
  switch (k) {
  case MiscKind::softmax:
  case MiscKind::layernorm:
    return 3;
  case MiscKind::rmsnorm:
  case MiscKind::quantize_dynamic:
  case MiscKind::quantize_value4:
    return 2;
  default:
    return 1;
  }
}

struct MiscSizes {
  uint64_t a = 0, b = 0, out = 0;
};

MiscSizes miscSizes(MiscKind kind, uint64_t k) {
  MiscSizes s;
  s.a = 2 * k;
  s.out = 2 * k;
  switch (kind) {
  case MiscKind::add:
  case MiscKind::mul:
  case MiscKind::swiglu:
    s.b = 2 * k;
    break;
  case MiscKind::softmax:
    s.b = 4;
    break;
  case MiscKind::layernorm:
    s.b = 2 * roundUpRow(2 * k) + 4;
    break;
  case MiscKind::rmsnorm:
    s.b = roundUpRow(2 * k) + 4;
    break;
  case MiscKind::rope:
  case MiscKind::rope_interleaved:
    s.b = roundUpRow(4 * k) + 4 * k;
    break;
  case MiscKind::quantize:
    s.b = 4 * k;
    s.out = roundUpRow(k);
    break;
  case MiscKind::quantize_dynamic:
    s.out = roundUpRow(k) + 4;
    break;
  case MiscKind::dequantize:
    s.a = 4 * k;
    s.b = 4 * k;
    break;
  case MiscKind::copy:
    s.a = k;
    s.out = k;
    break;
  case MiscKind::quantize4:
    s.b = 4 * k;
    s.out = numerics::kv4RowBytes(static_cast<uint32_t>(k));
    break;
  case MiscKind::quantize_value4:
    s.out = numerics::kv4RowBytes(static_cast<uint32_t>(k));
    break;
  case MiscKind::place:
  case MiscKind::silu:
  case MiscKind::gelu:
  case MiscKind::gelu_tanh:
  case MiscKind::relu:
    break;
  }
  return s;
}

struct CacheKey {
  uint64_t offset, words, generation;
  uint32_t origin[3], stride[3];
  std::vector<uint64_t> otherCores; // offset, words of cores 1, 2, ...
  uint32_t seqOrigin[kMaxBatch];      // batched decode: each sequence's B2
  bool operator==(const CacheKey &o) const {
    return offset == o.offset && words == o.words &&
           generation == o.generation && otherCores == o.otherCores &&
           std::equal(seqOrigin, seqOrigin + kMaxBatch, o.seqOrigin) &&
           std::equal(origin, origin + 3, o.origin) &&
           std::equal(stride, stride + 3, o.stride);
  }
};
struct CacheKeyHash {
  size_t operator()(const CacheKey &k) const {
    uint64_t h = 1469598103934665603ull;
    auto mix = [&](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
    mix(k.offset);
    mix(k.words);
    mix(k.generation);
    for (int i = 0; i < 3; ++i) {
      mix(k.origin[i]);
      mix(k.stride[i]);
    }
    for (uint64_t v : k.otherCores)
      mix(v);
    for (uint32_t v : k.seqOrigin)
      mix(v);
    return static_cast<size_t>(h);
  }
};

/// Chrome trace-event JSON, written as events arrive. As one card of a
/// multi-card trace (Options::traceCard) it writes only its events, under
/// process id = card + 1; the caller writes the file's head and tail.
class TraceWriter {
public:
  TraceWriter(llvm::raw_ostream &os, uint64_t maxEvents, double clockMHz,
              int card)
      : os_(&os), maxEvents_(maxEvents), clockMHz_(clockMHz),
        pid_(card < 0 ? 0u : unsigned(card) + 1), fragment_(card >= 0) {
    if (!fragment_)
      *os_ << "{\"traceEvents\":[\n"
           << "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":0,\"tid\":0,"
              "\"args\":{\"name\":\"flightllm-sim core\"}}";
    else
      *os_ << ",\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":" << pid_
           << ",\"tid\":0,\"args\":{\"name\":\"card " << card << "\"}}";
    for (unsigned q = 0; q < kNumQueues; ++q)
      *os_ << ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" << pid_
           << ",\"tid\":" << q << ",\"args\":{\"name\":\"" << kQueueNames[q]
           << "\"}}";
  }
  ~TraceWriter() { close(); }

  void event(const char *name, const char *detail, unsigned tid,
             uint64_t start, uint64_t dur, uint32_t index, uint32_t word,
             unsigned pid = 0) {
    if (!os_)
      return;
    if (written_ >= maxEvents_) {
      ++dropped_;
      return;
    }
    ++written_;
    *os_ << llvm::format(
        ",\n{\"name\":\"%s%s%s\",\"ph\":\"X\",\"pid\":%u,\"tid\":%u,"
        "\"ts\":%.4f,\"dur\":%.4f,\"args\":{\"index\":%u,\"word\":%u}}",
        // A card's process (pipeline) plus the core (multi-core runs); a
        // multi-card run of multi-core cards would share process ids.
        name, detail ? " " : "", detail ? detail : "", pid_ + pid, tid,
        (base_ + start) / clockMHz_, dur / clockMHz_, index, word);
  }
  /// The next run starts at `cycles` on the trace's time line.
  void setTime(uint64_t cycles) { base_ = cycles; }
  void endRun(uint64_t cycles) {
    base_ += cycles;
    ++runs_;
  }
  void close() {
    if (!os_)
      return;
    if (fragment_) {
      os_->flush();
      os_ = nullptr;
      return;
    }
    *os_ << llvm::format(
        "\n],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":{"
        "\"generator\":\"flightllm simulator\",\"clock_mhz\":%g,"
        "\"runs\":%" PRIu64 ",\"events\":%" PRIu64 ",\"event_limit\":%" PRIu64
        ",\"events_dropped\":%" PRIu64 ",\"note\":\"%s\"}}\n",
        clockMHz_, runs_, written_, maxEvents_, dropped_,
        dropped_ ? "recording stopped at event_limit; later "
                   "instructions are not in this trace"
                 : "complete");
    os_->flush();
    os_ = nullptr;
  }

private:
  llvm::raw_ostream *os_;
  uint64_t maxEvents_, written_ = 0, dropped_ = 0, base_ = 0, runs_ = 0;
  double clockMHz_;
  unsigned pid_;
  bool fragment_;
};

} // namespace

//===----------------------------------------------------------------------===//
// Simulator state
//===----------------------------------------------------------------------===//

struct Simulator::Impl {
  const target::TargetDescription &t;
  const Options &opt;
  std::vector<PagedMemory> hbm, ddr;
  std::vector<std::array<std::vector<uint8_t>, 4>> buffers; // per core
  uint64_t bufferSize[4] = {};
  uint32_t regs[FLIGHT_REG_COUNT] = {};
  std::vector<uint32_t> streamOffset, streamWords; // per core
  uint64_t ddrGeneration = 0;
  std::unordered_map<CacheKey, Counters, CacheKeyHash> cache;
  std::unique_ptr<TraceWriter> trace;
  double hbmRate = 0, ddrRate = 0; // bytes per cycle per channel
  double portRate[4] = {};         // bytes per cycle through a buffer's ports

  Impl(const target::TargetDescription &t, const Options &opt)
      : t(t), opt(opt) {
    for (uint64_t c = 0; c < t.hbmChannels; ++c)
      hbm.emplace_back(t.hbmBytesPerChannel, opt.functional);
    for (uint64_t c = 0; c < t.ddrChannels; ++c)
      ddr.emplace_back(t.ddrBytesPerChannel, true);
    buffers.resize(t.cores);
    streamOffset.assign(t.cores, 0);
    streamWords.assign(t.cores, 0);
    for (unsigned b = 0; b < 4; ++b) {
      bufferSize[b] = t.bufferBytes(static_cast<Buffer>(b));
      if (opt.functional)
        for (auto &core : buffers)
          core[b].assign(bufferSize[b], 0);
    }
    double clock = t.clockMHz * 1e6;
    hbmRate = t.hbmGBPerSPerChannel * 1e9 * t.hbmEfficiencyWithinChannel / clock;
    ddrRate = t.ddrGBPerSPerChannel * 1e9 * opt.timing.ddrEfficiency / clock;
    for (unsigned b = 0; b < 4; ++b)
      portRate[b] = double(t.bufferPortBytesPerCycle(static_cast<Buffer>(b)));
    if (opt.trace)
      trace = std::make_unique<TraceWriter>(*opt.trace, opt.maxTraceEvents,
                                            t.clockMHz, opt.traceCard);
  }
};

//===----------------------------------------------------------------------===//
// The engine: one run of one stream
//===----------------------------------------------------------------------===//

namespace {

struct FaultInfo {
  Fault code = Fault::None;
  std::string message;
};

/// What the cores of one run share: the off-chip channels, the links
/// between neighbouring SLRs (core i sits in SLR i) and the sync.
struct Cluster {
  unsigned cores = 1;
  std::vector<uint64_t> hbmFree, ddrFree; // booked up to this cycle
  std::vector<uint64_t> linkFree; // [2 * boundary + (toward higher core)]
  unsigned syncArrived = 0;       // cores waiting in the current sync
  uint64_t syncGeneration = 0;    // syncs completed
  uint64_t syncReleaseAt = 0;     // when the last completed sync lets go
};

class Engine {
public:
  Engine(Simulator::Impl &s, Cluster &cl, unsigned core,
         const uint32_t *words, size_t nwords, Counters &c, FaultInfo &fault)
      : s(s), t(s.t), tp(s.opt.timing), functional(s.opt.functional),
        cl(cl), core(core), buffers(s.buffers[core]), words(words),
        nwords(nwords), c(c), fault(fault), hbmFree(cl.hbmFree),
        ddrFree(cl.ddrFree) {
    for (unsigned q = 0; q < kNumQueues; ++q)
      fifo[q].init(tp.fifoDepth);
    inflightCap[QLoad] = tp.loadInFlight;
    inflightCap[QStore] = tp.storeInFlight;
    inflightCap[QMatrix] = tp.matrixInFlight;
    inflightCap[QMisc] = tp.miscInFlight;
    for (unsigned q = 0; q < QSys; ++q)
      inflight[q].init(std::max(1u, inflightCap[q]));
    P = s.regs[FLIGHT_REG_P];
    S = s.regs[FLIGHT_REG_S];
    L = s.regs[FLIGHT_REG_L];
    for (int b = 0; b < 3; ++b) {
      origin[b + 1] = s.regs[FLIGHT_REG_B1_ORIGIN + b];
      stride[b + 1] = s.regs[FLIGHT_REG_B1_STRIDE + b];
    }
  }

  /// Does everything due at the current cycle; false when nothing changed.
  bool step();
  /// The next cycle at which this core can make progress (UINT64_MAX: none
  /// of its own; it may still be waiting for another core).
  uint64_t nextEvent() const;
  void advance(uint64_t cycle) { now = cycle; }
  bool ended() const { return ended_; }
  /// The cycle after its SYS end.
  uint64_t endCycle() const { return endAt; }
  void finishCounters() { c.ddrFetchBytes += fetchedBytes; }
  /// The deadlock message (the cores' blocked states).
  void failDeadlock(const std::string &what);
  std::string describeBlocked() const;

private:
  // --- registers -----------------------------------------------------------
  uint64_t baseValue(BaseReg b) const {
    unsigned i = static_cast<unsigned>(b);
    return i == 0 ? 0 : origin[i] + static_cast<uint64_t>(L) * stride[i];
  }
  int64_t paramValue(ParamReg p) const {
    switch (p) {
    case ParamReg::zero:
      return 0;
    case ParamReg::P:
      return P;
    case ParamReg::S:
      return S;
    case ParamReg::T:
      return P + S;
    }
    return 0;
  }

  // --- faults --------------------------------------------------------------
  bool failAt(Fault code, uint32_t index, uint32_t word, const char *mnemonic,
              const std::string &what) {
    if (fault.code != Fault::None)
      return false;
    fault.code = code;
    char head[160];
    if (cl.cores > 1)
      std::snprintf(head, sizeof(head), "core %u: instruction %u (word %u, %s): ",
                    core, index, word, mnemonic);
    else
      std::snprintf(head, sizeof(head), "instruction %u (word %u, %s): ", index,
                    word, mnemonic);
    fault.message = head + what;
    return false;
  }
  bool fail(Fault code, const Entry &e, const std::string &what) {
    std::string mnemonic = e.inst.info().mnemonic;
    if (e.inst.opcode == Opcode::MISC)
      mnemonic += std::string(" ") +
                  miscKindName(e.inst.getEnum<MiscKind>(MISC::kind));
    if (e.inst.opcode == Opcode::SYS)
      mnemonic +=
          std::string(" ") + sysKindName(e.inst.getEnum<SysKind>(SYS::kind));
    return failAt(code, e.index, e.word, mnemonic.c_str(), what);
  }
  bool checkBuffer(const Entry &e, unsigned buf, uint64_t byteOffset,
                   uint64_t bytes, const char *operand) {
    if (byteOffset <= s.bufferSize[buf] &&
        bytes <= s.bufferSize[buf] - byteOffset)
      return true;
    char msg[200];
    std::snprintf(msg, sizeof(msg),
                  "%s: bytes [%" PRIu64 ", %" PRIu64
                  ") outside the %s buffer (%" PRIu64 " bytes)",
                  operand, byteOffset, byteOffset + bytes, bufferName(buf),
                  s.bufferSize[buf]);
    return fail(Fault::BufferRange, e, msg);
  }

  // --- dispatch-time checks ------------------------------------------------
  bool prepare(Entry &e);
  bool prepareLoad(Entry &e);
  bool prepareStore(Entry &e);
  bool prepareMatrix(Entry &e);
  bool prepareMisc(Entry &e);

  // --- functional execution at retirement ----------------------------------
  void execute(const Entry &e);
  void executeLoad(const Entry &e);
  void executeStore(const Entry &e);
  void executeMatrix(const Entry &e);
  void executeMisc(const Entry &e);

  // --- pipeline ------------------------------------------------------------
  bool tokensAvailable(uint8_t waitMask, unsigned q) const {
    for (unsigned p = 0; p < kNumQueues; ++p)
      if ((waitMask >> p & 1) && tok[p][q] == 0)
        return false;
    return true;
  }
  bool releaseRoom(uint8_t releaseMask, unsigned q) const {
    for (unsigned r = 0; r < kNumQueues; ++r)
      if ((releaseMask >> r & 1) && tok[q][r] >= kMaxTokensPerCounter)
        return false;
    return true;
  }
  void takeTokens(uint8_t waitMask, unsigned q) {
    for (unsigned p = 0; p < kNumQueues; ++p)
      if (waitMask >> p & 1)
        --tok[p][q];
  }
  void giveTokens(uint8_t releaseMask, unsigned q) {
    for (unsigned r = 0; r < kNumQueues; ++r)
      if (releaseMask >> r & 1)
        ++tok[q][r];
  }
  bool queuesIdle() const {
    for (unsigned q = 0; q < QSys; ++q)
      if (!fifo[q].empty() || !inflight[q].empty())
        return false;
    return true;
  }

  bool retire(unsigned q);
  bool issue(unsigned q);
  bool dispatch();
  bool executeSys(Entry &e);
  void timeIssue(Entry &e, unsigned q);
  uint64_t timeCoreLink(unsigned srcCore, uint64_t bytes);

  Simulator::Impl &s;
  const target::TargetDescription &t;
  const TimingParams &tp;
  bool functional;
  Cluster &cl;
  unsigned core;
  std::array<std::vector<uint8_t>, 4> &buffers;
  const uint32_t *words;
  size_t nwords;
  Counters &c;
  FaultInfo &fault;

  // registers (the dispatcher's working copies)
  int64_t P = 0, S = 0, L = 0;
  uint64_t origin[4] = {}, stride[4] = {};

  // dispatcher
  uint64_t now = 0;
  uint64_t dispatchAt = 0;
  size_t pc = 0;       // word offset of the next instruction
  uint32_t index = 0;  // its index
  bool havePending = false;
  Entry pending;
  size_t pendingWords = 0;
  bool dispatchBlocked = false;
  std::string blockReason;
  bool inLoop = false;
  int64_t loopLeft = 0;
  size_t loopPc = 0;
  uint32_t loopIndex = 0;
  bool ended_ = false;
  uint64_t endAt = 0;
  uint64_t fetchedBytes = 0;
  bool atSync = false;         // arrived at a SYS sync, not yet through
  uint64_t syncGeneration = 0; // the cluster's generation when it arrived
  uint64_t syncArrivedAt = 0;

  // queues
  Ring<Entry> fifo[kNumQueues];
  Ring<Entry> inflight[kNumQueues];
  unsigned inflightCap[kNumQueues] = {};
  uint64_t nextIssueAt[kNumQueues] = {};
  uint64_t busyUntil[kNumQueues] = {};
  uint16_t tok[kNumQueues][kNumQueues] = {};

  // resources
  std::vector<uint64_t> &hbmFree, &ddrFree; // the cluster's
  uint64_t zeroFillFree = 0;
  uint64_t portFree[4] = {}; // buffer ports: booked up to this cycle

  /// Books `bytes` through buffer `buf`'s ports, after the work booked
  /// before (a work-conserving FIFO in issue order), and returns the cycle
  /// the transfer is through them; `now` without the port model.
  uint64_t bookPort(unsigned buf, uint64_t bytes) {
    if (!tp.bufferPorts || bytes == 0)
      return now;
    c.bufferPortBytes[buf] += bytes;
    uint64_t start = std::max(now, portFree[buf]);
    portFree[buf] =
        start + static_cast<uint64_t>(std::ceil(bytes / s.portRate[buf]));
    return portFree[buf];
  }
  /// `end`, delayed to `portEnd` if the ports finish later (counted).
  uint64_t throughPorts(uint64_t end, uint64_t portEnd) {
    if (portEnd <= end)
      return end;
    c.bufferPortDelayCycles += portEnd - end;
    return portEnd;
  }
};

//----------------------------------------------------------------------------
// Dispatch-time checks: effective addresses are fixed here, in program order.
//----------------------------------------------------------------------------

bool Engine::prepare(Entry &e) {
  switch (e.inst.opcode) {
  case Opcode::LD:
    return prepareLoad(e);
  case Opcode::ST:
    return prepareStore(e);
  case Opcode::MM:
  case Opcode::MV:
    return prepareMatrix(e);
  case Opcode::MISC:
    return prepareMisc(e);
  case Opcode::SYS:
    break;
  }
  return true;
}

bool Engine::prepareLoad(Entry &e) {
  const Instruction &in = e.inst;
  uint64_t l1 = in.get(LD::loop1), l2 = in.get(LD::loop2),
           l3 = in.get(LD::loop3), len = in.get(LD::length);
  uint64_t bytes = l1 * l2 * l3 * len * kOffChipUnitBytes;
  unsigned buf = static_cast<unsigned>(in.get(LD::buf));
  // row_align: every innermost run fills whole rows.
  uint64_t onChipBytes =
      in.get(LD::row_align) ? l1 * l2 * l3 * roundUpRow(len * kOffChipUnitBytes)
                            : bytes;
  if (!checkBuffer(e, buf, kOnChipRowBytes * in.get(LD::onchip_addr),
                   onChipBytes, "destination"))
    return false;
  if (in.get(LD::zero_fill) || bytes == 0)
    return true;
  uint64_t span = (l3 - 1) * in.get(LD::stride3) +
                  (l2 - 1) * in.get(LD::stride2) +
                  (l1 - 1) * in.get(LD::stride1) + len;
  int64_t param = paramValue(in.getEnum<ParamReg>(LD::param));
  uint64_t units = baseValue(in.getEnum<BaseReg>(LD::base)) +
                   static_cast<uint64_t>(in.get(LD::addr)) +
                   static_cast<uint64_t>(param) * in.get(LD::scale);
  e.offAddr = units * kOffChipUnitBytes;
  uint64_t end = (units + span) * kOffChipUnitBytes;
  if (uint64_t src = in.get(LD::src_core)) {
    if (src > cl.cores)
      return fail(Fault::ChannelRange, e,
                  "source core " + std::to_string(src - 1) + " of " +
                      std::to_string(cl.cores) + " running");
    if (in.get(LD::mem) != 0 || in.get(LD::channel) != 0)
      return fail(Fault::ChannelRange, e,
                  "a read from another core's act buffer with mem or "
                  "channel not 0");
    if (end > s.bufferSize[0]) {
      char msg[200];
      std::snprintf(msg, sizeof(msg),
                    "source bytes [%" PRIu64 ", %" PRIu64
                    ") outside core %" PRIu64 "'s act buffer (%" PRIu64
                    " bytes)",
                    e.offAddr, end, src - 1, s.bufferSize[0]);
      return fail(Fault::BufferRange, e, msg);
    }
    return true;
  }
  bool isHbm = in.getEnum<Memory>(LD::mem) == Memory::hbm;
  uint64_t channels = isHbm ? t.hbmChannels : t.ddrChannels;
  uint64_t channel = in.get(LD::channel);
  if (channel >= channels)
    return fail(Fault::ChannelRange, e,
                std::string(isHbm ? "HBM" : "DDR") + " channel " +
                    std::to_string(channel) + " of " +
                    std::to_string(channels));
  uint64_t size = isHbm ? t.hbmBytesPerChannel : t.ddrBytesPerChannel;
  if (end > size) {
    char msg[200];
    std::snprintf(msg, sizeof(msg),
                  "source bytes [%" PRIu64 ", %" PRIu64
                  ") outside %s channel %" PRIu64 " (%" PRIu64 " bytes)",
                  e.offAddr, end, isHbm ? "HBM" : "DDR", channel, size);
    return fail(Fault::ChannelRange, e, msg);
  }
  return true;
}

bool Engine::prepareStore(Entry &e) {
  const Instruction &in = e.inst;
  uint64_t bytes = in.get(ST::length) * kOffChipUnitBytes;
  unsigned buf = static_cast<unsigned>(in.get(ST::buf));
  if (!checkBuffer(e, buf, kOnChipRowBytes * in.get(ST::onchip_addr), bytes,
                   "source"))
    return false;
  if (bytes == 0)
    return true;
  uint64_t channel = in.get(ST::channel);
  if (channel >= t.hbmChannels)
    return fail(Fault::ChannelRange, e,
                "HBM channel " + std::to_string(channel) + " of " +
                    std::to_string(t.hbmChannels));
  int64_t param = paramValue(in.getEnum<ParamReg>(ST::param));
  uint64_t units = baseValue(in.getEnum<BaseReg>(ST::base)) +
                   static_cast<uint64_t>(in.get(ST::addr)) +
                   static_cast<uint64_t>(param) * in.get(ST::scale);
  e.offAddr = units * kOffChipUnitBytes;
  if (e.offAddr + bytes > t.hbmBytesPerChannel) {
    char msg[200];
    std::snprintf(msg, sizeof(msg),
                  "destination bytes [%" PRIu64 ", %" PRIu64
                  ") outside HBM channel %" PRIu64 " (%" PRIu64 " bytes)",
                  e.offAddr, e.offAddr + bytes, channel, t.hbmBytesPerChannel);
    return fail(Fault::ChannelRange, e, msg);
  }
  return true;
}

bool Engine::prepareMatrix(Entry &e) {
  const Instruction &in = e.inst;
  bool mm = in.opcode == Opcode::MM;
  // The fields of MM and MV sit at the same places; read them through MM's
  // or MV's handles.
  auto get = [&](Field mmField, Field mvField) {
    return static_cast<uint64_t>(in.get(mm ? mmField : mvField));
  };
  uint32_t kept = numerics::keptPerBlock(
      static_cast<uint32_t>(get(MM::sparsity, MV::sparsity)));
  bool grouped = get(MM::grouped, MV::grouped);
  uint64_t K = kKBlock * get(MM::k_blocks, MV::k_blocks);
  uint64_t n = get(MM::n, MV::n);
  uint64_t tokens = mm ? t.mmTokens : 1;
  bool int4 = get(MM::wbits, MV::wbits) == 1;
  auto format = static_cast<OutFormat>(get(MM::out_format, MV::out_format));
  bool kmajorB = get(MM::b_kmajor, MV::b_kmajor);
  if ((kept < 16 || grouped) && kmajorB)
    return fail(Fault::Unsupported, e,
                "sparse or grouped B must be channel-major (b_kmajor = 0)");
  if (grouped && format == OutFormat::i32)
    return fail(Fault::Unsupported, e,
                "grouped scales need an f16 or f32 output");
  if (n == 0 || K == 0)
    return true;
  uint64_t qrows = numerics::qvecRows(static_cast<uint32_t>(K));
  if (!checkBuffer(e, 0, kOnChipRowBytes * get(MM::a_addr, MV::a_addr),
                   tokens * qrows * kOnChipRowBytes, "A"))
    return false;
  uint64_t bBytes;
  if (!kmajorB)
    bBytes = n * roundUpRow(numerics::BRow{nullptr, static_cast<uint32_t>(K),
                                           kept, int4}
                                .bytes());
  else
    bBytes = K * roundUpRow(int4 ? (n + 1) / 2 : n);
  if (!checkBuffer(e, 1, kOnChipRowBytes * get(MM::b_addr, MV::b_addr), bBytes,
                   "B"))
    return false;
  if (format != OutFormat::i32) {
    // Grouped: the header row here; its scales are checked at execution,
    // when the header has been loaded.
    uint64_t sBytes = grouped ? kOnChipRowBytes
                              : roundUpRow(4 * n) *
                                    (get(MM::bias, MV::bias) ? 2 : 1);
    if (!checkBuffer(e, 2, kOnChipRowBytes * get(MM::scale_addr, MV::scale_addr),
                     sBytes, "scales"))
      return false;
  }
  uint64_t size = format == OutFormat::f16 ? 2 : 4;
  unsigned outBuf = format == OutFormat::i32 ? 3 : 0;
  uint64_t last = kOnChipRowBytes * (get(MM::out_addr, MV::out_addr) +
                                     (tokens - 1) *
                                         get(MM::out_stride, MV::out_stride));
  return checkBuffer(e, outBuf, last, n * size, "output");
}

bool Engine::prepareMisc(Entry &e) {
  const Instruction &in = e.inst;
  auto kind = in.getEnum<MiscKind>(MISC::kind);
  uint64_t k = in.get(MISC::k), rows = in.get(MISC::rows);
  e.pos = paramValue(in.getEnum<ParamReg>(MISC::pos_param)) +
          in.get(MISC::pos_off);
  if ((kind == MiscKind::rope || kind == MiscKind::rope_interleaved) &&
      (k % 2) != 0)
    return fail(Fault::Unsupported, e, "rope needs an even k");
  if (rows == 0 || k == 0)
    return true;
  MiscSizes sz = miscSizes(kind, k);
  uint64_t r = rows - 1;
  bool packed4 = kind == MiscKind::quantize4 || kind == MiscKind::quantize_value4;
  if ((packed4 || kind == MiscKind::place) && in.get(MISC::masked))
    return fail(Fault::Unsupported, e,
                std::string(miscKindName(kind)) + " is not masked");
  if (packed4 && in.get(MISC::out_step) != 0)
    return fail(Fault::Unsupported, e,
                std::string(miscKindName(kind)) +
                    " packs its rows itself (out_step must be 0)");
  if (kind == MiscKind::place && e.pos < 0)
    return fail(Fault::Unsupported, e, "place at a negative position");
  unsigned aBuf = in.get(MISC::a_space) ? 3 : 0;
  unsigned bBuf = in.get(MISC::b_space) ? 2 : 0;
  if (!checkBuffer(e, aBuf,
                   kOnChipRowBytes *
                       (in.get(MISC::a_addr) + r * in.get(MISC::a_step)),
                   sz.a, "a"))
    return false;
  if (sz.b && !checkBuffer(e, bBuf,
                           kOnChipRowBytes * (in.get(MISC::b_addr) +
                                              r * in.get(MISC::b_step)),
                           sz.b, "b"))
    return false;
  uint64_t outAt = kOnChipRowBytes * in.get(MISC::out_addr);
  if (packed4)
    return checkBuffer(e, 0, outAt,
                       kind == MiscKind::quantize4
                           ? rows * sz.out
                           : numerics::kv4ScalesOffset(
                                 static_cast<uint32_t>(k),
                                 static_cast<uint32_t>(rows)) +
                                 2 * rows,
                       "output");
  if (kind == MiscKind::place)
    return checkBuffer(e, 0,
                       outAt + kOnChipRowBytes * r * in.get(MISC::out_step) +
                           2 * static_cast<uint64_t>(e.pos + int64_t(r)),
                       2 * k, "output");
  return checkBuffer(e, 0, outAt + kOnChipRowBytes * r * in.get(MISC::out_step),
                     sz.out, "output");
}

//----------------------------------------------------------------------------
// Functional execution
//----------------------------------------------------------------------------

void Engine::execute(const Entry &e) {
  switch (e.inst.opcode) {
  case Opcode::LD:
    return executeLoad(e);
  case Opcode::ST:
    return executeStore(e);
  case Opcode::MM:
  case Opcode::MV:
    return executeMatrix(e);
  case Opcode::MISC:
    return executeMisc(e);
  case Opcode::SYS:
    break;
  }
}

void Engine::executeLoad(const Entry &e) {
  const Instruction &in = e.inst;
  uint64_t l1 = in.get(LD::loop1), l2 = in.get(LD::loop2),
           l3 = in.get(LD::loop3);
  uint64_t run = in.get(LD::length) * kOffChipUnitBytes;
  uint8_t *dst = buffers[in.get(LD::buf)].data() +
                 kOnChipRowBytes * in.get(LD::onchip_addr);
  uint64_t bytes = l1 * l2 * l3 * run;
  if (bytes == 0)
    return;
  // row_align: each run starts a row and the rest of that row is zeroed.
  bool rowAlign = in.get(LD::row_align);
  uint64_t step = rowAlign ? roundUpRow(run) : run;
  if (in.get(LD::zero_fill)) {
    std::memset(dst, 0, rowAlign ? l1 * l2 * l3 * step : bytes);
    return;
  }
  uint64_t s1 = in.get(LD::stride1) * kOffChipUnitBytes,
           s2 = in.get(LD::stride2) * kOffChipUnitBytes,
           s3 = in.get(LD::stride3) * kOffChipUnitBytes;
  if (uint64_t src = in.get(LD::src_core)) {
    // Between two syncs the source rows are not written (the compiler's
    // exchange protocol), so reading them at retirement is exact.
    const uint8_t *from = s.buffers[src - 1][0].data();
    for (uint64_t i3 = 0; i3 < l3; ++i3)
      for (uint64_t i2 = 0; i2 < l2; ++i2)
        for (uint64_t i1 = 0; i1 < l1; ++i1) {
          std::memmove(dst, from + e.offAddr + i3 * s3 + i2 * s2 + i1 * s1,
                       run);
          std::memset(dst + run, 0, step - run);
          dst += step;
        }
    return;
  }
  const PagedMemory &mem = in.getEnum<Memory>(LD::mem) == Memory::hbm
                               ? s.hbm[in.get(LD::channel)]
                               : s.ddr[in.get(LD::channel)];
  for (uint64_t i3 = 0; i3 < l3; ++i3)
    for (uint64_t i2 = 0; i2 < l2; ++i2)
      for (uint64_t i1 = 0; i1 < l1; ++i1) {
        mem.read(e.offAddr + i3 * s3 + i2 * s2 + i1 * s1, dst, run);
        std::memset(dst + run, 0, step - run);
        dst += step;
      }
}

void Engine::executeStore(const Entry &e) {
  const Instruction &in = e.inst;
  uint64_t bytes = in.get(ST::length) * kOffChipUnitBytes;
  if (bytes == 0)
    return;
  const uint8_t *src = buffers[in.get(ST::buf)].data() +
                       kOnChipRowBytes * in.get(ST::onchip_addr);
  s.hbm[in.get(ST::channel)].write(e.offAddr, src, bytes);
}

template <typename T> static T loadAs(const uint8_t *p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <typename T> static void storeAs(uint8_t *p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

void Engine::executeMatrix(const Entry &e) {
  const Instruction &in = e.inst;
  bool mm = in.opcode == Opcode::MM;
  auto get = [&](Field mmField, Field mvField) {
    return static_cast<uint64_t>(in.get(mm ? mmField : mvField));
  };
  uint32_t K = static_cast<uint32_t>(kKBlock * get(MM::k_blocks, MV::k_blocks));
  uint32_t n = static_cast<uint32_t>(get(MM::n, MV::n));
  // An empty matrix (no channels or no K) writes nothing: prepareMatrix
  // checked none of its operands (found by fuzz-flb-runtime: k_blocks 0
  // with n > 0 wrote n outputs at an unchecked address).
  if (n == 0 || K == 0)
    return;
  uint64_t tokens = mm ? t.mmTokens : 1;
  bool int4 = get(MM::wbits, MV::wbits) == 1;
  bool kmajor = get(MM::b_kmajor, MV::b_kmajor);
  bool hasBias = get(MM::bias, MV::bias);
  bool relu = get(MM::relu, MV::relu);
  bool accumulate = get(MM::accumulate, MV::accumulate);
  auto format = static_cast<OutFormat>(get(MM::out_format, MV::out_format));
  uint32_t kept = numerics::keptPerBlock(
      static_cast<uint32_t>(get(MM::sparsity, MV::sparsity)));
  bool grouped = get(MM::grouped, MV::grouped);
  // Dense B without groups is unpacked to int8 [n][K] once (the fast path);
  // sparse or grouped B is read through numerics::BRow, whose partial sums
  // are the DSP chain's.
  bool compressed = kept < 16 || grouped;
  const uint8_t *b =
      buffers[1].data() + kOnChipRowBytes * get(MM::b_addr, MV::b_addr);
  uint64_t rowStride = roundUpRow(numerics::BRow{nullptr, K, kept, int4}.bytes());
  std::vector<int8_t> B(compressed ? 0 : size_t(n) * K);
  if (!compressed && !kmajor) {
    for (uint64_t ch = 0; ch < n; ++ch) {
      const uint8_t *src = b + ch * rowStride;
      int8_t *dst = &B[ch * K];
      for (uint32_t k = 0; k < K; ++k)
        dst[k] = int4 ? numerics::nibbleCode(src, k)
                      : static_cast<int8_t>(src[k]);
    }
  } else if (!compressed) {
    uint64_t row = roundUpRow(int4 ? (n + 1) / 2 : n);
    for (uint32_t k = 0; k < K; ++k) {
      const uint8_t *src = b + k * row;
      for (uint32_t ch = 0; ch < n; ++ch)
        B[size_t(ch) * K + k] = int4 ? numerics::nibbleCode(src, ch)
                                     : static_cast<int8_t>(src[ch]);
    }
  }

  // Scales: per channel at scale_addr, or behind a group header.
  uint64_t metaAt = kOnChipRowBytes * get(MM::scale_addr, MV::scale_addr);
  const uint8_t *m = buffers[2].data() + metaAt;
  numerics::GroupHeader h{0, 0};
  uint32_t groups = 1;
  std::vector<float> scales, bias;
  std::vector<int8_t> zeroPoints;
  if (format != OutFormat::i32) {
    uint64_t scalesAt = 0, biasAt = roundUpRow(4 * uint64_t(n));
    if (grouped) {
      std::memcpy(&h, m, sizeof(h));
      uint32_t kBlocks = K / kKBlock;
      if (h.zeroPoints > 1 ||
          (h.groupBlocks != 0 && kBlocks % h.groupBlocks != 0)) {
        fail(Fault::Unsupported, e,
             "group header: " + std::to_string(h.groupBlocks) +
                 " K blocks per group does not divide " +
                 std::to_string(kBlocks) + " (or zero_points " +
                 std::to_string(h.zeroPoints) + " is not 0 or 1)");
        return;
      }
      groups = numerics::groupCount(K, h.groupBlocks);
      if (!checkBuffer(e, 2, metaAt,
                       numerics::groupedMetaBytes(n, groups, h.zeroPoints,
                                                  hasBias),
                       "group scales"))
        return;
      scalesAt = numerics::groupedScalesOffset();
      biasAt = numerics::groupedBiasOffset(n, groups, h.zeroPoints);
      if (h.zeroPoints) {
        zeroPoints.resize(size_t(n) * groups);
        std::memcpy(zeroPoints.data(),
                    m + numerics::groupedZeroPointsOffset(n, groups),
                    zeroPoints.size());
      }
    }
    scales.resize(size_t(n) * groups);
    std::memcpy(scales.data(), m + scalesAt, 4 * scales.size());
    if (hasBias) {
      bias.resize(n);
      std::memcpy(bias.data(), m + biasAt, 4 * size_t(n));
    }
  }
  uint32_t groupSize = h.groupBlocks * kKBlock;
  uint64_t qrows = numerics::qvecRows(K);
  uint64_t outStride = get(MM::out_stride, MV::out_stride);
  // Every input is read before any output is written, so an output that
  // overlaps A (or old i32 values) is well defined.
  std::vector<int32_t> accs(format == OutFormat::i32 ? tokens * n : 0);
  std::vector<float> values(format == OutFormat::i32 ? 0 : tokens * n);
  std::vector<int8_t> a(K);
  for (uint64_t tk = 0; tk < tokens; ++tk) {
    const uint8_t *arow = buffers[0].data() +
                          kOnChipRowBytes *
                              (get(MM::a_addr, MV::a_addr) + tk * qrows);
    std::memcpy(a.data(), arow, K);
    float aScale = loadAs<float>(arow + numerics::qvecScaleOffset(K));
    for (uint32_t ch = 0; ch < n; ++ch) {
      numerics::BRow row{b + ch * rowStride, K, kept, int4};
      auto partial = [&](uint32_t begin, uint32_t end, int32_t zp) {
        return compressed ? row.partial(a.data(), begin, end, zp)
                          : numerics::dotI8(a.data() + begin,
                                            &B[size_t(ch) * K + begin],
                                            end - begin);
      };
      if (format == OutFormat::i32) {
        accs[tk * n + ch] = partial(0, K, 0);
        continue;
      }
      // groupSize 0 is the MM/MV rule: float(acc) * (a_scale * w_scale).
      float v = numerics::groupedValue(
          partial, K, groupSize, &scales[size_t(ch) * groups],
          zeroPoints.empty() ? nullptr : &zeroPoints[size_t(ch) * groups],
          aScale, hasBias, hasBias ? bias[ch] : 0.0f);
      values[tk * n + ch] = relu ? (v > 0 ? v : 0.0f) : v;
    }
  }
  for (uint64_t tk = 0; tk < tokens; ++tk) {
    uint64_t outByte =
        kOnChipRowBytes * (get(MM::out_addr, MV::out_addr) + tk * outStride);
    for (uint32_t ch = 0; ch < n; ++ch) {
      switch (format) {
      case OutFormat::f16:
        storeAs<uint16_t>(buffers[0].data() + outByte + 2 * ch,
                          numerics::toF16(values[tk * n + ch]));
        break;
      case OutFormat::f32:
        storeAs<float>(buffers[0].data() + outByte + 4 * ch,
                       values[tk * n + ch]);
        break;
      case OutFormat::i32: {
        uint8_t *p = buffers[3].data() + outByte + 4 * ch;
        storeAs<int32_t>(p, numerics::mmOutputI32(accs[tk * n + ch],
                                                  loadAs<int32_t>(p),
                                                  accumulate, relu));
        break;
      }
      }
    }
  }
}

void Engine::executeMisc(const Entry &e) {
  const Instruction &in = e.inst;
  auto kind = in.getEnum<MiscKind>(MISC::kind);
  uint32_t k = static_cast<uint32_t>(in.get(MISC::k));
  uint64_t rows = in.get(MISC::rows);
  if (rows == 0 || k == 0)
    return;
  bool masked = in.get(MISC::masked);
  MiscSizes sz = miscSizes(kind, k);
  uint8_t *aBuf = buffers[in.get(MISC::a_space) ? 3 : 0].data();
  uint8_t *bBuf = buffers[in.get(MISC::b_space) ? 2 : 0].data();
  uint8_t *outBuf = buffers[0].data();
  std::vector<uint8_t> aBytes(sz.a), bBytes(sz.b), outBytes(sz.out);
  std::vector<uint16_t> a16, b16, o16(k);
  std::vector<float> f1, f2;
  std::vector<int8_t> q(k);
  std::vector<int32_t> a32;
  for (uint64_t r = 0; r < rows; ++r) {
    int64_t pos = e.pos + static_cast<int64_t>(r);
    uint64_t aAt = kOnChipRowBytes * (in.get(MISC::a_addr) + r * in.get(MISC::a_step));
    uint64_t bAt = kOnChipRowBytes * (in.get(MISC::b_addr) + r * in.get(MISC::b_step));
    uint64_t oAt =
        kOnChipRowBytes * (in.get(MISC::out_addr) + r * in.get(MISC::out_step));
    // The 4-bit kinds pack their rows as KV-cache rows; place writes at the
    // row's position (docs/execution-model.md, section 1).
    if (kind == MiscKind::quantize4 || kind == MiscKind::quantize_value4)
      oAt = kOnChipRowBytes * in.get(MISC::out_addr) + r * sz.out;
    else if (kind == MiscKind::place)
      oAt += 2 * static_cast<uint64_t>(pos);
    std::memcpy(aBytes.data(), aBuf + aAt, sz.a);
    if (sz.b)
      std::memcpy(bBytes.data(), bBuf + bAt, sz.b);
    auto asF16 = [&](const std::vector<uint8_t> &bytes, size_t offset,
                     std::vector<uint16_t> &to) {
      to.resize(k);
      std::memcpy(to.data(), bytes.data() + offset, 2 * size_t(k));
    };
    auto asF32 = [&](const std::vector<uint8_t> &bytes, size_t offset,
                     size_t count, std::vector<float> &to) {
      to.resize(count);
      std::memcpy(to.data(), bytes.data() + offset, 4 * count);
    };
    bool writeF16 = true;
    switch (kind) {
    case MiscKind::add:
    case MiscKind::mul:
    case MiscKind::swiglu:
      asF16(aBytes, 0, a16);
      asF16(bBytes, 0, b16);
      if (kind == MiscKind::add)
        numerics::miscAdd(a16.data(), b16.data(), o16.data(), k, masked, pos);
      else if (kind == MiscKind::mul)
        numerics::miscMul(a16.data(), b16.data(), o16.data(), k, masked, pos);
      else
        numerics::miscSwiglu(a16.data(), b16.data(), o16.data(), k, masked,
                             pos);
      break;
    case MiscKind::silu:
      asF16(aBytes, 0, a16);
      numerics::miscSilu(a16.data(), o16.data(), k, masked, pos);
      break;
    case MiscKind::gelu:
      asF16(aBytes, 0, a16);
      numerics::miscGelu(a16.data(), o16.data(), k, masked, pos);
      break;
    case MiscKind::gelu_tanh:
      asF16(aBytes, 0, a16);
      numerics::miscGeluTanh(a16.data(), o16.data(), k, masked, pos);
      break;
    case MiscKind::relu:
      asF16(aBytes, 0, a16);
      numerics::miscRelu(a16.data(), o16.data(), k, masked, pos);
      break;
    case MiscKind::softmax:
      asF16(aBytes, 0, a16);
      numerics::miscSoftmax(a16.data(), loadAs<float>(bBytes.data()),
                            o16.data(), k, masked, pos);
      break;
    case MiscKind::layernorm: {
      asF16(aBytes, 0, a16);
      asF16(bBytes, 0, b16);
      std::vector<uint16_t> beta;
      asF16(bBytes, numerics::layerNormBetaOffset(k), beta);
      float eps = loadAs<float>(bBytes.data() + numerics::layerNormEpsOffset(k));
      numerics::miscLayerNorm(a16.data(), b16.data(), beta.data(), eps,
                              o16.data(), k, masked, pos);
      break;
    }
    case MiscKind::rmsnorm: {
      asF16(aBytes, 0, a16);
      asF16(bBytes, 0, b16);
      float eps = loadAs<float>(bBytes.data() + numerics::rmsNormEpsOffset(k));
      numerics::miscRmsNorm(a16.data(), b16.data(), eps, o16.data(), k, masked,
                            pos);
      break;
    }
    case MiscKind::rope:
    case MiscKind::rope_interleaved:
      asF16(aBytes, 0, a16);
      asF32(bBytes, 0, k, f1);
      asF32(bBytes, numerics::ropeSinOffset(k), k, f2);
      if (kind == MiscKind::rope)
        numerics::miscRope(a16.data(), f1.data(), f2.data(), o16.data(), k,
                           masked, pos);
      else
        numerics::miscRopeInterleaved(a16.data(), f1.data(), f2.data(),
                                      o16.data(), k, masked, pos);
      break;
    case MiscKind::quantize:
      asF16(aBytes, 0, a16);
      asF32(bBytes, 0, k, f1);
      numerics::miscQuantize(a16.data(), f1.data(), q.data(), k, masked, pos);
      // The rest of the last row is zeroed (docs/execution-model.md).
      std::memset(outBytes.data(), 0, sz.out);
      std::memcpy(outBytes.data(), q.data(), k);
      writeF16 = false;
      break;
    case MiscKind::quantize_dynamic: {
      asF16(aBytes, 0, a16);
      float scale =
          numerics::miscQuantizeDynamic(a16.data(), q.data(), k, masked, pos);
      // Bytes between q and the scale row are zeroed, so a reduction
      // padded to a K block reads zeros (docs/execution-model.md).
      std::memset(outBytes.data(), 0, sz.out);
      std::memcpy(outBytes.data(), q.data(), k);
      storeAs<float>(outBytes.data() + numerics::qvecScaleOffset(k), scale);
      writeF16 = false;
      break;
    }
    case MiscKind::dequantize:
      a32.resize(k);
      std::memcpy(a32.data(), aBytes.data(), 4 * size_t(k));
      asF32(bBytes, 0, k, f1);
      numerics::miscDequantize(a32.data(), f1.data(), o16.data(), k, masked,
                               pos);
      break;
    case MiscKind::copy:
      std::memcpy(outBytes.data(), aBytes.data(), k);
      writeF16 = false;
      break;
    case MiscKind::quantize4:
      asF16(aBytes, 0, a16);
      asF32(bBytes, 0, k, f1);
      numerics::miscQuantize4(a16.data(), f1.data(), outBytes.data(), k);
      writeF16 = false;
      break;
    case MiscKind::quantize_value4: {
      asF16(aBytes, 0, a16);
      float vs = numerics::miscQuantizeValue4(a16.data(), q.data(),
                                              outBytes.data(), k);
      storeAs<uint16_t>(outBuf + kOnChipRowBytes * in.get(MISC::out_addr) +
                            numerics::kv4ScalesOffset(
                                k, static_cast<uint32_t>(rows)) +
                            2 * r,
                        numerics::toF16(vs));
      writeF16 = false;
      break;
    }
    case MiscKind::place:
      asF16(aBytes, 0, o16);
      break;
    }
    if (writeF16)
      std::memcpy(outBuf + oAt, o16.data(), 2 * size_t(k));
    else
      std::memcpy(outBuf + oAt, outBytes.data(), sz.out);
  }
}

//----------------------------------------------------------------------------
// Timing
//----------------------------------------------------------------------------

void Engine::timeIssue(Entry &e, unsigned q) {
  const Instruction &in = e.inst;
  e.issueAt = now;
  uint64_t compute = 0; // cycles the unit is occupied (matrix, misc)
  switch (in.opcode) {
  case Opcode::LD: {
    uint64_t bytes = in.get(LD::loop1) * in.get(LD::loop2) *
                     in.get(LD::loop3) * in.get(LD::length) *
                     kOffChipUnitBytes;
    nextIssueAt[q] = now + 1;
    if (bytes == 0) {
      e.doneAt = now + 1;
    } else if (in.get(LD::zero_fill)) {
      unsigned buf = static_cast<unsigned>(in.get(LD::buf));
      uint64_t start = std::max(now, zeroFillFree);
      zeroFillFree = start + ceilDiv(bytes, tp.onChipBytesPerCycle);
      e.doneAt = throughPorts(zeroFillFree, bookPort(buf, bytes));
      c.zeroFillBytes += bytes;
    } else if (uint64_t src = in.get(LD::src_core)) {
      unsigned buf = static_cast<unsigned>(in.get(LD::buf));
      uint64_t through = timeCoreLink(static_cast<unsigned>(src - 1), bytes);
      uint64_t hops = src - 1 > core ? src - 1 - core : core - (src - 1);
      e.doneAt = throughPorts(through, bookPort(buf, bytes)) +
                 hops * tp.coreLinkLatency;
      c.coreLinkBytes += bytes;
    } else {
      bool isHbm = in.getEnum<Memory>(LD::mem) == Memory::hbm;
      uint64_t ch = in.get(LD::channel);
      unsigned buf = static_cast<unsigned>(in.get(LD::buf));
      uint64_t &free = isHbm ? hbmFree[ch] : ddrFree[ch];
      double rate = isHbm ? s.hbmRate : s.ddrRate;
      uint64_t start = std::max(now, free);
      uint64_t xfer = static_cast<uint64_t>(std::ceil(bytes / rate));
      // The channel is held until its data is written into the buffer
      // (back-pressure when the buffer's ports are the bottleneck).
      free = throughPorts(start + xfer, bookPort(buf, bytes));
      e.doneAt = free + (isHbm ? tp.hbmLatency : tp.ddrLatency);
      if (isHbm) {
        c.hbmReadBytes += bytes;
        c.hbmReadBytesPerChannel[ch] += bytes;
      } else {
        c.ddrReadBytes += bytes;
      }
    }
    break;
  }
  case Opcode::ST: {
    uint64_t bytes = in.get(ST::length) * kOffChipUnitBytes;
    nextIssueAt[q] = now + 1;
    if (bytes == 0) {
      e.doneAt = now + 1;
    } else {
      uint64_t ch = in.get(ST::channel);
      unsigned buf = static_cast<unsigned>(in.get(ST::buf));
      uint64_t start = std::max(now, hbmFree[ch]);
      uint64_t xfer = static_cast<uint64_t>(std::ceil(bytes / s.hbmRate));
      hbmFree[ch] = throughPorts(start + xfer, bookPort(buf, bytes));
      e.doneAt = hbmFree[ch] + tp.hbmLatency;
      c.hbmWriteBytes += bytes;
      c.hbmWriteBytesPerChannel[ch] += bytes;
    }
    break;
  }
  case Opcode::MM:
  case Opcode::MV: {
    bool mm = in.opcode == Opcode::MM;
    uint64_t kb = in.get(mm ? MM::k_blocks : MV::k_blocks);
    uint64_t n = in.get(mm ? MM::n : MV::n);
    uint64_t lanes = mm ? t.mmChannels : t.mvChannels;
    uint64_t passes = ceilDiv(n, lanes);
    // N:M sparse B: the DSP chain steps over stored codes only, N of every
    // block of 16 (FACTS.md: the configurable sparse DSP chain), so a pass
    // takes ceil(k_blocks * N / 16) cycles.
    uint32_t kept = numerics::keptPerBlock(
        static_cast<uint32_t>(in.get(mm ? MM::sparsity : MV::sparsity)));
    compute = std::max<uint64_t>(1, passes * ceilDiv(kb * kept, kKBlock));
    // Operand traffic through the buffers' ports: every pass streams the
    // tokens' A vectors from act (16 bytes per token and cycle); B is read
    // once, its stored bytes (codes, INT4 half a byte each, and the 4-bit
    // indices of sparse B) from weight.
    bool int4 = in.get(mm ? MM::wbits : MV::wbits) == 1;
    uint64_t K = kKBlock * kb;
    uint64_t aBytes = passes * (mm ? t.mmTokens : 1) * K;
    uint64_t bBytes =
        in.get(mm ? MM::b_kmajor : MV::b_kmajor)
            ? (int4 ? (n * K + 1) / 2 : n * K)
            : n * numerics::BRow{nullptr, static_cast<uint32_t>(K), kept, int4}
                      .bytes();
    uint64_t portEnd = std::max(bookPort(0, aBytes), bookPort(1, bBytes));
    compute = throughPorts(now + compute, portEnd) - now;
    nextIssueAt[q] = now + compute;
    e.doneAt = now + compute + tp.matrixLatency;
    uint64_t macs = (mm ? t.mmTokens : 1) * n * kept * kb;
    (mm ? c.mmMacs : c.mvMacs) += macs;
    break;
  }
  case Opcode::MISC: {
    auto kind = in.getEnum<MiscKind>(MISC::kind);
    uint64_t k = in.get(MISC::k), rows = in.get(MISC::rows);
    uint64_t perCycle = kind == MiscKind::copy ? 2 * t.sfuLanes : t.sfuLanes;
    compute = std::max<uint64_t>(1, rows * ceilDiv(k, perCycle) *
                                        sfuPasses(kind));
    nextIssueAt[q] = now + compute;
    e.doneAt = now + compute + tp.sfuLatency;
    c.sfuElements += rows * k;
    break;
  }
  case Opcode::SYS:
    break;
  }
  unsigned kind = static_cast<unsigned>(e.kind);
  if (q == QLoad || q == QStore) {
    // Busy: cycles with at least one transfer outstanding.
    if (e.issueAt >= busyUntil[q])
      c.queueBusyCycles[q] += e.doneAt - e.issueAt;
    else if (e.doneAt > busyUntil[q])
      c.queueBusyCycles[q] += e.doneAt - busyUntil[q];
    busyUntil[q] = std::max(busyUntil[q], e.doneAt);
    c.kindBusyCycles[kind] += e.doneAt - e.issueAt;
  } else {
    c.queueBusyCycles[q] += compute;
    c.kindBusyCycles[kind] += compute;
  }
  if (s.trace) {
    const char *detail = nullptr;
    if (in.opcode == Opcode::MISC)
      detail = miscKindName(in.getEnum<MiscKind>(MISC::kind));
    s.trace->event(in.info().mnemonic, detail, q, e.issueAt,
                   e.doneAt - e.issueAt, e.index, e.word, core);
  }
}

/// Books `bytes` from core `srcCore` to this one over every SLR boundary
/// between them (store and forward is not modelled: the boundaries stream
/// together); returns the cycle the last byte leaves the link. A copy within
/// the core moves one on-chip row per cycle.
uint64_t Engine::timeCoreLink(unsigned srcCore, uint64_t bytes) {
  unsigned lo = std::min(srcCore, core), hi = std::max(srcCore, core);
  bool up = core > srcCore;
  if (lo == hi) {
    uint64_t start = std::max(now, zeroFillFree);
    zeroFillFree = start + ceilDiv(bytes, tp.onChipBytesPerCycle);
    return zeroFillFree;
  }
  uint64_t start = now;
  for (unsigned b = lo; b < hi; ++b)
    start = std::max(start, cl.linkFree[2 * b + up]);
  uint64_t end = start + ceilDiv(bytes, tp.coreLinkBytesPerCycle);
  for (unsigned b = lo; b < hi; ++b)
    cl.linkFree[2 * b + up] = end;
  return end;
}

bool Engine::retire(unsigned q) {
  bool changed = false;
  while (!inflight[q].empty()) {
    Entry &e = inflight[q].front();
    if (e.doneAt > now || !releaseRoom(e.inst.release, q))
      break;
    if (functional)
      execute(e);
    giveTokens(e.inst.release, q);
    inflight[q].pop();
    changed = true;
  }
  return changed;
}

bool Engine::issue(unsigned q) {
  if (fifo[q].empty() || inflight[q].size() >= inflightCap[q] ||
      nextIssueAt[q] > now)
    return false;
  Entry &head = fifo[q].front();
  if (!tokensAvailable(head.inst.wait, q))
    return false;
  takeTokens(head.inst.wait, q);
  Entry &slot = inflight[q].push();
  slot = head;
  fifo[q].pop();
  timeIssue(slot, q);
  return true;
}

bool Engine::executeSys(Entry &e) {
  const Instruction &in = e.inst;
  auto kind = in.getEnum<SysKind>(SYS::kind);
  int64_t imm = in.get(SYS::imm);
  auto reg = in.getEnum<ParamReg>(SYS::reg);
  auto regName = [&] {
    return std::string(enumValueName(EnumId::ParamReg,
                                     static_cast<int64_t>(reg)));
  };
  auto setReg = [&](int64_t value, const char *what) {
    if (reg != ParamReg::P && reg != ParamReg::S)
      return fail(Fault::BadSys, e, std::string(what) + " writes register " +
                                        regName() + " (only P and S)");
    if (value < 0 || value > int64_t(UINT32_MAX))
      return fail(Fault::BadSys, e,
                  std::string(what) + " makes " + regName() + " " +
                      std::to_string(value));
    (reg == ParamReg::P ? P : S) = value;
    return true;
  };
  switch (kind) {
  case SysKind::nop:
  case SysKind::barrier:
  case SysKind::end:
  case SysKind::sync:
    return true;
  case SysKind::set_param:
    return setReg(imm, "set_param");
  case SysKind::add_param:
    return setReg(paramValue(reg) + imm, "add_param");
  case SysKind::set_layer:
  case SysKind::add_layer: {
    int64_t value = kind == SysKind::set_layer ? imm : L + imm;
    if (value < 0 || value > int64_t(UINT32_MAX))
      return fail(Fault::BadSys, e, "L would be " + std::to_string(value));
    L = value;
    return true;
  }
  case SysKind::loop:
    if (inLoop)
      return fail(Fault::BadSys, e, "nested loop (loops do not nest)");
    if (imm < 1)
      return fail(Fault::BadSys, e,
                  "loop count " + std::to_string(imm) + " (at least 1)");
    inLoop = true;
    loopLeft = imm;
    loopPc = pc + pendingWords;
    loopIndex = index + 1;
    return true;
  case SysKind::select_seq:
    // Dispatch-time registers: the instructions after it address sequence
    // imm's KV-cache slot at its own length (batched decode).
    if (imm < 0 || imm >= int64_t(kMaxBatch))
      return fail(Fault::BadSys, e,
                  "select_seq " + std::to_string(imm) + " (0 to " +
                      std::to_string(kMaxBatch - 1) + ")");
    P = s.regs[FLIGHT_REG_SEQ_P0 + imm];
    origin[2] = s.regs[FLIGHT_REG_SEQ_B2_ORIGIN0 + imm];
    return true;
  case SysKind::endloop:
    if (!inLoop)
      return fail(Fault::BadSys, e, "endloop without loop");
    return true; // the jump is done by dispatch()
  }
  return true;
}

bool Engine::dispatch() {
  if (ended_ || fault.code != Fault::None || dispatchAt > now)
    return false;
  dispatchBlocked = false;
  if (!havePending) {
    if (pc >= nwords) {
      failAt(Fault::StreamRange, index, static_cast<uint32_t>(pc), "-",
             "the stream ends without SYS end");
      return false;
    }
    FieldId bad{};
    Status st = decode(words + pc, nwords - pc, pending.inst, pendingWords, &bad);
    if (st != Status::Ok) {
      std::string what = statusName(st);
      if (st == Status::FieldOutOfRange)
        what += std::string(" (field ") + kFields[static_cast<unsigned>(bad)].name + ")";
      char word0[32];
      std::snprintf(word0, sizeof(word0), " in word 0x%08x", words[pc]);
      failAt(Fault::Decode, index, static_cast<uint32_t>(pc), "?",
             "cannot decode: " + what + word0);
      return false;
    }
    pending.index = index;
    pending.word = static_cast<uint32_t>(pc);
    pending.kind = kindOf(pending.inst.opcode);
    havePending = true;
  }
  Entry &e = pending;
  unsigned q = static_cast<unsigned>(e.inst.queue());
  if (q == QSys) {
    auto kind = e.inst.getEnum<SysKind>(SYS::kind);
    if (!tokensAvailable(e.inst.wait, QSys)) {
      dispatchBlocked = true;
      blockReason = "SYS waits for tokens";
      return false;
    }
    if ((kind == SysKind::barrier || kind == SysKind::end ||
         kind == SysKind::sync) &&
        !queuesIdle()) {
      dispatchBlocked = true;
      blockReason = "SYS barrier/end/sync waits for the queues";
      return false;
    }
    if (kind == SysKind::sync) {
      if (!atSync) {
        atSync = true;
        syncGeneration = cl.syncGeneration;
        syncArrivedAt = now;
        if (++cl.syncArrived == cl.cores) {
          cl.syncArrived = 0;
          ++cl.syncGeneration;
          cl.syncReleaseAt = now + tp.syncLatency;
        }
      }
      if (cl.syncGeneration == syncGeneration) {
        dispatchBlocked = true;
        blockReason = "SYS sync waits for the other cores";
        return false;
      }
      if (now < cl.syncReleaseAt) {
        dispatchAt = cl.syncReleaseAt;
        return false;
      }
      atSync = false;
      ++c.syncs;
      c.syncWaitCycles += now - syncArrivedAt;
    }
    if (!releaseRoom(e.inst.release, QSys)) {
      dispatchBlocked = true;
      blockReason = "SYS release: a token counter is full";
      return false;
    }
    takeTokens(e.inst.wait, QSys);
    if (!executeSys(e))
      return false;
    giveTokens(e.inst.release, QSys);
    if (s.trace && (e.inst.wait || kind == SysKind::barrier ||
                    kind == SysKind::end || kind == SysKind::sync))
      s.trace->event("SYS", sysKindName(kind), QSys, now, 1, e.index, e.word,
                     core);
    if (kind == SysKind::end) {
      for (unsigned p = 0; p < kNumQueues; ++p)
        for (unsigned r = 0; r < kNumQueues; ++r)
          if (tok[p][r] != 0) {
            std::string what = "token counters not 0 at end:";
            for (unsigned p2 = 0; p2 < kNumQueues; ++p2)
              for (unsigned r2 = 0; r2 < kNumQueues; ++r2)
                if (tok[p2][r2])
                  what += std::string(" ") + kQueueNames[p2] + "->" +
                          kQueueNames[r2] + "=" + std::to_string(tok[p2][r2]);
            fail(Fault::TokensLeft, e, what);
            return false;
          }
      ended_ = true;
      endAt = now + 1; // SYS end takes its cycle
    }
    ++c.instructions[static_cast<unsigned>(Kind::SYS)];
    ++c.kindBusyCycles[static_cast<unsigned>(Kind::SYS)];
    if (kind == SysKind::endloop && --loopLeft > 0) {
      pc = loopPc;
      index = loopIndex;
    } else {
      if (kind == SysKind::endloop)
        inLoop = false;
      pc += pendingWords;
      ++index;
    }
  } else {
    if (s.opt.sequential && !queuesIdle()) {
      dispatchBlocked = true;
      blockReason = "sequential mode waits for the queues";
      return false;
    }
    if (fifo[q].full()) {
      dispatchBlocked = true;
      blockReason = std::string("the ") + kQueueNames[q] + " FIFO is full";
      return false;
    }
    if (!prepare(e))
      return false;
    fifo[q].push() = e;
    ++c.instructions[static_cast<unsigned>(e.kind)];
    pc += pendingWords;
    ++index;
  }
  havePending = false;
  fetchedBytes += 4 * pendingWords;
  ++c.queueBusyCycles[QSys];
  uint64_t fetchReady =
      static_cast<uint64_t>(std::ceil(fetchedBytes / s.ddrRate));
  dispatchAt = std::max(now + 1, fetchReady);
  return true;
}

std::string Engine::describeBlocked() const {
  std::string out;
  for (unsigned q = 0; q < QSys; ++q) {
    if (fifo[q].empty())
      continue;
    const Entry &h = fifo[q].front();
    out += std::string("; ") + kQueueNames[q] + " waits at instruction " +
           std::to_string(h.index) + " (" + h.inst.info().mnemonic +
           ") for tokens from";
    for (unsigned p = 0; p < kNumQueues; ++p)
      if ((h.inst.wait >> p & 1) && tok[p][q] == 0)
        out += std::string(" ") + kQueueNames[p];
  }
  for (unsigned q = 0; q < QSys; ++q)
    if (!inflight[q].empty())
      out += std::string("; ") + kQueueNames[q] +
             " cannot release (a token counter is full)";
  if (dispatchBlocked)
    out += "; dispatcher: " + blockReason + " at instruction " +
           std::to_string(pending.index);
  return out;
}

bool Engine::step() {
  bool any = false, changed;
  do {
    changed = false;
    for (unsigned q = 0; q < QSys; ++q)
      changed |= retire(q);
    for (unsigned q = 0; q < QSys; ++q)
      changed |= issue(q);
    changed |= dispatch();
    any |= changed;
    if (fault.code != Fault::None)
      return false;
  } while (changed);
  return any;
}

uint64_t Engine::nextEvent() const {
  uint64_t next = UINT64_MAX;
  if (ended_)
    return next;
  for (unsigned q = 0; q < QSys; ++q) {
    if (!inflight[q].empty() && inflight[q].front().doneAt > now)
      next = std::min(next, inflight[q].front().doneAt);
    if (!fifo[q].empty() && nextIssueAt[q] > now &&
        inflight[q].size() < inflightCap[q] &&
        tokensAvailable(fifo[q].front().inst.wait, q))
      next = std::min(next, nextIssueAt[q]);
  }
  if (dispatchAt > now && !dispatchBlocked)
    next = std::min(next, dispatchAt);
  return next;
}

void Engine::failDeadlock(const std::string &what) {
  failAt(Fault::Deadlock, havePending ? pending.index : index,
         havePending ? pending.word : static_cast<uint32_t>(pc),
         havePending ? pending.inst.info().mnemonic : "-", what);
}

} // namespace

//===----------------------------------------------------------------------===//
// Simulator
//===----------------------------------------------------------------------===//

Simulator::Simulator(const target::TargetDescription &target, Options options)
    : target_(target), options_(std::move(options)) {
  impl_ = std::make_unique<Impl>(target_, options_);
  resetCounters();
}

Simulator::~Simulator() { flushTrace(); }

void Simulator::resetCounters() {
  last_ = Counters();
  total_ = Counters();
  for (Counters *c : {&last_, &total_}) {
    c->hbmReadBytesPerChannel.assign(target_.hbmChannels, 0);
    c->hbmWriteBytesPerChannel.assign(target_.hbmChannels, 0);
  }
}

void Simulator::setTraceTime(uint64_t cycles) {
  if (impl_ && impl_->trace)
    impl_->trace->setTime(cycles);
}

void Simulator::flushTrace() {
  if (impl_ && impl_->trace)
    impl_->trace->close();
}

size_t Simulator::timingCacheSize() const { return impl_->cache.size(); }

uint8_t *Simulator::buffer(isa::Buffer b, unsigned core) {
  if (core >= impl_->buffers.size())
    return nullptr;
  auto &v = impl_->buffers[core][static_cast<unsigned>(b)];
  return v.empty() ? nullptr : v.data();
}

uint64_t Simulator::bufferBytes(isa::Buffer b) const {
  return impl_->bufferSize[static_cast<unsigned>(b)];
}

int Simulator::memWrite(uint32_t mem, uint32_t channel, uint64_t offset,
                        const void *src, uint64_t bytes) {
  std::vector<PagedMemory> *mems = mem == FLIGHT_MEM_HBM   ? &impl_->hbm
                                   : mem == FLIGHT_MEM_DDR ? &impl_->ddr
                                                           : nullptr;
  if (!mems || channel >= mems->size() ||
      !(*mems)[channel].inRange(offset, bytes) || (!src && bytes)) {
    halError_ = "mem_write: mem " + std::to_string(mem) + " channel " +
                std::to_string(channel) + " bytes [" + std::to_string(offset) +
                ", +" + std::to_string(bytes) + ") out of range";
    return -1;
  }
  (*mems)[channel].write(offset, static_cast<const uint8_t *>(src), bytes);
  if (mem == FLIGHT_MEM_DDR && channel == 0)
    ++impl_->ddrGeneration;
  return 0;
}

int Simulator::memRead(uint32_t mem, uint32_t channel, uint64_t offset,
                       void *dst, uint64_t bytes) {
  std::vector<PagedMemory> *mems = mem == FLIGHT_MEM_HBM   ? &impl_->hbm
                                   : mem == FLIGHT_MEM_DDR ? &impl_->ddr
                                                           : nullptr;
  if (!mems || channel >= mems->size() ||
      !(*mems)[channel].inRange(offset, bytes) || (!dst && bytes)) {
    halError_ = "mem_read: mem " + std::to_string(mem) + " channel " +
                std::to_string(channel) + " bytes [" + std::to_string(offset) +
                ", +" + std::to_string(bytes) + ") out of range";
    return -1;
  }
  (*mems)[channel].read(offset, static_cast<uint8_t *>(dst), bytes);
  return 0;
}

int Simulator::regWrite(uint32_t reg, uint32_t value) {
  if (reg >= FLIGHT_REG_COUNT || reg == FLIGHT_REG_STATUS ||
      reg == FLIGHT_REG_CYCLES_LO || reg == FLIGHT_REG_CYCLES_HI) {
    halError_ = "reg_write: register " + std::to_string(reg) +
                " is not writable";
    return -1;
  }
  if ((reg == FLIGHT_REG_CORES && value > target_.cores) ||
      (reg == FLIGHT_REG_CORE_SELECT && value >= target_.cores)) {
    halError_ = "reg_write: " +
                std::string(reg == FLIGHT_REG_CORES ? "CORES" : "CORE_SELECT") +
                " = " + std::to_string(value) + " on a target of " +
                std::to_string(target_.cores) + " cores";
    return -1;
  }
  unsigned core = impl_->regs[FLIGHT_REG_CORE_SELECT];
  if (reg == FLIGHT_REG_STREAM_OFFSET)
    impl_->streamOffset[core] = value;
  else if (reg == FLIGHT_REG_STREAM_WORDS)
    impl_->streamWords[core] = value;
  else
    impl_->regs[reg] = value;
  return 0;
}

int Simulator::regRead(uint32_t reg, uint32_t *value) const {
  if (reg >= FLIGHT_REG_COUNT || !value)
    return -1;
  unsigned core = impl_->regs[FLIGHT_REG_CORE_SELECT];
  *value = reg == FLIGHT_REG_STREAM_OFFSET  ? impl_->streamOffset[core]
           : reg == FLIGHT_REG_STREAM_WORDS ? impl_->streamWords[core]
                                            : impl_->regs[reg];
  return 0;
}

int Simulator::run() {
  Impl &s = *impl_;
  fault_ = Fault::None;
  faultMessage_.clear();
  last_ = Counters();
  last_.hbmReadBytesPerChannel.assign(target_.hbmChannels, 0);
  last_.hbmWriteBytesPerChannel.assign(target_.hbmChannels, 0);
  last_.runs = 1;

  auto finish = [&](Fault f, std::string message) {
    fault_ = f;
    faultMessage_ = std::move(message);
    s.regs[FLIGHT_REG_STATUS] = static_cast<uint32_t>(f);
    s.regs[FLIGHT_REG_CYCLES_LO] = static_cast<uint32_t>(last_.cycles);
    s.regs[FLIGHT_REG_CYCLES_HI] = static_cast<uint32_t>(last_.cycles >> 32);
    total_.add(last_);
    return f == Fault::None ? 0 : 1;
  };

  unsigned cores = std::max<uint32_t>(1, s.regs[FLIGHT_REG_CORES]);
  last_.maxCores = cores;
  for (unsigned k = 0; k < cores; ++k) {
    uint64_t offset = s.streamOffset[k], nwords = s.streamWords[k];
    if (nwords == 0 || offset % 4 != 0 || s.ddr.empty() ||
        !s.ddr[0].inRange(offset, 4 * nwords))
      return finish(Fault::StreamRange,
                    std::string(cores > 1 ? "core " + std::to_string(k) + ": "
                                          : "") +
                        "the stream (offset " + std::to_string(offset) + ", " +
                        std::to_string(nwords) +
                        " words) is empty, misaligned or outside DDR channel "
                        "0");
  }

  CacheKey key{s.streamOffset[0], s.streamWords[0], s.ddrGeneration, {}, {},
               {}, {}};
  for (int b = 0; b < 3; ++b) {
    key.origin[b] = s.regs[FLIGHT_REG_B1_ORIGIN + b];
    key.stride[b] = s.regs[FLIGHT_REG_B1_STRIDE + b];
  }
  // A batched run's slots are origins too (SYS select_seq).
  for (unsigned b = 0; b < kMaxBatch; ++b)
    key.seqOrigin[b] = s.regs[FLIGHT_REG_SEQ_B2_ORIGIN0 + b];
  for (unsigned k = 1; k < cores; ++k) {
    key.otherCores.push_back(s.streamOffset[k]);
    key.otherCores.push_back(s.streamWords[k]);
  }
  bool useCache = !options_.functional && options_.timingCache;
  if (useCache) {
    auto it = s.cache.find(key);
    if (it != s.cache.end()) {
      last_ = it->second;
      last_.cachedRuns = 1;
      if (s.trace) {
        s.trace->event("run (timing cache)", nullptr, QSys, 0, last_.cycles, 0,
                       0);
        s.trace->endRun(last_.cycles);
      }
      return finish(Fault::None, "");
    }
  }

  std::vector<std::vector<uint32_t>> words(cores);
  for (unsigned k = 0; k < cores; ++k) {
    std::vector<uint8_t> bytes(4 * uint64_t(s.streamWords[k]));
    s.ddr[0].read(s.streamOffset[k], bytes.data(), bytes.size());
    words[k].resize(s.streamWords[k]);
    for (uint64_t i = 0; i < words[k].size(); ++i)
      words[k][i] = loadWordLE(&bytes[4 * i]);
  }

  // The cores run on one clock: every core does what is due at `now`
  // (repeatedly, as a sync passed by one core releases the others), then
  // time jumps to the earliest next event of any core.
  FaultInfo fault;
  Cluster cl;
  cl.cores = cores;
  cl.hbmFree.assign(target_.hbmChannels, 0);
  cl.ddrFree.assign(target_.ddrChannels, 0);
  cl.linkFree.assign(2 * cores, 0);
  std::vector<std::unique_ptr<Engine>> engines;
  for (unsigned k = 0; k < cores; ++k)
    engines.push_back(std::make_unique<Engine>(
        s, cl, k, words[k].data(), words[k].size(), last_, fault));
  uint64_t now = 0;
  while (fault.code == Fault::None) {
    bool changed;
    do {
      changed = false;
      for (auto &e : engines)
        changed |= e->step();
    } while (changed && fault.code == Fault::None);
    if (fault.code != Fault::None)
      break;
    uint64_t next = UINT64_MAX;
    bool allEnded = true;
    for (auto &e : engines) {
      allEnded &= e->ended();
      next = std::min(next, e->nextEvent());
    }
    if (allEnded)
      break;
    if (next == UINT64_MAX) {
      if (cores == 1) {
        engines[0]->failDeadlock("deadlock: every queue is blocked" +
                                 engines[0]->describeBlocked());
        break;
      }
      std::string what = "deadlock: every queue of every core is blocked";
      Engine *blame = nullptr;
      for (unsigned k = 0; k < cores; ++k) {
        if (engines[k]->ended()) {
          what += "; core " + std::to_string(k) + " ended";
          continue;
        }
        if (!blame)
          blame = engines[k].get();
        what += "; core " + std::to_string(k) + ":" +
                engines[k]->describeBlocked().substr(1);
      }
      blame->failDeadlock(what);
      break;
    }
    now = next;
    for (auto &e : engines)
      e->advance(now);
  }
  if (fault.code == Fault::None) {
    last_.cycles = 0;
    for (auto &e : engines) {
      e->finishCounters();
      last_.cycles = std::max(last_.cycles, e->endCycle());
    }
  } else {
    last_.cycles = now;
  }
  if (s.trace)
    s.trace->endRun(last_.cycles);
  if (fault.code == Fault::None && useCache)
    s.cache.emplace(key, last_);
  return finish(fault.code, fault.message);
}

//===----------------------------------------------------------------------===//
// Metrics
//===----------------------------------------------------------------------===//

Metrics Simulator::metrics(const Counters &c) const {
  Metrics m;
  const target::TargetDescription &t = target_;
  double hz = t.clockMHz * 1e6;
  m.seconds = c.cycles / hz;
  double peakBytesPerCycle = t.hbmPeakGBPerS() * 1e9 / hz;
  uint64_t hbmBytes = c.hbmReadBytes + c.hbmWriteBytes;
  if (c.cycles) {
    m.hbmBandwidthUtilization = hbmBytes / (c.cycles * peakBytesPerCycle);
    double cores = std::max<uint64_t>(1, c.maxCores);
    m.macUtilization =
        c.mmMacs / (double(c.cycles) * cores * t.mmMacsPerCycle()) +
        c.mvMacs / (double(c.cycles) * cores * t.mvMacsPerCycle());
    m.hbmGBPerS = hbmBytes / m.seconds / 1e9;
  }
  const PowerParams &p = options_.power;
  m.staticJoules = p.staticWatts * m.seconds;
  m.hbmJoules = hbmBytes * p.hbmPicojoulesPerByte * 1e-12;
  m.ddrJoules =
      (c.ddrReadBytes + c.ddrFetchBytes) * p.ddrPicojoulesPerByte * 1e-12;
  m.macJoules = (c.mmMacs + c.mvMacs) * p.macPicojoules * 1e-12;
  m.sfuJoules = c.sfuElements * p.sfuPicojoulesPerElement * 1e-12;
  m.energyJoules =
      m.staticJoules + m.hbmJoules + m.ddrJoules + m.macJoules + m.sfuJoules;
  m.averageWatts = m.seconds > 0 ? m.energyJoules / m.seconds : 0;
  return m;
}

//===----------------------------------------------------------------------===//
// The HAL
//===----------------------------------------------------------------------===//

namespace {
Simulator &sim(void *ctx) { return *static_cast<Simulator *>(ctx); }
int halMemWrite(void *ctx, uint32_t mem, uint32_t channel, uint64_t offset,
                const void *src, uint64_t bytes) {
  return sim(ctx).memWrite(mem, channel, offset, src, bytes);
}
int halMemRead(void *ctx, uint32_t mem, uint32_t channel, uint64_t offset,
               void *dst, uint64_t bytes) {
  return sim(ctx).memRead(mem, channel, offset, dst, bytes);
}
int halRegWrite(void *ctx, uint32_t reg, uint32_t value) {
  return sim(ctx).regWrite(reg, value);
}
int halRegRead(void *ctx, uint32_t reg, uint32_t *value) {
  return sim(ctx).regRead(reg, value);
}
int halRun(void *ctx) { return sim(ctx).run(); }
} // namespace

flight_hal Simulator::hal() {
  flight_hal h;
  h.ctx = this;
  h.mem_write = halMemWrite;
  h.mem_read = halMemRead;
  h.reg_write = halRegWrite;
  h.reg_read = halRegRead;
  h.run = halRun;
  return h;
}
