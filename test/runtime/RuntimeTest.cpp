//===- RuntimeTest.cpp - The embedded runtime against a fake HAL ----------===//
//
// Builds small .flb files with the BinaryWriter and drives the C API of
// runtime.h against FakeDevice: loading, the request protocol of
// docs/execution-model.md section 4, every error code, and corrupted or
// adversarial binaries (which must be refused or handled without a crash;
// the suite is also built with AddressSanitizer/UBSan).
//===----------------------------------------------------------------------===//

#include "FakeHal.h"

#include "BinaryTestUtil.h"
#include "flightllm/runtime/runtime.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

extern "C" int flightRuntimeCApiCompilesAsC(void);

using namespace flightllm::binary;
using flightllm::binary::test::GuardedBuffer;
using flightllm::binary::test::reseal;
using flightllm::runtime::test::FakeDevice;

namespace {

constexpr uint64_t kFingerprint = 0x5EED0F1A11C0FFEEull;
constexpr uint32_t kUnit = 32;
constexpr uint32_t kDeviceMapKind =
    static_cast<uint32_t>(SectionKind::DeviceMap);

/// The test model: 16 tokens of 8 fp16 values (64-byte rows), context 12.
struct ModelSpec {
  uint32_t vocab = 16;
  uint32_t hidden = 8;
  uint32_t rowBytes = 64;
  uint32_t maxContext = 12;
  uint32_t inputRows = 8;
  uint32_t numLayers = 2;
  // Device map (offsets in bytes here, 32-byte units in the file).
  uint32_t inputChannel = 1;
  uint64_t inputOffset = 4096;
  uint32_t logitsChannel = 2;
  uint64_t logitsOffset = 8192;
  uint32_t logitsCount = 16;
  uint32_t streamChannel = 0;
  bool withMetadata = true, withBuckets = true, withDeviceMap = true;
  bool decodeGap = false; // no decode bucket for contexts 9-12
  /// The EmbeddingTable section (kind 8) the runtime copies rows from;
  /// `sectionMarker` offsets its markers (weight image 0 holds rows with
  /// the plain markers, which the runtime must not read).
  bool embeddingSection = true;
  uint32_t sectionMarker = 0;
  int64_t embeddingSectionExtra = 0; // bytes added to (removed from) it
  /// KV-cache slots and the decode batch (0: one), with the batched flag.
  uint32_t kvSlots = 0, batch = 0;
  bool batchedFlag = true;
  /// A ddr_weights section of DDR channel ddrChannel loading ddrBytes bytes
  /// at ddrOffset (none when ddrBytes is 0).
  uint32_t ddrChannel = 1, ddrBytes = 0;
  uint64_t ddrOffset = 32768;
};

/// Row t of the embedding table: its marker 1000 + t, then bytes t.
std::vector<uint8_t> embeddingRow(const ModelSpec &spec, uint32_t t) {
  std::vector<uint8_t> row(spec.rowBytes, static_cast<uint8_t>(t));
  const uint32_t marker = 1000 + t;
  std::memcpy(row.data(), &marker, 4);
  return row;
}

DeviceMap deviceMapOf(const ModelSpec &s) {
  DeviceMap d;
  d.embedRowBytes = s.rowBytes;
  d.vocab = s.vocab;
  d.hiddenSize = s.hidden;
  d.inputChannel = s.inputChannel;
  d.inputOffsetUnits = static_cast<uint32_t>(s.inputOffset / kUnit);
  d.inputRows = s.inputRows;
  d.logitsChannel = s.logitsChannel;
  d.logitsOffsetUnits = static_cast<uint32_t>(s.logitsOffset / kUnit);
  d.logitsCount = s.logitsCount;
  d.streamDDRChannel = s.streamChannel;
  d.decodeBatch = s.batch;
  return d;
}

BucketEntry bucket(Stage stage, uint32_t lo, uint32_t hi, uint32_t stream,
                   uint32_t repeat) {
  BucketEntry b;
  b.stage = static_cast<uint16_t>(stage);
  b.minLength = lo;
  b.maxLength = hi;
  b.streamId = stream;
  b.repeatCount = repeat;
  for (unsigned r = 0; r < kNumBaseRegisters; ++r) {
    b.baseOrigin[r] = 100 * (stream + 1) + r;
    b.baseStride[r] = 10 * (stream + 1) + r;
  }
  return b;
}

/// The first word of stream `id` (streams are 5 + id words long).
uint32_t streamWord(uint32_t id, uint32_t i) { return 0xC0DE0000u + id * 256 + i; }

std::vector<uint8_t> buildBinary(const ModelSpec &spec,
                                 uint64_t fingerprint = kFingerprint) {
  BinaryWriter w(fingerprint);
  if (spec.withMetadata) {
    ModelMetadata meta;
    meta.name = w.addString("runtime-test");
    meta.family = static_cast<uint32_t>(ModelFamily::Llama);
    meta.numLayers = spec.numLayers;
    meta.hiddenSize = spec.hidden;
    meta.numHeads = 2;
    meta.numKVHeads = 1;
    meta.headDim = 4;
    meta.intermediateSize = 16;
    meta.vocabSize = spec.vocab;
    meta.maxContext = spec.maxContext;
    meta.prefillBucketWidth = 4;
    meta.decodeBucketWidth = 8;
    meta.kvSlots = spec.kvSlots;
    meta.kvSlotStrideUnits = spec.kvSlots > 1 ? 1000 : 0;
    w.setMetadata(meta);
  }
  for (uint32_t id = 0; id < 4; ++id) {
    std::vector<uint32_t> words;
    for (uint32_t i = 0; i < 5 + id; ++i)
      words.push_back(streamWord(id, i));
    w.takeStream(id, std::move(words));
  }
  if (spec.withBuckets) {
    w.addBucket(bucket(Stage::Prefill, 1, 4, 0, 2));
    w.addBucket(bucket(Stage::Prefill, 5, 8, 1, 1));
    w.addBucket(bucket(Stage::Decode, 1, 8, 2, 2));
    if (!spec.decodeGap)
      w.addBucket(bucket(Stage::Decode, 9, 12, 3, 2));
  }
  std::vector<uint8_t> image0(64, 0xEE);
  for (uint32_t t = 0; t < spec.vocab; ++t) {
    auto row = embeddingRow(spec, t);
    image0.insert(image0.end(), row.begin(), row.end());
  }
  w.takeWeightImage(0, std::move(image0));
  std::vector<uint8_t> image1(100);
  for (size_t i = 0; i < image1.size(); ++i)
    image1[i] = static_cast<uint8_t>(3 * i + 1);
  w.takeWeightImage(1, std::move(image1));
  if (spec.withDeviceMap)
    w.setDeviceMap(deviceMapOf(spec));
  if (spec.batch > 1 && spec.batchedFlag)
    w.setFlags(kFlagBatched);
  std::vector<uint8_t> ddrImage(spec.ddrBytes);
  for (uint32_t i = 0; i < spec.ddrBytes; ++i)
    ddrImage[i] = static_cast<uint8_t>(7 * i + 5);
  if (spec.ddrBytes)
    w.addDDRWeightImage(spec.ddrChannel, spec.ddrOffset, ddrImage);
  std::vector<uint8_t> table; // alive until writeToBuffer
  if (spec.embeddingSection) {
    for (uint32_t t = 0; t < spec.vocab; ++t) {
      auto row = embeddingRow(spec, t);
      const uint32_t marker = 1000 + spec.sectionMarker + t;
      std::memcpy(row.data(), &marker, 4);
      table.insert(table.end(), row.begin(), row.end());
    }
    table.resize(static_cast<size_t>(int64_t(table.size()) +
                                     spec.embeddingSectionExtra));
    w.addRawSection(static_cast<uint32_t>(SectionKind::EmbeddingTable), 0,
                    table);
  }
  auto bytes = w.writeToBuffer();
  EXPECT_TRUE(static_cast<bool>(bytes));
  if (!bytes) {
    llvm::consumeError(bytes.takeError());
    return {};
  }
  return *bytes;
}

FakeDevice::Layout layoutOf(const ModelSpec &spec) {
  FakeDevice::Layout l;
  l.inputChannel = spec.inputChannel;
  l.inputOffset = spec.inputOffset;
  l.rowBytes = spec.rowBytes;
  l.logitsChannel = spec.logitsChannel;
  l.logitsOffset = spec.logitsOffset;
  l.logitsCount = spec.logitsCount;
  return l;
}

/// An arena, a fake device and (after open()) a runtime.
struct Harness {
  explicit Harness(const ModelSpec &spec = ModelSpec())
      : spec(spec), device(layoutOf(spec)),
        arena(flight_runtime_arena_bytes()), flb(buildBinary(spec)) {}
  ~Harness() {
    if (rt != nullptr)
      flight_close(rt);
  }
  int open(uint64_t expected = kFingerprint, uint32_t flags = 0) {
    return flight_open(&rt, arena.data(), arena.size(), flb.data(), flb.size(),
                       &device.hal, expected, flags);
  }
  std::string error() const { return flight_last_error(rt); }

