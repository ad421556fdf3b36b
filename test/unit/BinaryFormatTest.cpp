//===- BinaryFormatTest.cpp - .flb codecs, checksum and writer ------------===//

#include "BinaryTestUtil.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <iterator>
#include <string>

using namespace flightllm::binary;
using namespace flightllm::binary::test;

namespace {

std::vector<uint8_t> bytesOf(const char *s) {
  return std::vector<uint8_t>(s, s + std::strlen(s));
}

TEST(BinaryFormat, Crc32cKnownValues) {
  // The check value of the CRC catalogue and the RFC 3720 (iSCSI) vectors.
  auto digits = bytesOf("123456789");
  EXPECT_EQ(crc32c(digits.data(), digits.size()), 0xE3069283u);
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF), ramp(32);
  for (size_t i = 0; i < ramp.size(); ++i)
    ramp[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  EXPECT_EQ(crc32c(ramp.data(), ramp.size()), 0x46DD794Eu);
  EXPECT_EQ(crc32cZeros(32), 0x8A9136AAu);
}

TEST(BinaryFormat, Crc32cChains) {
  auto text = bytesOf("FlightLLM binary container, chained in pieces");
  const uint32_t whole = crc32c(text.data(), text.size());
  for (size_t cut = 0; cut <= text.size(); ++cut)
    EXPECT_EQ(
        crc32c(text.data() + cut, text.size() - cut, crc32c(text.data(), cut)),
        whole);
  std::vector<uint8_t> zeros(40, 0);
  EXPECT_EQ(crc32cZeros(40, 0x1234u), crc32c(zeros.data(), 40, 0x1234u));
}

TEST(BinaryFormat, Crc32cMatchesTheBitwiseDefinition) {
  // The polynomial division bit by bit, as docs/binary-format.md states it.
  auto reference = [](const uint8_t *p, size_t n) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; ++i) {
      crc ^= p[i];
      for (int bit = 0; bit < 8; ++bit)
        crc = (crc >> 1) ^ ((crc & 1u) ? 0x82F63B78u : 0u);
    }
    return ~crc;
  };
  std::vector<uint8_t> bytes(300);
  uint32_t seed = 7;
  for (uint8_t &b : bytes) {
    seed = seed * 1103515245u + 12345u;
    b = static_cast<uint8_t>(seed >> 16);
  }
  // Every length up to 64 at every start alignment, and a long run.
  for (size_t start = 0; start < 8; ++start)
    for (size_t n = 0; n <= 64; ++n)
      ASSERT_EQ(crc32c(bytes.data() + start, n),
                reference(bytes.data() + start, n))
          << "start " << start << " length " << n;
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()),
            reference(bytes.data(), bytes.size()));
}

TEST(BinaryFormat, LittleEndianHelpers) {
  uint8_t b[8] = {};
  writeU16(b, 0x1234);
  EXPECT_EQ(b[0], 0x34);
  EXPECT_EQ(b[1], 0x12);
  writeU32(b, 0x89ABCDEFu);
  EXPECT_EQ(b[0], 0xEF);
  EXPECT_EQ(b[3], 0x89);
  writeU64(b, 0x0102030405060708ull);
  EXPECT_EQ(b[0], 0x08);
  EXPECT_EQ(b[7], 0x01);
  EXPECT_EQ(readU64(b), 0x0102030405060708ull);
  EXPECT_EQ(readU32(b, 4), 0x01020304u);
  EXPECT_EQ(readU16(b, 6), 0x0102u);
  writeU32(b, 2, 0xDEADBEEFu);
  EXPECT_EQ(readU32(b + 2), 0xDEADBEEFu);
}

