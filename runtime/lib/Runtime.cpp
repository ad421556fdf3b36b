//===- Runtime.cpp - The FlightLLM embedded runtime -----------------------===//
//
// The C API of runtime.h over the HAL of hal.h. Freestanding: no exceptions,
// RTTI, heap or library calls other than memcpy/memset (as compiler
// builtins). The .flb is validated and read only through
// flightllm/Binary/Reader.h. docs/runtime.md, docs/execution-model.md §3-4.
//
//===----------------------------------------------------------------------===//

#include "flightllm/runtime/runtime.h"

#include "RuntimeInternal.h"

#include "flightllm/Binary/Format.h"
#include "flightllm/Binary/Reader.h"
#include "flightllm/ISA/ISA.h"

#include <new> // placement new only (freestanding)

using namespace flightllm;
using namespace flightllm::binary;
using flightllm::runtime::kOpenPipelineStage;

static_assert(FLIGHT_RUNTIME_MAX_SLOTS >= 1 &&
                  FLIGHT_RUNTIME_MAX_SLOTS <= kMaxKVSlots,
              "the format allows at most kMaxKVSlots KV-cache slots");

namespace {

constexpr uint32_t kRuntimeMagic = 0x464C5254u; // "TRLF"
constexpr uint32_t kClosedMagic = 0x434C5344u;
/// Instruction streams are placed in DDR channel 0 at 64-byte boundaries.
constexpr uint64_t kStreamAlignment = 64;
constexpr uint64_t kUnitBytes = isa::kOffChipUnitBytes;
constexpr size_t kArenaAlignment = 16;

/// The parts of the DeviceMap section the runtime uses, offsets in bytes.
struct DeviceLayout {
  uint32_t rowBytes = 0;
  uint32_t vocab = 0;
  uint32_t hiddenSize = 0;
  uint32_t inputChannel = 0;
  uint64_t inputOffset = 0;
  uint32_t inputRows = 0;
  uint32_t logitsChannel = 0;
  uint64_t logitsOffset = 0;
  uint32_t logitsCount = 0;
  uint32_t streamChannel = 0;
  /// Pipeline stages (format 1.2): kStage* flags and the output rows.
  uint32_t stageFlags = 0;
  uint32_t outputChannel = 0;
  uint64_t outputOffset = 0;
  /// Sequences per decode run (format 1.3; 1 unless batched), and the bytes
  /// between their logits.
  uint32_t batch = 1;
  uint64_t logitsRowBytes = 0;
};

struct StreamSlot {
  uint32_t id;
  uint32_t offset; // bytes in DDR channel 0
  uint32_t words;
};

} // namespace

struct flight_runtime {
  uint32_t magic;
  bool open;
  uint32_t flags;
  flight_hal hal;
  BinaryView view;
  ModelMetadata meta;
  DeviceLayout map;
  /// The EmbeddingTable section: vocab rows of map.rowBytes, read in place.
  const uint8_t *embeddings;
  /// P of each KV-cache slot, and the selected slot.
  uint32_t past[FLIGHT_RUNTIME_MAX_SLOTS];
  uint32_t slot;
  uint32_t cores; // FLIGHT_REG_CORES as last written (0: reset, one core)
  uint32_t streamCount;
  StreamSlot streams[FLIGHT_RUNTIME_MAX_STREAMS];
  flight_run_observer observer;
  void *observerUser;
  char error[FLIGHT_RUNTIME_ERROR_BYTES];
};