  ModelSpec spec;
  FakeDevice device;
  std::vector<uint8_t> arena;
  std::vector<uint8_t> flb;
  flight_runtime *rt = nullptr;
  std::vector<float> logits = std::vector<float>(spec.vocab, -1.0f);
};

std::vector<uint32_t> writesOf(const FakeDevice &d, uint32_t reg) {
  std::vector<uint32_t> values;
  for (auto [r, v] : d.regWrites)
    if (r == reg)
      values.push_back(v);
  return values;
}

//===----------------------------------------------------------------------===//
// Opening
//===----------------------------------------------------------------------===//

TEST(Runtime, OpenLoadsStreamsAndWeights) {
  Harness h;
  ASSERT_EQ(h.open(), FLIGHT_OK) << h.error();
  EXPECT_STREQ(flight_last_error(h.rt), "ok");
  EXPECT_EQ(flight_context_length(h.rt), 0u);
  // Streams at 64-byte boundaries from DDR channel 0 offset 0, in id order.
  const auto &ddr = h.device.memory(FLIGHT_MEM_DDR, 0);
  uint64_t at = 0;
  for (uint32_t id = 0; id < 4; ++id) {
    for (uint32_t i = 0; i < 5 + id; ++i)
      EXPECT_EQ(readU32(ddr.data() + at + 4 * i), streamWord(id, i))
          << "stream " << id << " word " << i;
    at += 64;
  }
  // Weight images from offset 0 of their HBM channel.
  BinaryView view;
  Error err;
  ASSERT_EQ(view.open(h.flb.data(), h.flb.size(), err), Status::Ok);
  for (uint32_t channel : {0u, 1u}) {
    SectionEntry s;
    ASSERT_TRUE(view.weightImage(channel, s));
    const auto &hbm = h.device.memory(FLIGHT_MEM_HBM, channel);
    EXPECT_TRUE(std::equal(view.sectionData(s), view.sectionData(s) + s.size,
                           hbm.begin()))
        << "channel " << channel;
  }
  EXPECT_TRUE(h.device.runs.empty());
}

TEST(Runtime, SkipWeightsWritesOnlyStreams) {
  Harness h;
  ASSERT_EQ(h.open(kFingerprint, FLIGHT_OPEN_SKIP_WEIGHTS), FLIGHT_OK)
      << h.error();
  EXPECT_EQ(h.device.memWrites, 4u); // the four streams
  const auto &hbm = h.device.memory(FLIGHT_MEM_HBM, 1);
  EXPECT_TRUE(std::all_of(hbm.begin(), hbm.end(), [](uint8_t b) { return b == 0; }));
}

TEST(Runtime, DDRWeightsGoToTheirOffset) {
  // Format 1.5: a ddr_weights section is written to its DDR channel from
  // the header's load offset, unless the open skips the weights.
  ModelSpec spec;
  spec.ddrBytes = 200;
  Harness h(spec);
  ASSERT_EQ(h.open(), FLIGHT_OK) << h.error();
  const auto &ddr = h.device.memory(FLIGHT_MEM_DDR, 1);
  for (uint32_t i = 0; i < spec.ddrBytes; ++i)
    ASSERT_EQ(ddr[spec.ddrOffset + i], static_cast<uint8_t>(7 * i + 5)) << i;
  EXPECT_EQ(ddr[spec.ddrOffset - 1], 0);
  Harness skip(spec);
  ASSERT_EQ(skip.open(kFingerprint, FLIGHT_OPEN_SKIP_WEIGHTS), FLIGHT_OK);
  const auto &none = skip.device.memory(FLIGHT_MEM_DDR, 1);
  EXPECT_TRUE(std::all_of(none.begin(), none.end(),
                          [](uint8_t b) { return b == 0; }));

  // In the streams' channel, below the end of the streams: refused.
  spec.ddrChannel = 0;
  spec.ddrOffset = 64;
  Harness over(spec);
  EXPECT_EQ(over.open(), FLIGHT_ERR_BAD_BINARY);
  EXPECT_NE(over.error().find("the weights of DDR channel 0 start at byte 64, "
                              "below the end of the instruction streams"),
            std::string::npos)
      << over.error();
  // Beyond them: loaded.
  spec.ddrOffset = 4096;
  Harness after(spec);
  ASSERT_EQ(after.open(), FLIGHT_OK) << after.error();
  EXPECT_EQ(after.device.memory(FLIGHT_MEM_DDR, 0)[4096], 5);
}

TEST(Runtime, ModelInfo) {
  Harness h;
  ASSERT_EQ(h.open(), FLIGHT_OK) << h.error();
  flight_model_info info;
  ASSERT_EQ(flight_model(h.rt, &info), FLIGHT_OK);
  EXPECT_EQ(info.family, static_cast<uint32_t>(ModelFamily::Llama));
  EXPECT_EQ(info.num_layers, 2u);
  EXPECT_EQ(info.hidden_size, 8u);
  EXPECT_EQ(info.num_heads, 2u);
  EXPECT_EQ(info.num_kv_heads, 1u);
  EXPECT_EQ(info.head_dim, 4u);
  EXPECT_EQ(info.vocab_size, 16u);
  EXPECT_EQ(info.max_context, 12u);
  EXPECT_EQ(info.prefill_bucket_width, 4u);
  EXPECT_EQ(info.decode_bucket_width, 8u);
  EXPECT_EQ(info.target_fingerprint, kFingerprint);
  EXPECT_EQ(flight_model(h.rt, nullptr), FLIGHT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(flight_model(nullptr, &info), FLIGHT_ERR_INVALID_ARGUMENT);
}

TEST(Runtime, Fingerprint) {
  {
    Harness h;
    EXPECT_EQ(h.open(0), FLIGHT_OK) << "0 accepts any target";
  }
  Harness h;
  EXPECT_EQ(h.open(kFingerprint + 1), FLIGHT_ERR_TARGET_MISMATCH);
  ASSERT_NE(h.rt, nullptr);
  EXPECT_NE(h.error().find("fingerprint"), std::string::npos) << h.error();
  EXPECT_EQ(flight_prefill(h.rt, nullptr, 0, nullptr), FLIGHT_ERR_STATE);
  EXPECT_TRUE(h.device.regWrites.empty());
  EXPECT_EQ(h.device.memWrites, 0u);
}

TEST(Runtime, ArenaTooSmall) {
  Harness h;
  const size_t need = flight_runtime_arena_bytes();
  // Aligned storage so that exactly `need - 1` usable bytes are too few.
  std::unique_ptr<uint64_t[]> storage(new uint64_t[need / 8 + 4]);
  void *arena = storage.get();
  EXPECT_EQ(flight_open(&h.rt, arena, need - 1, h.flb.data(), h.flb.size(),
                        &h.device.hal, 0, 0),
            FLIGHT_ERR_ARENA_TOO_SMALL);
  EXPECT_NE(h.error().find("arena"), std::string::npos) << h.error();
  flight_close(h.rt);
  h.rt = nullptr;
  EXPECT_EQ(flight_open(&h.rt, arena, 16, h.flb.data(), h.flb.size(),
                        &h.device.hal, 0, 0),
            FLIGHT_ERR_ARENA_TOO_SMALL);
  EXPECT_EQ(h.rt, nullptr);
  EXPECT_STRNE(flight_last_error(nullptr), "");
  // Any alignment of a large enough arena works.
  std::vector<uint8_t> big(need + 1);
  EXPECT_EQ(flight_open(&h.rt, big.data() + 1, need, h.flb.data(),
                        h.flb.size(), &h.device.hal, 0, 0),
            FLIGHT_OK)
      << h.error();
  flight_close(h.rt); // before `big` goes away
  h.rt = nullptr;
}

TEST(Runtime, InvalidArguments) {
  Harness h;
  EXPECT_EQ(flight_open(nullptr, h.arena.data(), h.arena.size(), h.flb.data(),
                        h.flb.size(), &h.device.hal, 0, 0),
            FLIGHT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(flight_open(&h.rt, nullptr, 0, h.flb.data(), h.flb.size(),
                        &h.device.hal, 0, 0),
            FLIGHT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(flight_open(&h.rt, h.arena.data(), h.arena.size(), nullptr, 0,
                        &h.device.hal, 0, 0),
            FLIGHT_ERR_INVALID_ARGUMENT);
  flight_hal broken = h.device.hal;
  broken.run = nullptr;
  EXPECT_EQ(flight_open(&h.rt, h.arena.data(), h.arena.size(), h.flb.data(),
                        h.flb.size(), &broken, 0, 0),
            FLIGHT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(flight_prefill(nullptr, nullptr, 0, nullptr),
            FLIGHT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(flight_decode_step(nullptr, 0, nullptr),
            FLIGHT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(flight_reset(nullptr), FLIGHT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(flight_context_length(nullptr), 0u);
  flight_close(nullptr);
  flight_set_observer(nullptr, nullptr, nullptr);

  ASSERT_EQ(h.open(), FLIGHT_OK) << h.error();
  int32_t token = 1;
  EXPECT_EQ(flight_prefill(h.rt, &token, 0, h.logits.data()),
            FLIGHT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(flight_prefill(h.rt, &token, 1, nullptr),
            FLIGHT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(flight_decode_step(h.rt, 1, nullptr), FLIGHT_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(h.device.runs.empty());
}

TEST(Runtime, RequiresMetadataBucketsAndDeviceMap) {
  struct Case {
    const char *name;
    void (*change)(ModelSpec &);
    const char *message;
  };
  const Case cases[] = {
      {"no metadata", [](ModelSpec &s) { s.withMetadata = false; },
       "metadata"},
      {"no buckets", [](ModelSpec &s) { s.withBuckets = false; }, "bucket"},
      {"no device map", [](ModelSpec &s) { s.withDeviceMap = false; },
       "device map"},
      {"vocab", [](ModelSpec &s) { s.logitsCount = 15; }, "logits"},
      {"row", [](ModelSpec &s) { s.rowBytes = 8; }, "row"},
      {"input rows", [](ModelSpec &s) { s.inputRows = 4; }, "input rows"},
      {"stream channel", [](ModelSpec &s) { s.streamChannel = 1; },
       "stream channel"},
      {"repeat count", [](ModelSpec &s) { s.numLayers = 1; }, "repeats"},
  };
  for (const Case &c : cases) {
    ModelSpec spec;
    c.change(spec);
    Harness h(spec);
    EXPECT_EQ(h.open(), FLIGHT_ERR_BAD_BINARY) << c.name;
    EXPECT_NE(h.error().find(c.message), std::string::npos)
        << c.name << ": " << h.error();
    EXPECT_EQ(flight_context_length(h.rt), 0u);
  }
}

TEST(Runtime, ModelSectionsOfTheVersionAreRequired) {
  // A 1.1 binary without its embedding table (written, hence resealed,
  // without it) used to run on whatever HBM held at the device map's
  // reserved embed fields.
  ModelSpec spec;
  spec.embeddingSection = false;
  Harness h(spec);
  EXPECT_EQ(h.open(), FLIGHT_ERR_BAD_BINARY);
  EXPECT_EQ(h.error(), "bad binary: missing-section: model binary of version "
                       "1.1 or later has no embedding table (at byte 20)");
  EXPECT_EQ(h.device.memWrites, 0u);
  ModelSpec noMap;
  noMap.withDeviceMap = false;
  Harness m(noMap);
  EXPECT_EQ(m.open(), FLIGHT_ERR_BAD_BINARY);
  EXPECT_NE(m.error().find("missing-section: model binary of version 1.1 or "
                           "later has no device map"),
            std::string::npos)
      << m.error();
}

//===----------------------------------------------------------------------===//
// Requests
//===----------------------------------------------------------------------===//

TEST(Runtime, EmbeddingTableSectionIsCopiedFromTheBinary) {
  ModelSpec spec;
  spec.sectionMarker = 500;
  Harness h(spec);
  ASSERT_EQ(h.open(), FLIGHT_OK) << h.error();
  const uint64_t readsBefore = h.device.memReads;
  const int32_t tokens[] = {2, 11};
  ASSERT_EQ(flight_prefill(h.rt, tokens, 2, h.logits.data()), FLIGHT_OK)
      << h.error();
  EXPECT_EQ(h.device.memReads - readsBefore, 1u) << "only the logits";
  const auto &in = h.device.memory(FLIGHT_MEM_HBM, h.spec.inputChannel);
  EXPECT_EQ(readU32(in.data() + h.spec.inputOffset), 1000u + 500u + 2u);
  EXPECT_EQ(h.logits[3], FakeDevice::expectedLogit(1000 + 500 + 11, 0, 1, 3));
  ASSERT_EQ(flight_decode_step(h.rt, 4, h.logits.data()), FLIGHT_OK);
  EXPECT_EQ(h.logits[0], FakeDevice::expectedLogit(1000 + 500 + 4, 2, 1, 0));

  // Wide rows (hidden 4128) go straight from the binary to the device.
  ModelSpec wide = spec;
  wide.rowBytes = 8192 + 64;
  wide.vocab = wide.logitsCount = 2;
  wide.inputOffset = 0;
  wide.logitsOffset = 60 * 1024;
  Harness w(wide);
  ASSERT_EQ(w.open(), FLIGHT_OK) << w.error();
  const int32_t one[] = {1};
  ASSERT_EQ(flight_prefill(w.rt, one, 1, w.logits.data()), FLIGHT_OK)
      << w.error();
  EXPECT_EQ(w.logits[1], FakeDevice::expectedLogit(1000 + 500 + 1, 0, 1, 1));

  for (int64_t extra : {-1, 1, 64}) {
    ModelSpec bad = spec;
    bad.embeddingSectionExtra = extra;
    Harness b(bad);
    EXPECT_EQ(b.open(), FLIGHT_ERR_BAD_BINARY) << extra;
    EXPECT_NE(b.error().find("embedding table size"), std::string::npos)
        << b.error();
  }
}

TEST(Runtime, PrefillFollowsTheProtocol) {
  Harness h;
  ASSERT_EQ(h.open(), FLIGHT_OK) << h.error();
  h.device.regWrites.clear();
  const int32_t tokens[] = {3, 5, 7};
  ASSERT_EQ(flight_prefill(h.rt, tokens, 3, h.logits.data()), FLIGHT_OK)
      << h.error();
  EXPECT_EQ(flight_context_length(h.rt), 3u);
  // Input rows hold the embedding rows of the tokens.
  const auto &in = h.device.memory(FLIGHT_MEM_HBM, h.spec.inputChannel);
  for (uint32_t i = 0; i < 3; ++i) {
    auto row = embeddingRow(h.spec, static_cast<uint32_t>(tokens[i]));
    EXPECT_TRUE(std::equal(row.begin(), row.end(),
                           in.begin() + static_cast<long>(h.spec.inputOffset +
                                                          i * h.spec.rowBytes)))
        << "input row " << i;
  }
  // Bucket 0 (prefill 1-4): stream 0, repeat 2, L = 0 then 1.
  ASSERT_EQ(h.device.runs.size(), 2u);
  for (uint32_t l = 0; l < 2; ++l) {
    const auto &run = h.device.runs[l];
    EXPECT_EQ(run.regs[FLIGHT_REG_P], 0u);
    EXPECT_EQ(run.regs[FLIGHT_REG_S], 3u);
    EXPECT_EQ(run.regs[FLIGHT_REG_L], l);
    EXPECT_EQ(run.regs[FLIGHT_REG_STREAM_OFFSET], 0u);
    EXPECT_EQ(run.regs[FLIGHT_REG_STREAM_WORDS], 5u);
    EXPECT_EQ(run.firstWord, streamWord(0, 0));
    for (uint32_t r = 0; r < 3; ++r) {
      EXPECT_EQ(run.regs[FLIGHT_REG_B1_ORIGIN + r], 100 + r);
      EXPECT_EQ(run.regs[FLIGHT_REG_B1_STRIDE + r], 10 + r);
    }
  }
  EXPECT_EQ(writesOf(h.device, FLIGHT_REG_L), (std::vector<uint32_t>{0, 1}));
  // The logits of the last run (L = 1) for the last token.
  for (uint32_t j = 0; j < h.spec.vocab; ++j)
    EXPECT_EQ(h.logits[j], FakeDevice::expectedLogit(1007, 0, 1, j)) << j;
}

TEST(Runtime, DecodeAfterPrefillUntilTheContextIsFull) {
  Harness h;
  ASSERT_EQ(h.open(), FLIGHT_OK) << h.error();
  const int32_t prompt[] = {1, 2, 3, 4, 5, 6}; // prefill bucket 1 (5-8)
  ASSERT_EQ(flight_prefill(h.rt, prompt, 6, h.logits.data()), FLIGHT_OK)
      << h.error();
  ASSERT_EQ(h.device.runs.size(), 1u);
  EXPECT_EQ(h.device.runs[0].regs[FLIGHT_REG_STREAM_OFFSET], 64u);
  EXPECT_EQ(h.device.runs[0].firstWord, streamWord(1, 0));
  EXPECT_EQ(h.logits[2], FakeDevice::expectedLogit(1006, 0, 0, 2));

  for (uint32_t p = 6; p < 12; ++p) {
    h.device.runs.clear();
    const int32_t token = static_cast<int32_t>(p % 16);
    ASSERT_EQ(flight_decode_step(h.rt, token, h.logits.data()), FLIGHT_OK)
        << "P = " << p << ": " << h.error();
    EXPECT_EQ(flight_context_length(h.rt), p + 1);
    // T = P + 1: decode bucket 2 (1-8, stream 2) up to T = 8, then 3.
    const uint32_t stream = p + 1 <= 8 ? 2 : 3;
    ASSERT_EQ(h.device.runs.size(), 2u);
    for (const auto &run : h.device.runs) {
      EXPECT_EQ(run.regs[FLIGHT_REG_P], p);
      EXPECT_EQ(run.regs[FLIGHT_REG_S], 1u);
      EXPECT_EQ(run.regs[FLIGHT_REG_STREAM_OFFSET], 64 * stream);
      EXPECT_EQ(run.regs[FLIGHT_REG_STREAM_WORDS], 5 + stream);
      EXPECT_EQ(run.firstWord, streamWord(stream, 0));
      EXPECT_EQ(run.regs[FLIGHT_REG_B2_ORIGIN], 100 * (stream + 1) + 1);
    }
    EXPECT_EQ(h.logits[5],
              FakeDevice::expectedLogit(1000 + uint32_t(token), p, 1, 5));
  }
  h.device.runs.clear();
  EXPECT_EQ(flight_decode_step(h.rt, 1, h.logits.data()),
            FLIGHT_ERR_CONTEXT_FULL);
  EXPECT_NE(h.error().find("context full"), std::string::npos) << h.error();
  EXPECT_NE(h.error().find("12"), std::string::npos) << h.error();
  EXPECT_TRUE(h.device.runs.empty());
  EXPECT_EQ(flight_context_length(h.rt), 12u);

  // Prefill needs an empty context; reset empties it.
  EXPECT_EQ(flight_prefill(h.rt, prompt, 1, h.logits.data()),
            FLIGHT_ERR_STATE);
  ASSERT_EQ(flight_reset(h.rt), FLIGHT_OK);
  EXPECT_EQ(flight_context_length(h.rt), 0u);
  ASSERT_EQ(flight_prefill(h.rt, prompt, 1, h.logits.data()), FLIGHT_OK)
      << h.error();
  EXPECT_EQ(flight_context_length(h.rt), 1u);
}

TEST(Runtime, DecodeFromAnEmptyContext) {
  Harness h;
  ASSERT_EQ(h.open(), FLIGHT_OK) << h.error();
  ASSERT_EQ(flight_decode_step(h.rt, 9, h.logits.data()), FLIGHT_OK)
      << h.error();
  EXPECT_EQ(flight_context_length(h.rt), 1u);
  EXPECT_EQ(h.logits[0], FakeDevice::expectedLogit(1009, 0, 1, 0));
}

//===----------------------------------------------------------------------===//
// Batched decode (flight_decode_batch)
//===----------------------------------------------------------------------===//

ModelSpec batchedSpec() {
  ModelSpec spec;
  spec.kvSlots = 4;
  spec.batch = 3;
  return spec;
}

/// Prefills slot s with `length` tokens.
void prefillSlot(Harness &h, uint32_t s, uint32_t length) {
  std::vector<int32_t> prompt(length, 2);
  ASSERT_EQ(flight_select_slot(h.rt, s), FLIGHT_OK) << h.error();
  ASSERT_EQ(flight_prefill(h.rt, prompt.data(), length, h.logits.data()),
            FLIGHT_OK)
      << h.error();
}

TEST(Runtime, BatchedDecodeWritesEverySequencesRegisters) {
  Harness h(batchedSpec());
  ASSERT_EQ(h.open(), FLIGHT_OK) << h.error();
  flight_model_info info;
  ASSERT_EQ(flight_model(h.rt, &info), FLIGHT_OK);
  EXPECT_EQ(info.batch, 3u);
  EXPECT_EQ(info.kv_slots, 4u);
  prefillSlot(h, 0, 2);
  prefillSlot(h, 1, 5);
  prefillSlot(h, 2, 7);
  ASSERT_EQ(flight_select_slot(h.rt, 1), FLIGHT_OK);
  // Sequence 1's logits row: what the device left there (the stand-in
  // writes row 0 only).
  auto &out = h.device.memory(FLIGHT_MEM_HBM, h.spec.logitsChannel);
  const uint64_t row1 = h.spec.logitsOffset + 64; // ceil(16 * 4 / 32) units
  for (uint32_t j = 0; j < h.spec.vocab; ++j) {
    float v = 0.25f * static_cast<float>(j);
    std::memcpy(out.data() + row1 + 4 * j, &v, 4);
  }
  h.device.runs.clear();
  h.device.regWrites.clear();
  const int32_t tokens[] = {9, 4};
  const uint32_t slots[] = {2, 0};
  std::vector<float> logits(2 * h.spec.vocab, -1.0f);
  ASSERT_EQ(flight_decode_batch(h.rt, 2, tokens, slots, logits.data()),
            FLIGHT_OK)
      << h.error();
  // One run per layer; the bucket of the longest context (slot 2: 8).
  ASSERT_EQ(h.device.runs.size(), 2u);
  const auto &run = h.device.runs[1];
  EXPECT_EQ(run.firstWord, streamWord(2, 0));
  EXPECT_EQ(run.regs[FLIGHT_REG_S], 1u);
  // Rows: slot 2 (P 7), slot 0 (P 2), then the padding row on the free
  // slot with the shortest context (slot 3, empty).
  const uint32_t wantP[] = {7, 2, 0}, wantSlot[] = {2, 0, 3};
  for (uint32_t b = 0; b < 3; ++b) {
    EXPECT_EQ(run.regs[FLIGHT_REG_SEQ_P0 + b], wantP[b]) << b;
    EXPECT_EQ(run.regs[FLIGHT_REG_SEQ_B2_ORIGIN0 + b],
              100 * 3 + 1 + 1000 * wantSlot[b])
        << b;
  }
  const auto &in = h.device.memory(FLIGHT_MEM_HBM, h.spec.inputChannel);
  const int32_t rowTokens[] = {9, 4, 9};
  for (uint32_t b = 0; b < 3; ++b) {
    auto row = embeddingRow(h.spec, static_cast<uint32_t>(rowTokens[b]));
    EXPECT_TRUE(std::equal(row.begin(), row.end(),
                           in.begin() + static_cast<long>(h.spec.inputOffset +
                                                          b * h.spec.rowBytes)))
        << "input row " << b;
  }
  EXPECT_EQ(logits[3], FakeDevice::expectedLogit(1009, 5, 1, 3));
  for (uint32_t j = 0; j < h.spec.vocab; ++j)
    EXPECT_EQ(logits[h.spec.vocab + j], 0.25f * static_cast<float>(j)) << j;
  // Each sequence advanced; the others (and the selection) did not.
  const uint32_t want[] = {3, 5, 8, 0};
  for (uint32_t s = 0; s < 4; ++s) {
    ASSERT_EQ(flight_select_slot(h.rt, s), FLIGHT_OK);
    EXPECT_EQ(flight_context_length(h.rt), want[s]) << s;
  }
  // A single decode step is a batch of one on the selected slot.
  h.device.runs.clear();
  ASSERT_EQ(flight_select_slot(h.rt, 1), FLIGHT_OK);
  ASSERT_EQ(flight_decode_step(h.rt, 6, h.logits.data()), FLIGHT_OK)
      << h.error();
  ASSERT_EQ(h.device.runs.size(), 2u);
  EXPECT_EQ(h.device.runs[0].regs[FLIGHT_REG_SEQ_P0], 5u);
  EXPECT_EQ(h.device.runs[0].regs[FLIGHT_REG_SEQ_B2_ORIGIN0], 301u + 1000);
  EXPECT_EQ(flight_context_length(h.rt), 6u);
}

TEST(Runtime, BatchedDecodeErrors) {
  Harness h(batchedSpec());
  ASSERT_EQ(h.open(), FLIGHT_OK) << h.error();
  std::vector<float> logits(4 * h.spec.vocab);
  const int32_t tokens[] = {1, 2, 3, 4};
  const uint32_t twice[] = {1, 1}, outside[] = {4}, all[] = {0, 1, 2, 3};
  EXPECT_EQ(flight_decode_batch(h.rt, 2, tokens, twice, logits.data()),
            FLIGHT_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.error().find("both name KV-cache slot 1"), std::string::npos)
      << h.error();
  EXPECT_EQ(flight_decode_batch(h.rt, 1, tokens, outside, logits.data()),
            FLIGHT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(flight_decode_batch(h.rt, 4, tokens, all, logits.data()),
            FLIGHT_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.error().find("decodes 3 per run"), std::string::npos)
      << h.error();
  EXPECT_EQ(flight_decode_batch(h.rt, 0, tokens, all, logits.data()),
            FLIGHT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(flight_decode_batch(h.rt, 1, nullptr, all, logits.data()),
            FLIGHT_ERR_INVALID_ARGUMENT);
  const int32_t bad[] = {16};
  EXPECT_EQ(flight_decode_batch(h.rt, 1, bad, all, logits.data()),
            FLIGHT_ERR_BAD_TOKEN);
  EXPECT_TRUE(h.device.runs.empty());
  // Every slot but the active one full: no slot to pad the run with.
  for (uint32_t s = 1; s < 4; ++s) {
    prefillSlot(h, s, 8);
    for (uint32_t p = 8; p < 12; ++p)
      ASSERT_EQ(flight_decode_step(h.rt, 1, h.logits.data()), FLIGHT_OK)
          << h.error();
  }
  h.device.runs.clear();
  EXPECT_EQ(flight_decode_batch(h.rt, 1, tokens, all, logits.data()),
            FLIGHT_ERR_CONTEXT_FULL);
  EXPECT_NE(h.error().find("free KV-cache slot"), std::string::npos)
      << h.error();
  EXPECT_EQ(flight_decode_batch(h.rt, 1, tokens, all + 1, logits.data()),
            FLIGHT_ERR_CONTEXT_FULL);
  EXPECT_TRUE(h.device.runs.empty());
}

TEST(Runtime, DecodeBatchWithoutABatchedBinaryRunsInTurn) {
  ModelSpec spec;
  spec.kvSlots = 2;
  Harness h(spec);
  ASSERT_EQ(h.open(), FLIGHT_OK) << h.error();
  prefillSlot(h, 1, 3);
  h.device.runs.clear();
  const int32_t tokens[] = {5, 6};
  const uint32_t slots[] = {1, 0};
  std::vector<float> logits(2 * h.spec.vocab);
  ASSERT_EQ(flight_decode_batch(h.rt, 2, tokens, slots, logits.data()),
            FLIGHT_OK)
      << h.error();
  ASSERT_EQ(h.device.runs.size(), 4u); // two runs (layers) per sequence
  EXPECT_EQ(h.device.runs[0].regs[FLIGHT_REG_P], 3u);
  EXPECT_EQ(h.device.runs[2].regs[FLIGHT_REG_P], 0u);
  EXPECT_EQ(logits[1], FakeDevice::expectedLogit(1005, 3, 1, 1));
  EXPECT_EQ(logits[h.spec.vocab + 1], FakeDevice::expectedLogit(1006, 0, 1, 1));
  EXPECT_EQ(flight_context_length(h.rt), 4u); // slot 1 is still selected
}

TEST(Runtime, BatchedBinaryNeedsItsFlagAndSlots) {
  ModelSpec noFlag = batchedSpec();
  noFlag.batchedFlag = false;
  Harness a(noFlag);
  EXPECT_EQ(a.open(), FLIGHT_ERR_BAD_BINARY);
  EXPECT_NE(a.error().find("decode_batch"), std::string::npos) << a.error();
  ModelSpec fewSlots = batchedSpec();
  fewSlots.kvSlots = 2;
  Harness b(fewSlots);
  EXPECT_EQ(b.open(), FLIGHT_ERR_BAD_BINARY);
  EXPECT_NE(b.error().find("decode batch of 3 with 2 KV-cache slots"),
            std::string::npos)
      << b.error();
}

TEST(Runtime, NoBucket) {
  Harness h;
  ASSERT_EQ(h.open(), FLIGHT_OK) << h.error();
  std::vector<int32_t> prompt(13, 1);
  // 9-12 tokens: no prefill bucket (they end at 8).
  EXPECT_EQ(flight_prefill(h.rt, prompt.data(), 9, h.logits.data()),
            FLIGHT_ERR_NO_BUCKET);
  EXPECT_NE(h.error().find("prefill"), std::string::npos) << h.error();
  EXPECT_NE(h.error().find(" 9 "), std::string::npos) << h.error();
  // Above the maximum context.
  EXPECT_EQ(flight_prefill(h.rt, prompt.data(), 13, h.logits.data()),
            FLIGHT_ERR_CONTEXT_FULL);
  EXPECT_TRUE(h.device.runs.empty());
  EXPECT_EQ(flight_context_length(h.rt), 0u);

  ModelSpec gap;
  gap.decodeGap = true;
  Harness g(gap);
  ASSERT_EQ(g.open(), FLIGHT_OK) << g.error();
  ASSERT_EQ(flight_prefill(g.rt, prompt.data(), 8, g.logits.data()), FLIGHT_OK)
      << g.error();
  EXPECT_EQ(flight_decode_step(g.rt, 1, g.logits.data()), FLIGHT_ERR_NO_BUCKET);
  EXPECT_NE(g.error().find("decode"), std::string::npos) << g.error();
  EXPECT_NE(g.error().find(" 9 "), std::string::npos) << g.error();
  EXPECT_EQ(flight_context_length(g.rt), 8u);
}

TEST(Runtime, BadToken) {
  Harness h;
  ASSERT_EQ(h.open(), FLIGHT_OK) << h.error();
  const int32_t negative[] = {1, -1};
  EXPECT_EQ(flight_prefill(h.rt, negative, 2, h.logits.data()),
            FLIGHT_ERR_BAD_TOKEN);
  EXPECT_NE(h.error().find("-1"), std::string::npos) << h.error();
  const int32_t large[] = {16};
  EXPECT_EQ(flight_prefill(h.rt, large, 1, h.logits.data()),
            FLIGHT_ERR_BAD_TOKEN);
  EXPECT_NE(h.error().find("16"), std::string::npos) << h.error();
  EXPECT_EQ(flight_decode_step(h.rt, 0x7FFFFFFF, h.logits.data()),
            FLIGHT_ERR_BAD_TOKEN);
  EXPECT_EQ(flight_decode_step(h.rt, INT32_MIN, h.logits.data()),
            FLIGHT_ERR_BAD_TOKEN);
  EXPECT_TRUE(h.device.runs.empty());
  EXPECT_EQ(flight_context_length(h.rt), 0u);
}

TEST(Runtime, HalFailuresNameTheCall) {
  for (const char *call :
       {"mem_write", "mem_read", "reg_write", "reg_read", "run"}) {
    Harness h;
    ASSERT_EQ(h.open(), FLIGHT_OK) << h.error();
    // The second call, but a prefill reads the device once (its logits).
    h.device.failCall(call, std::string(call) == "mem_read" ? 0 : 1);
    const int32_t tokens[] = {2, 3};
    EXPECT_EQ(flight_prefill(h.rt, tokens, 2, h.logits.data()), FLIGHT_ERR_HAL)
        << call;
    EXPECT_NE(h.error().find(std::string("HAL ") + call), std::string::npos)
        << h.error();
    EXPECT_EQ(flight_context_length(h.rt), 0u) << call;
    // The runtime stays usable.
    ASSERT_EQ(flight_prefill(h.rt, tokens, 2, h.logits.data()), FLIGHT_OK)
        << h.error();
    EXPECT_EQ(flight_context_length(h.rt), 2u);
  }
  // At open: writing a stream or a weight image.
  for (int nth : {0, 4}) {
    Harness h;
    h.device.failCall("mem_write", nth);
    EXPECT_EQ(h.open(), FLIGHT_ERR_HAL);
    EXPECT_NE(h.error().find("mem_write"), std::string::npos) << h.error();
    EXPECT_EQ(flight_prefill(h.rt, nullptr, 0, nullptr), FLIGHT_ERR_STATE);
  }
}

TEST(Runtime, DeviceFault) {
  Harness h;
  ASSERT_EQ(h.open(), FLIGHT_OK) << h.error();
  h.device.faultRun(0x2A, 1); // the second run (L = 1)
  const int32_t tokens[] = {4};
  EXPECT_EQ(flight_prefill(h.rt, tokens, 1, h.logits.data()),
            FLIGHT_ERR_DEVICE_FAULT);
  EXPECT_NE(h.error().find("fault 42"), std::string::npos) << h.error();
  EXPECT_NE(h.error().find("L = 1"), std::string::npos) << h.error();
  EXPECT_EQ(h.device.runs.size(), 2u);
  EXPECT_EQ(flight_context_length(h.rt), 0u);
  EXPECT_EQ(flight_prefill(h.rt, tokens, 1, h.logits.data()), FLIGHT_OK)
      << h.error();
}

TEST(Runtime, Observer) {
  Harness h;
  ASSERT_EQ(h.open(), FLIGHT_OK) << h.error();
  struct Seen {
    uint32_t stage, bucket;
    uint64_t cycles;
  };
  std::vector<Seen> seen;
  flight_set_observer(
      h.rt,
      [](void *user, uint32_t stage, uint32_t bucketIndex, uint64_t cycles) {
        static_cast<std::vector<Seen> *>(user)->push_back(
            {stage, bucketIndex, cycles});
      },
      &seen);
  const int32_t tokens[] = {1, 2, 3, 4, 5};
  ASSERT_EQ(flight_prefill(h.rt, tokens, 5, h.logits.data()), FLIGHT_OK);
  ASSERT_EQ(flight_decode_step(h.rt, 1, h.logits.data()), FLIGHT_OK);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].stage, 0u);
  EXPECT_EQ(seen[0].bucket, 1u); // prefill 5-8
  EXPECT_EQ(seen[0].cycles, h.device.cyclesPerRun);
  EXPECT_EQ(seen[1].stage, 1u);
  EXPECT_EQ(seen[1].bucket, 2u); // decode 1-8
  flight_set_observer(h.rt, nullptr, nullptr);
  ASSERT_EQ(flight_decode_step(h.rt, 1, h.logits.data()), FLIGHT_OK);
  EXPECT_EQ(seen.size(), 3u);
}

TEST(Runtime, CloseAndStatusNames) {
  Harness h;
  ASSERT_EQ(h.open(), FLIGHT_OK);
  flight_close(h.rt);
  EXPECT_EQ(flight_context_length(h.rt), 0u);
  EXPECT_EQ(flight_reset(h.rt), FLIGHT_ERR_STATE);
  h.rt = nullptr;
  EXPECT_STREQ(flight_status_name(FLIGHT_OK), "ok");
  EXPECT_STREQ(flight_status_name(FLIGHT_ERR_BAD_BINARY), "bad-binary");
  EXPECT_STREQ(flight_status_name(FLIGHT_ERR_CONTEXT_FULL), "context-full");
  EXPECT_STREQ(flight_status_name(FLIGHT_ERR_STATE), "state");
  EXPECT_STREQ(flight_status_name(-1), "unknown");
  EXPECT_EQ(flightRuntimeCApiCompilesAsC(), 0);
}

//===----------------------------------------------------------------------===//
// Corrupted and adversarial binaries
//===----------------------------------------------------------------------===//

/// flight_open on a guarded copy of `bytes` (an out-of-bounds read faults).
int openGuarded(const std::vector<uint8_t> &bytes, FakeDevice &device,
                std::vector<uint8_t> &arena, flight_runtime *&rt) {
  GuardedBuffer guarded(bytes.data(), bytes.size());
  int status = flight_open(&rt, arena.data(), arena.size(), guarded.data(),
                           bytes.size(), &device.hal, 0, 0);
  flight_close(rt);
  rt = nullptr;
  return status;
}

TEST(RuntimeCorruption, EveryTruncationIsRefused) {
  Harness h;
  for (size_t length = 0; length < h.flb.size(); ++length) {
    std::vector<uint8_t> cut(h.flb.begin(),
                             h.flb.begin() + static_cast<long>(length));
    EXPECT_EQ(openGuarded(cut, h.device, h.arena, h.rt), FLIGHT_ERR_BAD_BINARY)
        << "length " << length;
  }
  EXPECT_EQ(openGuarded(h.flb, h.device, h.arena, h.rt), FLIGHT_OK);
}

TEST(RuntimeCorruption, EverySingleByteFlipIsRefused) {
  Harness h;
  // Every byte is covered by the header or the file checksum.
  for (size_t i = 0; i < h.flb.size(); ++i)
    for (uint8_t mask : {0x01, 0x80, 0xFF}) {
      std::vector<uint8_t> bad = h.flb;
      bad[i] ^= mask;
      EXPECT_EQ(openGuarded(bad, h.device, h.arena, h.rt),
                FLIGHT_ERR_BAD_BINARY)
          << "byte " << i << " ^ " << int(mask);
    }
}

/// Drives an opened runtime through every kind of request; nothing may
/// crash or touch memory outside the arena, the binary or the buffers.
void exercise(flight_runtime *rt) {
  flight_model_info info;
  if (flight_model(rt, &info) != FLIGHT_OK)
    return;
  // The caller's side of the contract: a logits buffer of vocab_size floats
  // (the fake device's channels hold at most 16384).
  if (info.vocab_size > FakeDevice::kChannelBytes / 4)
    return;
  std::vector<float> logits(info.vocab_size);
  std::vector<int32_t> prompt(16);
  for (size_t i = 0; i < prompt.size(); ++i)
    prompt[i] = static_cast<int32_t>(i % info.vocab_size);
  for (uint32_t n : {1u, 4u, 5u, 8u, 16u}) {
    flight_reset(rt);
    flight_prefill(rt, prompt.data(), n, logits.data());
    for (int step = 0; step < 6; ++step)
      flight_decode_step(rt, 1, logits.data());
  }
  (void)flight_last_error(rt);
}

TEST(RuntimeCorruption, ResealedFieldMutationsNeverCrash) {
  // Mutate the fields the runtime interprets (header, section table,
  // metadata, buckets, device map), fix every checksum so that the change
  // reaches the structural and semantic checks, and run whatever opens.
  // Half the runs lack the EmbeddingTable section (refused at open).
  for (bool withSection : {false, true}) {
  ModelSpec spec;
  spec.embeddingSection = withSection;
  Harness h(spec);
  BinaryView view;
  Error err;
  ASSERT_EQ(view.open(h.flb.data(), h.flb.size(), err), Status::Ok);
  std::vector<std::pair<uint64_t, uint64_t>> regions = {
      {0, 64}, {64, 32ull * view.sectionCount()}};
  for (uint32_t kind : {1u, 2u, kDeviceMapKind}) {
    SectionEntry s;
    ASSERT_TRUE(view.findSection(kind, 0, s)) << kind;
    regions.push_back({s.offset, s.size});
  }
  std::mt19937 rng(2024);
  const uint32_t values[] = {0,          1,          2,          7,
                             8,          12,         16,         64,
                             0x7FFF,     0xFFFF,     0x10000,    0x7FFFFFFF,
                             0x80000000, 0xFFFFFFFE, 0xFFFFFFFF, 2047};
  int opened = 0, tried = 0;
  for (auto [offset, size] : regions)
    for (uint64_t at = offset; at + 4 <= offset + size; at += 4)
      for (uint32_t v : values) {
        std::vector<uint8_t> bad = h.flb;
        writeU32(bad.data() + at, v);
        if (at >= 56 && at < 64)
          continue; // the checksums themselves
        reseal(bad);
        FakeDevice device(layoutOf(h.spec));
        flight_runtime *rt = nullptr;
        GuardedBuffer guarded(bad.data(), bad.size());
        ++tried;
        int status = flight_open(&rt, h.arena.data(), h.arena.size(),
                                 guarded.data(), bad.size(), &device.hal, 0, 0);
        EXPECT_NE(flight_last_error(rt), nullptr);
        if (status == FLIGHT_OK) {
          ++opened;
          exercise(rt);
        }
        flight_close(rt);
      }
  // Random multi-byte damage, resealed.
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<uint8_t> bad = h.flb;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      auto [offset, size] = regions[rng() % regions.size()];
      if (size == 0)
        continue;
      bad[offset + rng() % size] = static_cast<uint8_t>(rng());
    }
    reseal(bad);
    FakeDevice device(layoutOf(h.spec));
    flight_runtime *rt = nullptr;
    GuardedBuffer guarded(bad.data(), bad.size());
    ++tried;
    if (flight_open(&rt, h.arena.data(), h.arena.size(), guarded.data(),
                    bad.size(), &device.hal, 0, 0) == FLIGHT_OK) {
      ++opened;
      exercise(rt);
    }
    flight_close(rt);
  }
  if (withSection) {
    EXPECT_GT(opened, 0) << "some mutations are harmless";
  }
  EXPECT_LT(opened, tried);
  }
}

} // namespace