TEST(BinaryFormat, RecordsUseTheDocumentedOffsets) {
  uint8_t h[kHeaderSize] = {};
  FileHeader header;
  header.sectionCount = 7;
  header.targetFingerprint = 0x1122334455667788ull;
  header.sectionTableOffset = 64;
  header.fileSize = 4096;
  header.encode(h);
  EXPECT_EQ(0, std::memcmp(h,
                           "\x89"
                           "FLB\r\n\x1A\n",
                           8));
  EXPECT_EQ(readU16(h, 8), kVersionMajor);
  EXPECT_EQ(readU32(h, 12), 64u);
  EXPECT_EQ(readU32(h, 20), 7u);
  EXPECT_EQ(readU64(h, 24), 0x1122334455667788ull);
  EXPECT_EQ(readU64(h, 40), 4096u);
  EXPECT_EQ(readU32(h, 48), 32u);
  EXPECT_EQ(FileHeader::decode(h).fileSize, 4096u);

  uint8_t e[kBucketEntrySize];
  BucketEntry b;
  b.stage = 1;
  b.minLength = 17;
  b.maxLength = 32;
  b.streamId = 9;
  b.repeatCount = 32;
  b.baseOrigin[0] = 0x1000;
  b.baseOrigin[2] = 0x3000;
  b.baseStride[1] = 0x40;
  b.baseStride[2] = 0x50;
  b.encode(e);
  EXPECT_EQ(readU16(e, 0), 1u);
  EXPECT_EQ(readU32(e, 4), 17u);
  EXPECT_EQ(readU32(e, 12), 9u);
  EXPECT_EQ(readU32(e, 16), 32u);
  EXPECT_EQ(readU32(e, 24), 0x1000u);
  EXPECT_EQ(readU32(e, 32), 0x3000u);
  EXPECT_EQ(readU32(e, 40), 0x40u);
  EXPECT_EQ(readU32(e, 44), 0x50u);
  BucketEntry back = BucketEntry::decode(e);
  EXPECT_EQ(back.maxLength, 32u);
  EXPECT_EQ(back.baseOrigin[2], 0x3000u);
  EXPECT_EQ(back.baseStride[1], 0x40u);
  EXPECT_EQ(back.baseStride[0], 0u);

  uint8_t m[kModelMetadataSize];
  ModelMetadata meta;
  meta.numLayers = 32;
  meta.vocabSize = 32000;
  meta.kvPrecision = static_cast<uint16_t>(Precision::F16);
  meta.name = 5;
  meta.encode(m);
  EXPECT_EQ(readU32(m, 4), 32u);
  EXPECT_EQ(readU32(m, 28), 32000u);
  EXPECT_EQ(readU16(m, 48), 2u);
  EXPECT_EQ(readU32(m, 52), 5u);
  EXPECT_EQ(ModelMetadata::decode(m).vocabSize, 32000u);

  uint8_t q[kQuantRecordSize];
  QuantRecord r;
  r.groupSize = 64;
  r.offset = 0x100000000ull;
  r.encode(q);
  EXPECT_EQ(readU32(q, 8), 64u);
  EXPECT_EQ(readU64(q, 24), 0x100000000ull);
  EXPECT_EQ(QuantRecord::decode(q).offset, 0x100000000ull);
}