namespace {

//===----------------------------------------------------------------------===//
// Error messages without a C library
//===----------------------------------------------------------------------===//

/// The runtime's last-error buffer (RuntimeInternal.h's writer).
class Message : public flightllm::runtime::ErrorWriter {
public:
  explicit Message(flight_runtime *target)
      : ErrorWriter(target->error, sizeof(target->error)) {}
};

void setOk(flight_runtime *rt) {
  rt->error[0] = 'o';
  rt->error[1] = 'k';
  rt->error[2] = '\0';
}

bool isLive(const flight_runtime *rt) {
  return rt != nullptr && rt->magic == kRuntimeMagic;
}

/// `offset + size <= limit` without overflow.
bool fits(uint64_t offset, uint64_t size, uint64_t limit) {
  return size <= limit && offset <= limit - size;
}

//===----------------------------------------------------------------------===//
// HAL calls: every failure becomes FLIGHT_ERR_HAL naming the call
//===----------------------------------------------------------------------===//

int halFailed(flight_runtime *rt, const char *call, int code) {
  Message m(rt);
  m << "HAL " << call << " failed (returned ";
  m << static_cast<int32_t>(code) << ")";
  return FLIGHT_ERR_HAL;
}

int memWrite(flight_runtime *rt, uint32_t mem, uint32_t channel,
             uint64_t offset, const void *src, uint64_t bytes) {
  int code = rt->hal.mem_write(rt->hal.ctx, mem, channel, offset, src, bytes);
  return code == 0 ? FLIGHT_OK : halFailed(rt, "mem_write", code);
}

int memRead(flight_runtime *rt, uint32_t mem, uint32_t channel,
            uint64_t offset, void *dst, uint64_t bytes) {
  int code = rt->hal.mem_read(rt->hal.ctx, mem, channel, offset, dst, bytes);
  return code == 0 ? FLIGHT_OK : halFailed(rt, "mem_read", code);
}

int regWrite(flight_runtime *rt, uint32_t reg, uint32_t value) {
  int code = rt->hal.reg_write(rt->hal.ctx, reg, value);
  return code == 0 ? FLIGHT_OK : halFailed(rt, "reg_write", code);
}

int regRead(flight_runtime *rt, uint32_t reg, uint32_t &value) {
  value = 0;
  int code = rt->hal.reg_read(rt->hal.ctx, reg, &value);
  return code == 0 ? FLIGHT_OK : halFailed(rt, "reg_read", code);
}

//===----------------------------------------------------------------------===//
// Opening
//===----------------------------------------------------------------------===//

int badBinary(flight_runtime *rt, const char *what) {
  Message(rt) << "bad binary: " << what;
  return FLIGHT_ERR_BAD_BINARY;
}

/// The device map (validated by the Reader) with offsets in bytes.
bool readDeviceMap(const BinaryView &view, DeviceLayout &out) {
  DeviceMap d;
  if (!view.deviceMap(d))
    return false;
  out.rowBytes = d.embedRowBytes;
  out.vocab = d.vocab;
  out.hiddenSize = d.hiddenSize;
  out.inputChannel = d.inputChannel;
  out.inputOffset = d.inputOffsetUnits * kUnitBytes;
  out.inputRows = d.inputRows;
  out.logitsChannel = d.logitsChannel;
  out.logitsOffset = d.logitsOffsetUnits * kUnitBytes;
  out.logitsCount = d.logitsCount;
  out.streamChannel = d.streamDDRChannel;
  out.stageFlags = d.stageFlags;
  out.outputChannel = d.outputChannel;
  out.outputOffset = d.outputOffsetUnits * kUnitBytes;
  out.batch = d.batch();
  out.logitsRowBytes = uint64_t(d.logitsRowUnits()) * kUnitBytes;
  return true;
}

/// Checks what the runtime needs beyond the format: metadata, buckets, the
/// device map and its agreement with the metadata.
int checkModel(flight_runtime *rt) {
  const BinaryView &view = rt->view;
  if (!view.metadata(rt->meta))
    return badBinary(rt, "no model metadata section");
  const ModelMetadata &meta = rt->meta;
  if (meta.vocabSize == 0 || meta.hiddenSize == 0 || meta.maxContext == 0)
    return badBinary(rt, "model metadata has a zero vocabulary, hidden size "
                         "or maximum context");
  SectionEntry buckets;
  if (!view.findSection(SectionKind::BucketTable, 0, buckets) ||
      view.bucketCount() == 0)
    return badBinary(rt, "no bucket table (or an empty one)");
  if (!readDeviceMap(view, rt->map))
    return badBinary(rt, "no device map section");
  const DeviceLayout &map = rt->map;
  // A pipeline stage runs only inside a system binary (flight_pipeline_open),
  // which moves its hidden-state rows between the cards.
  const bool stage = (view.header().flags & kFlagPipelineStage) != 0;
  if (stage != ((rt->flags & kOpenPipelineStage) != 0))
    return badBinary(rt, stage ? "a pipeline stage's program (open the system "
                                 "binary with flight_pipeline_open)"
                               : "not a pipeline stage's program");
  if (!stage && map.stageFlags != 0)
    return badBinary(rt, "device map stage flags without the pipeline-stage "
                         "header flag");
  if ((map.stageFlags & kStageHiddenOutput) != 0 &&
      (map.outputChannel >= kMaxDeviceChannels ||
       !fits(map.outputOffset,
             static_cast<uint64_t>(map.inputRows) * map.rowBytes, ~0ull)))
    return badBinary(rt, "device map output rows out of range");
  // The rows are copied from the binary's EmbeddingTable section (the
  // validator required one: version 1.1 keeps the table out of HBM). A
  // later pipeline stage receives hidden states and has an empty table.
  SectionEntry table;
  if (!view.findSection(SectionKind::EmbeddingTable, 0, table))
    return badBinary(rt, "no embedding table section of index 0");
  if ((map.stageFlags & kStageHiddenInput) != 0) {
    if (table.size != 0)
      return badBinary(rt, "a stage receiving hidden states has an embedding "
                           "table");
  } else if (table.size != static_cast<uint64_t>(map.vocab) * map.rowBytes)
    return badBinary(rt, "embedding table size differs from vocabulary x "
                         "device map row size");
  rt->embeddings = view.sectionData(table);
  Message m(rt);
  if (meta.kvSlots == 1 || meta.kvSlots > FLIGHT_RUNTIME_MAX_SLOTS ||
      (meta.kvSlots > 1 && meta.kvSlotStrideUnits == 0)) {
    m << "bad binary: " << meta.kvSlots << " KV-cache slots of stride "
      << meta.kvSlotStrideUnits << " (0, or 2 to "
      << static_cast<uint32_t>(FLIGHT_RUNTIME_MAX_SLOTS)
      << " slots of a non-zero stride)";
    return FLIGHT_ERR_BAD_BINARY;
  }
  if (map.batch > 1 &&
      (map.batch > FLIGHT_MAX_BATCH || meta.kvSlots < map.batch ||
       map.inputRows < map.batch)) {
    m << "bad binary: decode batch of " << map.batch << " with "
      << meta.kvSlots << " KV-cache slots and " << map.inputRows
      << " input rows (at most " << static_cast<uint32_t>(FLIGHT_MAX_BATCH)
      << ", one slot and one input row per sequence)";
    return FLIGHT_ERR_BAD_BINARY;
  }
  if (map.vocab != meta.vocabSize || map.logitsCount != meta.vocabSize) {
    m << "bad binary: device map vocabulary " << map.vocab << " / logits "
      << map.logitsCount << " differ from the metadata's " << meta.vocabSize;
    return FLIGHT_ERR_BAD_BINARY;
  }
  if (map.hiddenSize != meta.hiddenSize ||
      static_cast<uint64_t>(map.rowBytes) < 2ull * map.hiddenSize) {
    m << "bad binary: device map row of " << map.rowBytes
      << " bytes does not hold the hidden size " << meta.hiddenSize;
    return FLIGHT_ERR_BAD_BINARY;
  }
  if (map.streamChannel != 0) {
    m << "bad binary: device map stream channel " << map.streamChannel
      << " (streams run from DDR channel 0)";
    return FLIGHT_ERR_BAD_BINARY;
  }
  // The regions the runtime addresses stay within 64-bit offsets.
  const uint64_t limit = ~0ull;
  if (!fits(map.inputOffset,
            static_cast<uint64_t>(map.inputRows) * map.rowBytes, limit))
    return badBinary(rt, "device map regions overflow 64-bit offsets");
  // Every bucket must fit the input rows; decode needs one.
  if (map.inputRows == 0)
    return badBinary(rt, "device map has no input rows");
  const uint32_t count = view.bucketCount();
  for (uint32_t i = 0; i < count; ++i) {
    BucketEntry b;
    if (!view.bucket(i, b))
      return badBinary(rt, "unreadable bucket");
    // A stream is started once per layer at most (a per-layer stream has
    // repeat_count = num_layers, a whole-model one 1).
    const uint32_t maxRepeat = meta.numLayers > 1 ? meta.numLayers : 1;
    if (b.repeatCount > maxRepeat) {
      m << "bad binary: bucket " << i << " repeats its stream "
        << b.repeatCount << " times, the model has " << meta.numLayers
        << " layers";
      return FLIGHT_ERR_BAD_BINARY;
    }
    if (meta.kvSlots > 1 &&
        static_cast<uint64_t>(b.baseOrigin[1]) +
                static_cast<uint64_t>(meta.kvSlots - 1) *
                    meta.kvSlotStrideUnits >
            0xFFFFFFFFull) {
      m << "bad binary: bucket " << i << "'s KV-cache slots exceed the "
        << "32-bit B2 register";
      return FLIGHT_ERR_BAD_BINARY;
    }
    if (b.stage == static_cast<uint16_t>(Stage::Prefill) &&
        b.maxLength > map.inputRows) {
      m << "bad binary: prefill bucket " << i << " (" << b.minLength << "-"
        << b.maxLength << ") exceeds the " << map.inputRows << " input rows";
      return FLIGHT_ERR_BAD_BINARY;
    }
  }
  setOk(rt);
  return FLIGHT_OK;
}

/// Writes every instruction stream to DDR channel 0, 64-byte aligned and
/// consecutive, and remembers where each one went.
int loadStreams(flight_runtime *rt) {
  const BinaryView &view = rt->view;
  uint64_t next = 0;
  rt->streamCount = 0;
  const uint32_t sections = view.sectionCount();
  for (uint32_t i = 0; i < sections; ++i) {
    SectionEntry s = view.section(i);
    if (s.kind != static_cast<uint32_t>(SectionKind::InstructionStream))
      continue;
    if (rt->streamCount == FLIGHT_RUNTIME_MAX_STREAMS) {
      Message(rt) << "bad binary: more than "
                  << static_cast<uint32_t>(FLIGHT_RUNTIME_MAX_STREAMS)
                  << " instruction streams (FLIGHT_RUNTIME_MAX_STREAMS)";
      return FLIGHT_ERR_BAD_BINARY;
    }
    const uint64_t words = s.size / 4;
    if (next > 0xFFFFFFFFull || words > 0xFFFFFFFFull ||
        !fits(next, s.size, 0x100000000ull)) {
      Message(rt) << "bad binary: instruction stream " << s.index
                  << " does not fit the 32-bit stream offset register";
      return FLIGHT_ERR_BAD_BINARY;
    }
    StreamSlot &slot = rt->streams[rt->streamCount++];
    slot.id = s.index;
    slot.offset = static_cast<uint32_t>(next);
    slot.words = static_cast<uint32_t>(words);
    if (s.size != 0) {
      int status = memWrite(rt, FLIGHT_MEM_DDR, rt->map.streamChannel, next,
                            view.sectionData(s), s.size);
      if (status != FLIGHT_OK)
        return status;
    }
    next = (next + s.size + kStreamAlignment - 1) & ~(kStreamAlignment - 1);
  }
  return FLIGHT_OK;
}

int loadWeights(flight_runtime *rt) {
  const BinaryView &view = rt->view;
  const uint32_t sections = view.sectionCount();
  for (uint32_t i = 0; i < sections; ++i) {
    SectionEntry s = view.section(i);
    if (s.kind != static_cast<uint32_t>(SectionKind::WeightImage) ||
        s.size == 0)
      continue;
    int status =
        memWrite(rt, FLIGHT_MEM_HBM, s.index, 0, view.sectionData(s), s.size);
    if (status != FLIGHT_OK)
      return status;
  }
  // Weight tiles in the board's DDR (format 1.5): behind a 64-byte header
  // naming where they go, never over the streams in DDR channel 0.
  uint64_t streamEnd = 0;
  for (uint32_t i = 0; i < rt->streamCount; ++i) {
    const uint64_t end = static_cast<uint64_t>(rt->streams[i].offset) +
                         4ull * rt->streams[i].words;
    streamEnd = end > streamEnd ? end : streamEnd;
  }
  for (uint32_t i = 0; i < sections; ++i) {
    SectionEntry s = view.section(i);
    if (s.kind != static_cast<uint32_t>(SectionKind::DDRWeights) ||
        s.size <= kDDRWeightsHeaderSize)
      continue;
    const uint8_t *data = view.sectionData(s);
    const uint64_t at = readU64(data, ddr_weights_offset::LoadOffset);
    if (s.index == rt->map.streamChannel && at < streamEnd) {
      Message(rt) << "bad binary: the weights of DDR channel " << s.index
                  << " start at byte " << at
                  << ", below the end of the instruction streams ("
                  << streamEnd << ")";
      return FLIGHT_ERR_BAD_BINARY;
    }
    int status = memWrite(rt, FLIGHT_MEM_DDR, s.index, at,
                          data + kDDRWeightsHeaderSize,
                          s.size - kDDRWeightsHeaderSize);
    if (status != FLIGHT_OK)
      return status;
  }
  return FLIGHT_OK;
}

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

const StreamSlot *findStream(const flight_runtime *rt, uint32_t id) {
  for (uint32_t i = 0; i < rt->streamCount; ++i)
    if (rt->streams[i].id == id)
      return &rt->streams[i];
  return nullptr;
}

/// The bucket of `stage` holding `length` and its index in the table.
bool pickBucket(const flight_runtime *rt, Stage stage, uint32_t length,
                BucketEntry &bucket, uint32_t &index) {
  if (!rt->view.findBucket(stage, length, bucket))
    return false;
  const uint32_t count = rt->view.bucketCount();
  for (index = 0; index < count; ++index) {
    BucketEntry b;
    if (rt->view.bucket(index, b) && b.stage == bucket.stage &&
        b.minLength == bucket.minLength)
      return true;
  }
  return false;
}

int checkTokens(flight_runtime *rt, const int32_t *tokens, uint32_t count) {
  for (uint32_t i = 0; i < count; ++i)
    if (tokens[i] < 0 ||
        static_cast<uint32_t>(tokens[i]) >= rt->meta.vocabSize) {
      Message(rt) << "token " << tokens[i] << " at position " << i
                  << " is outside the vocabulary [0, " << rt->meta.vocabSize
                  << ")";
      return FLIGHT_ERR_BAD_TOKEN;
    }
  return FLIGHT_OK;
}

/// Copies the embedding row of each token to input rows 0, 1, ...: from
/// the binary's EmbeddingTable section (validated at open).
int writeInputs(flight_runtime *rt, const int32_t *tokens, uint32_t count) {
  const DeviceLayout &map = rt->map;
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t token = static_cast<uint64_t>(tokens[i]);
    const uint64_t to =
        map.inputOffset + static_cast<uint64_t>(i) * map.rowBytes;
    int status = memWrite(rt, FLIGHT_MEM_HBM, map.inputChannel, to,
                          rt->embeddings + token * map.rowBytes, map.rowBytes);
    if (status != FLIGHT_OK)
      return status;
  }
  return FLIGHT_OK;
}