TEST(BinaryFormat, DeviceMapUsesTheDocumentedOffsets) {
  uint8_t d[kDeviceMapSize];
  for (uint8_t &byte : d)
    byte = 0xEE; // encode writes every byte
  DeviceMap map = sampleDeviceMap();
  map.encode(d);
  const uint32_t expected[] = {3, 0x100, 128, 50, 32, 4, 0x200, 16,
                               63, 0x300, 50, 0};
  for (size_t i = 0; i < std::size(expected); ++i)
    EXPECT_EQ(readU32(d, 4 * i), expected[i]) << "field " << i;
  for (size_t at = device_map_offset::DecodeBatch; at < kDeviceMapSize; ++at)
    EXPECT_EQ(d[at], 0) << "decode batch byte " << at;
  EXPECT_EQ(device_map_offset::StreamDDRChannel, 44u);
  // 1.2's pipeline-stage fields, zero for a single card.
  for (size_t at = device_map_offset::StageFlags; at < kDeviceMapSize; ++at)
    EXPECT_EQ(d[at], 0) << "stage byte " << at;
  EXPECT_EQ(device_map_offset::StageFlags, 48u);
  EXPECT_EQ(device_map_offset::OutputChannel, 52u);
  EXPECT_EQ(device_map_offset::OutputOffsetUnits, 56u);
  EXPECT_EQ(device_map_offset::DecodeBatch, 60u); // 1.3, 0 unless batched
  map.stageFlags = kStageHiddenInput | kStageHiddenOutput;
  map.outputChannel = 7;
  map.outputOffsetUnits = 0x400;
  map.encode(d);
  EXPECT_EQ(readU32(d, 48), 3u);
  EXPECT_EQ(readU32(d, 52), 7u);
  EXPECT_EQ(readU32(d, 56), 0x400u);
  EXPECT_EQ(DeviceMap::decode(d).outputOffsetUnits, 0x400u);
  map.stageFlags = map.outputChannel = map.outputOffsetUnits = 0;
  map.encode(d);

  DeviceMap back = DeviceMap::decode(d);
  EXPECT_EQ(back.embedChannel, 3u);
  EXPECT_EQ(back.embedOffsetUnits, 0x100u);
  EXPECT_EQ(back.embedRowBytes, 128u);
  EXPECT_EQ(back.vocab, 50u);
  EXPECT_EQ(back.hiddenSize, 32u);
  EXPECT_EQ(back.inputChannel, 4u);
  EXPECT_EQ(back.inputOffsetUnits, 0x200u);
  EXPECT_EQ(back.inputRows, 16u);
  EXPECT_EQ(back.logitsChannel, 63u);
  EXPECT_EQ(back.logitsOffsetUnits, 0x300u);
  EXPECT_EQ(back.logitsCount, 50u);
  EXPECT_EQ(back.streamDDRChannel, 0u);
  EXPECT_EQ(static_cast<uint32_t>(SectionKind::DeviceMap), 7u);
  EXPECT_STREQ(sectionKindName(7), "devicemap");
  EXPECT_EQ(kVersionMajor, 1u);
  EXPECT_EQ(kVersionMinor, 5u);
  EXPECT_EQ(kVersionMinorSingleCard, 1u);
}

TEST(BinaryWriter, DeviceMapRoundTrips) {
  BinaryWriter w(kFingerprint);
  fillSmallBinary(w);
  w.setDeviceMap(sampleDeviceMap());
  auto f = w.writeToBuffer();
  ASSERT_TRUE(static_cast<bool>(f));
  BinaryView view;
  Error err;
  ASSERT_EQ(view.open(f->data(), f->size(), err), Status::Ok) << err.message;
  // No pipeline flags: stamped 1.1 (single-card files stay byte-identical).
  EXPECT_EQ(view.header().versionMinor, kVersionMinorSingleCard);
  // The last section: kind 7 sorts after the weight images.
  ASSERT_EQ(view.sectionCount(), 9u);
  SectionEntry s = view.section(8);
  EXPECT_EQ(s.kind, 7u);
  EXPECT_EQ(s.index, 0u);
  EXPECT_EQ(s.size, kDeviceMapSize);
  DeviceMap map;
  ASSERT_TRUE(view.deviceMap(map));
  uint8_t expected[kDeviceMapSize];
  sampleDeviceMap().encode(expected);
  EXPECT_EQ(0, std::memcmp(view.sectionData(s), expected, kDeviceMapSize));
  EXPECT_EQ(map.logitsChannel, 63u);
  EXPECT_EQ(map.inputOffsetUnits, 0x200u);
  EXPECT_EQ(map.embedRowBytes, 128u);

  // The same bytes as a raw section: the writer's record is the documented
  // one.
  BinaryWriter raw(kFingerprint);
  fillSmallBinary(raw);
  std::vector<uint8_t> bytes(expected, expected + kDeviceMapSize);
  raw.addRawSection(7, 0, bytes);
  auto g = raw.writeToBuffer();
  ASSERT_TRUE(static_cast<bool>(g));
  EXPECT_EQ(*g, *f);

  // Without one, deviceMap() says so.
  std::vector<uint8_t> small = smallBinary();
  ASSERT_EQ(view.open(small.data(), small.size(), err), Status::Ok);
  EXPECT_FALSE(view.deviceMap(map));
}