/// The logits of sequence `row` of the run (0 unless batched).
int readLogits(flight_runtime *rt, float *logits, uint32_t row = 0) {
  const DeviceLayout &map = rt->map;
  int status = memRead(rt, FLIGHT_MEM_HBM, map.logitsChannel,
                       map.logitsOffset + row * map.logitsRowBytes, logits,
                       static_cast<uint64_t>(map.logitsCount) * 4);
  if (status != FLIGHT_OK)
    return status;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  // The device stores little-endian fp32.
  for (uint32_t i = 0; i < map.logitsCount; ++i) {
    uint32_t bits;
    __builtin_memcpy(&bits, &logits[i], 4);
    bits = readU32(reinterpret_cast<const uint8_t *>(&bits));
    __builtin_memcpy(&logits[i], &bits, 4);
  }
#endif
  return FLIGHT_OK;
}

/// Sets the registers of `bucket` and starts its stream repeatCount times.
int runBucket(flight_runtime *rt, Stage stage, const BucketEntry &bucket,
              uint32_t bucketIndex, uint32_t newTokens) {
  const uint32_t cores = bucket.coreCount();
  const StreamSlot *streams[kMaxCores] = {};
  for (uint32_t k = 0; k < cores; ++k) {
    streams[k] = findStream(rt, bucket.streamId + k);
    if (streams[k] == nullptr) {
      Message(rt) << "bad binary: bucket " << bucketIndex
                  << " names instruction stream " << bucket.streamId + k
                  << ", which was not loaded";
      return FLIGHT_ERR_BAD_BINARY;
    }
  }
  const StreamSlot *stream = streams[0];
  // Multi-core buckets: core k's stream registers, then the core count. The
  // registers reset to 0 (one core), so a single-core model never writes
  // them.
  if (cores > 1 || rt->cores > 1) {
    for (uint32_t k = 1; k < cores; ++k) {
      const uint32_t coreRegs[][2] = {
          {FLIGHT_REG_CORE_SELECT, k},
          {FLIGHT_REG_STREAM_OFFSET, streams[k]->offset},
          {FLIGHT_REG_STREAM_WORDS, streams[k]->words}};
      for (const auto &reg : coreRegs) {
        int status = regWrite(rt, reg[0], reg[1]);
        if (status != FLIGHT_OK)
          return status;
      }
    }
    int status = regWrite(rt, FLIGHT_REG_CORE_SELECT, 0);
    if (status == FLIGHT_OK)
      status = regWrite(rt, FLIGHT_REG_CORES, cores);
    if (status != FLIGHT_OK)
      return status;
    rt->cores = cores;
  }
  // The selected slot's KV cache: B2 moves by the slot stride (checked to
  // fit 32 bits at open).
  const uint32_t b2Origin =
      bucket.baseOrigin[1] + rt->slot * rt->meta.kvSlotStrideUnits;
  const uint32_t regs[][2] = {
      {FLIGHT_REG_P, rt->past[rt->slot]},
      {FLIGHT_REG_S, newTokens},
      {FLIGHT_REG_B1_ORIGIN, bucket.baseOrigin[0]},
      {FLIGHT_REG_B2_ORIGIN, b2Origin},
      {FLIGHT_REG_B3_ORIGIN, bucket.baseOrigin[2]},
      {FLIGHT_REG_B1_STRIDE, bucket.baseStride[0]},
      {FLIGHT_REG_B2_STRIDE, bucket.baseStride[1]},
      {FLIGHT_REG_B3_STRIDE, bucket.baseStride[2]},
      {FLIGHT_REG_STREAM_OFFSET, stream->offset},
      {FLIGHT_REG_STREAM_WORDS, stream->words},
  };
  for (const auto &reg : regs) {
    int status = regWrite(rt, reg[0], reg[1]);
    if (status != FLIGHT_OK)
      return status;
  }
  for (uint32_t layer = 0; layer < bucket.repeatCount; ++layer) {
    int status = regWrite(rt, FLIGHT_REG_L, layer);
    if (status != FLIGHT_OK)
      return status;
    const int ran = rt->hal.run(rt->hal.ctx);
    uint32_t fault = 0;
    status = regRead(rt, FLIGHT_REG_STATUS, fault);
    if (status != FLIGHT_OK)
      return ran != 0 ? halFailed(rt, "run", ran) : status;
    if (fault != 0) {
      Message(rt) << "device fault " << fault << " in " << stageName(
                         static_cast<uint16_t>(stage))
                  << " bucket " << bucketIndex << " (" << bucket.minLength
                  << "-" << bucket.maxLength << "), L = " << layer;
      return FLIGHT_ERR_DEVICE_FAULT;
    }
    if (ran != 0)
      return halFailed(rt, "run", ran);
    if (rt->observer != nullptr) {
      uint32_t lo = 0, hi = 0;
      status = regRead(rt, FLIGHT_REG_CYCLES_LO, lo);
      if (status == FLIGHT_OK)
        status = regRead(rt, FLIGHT_REG_CYCLES_HI, hi);
      if (status != FLIGHT_OK)
        return status;
      rt->observer(rt->observerUser, static_cast<uint32_t>(stage), bucketIndex,
                   (static_cast<uint64_t>(hi) << 32) | lo);
    }
  }
  return FLIGHT_OK;
}

/// One request: `count` new tokens after P past ones.
int runRequest(flight_runtime *rt, Stage stage, uint32_t length,
               const int32_t *tokens, uint32_t count, float *logits) {
  BucketEntry bucket;
  uint32_t index = 0;
  if (!pickBucket(rt, stage, length, bucket, index)) {
    Message(rt) << "no " << stageName(static_cast<uint16_t>(stage))
                << " bucket holds "
                << (stage == Stage::Prefill ? "a prompt of " : "a context of ")
                << length << " tokens";
    return FLIGHT_ERR_NO_BUCKET;
  }
  // A pipeline stage's input rows are the previous card's output (copied
  // by flight_pipeline_*), and only the last card computes logits.
  int status = checkTokens(rt, tokens, count);
  if (status == FLIGHT_OK && (rt->map.stageFlags & kStageHiddenInput) == 0)
    status = writeInputs(rt, tokens, count);
  if (status == FLIGHT_OK)
    status = runBucket(rt, stage, bucket, index, count);
  if (status == FLIGHT_OK && (rt->map.stageFlags & kStageHiddenOutput) == 0)
    status = readLogits(rt, logits);
  if (status != FLIGHT_OK)
    return status;
  rt->past[rt->slot] += count;
  setOk(rt);
  return FLIGHT_OK;
}