TEST(BinaryWriter, LaysOutSortedAlignedSections) {
  std::vector<uint8_t> f = smallBinary();
  Error err;
  ASSERT_EQ(validate(f.data(), f.size(), err), Status::Ok) << err.message;
  FileHeader h = FileHeader::decode(f.data());
  EXPECT_EQ(h.fileSize, f.size());
  EXPECT_EQ(f.size() % kDefaultAlignment, 0u);
  EXPECT_EQ(h.sectionTableOffset, kHeaderSize);
  EXPECT_EQ(h.targetFingerprint, kFingerprint);
  // metadata, buckets, strings, quant, stream 0, stream 1, weights 0 and 3.
  ASSERT_EQ(h.sectionCount, 8u);
  const uint32_t expected[][2] = {{1, 0}, {2, 0}, {3, 0}, {4, 0},
                                  {5, 0}, {5, 1}, {6, 0}, {6, 3}};
  BinaryView view;
  ASSERT_EQ(view.open(f.data(), f.size(), err), Status::Ok);
  uint64_t end = kHeaderSize + 8 * kSectionEntrySize;
  for (uint32_t i = 0; i < h.sectionCount; ++i) {
    SectionEntry s = view.section(i);
    EXPECT_EQ(s.kind, expected[i][0]);
    EXPECT_EQ(s.index, expected[i][1]);
    EXPECT_EQ(s.alignment, 64u);
    EXPECT_EQ(s.offset % 64, 0u);
    EXPECT_GE(s.offset, end);
    // Gaps are zero.
    for (uint64_t at = end; at < s.offset; ++at)
      EXPECT_EQ(f[at], 0) << "at " << at;
    end = s.offset + s.size;
  }
  for (uint64_t at = end; at < f.size(); ++at)
    EXPECT_EQ(f[at], 0) << "at " << at;
}

TEST(BinaryWriter, AccessorsReadBackWhatWasAdded) {
  std::vector<uint8_t> f = smallBinary();
  BinaryView view;
  Error err;
  ASSERT_EQ(view.open(f.data(), f.size(), err), Status::Ok) << err.message;

  ModelMetadata meta;
  ASSERT_TRUE(view.metadata(meta));
  EXPECT_EQ(meta.family, static_cast<uint32_t>(ModelFamily::GPT2));
  EXPECT_EQ(meta.hiddenSize, 32u);
  EXPECT_STREQ(view.string(meta.name), "small");
  EXPECT_STREQ(view.string(0), "");
  EXPECT_EQ(view.string(100000), nullptr);

  ASSERT_EQ(view.bucketCount(), 3u);
  BucketEntry b;
  ASSERT_TRUE(view.bucket(2, b));
  EXPECT_EQ(b.minLength, 17u);
  EXPECT_FALSE(view.bucket(3, b));
  ASSERT_TRUE(view.findBucket(Stage::Prefill, 5, b));
  EXPECT_EQ(b.streamId, 0u);
  ASSERT_TRUE(view.findBucket(Stage::Decode, 16, b));
  EXPECT_EQ(b.maxLength, 16u);
  ASSERT_TRUE(view.findBucket(Stage::Decode, 20, b));
  EXPECT_EQ(b.minLength, 17u);
  EXPECT_FALSE(view.findBucket(Stage::Decode, 33, b));
  EXPECT_FALSE(view.findBucket(Stage::Decode, 0, b));
  EXPECT_FALSE(view.findBucket(Stage::Prefill, 17, b));

  StreamRef stream;
  ASSERT_TRUE(view.stream(0, stream));
  ASSERT_EQ(stream.wordCount, 3u);
  EXPECT_EQ(stream.word(2), 0x33333333u);
  EXPECT_FALSE(view.stream(2, stream));

  SectionEntry weights;
  ASSERT_TRUE(view.weightImage(3, weights));
  ASSERT_EQ(weights.size, 3u);
  EXPECT_EQ(view.sectionData(weights)[0], 9);
  EXPECT_FALSE(view.weightImage(1, weights));

  ASSERT_EQ(view.quantCount(), 1u);
  QuantRecord q;
  ASSERT_TRUE(view.quantRecord(0, q));
  EXPECT_STREQ(view.string(q.name), "w0");
  EXPECT_EQ(q.count, 3u);
}

TEST(BinaryWriter, IsDeterministicAndOrderIndependent) {
  std::vector<uint8_t> first = smallBinary();
  EXPECT_EQ(smallBinary(), first);

  // The same content added in another order.
  BinaryWriter w(kFingerprint);
  const uint32_t small = w.addString("small");
  w.takeWeightImage(3, {9, 8, 7});
  w.takeStream(1, {0xAABBCCDDu});
  BucketEntry b;
  b.stage = static_cast<uint16_t>(Stage::Decode);
  b.minLength = 17;
  b.maxLength = 32;
  b.streamId = 1;
  w.addBucket(b);
  b.minLength = 1;
  b.maxLength = 16;
  w.addBucket(b);
  b.stage = static_cast<uint16_t>(Stage::Prefill);
  b.streamId = 0;
  w.addBucket(b);
  w.takeWeightImage(0, {1, 2, 3, 4, 5});
  QuantRecord q;
  q.name = w.addString("w0");
  q.count = 3;
  w.addQuantParam(q);
  std::vector<uint32_t> stream0 = {0x11111111u, 0x22222222u, 0x33333333u};
  w.addStream(0, stream0);
  w.setMetadata(smallMetadata(small));
  auto second = w.writeToBuffer();
  ASSERT_TRUE(static_cast<bool>(second));
  EXPECT_EQ(*second, first);
  // A writer can write again.
  auto third = w.writeToBuffer();
  ASSERT_TRUE(static_cast<bool>(third));
  EXPECT_EQ(*third, first);
}

TEST(BinaryWriter, StreamsLargerThanOneChunk) {
  std::vector<uint32_t> words(10007);
  for (size_t i = 0; i < words.size(); ++i)
    words[i] = static_cast<uint32_t>(i * 2654435761u);
  BinaryWriter w;
  w.addStream(4, words);
  auto f = w.writeToBuffer();
  ASSERT_TRUE(static_cast<bool>(f));
  BinaryView view;
  Error err;
  ASSERT_EQ(view.open(f->data(), f->size(), err), Status::Ok) << err.message;
  StreamRef s;
  ASSERT_TRUE(view.stream(4, s));
  ASSERT_EQ(s.wordCount, words.size());
  for (size_t i = 0; i < words.size(); i += 997)
    EXPECT_EQ(s.word(i), words[i]);
  EXPECT_EQ(s.word(words.size() - 1), words.back());
}

TEST(BinaryWriter, EmptyBinaryAndUnknownKinds) {
  BinaryWriter empty(7);
  auto f = empty.writeToBuffer();
  ASSERT_TRUE(static_cast<bool>(f));
  EXPECT_EQ(f->size(), kHeaderSize);
  Error err;
  BinaryView view;
  ASSERT_EQ(view.open(f->data(), f->size(), err), Status::Ok) << err.message;
  ModelMetadata meta;
  EXPECT_FALSE(view.metadata(meta));
  EXPECT_EQ(view.bucketCount(), 0u);
  EXPECT_EQ(view.quantCount(), 0u);
  EXPECT_EQ(view.string(1), nullptr);

  // A kind this reader does not know (a later minor version) is skipped;
  // so are non-zero indices of the one-per-file kinds.
  std::vector<uint8_t> blob = {1, 2, 3};
  BinaryWriter w;
  w.addRawSection(77, 5, blob);
  w.addRawSection(static_cast<uint32_t>(SectionKind::ModelMetadata), 1, blob);
  f = w.writeToBuffer();
  ASSERT_TRUE(static_cast<bool>(f));
  ASSERT_EQ(view.open(f->data(), f->size(), err), Status::Ok) << err.message;
  SectionEntry s;
  ASSERT_TRUE(view.findSection(77, 5, s));
  EXPECT_EQ(s.size, 3u);
  EXPECT_FALSE(view.metadata(meta));
}