/// One decode run of a batched binary: `count` sequences (slots) append
/// one token each. The run always serves map.batch sequences: the rows
/// beyond `count` repeat token 0 on the free slot with the shortest context,
/// at its length, where they store a KV row that slot overwrites before it
/// reads it (its next decode or prefill writes that position first).
int runBatch(flight_runtime *rt, uint32_t count, const int32_t *tokens,
             const uint32_t *slots, float *logits) {
  const uint32_t batch = rt->map.batch;
  const uint32_t slotCount = rt->meta.kvSlots > 1 ? rt->meta.kvSlots : 1;
  uint32_t rowSlot[FLIGHT_MAX_BATCH];
  int32_t rowToken[FLIGHT_MAX_BATCH];
  uint32_t longest = 0;
  for (uint32_t i = 0; i < count; ++i) {
    rowSlot[i] = slots[i];
    rowToken[i] = tokens[i];
    const uint32_t length = rt->past[slots[i]] + 1;
    longest = length > longest ? length : longest;
  }
  if (count < batch) {
    uint32_t pad = slotCount;
    for (uint32_t s = 0; s < slotCount; ++s) {
      bool active = false;
      for (uint32_t i = 0; i < count; ++i)
        active = active || slots[i] == s;
      if (!active && rt->past[s] < rt->meta.maxContext &&
          (pad == slotCount || rt->past[s] < rt->past[pad]))
        pad = s;
    }
    if (pad == slotCount) {
      Message(rt) << "a decode batch of " << count << " of " << batch
                  << " sequences needs a free KV-cache slot that is not full "
                     "to fill the run";
      return FLIGHT_ERR_CONTEXT_FULL;
    }
    for (uint32_t i = count; i < batch; ++i) {
      rowSlot[i] = pad;
      rowToken[i] = tokens[0];
    }
    const uint32_t length = rt->past[pad] + 1;
    longest = length > longest ? length : longest;
  }
  // The bucket of the longest context: the others are masked beyond theirs.
  BucketEntry bucket;
  uint32_t index = 0;
  if (!pickBucket(rt, Stage::Decode, longest, bucket, index)) {
    Message(rt) << "no decode bucket holds a context of " << longest
                << " tokens";
    return FLIGHT_ERR_NO_BUCKET;
  }
  // A pipeline stage's B input rows are the previous card's output rows
  // (padding included), and only the last card computes logits.
  int status = checkTokens(rt, rowToken, batch);
  if (status == FLIGHT_OK && (rt->map.stageFlags & kStageHiddenInput) == 0)
    status = writeInputs(rt, rowToken, batch);
  for (uint32_t i = 0; i < batch && status == FLIGHT_OK; ++i) {
    status = regWrite(rt, FLIGHT_REG_SEQ_P0 + i, rt->past[rowSlot[i]]);
    if (status == FLIGHT_OK)
      status = regWrite(rt, FLIGHT_REG_SEQ_B2_ORIGIN0 + i,
                        bucket.baseOrigin[1] +
                            rowSlot[i] * rt->meta.kvSlotStrideUnits);
  }
  if (status == FLIGHT_OK)
    status = runBucket(rt, Stage::Decode, bucket, index, 1);
  const bool logitsHere = (rt->map.stageFlags & kStageHiddenOutput) == 0;
  for (uint32_t i = 0; i < count && logitsHere && status == FLIGHT_OK; ++i)
    status = readLogits(rt, logits + static_cast<uint64_t>(i) *
                                         rt->map.logitsCount,
                        i);
  if (status != FLIGHT_OK)
    return status;
  for (uint32_t i = 0; i < count; ++i)
    ++rt->past[slots[i]];
  setOk(rt);
  return FLIGHT_OK;
}