TEST(BinaryWriter, RejectsInconsistentInput) {
  auto message = [](const BinaryWriter &w) {
    auto f = w.writeToBuffer();
    return f ? std::string("(no error)") : llvm::toString(f.takeError());
  };
  {
    BinaryWriter w;
    w.takeStream(1, {1});
    w.takeStream(1, {2});
    EXPECT_EQ(message(w), "section stream:1 was added twice");
  }
  {
    BinaryWriter w;
    BucketEntry b;
    b.minLength = 1;
    b.maxLength = 128;
    b.streamId = 3;
    w.addBucket(b);
    EXPECT_EQ(message(w), "bucket prefill 1-128: no instruction stream 3");
    w.takeStream(3, {});
    b.minLength = 128;
    b.maxLength = 256;
    w.addBucket(b);
    EXPECT_EQ(message(w),
              "bucket prefill 128-256 overlaps the bucket starting at 1");
  }
  // One bucket over stream 0.
  auto oneBucket = [&](uint16_t stage, uint32_t lo, uint32_t hi,
                       uint32_t repeat) {
    BinaryWriter w;
    w.takeStream(0, {});
    BucketEntry b;
    b.stage = stage;
    b.minLength = lo;
    b.maxLength = hi;
    b.repeatCount = repeat;
    w.addBucket(b);
    return message(w);
  };
  EXPECT_EQ(oneBucket(0, 1, 16, 1), "(no error)");
  EXPECT_EQ(oneBucket(1, 0, 16, 1),
            "bucket decode 0-16: the length range is empty or starts at 0");
  EXPECT_EQ(oneBucket(0, 9, 8, 1),
            "bucket prefill 9-8: the length range is empty or starts at 0");
  EXPECT_EQ(oneBucket(0, 1, 16, 0), "bucket prefill 1-16: repeat count 0");
  EXPECT_EQ(oneBucket(2, 1, 16, 1), "bucket with unknown stage 2");
  {
    BinaryWriter w;
    ModelMetadata meta;
    meta.name = 3;
    w.setMetadata(meta);
    EXPECT_EQ(message(w), "model name is not an offset returned by addString");
  }
}

TEST(BinaryWriter, MultiCoreBuckets) {
  // A bucket on three cores names streams 4, 5, 6; the writer sets the
  // required multi-core flag and the reader finds every core's stream.
  auto build = [](uint32_t cores, bool withLast) {
    BinaryWriter w;
    w.takeStream(4, {1});
    w.takeStream(5, {2});
    if (withLast)
      w.takeStream(6, {3});
    BucketEntry b;
    b.minLength = 1;
    b.maxLength = 128;
    b.streamId = 4;
    b.cores = cores;
    w.addBucket(b);
    return w.writeToBuffer();
  };
  auto f = build(3, true);
  ASSERT_TRUE(static_cast<bool>(f)) << llvm::toString(f.takeError());
  BinaryView view;
  Error err;
  ASSERT_EQ(view.open(f->data(), f->size(), err), Status::Ok) << err.message;
  EXPECT_EQ(view.header().flags, kFlagMultiCore);
  BucketEntry b;
  ASSERT_TRUE(view.bucket(0, b));
  EXPECT_EQ(b.cores, 3u);
  EXPECT_EQ(b.coreCount(), 3u);
  SectionEntry first;
  EXPECT_TRUE(view.findStreams(b, first));
  EXPECT_EQ(first.index, 4u);

  auto message = [](llvm::Expected<std::vector<uint8_t>> r) {
    return r ? std::string("(no error)") : llvm::toString(r.takeError());
  };
  EXPECT_EQ(message(build(3, false)),
            "bucket prefill 1-128: no instruction stream 6");
  EXPECT_EQ(message(build(1, true)),
            "bucket prefill 1-128: 1 cores (0 for one, or 2 to 64)");
  EXPECT_EQ(message(build(65, true)),
            "bucket prefill 1-128: 65 cores (0 for one, or 2 to 64)");

  // A reader refuses a bucket on several cores without the flag (resealed:
  // the checksums match, only the rule fails).
  std::vector<uint8_t> bytes = *f;
  writeU32(bytes.data(), header_offset::Flags, 0);
  reseal(bytes);
  EXPECT_EQ(view.open(bytes.data(), bytes.size(), err),
            Status::BadBucketTable);
  EXPECT_NE(std::string(err.message).find("multi-core header flag"),
            std::string::npos)
      << err.message;
}

TEST(BinaryWriter, RejectsDeviceMapChannelsOutOfRange) {
  auto message = [](const DeviceMap &map) {
    BinaryWriter w;
    w.setDeviceMap(map);
    auto f = w.writeToBuffer();
    return f ? std::string("(no error)") : llvm::toString(f.takeError());
  };
  DeviceMap map = sampleDeviceMap();
  EXPECT_EQ(message(map), "(no error)");
  map.embedChannel = 64;
  EXPECT_EQ(message(map), "device map: embedding channel 64 is not below 64");
  map = sampleDeviceMap();
  map.inputChannel = 1000;
  EXPECT_EQ(message(map), "device map: input channel 1000 is not below 64");
  map = sampleDeviceMap();
  map.logitsChannel = 64;
  EXPECT_EQ(message(map), "device map: logits channel 64 is not below 64");
  map = sampleDeviceMap();
  map.streamDDRChannel = 0xFFFFFFFFu;
  EXPECT_EQ(message(map),
            "device map: stream DDR channel 4294967295 is not below 64");
  // A raw section of the same kind and index is a repeated section.
  BinaryWriter w;
  w.setDeviceMap(sampleDeviceMap());
  std::vector<uint8_t> bytes(kDeviceMapSize);
  w.addRawSection(7, 0, bytes);
  auto f = w.writeToBuffer();
  ASSERT_FALSE(static_cast<bool>(f));
  EXPECT_EQ(llvm::toString(f.takeError()),
            "section devicemap:0 was added twice");
}

TEST(BinaryWriter, WritesAfterExistingStreamContents) {
  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream os(buffer);
  os << "prefix";
  BinaryWriter w(kFingerprint);
  fillSmallBinary(w);
  ASSERT_FALSE(static_cast<bool>(w.writeTo(os)));
  std::vector<uint8_t> f(buffer.begin() + 6, buffer.end());
  EXPECT_EQ(f, smallBinary());
}

TEST(BinaryWriter, WriteFileIsAtomic) {
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("flb-test", dir));
  llvm::SmallString<128> path(dir);
  llvm::sys::path::append(path, "model.flb");

  BinaryWriter w(kFingerprint);
  fillSmallBinary(w);
  ASSERT_FALSE(static_cast<bool>(w.writeFile(path)));
  auto read = [&]() {
    auto buffer = llvm::MemoryBuffer::getFile(path);
    EXPECT_TRUE(static_cast<bool>(buffer));
    llvm::StringRef s = (*buffer)->getBuffer();
    return std::vector<uint8_t>(s.begin(), s.end());
  };
  EXPECT_EQ(read(), smallBinary());

  // A failing write leaves the previous file as it was and no temporary.
  BinaryWriter bad;
  bad.takeStream(0, {1});
  bad.takeStream(0, {1});
  llvm::Error e = bad.writeFile(path);
  EXPECT_TRUE(static_cast<bool>(e));
  llvm::consumeError(std::move(e));
  EXPECT_EQ(read(), smallBinary());
  std::error_code ec;
  int entries = 0;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec))
    ++entries;
  EXPECT_EQ(entries, 1);

  // An unwritable place is an error naming the file.
  llvm::SmallString<128> missing(dir);
  llvm::sys::path::append(missing, "no-such-dir", "x.flb");
  e = w.writeFile(missing);
  ASSERT_TRUE(static_cast<bool>(e));
  EXPECT_NE(llvm::toString(std::move(e)).find("x.flb"), std::string::npos);

  llvm::sys::fs::remove(path);
  llvm::sys::fs::remove(dir);
}

} // namespace