int notOpen(const flight_runtime *rt) {
  return rt == nullptr ? FLIGHT_ERR_INVALID_ARGUMENT : FLIGHT_ERR_STATE;
}

} // namespace

//===----------------------------------------------------------------------===//
// C API
//===----------------------------------------------------------------------===//

extern "C" {

size_t flight_runtime_arena_bytes(void) {
  return sizeof(flight_runtime) + kArenaAlignment;
}

int flight_open(flight_runtime **out, void *arena, size_t arena_bytes,
                const void *flb, size_t flb_bytes, const flight_hal *hal,
                uint64_t expected_fingerprint, uint32_t flags) {
  if (out == nullptr)
    return FLIGHT_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  if (arena == nullptr)
    return FLIGHT_ERR_INVALID_ARGUMENT;
  const uintptr_t base = reinterpret_cast<uintptr_t>(arena);
  const size_t pad = static_cast<size_t>(
      (kArenaAlignment - base % kArenaAlignment) % kArenaAlignment);
  if (arena_bytes < pad || arena_bytes - pad < sizeof(flight_runtime))
    return FLIGHT_ERR_ARENA_TOO_SMALL;
  uint8_t *start = static_cast<uint8_t *>(arena) + pad;
  __builtin_memset(start, 0, sizeof(flight_runtime));
  flight_runtime *rt = new (start) flight_runtime;
  rt->magic = kClosedMagic;
  setOk(rt);
  *out = rt;

  if (flb == nullptr || hal == nullptr || hal->mem_write == nullptr ||
      hal->mem_read == nullptr || hal->reg_write == nullptr ||
      hal->reg_read == nullptr || hal->run == nullptr) {
    Message(rt) << "flight_open: NULL binary, HAL or HAL function";
    return FLIGHT_ERR_INVALID_ARGUMENT;
  }
  // Whatever the arena's alignment: the documented size is the requirement.
  if (arena_bytes < flight_runtime_arena_bytes()) {
    Message(rt) << "arena of " << static_cast<uint64_t>(arena_bytes)
                << " bytes is smaller than flight_runtime_arena_bytes() = "
                << static_cast<uint64_t>(flight_runtime_arena_bytes());
    return FLIGHT_ERR_ARENA_TOO_SMALL;
  }
  rt->hal = *hal;
  rt->flags = flags;

  ValidateOptions options;
  options.checkTarget = expected_fingerprint != 0;
  options.expectedFingerprint = expected_fingerprint;
  options.requireModelSections = true;
  Error err;
  Status status = rt->view.open(static_cast<const uint8_t *>(flb), flb_bytes,
                                err, options);
  if (status != Status::Ok) {
    Message m(rt);
    m << (status == Status::TargetMismatch ? "" : "bad binary: ")
      << statusName(status) << ": " << err.message << " (at byte "
      << err.offset << ")";
    return status == Status::TargetMismatch ? FLIGHT_ERR_TARGET_MISMATCH
                                            : FLIGHT_ERR_BAD_BINARY;
  }
  int result = checkModel(rt);
  if (result == FLIGHT_OK)
    result = loadStreams(rt);
  if (result == FLIGHT_OK && (flags & FLIGHT_OPEN_SKIP_WEIGHTS) == 0)
    result = loadWeights(rt);
  if (result != FLIGHT_OK)
    return result;
  rt->magic = kRuntimeMagic;
  rt->open = true;
  rt->slot = 0;
  for (uint32_t i = 0; i < FLIGHT_RUNTIME_MAX_SLOTS; ++i)
    rt->past[i] = 0;
  setOk(rt);
  return FLIGHT_OK;
}

int flight_model(const flight_runtime *rt, flight_model_info *info) {
  if (!isLive(rt) || info == nullptr)
    return info == nullptr ? FLIGHT_ERR_INVALID_ARGUMENT : notOpen(rt);
  const ModelMetadata &m = rt->meta;
  info->family = m.family;
  info->num_layers = m.numLayers;
  info->hidden_size = m.hiddenSize;
  info->num_heads = m.numHeads;
  info->num_kv_heads = m.numKVHeads;
  info->head_dim = m.headDim;
  info->vocab_size = m.vocabSize;
  info->max_context = m.maxContext;
  info->prefill_bucket_width = m.prefillBucketWidth;
  info->decode_bucket_width = m.decodeBucketWidth;
  info->target_fingerprint = rt->view.header().targetFingerprint;
  info->kv_slots = m.kvSlots > 1 ? m.kvSlots : 1;
  info->batch = rt->map.batch;
  return FLIGHT_OK;
}

int flight_prefill(flight_runtime *rt, const int32_t *tokens, uint32_t count,
                   float *logits) {
  if (!isLive(rt))
    return notOpen(rt);
  if (tokens == nullptr || logits == nullptr || count == 0) {
    Message(rt) << "flight_prefill: "
                << (count == 0 ? "empty prompt" : "NULL tokens or logits");
    return FLIGHT_ERR_INVALID_ARGUMENT;
  }
  if (rt->past[rt->slot] != 0) {
    Message(rt) << "flight_prefill needs an empty context, it holds "
                << rt->past[rt->slot] << " tokens (flight_reset first)";
    return FLIGHT_ERR_STATE;
  }
  if (count > rt->meta.maxContext) {
    Message(rt) << "prompt of " << count
                << " tokens exceeds the maximum context of "
                << rt->meta.maxContext;
    return FLIGHT_ERR_CONTEXT_FULL;
  }
  return runRequest(rt, Stage::Prefill, count, tokens, count, logits);
}

int flight_decode_step(flight_runtime *rt, int32_t token, float *logits) {
  if (!isLive(rt))
    return notOpen(rt);
  if (logits == nullptr) {
    Message(rt) << "flight_decode_step: NULL logits";
    return FLIGHT_ERR_INVALID_ARGUMENT;
  }
  if (rt->past[rt->slot] >= rt->meta.maxContext) {
    Message(rt) << "context full: " << rt->past[rt->slot]
                << " tokens, the model's maximum context is "
                << rt->meta.maxContext << " (flight_reset to start over)";
    return FLIGHT_ERR_CONTEXT_FULL;
  }
  if (rt->map.batch > 1)
    return runBatch(rt, 1, &token, &rt->slot, logits);
  return runRequest(rt, Stage::Decode, rt->past[rt->slot] + 1, &token, 1,
                    logits);
}

int flight_decode_batch(flight_runtime *rt, uint32_t count,
                        const int32_t *tokens, const uint32_t *slots,
                        float *logits) {
  if (!isLive(rt))
    return notOpen(rt);
  if (tokens == nullptr || slots == nullptr || logits == nullptr ||
      count == 0) {
    Message(rt) << "flight_decode_batch: "
                << (count == 0 ? "no sequences" : "NULL tokens, slots or logits");
    return FLIGHT_ERR_INVALID_ARGUMENT;
  }
  const uint32_t slotCount = rt->meta.kvSlots > 1 ? rt->meta.kvSlots : 1;
  const uint32_t batch = rt->map.batch;
  if (count > slotCount || (batch > 1 && count > batch)) {
    Message(rt) << "flight_decode_batch: " << count << " sequences, the binary "
                << "has " << slotCount << " KV-cache slots and decodes "
                << batch << " per run";
    return FLIGHT_ERR_INVALID_ARGUMENT;
  }
  for (uint32_t i = 0; i < count; ++i) {
    if (slots[i] >= slotCount) {
      Message(rt) << "flight_decode_batch: sequence " << i << " names KV-cache "
                  << "slot " << slots[i] << " of " << slotCount;
      return FLIGHT_ERR_INVALID_ARGUMENT;
    }
    for (uint32_t j = 0; j < i; ++j)
      if (slots[j] == slots[i]) {
        Message(rt) << "flight_decode_batch: sequences " << j << " and " << i
                    << " both name KV-cache slot " << slots[i];
        return FLIGHT_ERR_INVALID_ARGUMENT;
      }
    if (rt->past[slots[i]] >= rt->meta.maxContext) {
      Message(rt) << "context full: slot " << slots[i] << " holds "
                  << rt->past[slots[i]] << " tokens, the model's maximum "
                  << "context is " << rt->meta.maxContext;
      return FLIGHT_ERR_CONTEXT_FULL;
    }
  }
  if (batch > 1)
    return runBatch(rt, count, tokens, slots, logits);
  // One sequence per run: each in turn on its slot (the selected slot is
  // kept). A failure leaves the earlier sequences advanced.
  const uint32_t selected = rt->slot;
  int status = FLIGHT_OK;
  for (uint32_t i = 0; i < count && status == FLIGHT_OK; ++i) {
    rt->slot = slots[i];
    status = runRequest(rt, Stage::Decode, rt->past[slots[i]] + 1, &tokens[i],
                        1, logits + static_cast<uint64_t>(i) *
                                        rt->map.logitsCount);
  }
  rt->slot = selected;
  return status;
}

uint32_t flight_context_length(const flight_runtime *rt) {
  return isLive(rt) ? rt->past[rt->slot] : 0;
}

int flight_reset(flight_runtime *rt) {
  if (!isLive(rt))
    return notOpen(rt);
  rt->past[rt->slot] = 0;
  setOk(rt);
  return FLIGHT_OK;
}

int flight_select_slot(flight_runtime *rt, uint32_t slot) {
  if (!isLive(rt))
    return notOpen(rt);
  const uint32_t slots = rt->meta.kvSlots > 1 ? rt->meta.kvSlots : 1;
  if (slot >= slots) {
    Message(rt) << "KV-cache slot " << slot << " of a binary with " << slots
                << (slots == 1 ? " slot" : " slots");
    return FLIGHT_ERR_INVALID_ARGUMENT;
  }
  rt->slot = slot;
  setOk(rt);
  return FLIGHT_OK;
}

void flight_close(flight_runtime *rt) {
  if (rt == nullptr ||
      (rt->magic != kRuntimeMagic && rt->magic != kClosedMagic))
    return;
  rt->magic = 0;
  rt->open = false;
  rt->view = BinaryView();
  rt->observer = nullptr;
}

const char *flight_last_error(const flight_runtime *rt) {
  if (rt == nullptr)
    return "no runtime (flight_open failed before it had an arena)";
  if (rt->magic != kRuntimeMagic && rt->magic != kClosedMagic)
    return "not an open runtime";
  return rt->error;
}

const char *flight_status_name(int status) {
  switch (status) {
  case FLIGHT_OK:
    return "ok";
  case FLIGHT_ERR_INVALID_ARGUMENT:
    return "invalid-argument";
  case FLIGHT_ERR_BAD_BINARY:
    return "bad-binary";
  case FLIGHT_ERR_TARGET_MISMATCH:
    return "target-mismatch";
  case FLIGHT_ERR_ARENA_TOO_SMALL:
    return "arena-too-small";
  case FLIGHT_ERR_NO_BUCKET:
    return "no-bucket";
  case FLIGHT_ERR_CONTEXT_FULL:
    return "context-full";
  case FLIGHT_ERR_BAD_TOKEN:
    return "bad-token";
  case FLIGHT_ERR_HAL:
    return "hal";
  case FLIGHT_ERR_DEVICE_FAULT:
    return "device-fault";
  case FLIGHT_ERR_STATE:
    return "state";
  }
  return "unknown";
}

void flight_set_observer(flight_runtime *rt, flight_run_observer fn,
                         void *user) {
  if (!isLive(rt))
    return;
  rt->observer = fn;
  rt->observerUser = user;
}

} // extern "C"

//===----------------------------------------------------------------------===//
// For the pipeline (RuntimeInternal.h)
//===----------------------------------------------------------------------===//

bool flightllm::runtime::stageIO(const flight_runtime *rt, StageIO &io) {
  if (!isLive(rt))
    return false;
  const DeviceLayout &map = rt->map;
  io.stageFlags = map.stageFlags;
  io.rowBytes = map.rowBytes;
  io.inputChannel = map.inputChannel;
  io.inputOffset = map.inputOffset;
  io.inputRows = map.inputRows;
  io.outputChannel = map.outputChannel;
  io.outputOffset = map.outputOffset;
  io.numLayers = rt->meta.numLayers;
  return true;
}
