//===- BinaryValidatorTest.cpp - validate() on broken .flb files ----------===//
//
// Every input here is read from a buffer whose neighbouring page is
// inaccessible (GuardedBuffer), so a read outside the file crashes the test.
//===----------------------------------------------------------------------===//

#include "BinaryTestUtil.h"

#include <iterator>
#include <random>
#include <tuple>

using namespace flightllm::binary;
using namespace flightllm::binary::test;

namespace {

namespace ho = header_offset;
namespace so = section_offset;

/// The file offset of field `field` of section-table entry `i`.
uint64_t entryField(const std::vector<uint8_t> &f, uint32_t i, size_t field) {
  FileHeader h = FileHeader::decode(f.data());
  return h.sectionTableOffset + uint64_t(i) * h.sectionEntrySize + field;
}

/// The section-table position of the section (kind, index).
uint32_t entryOf(const std::vector<uint8_t> &f, SectionKind kind,
                 uint32_t index = 0) {
  FileHeader h = FileHeader::decode(f.data());
  for (uint32_t i = 0; i < h.sectionCount; ++i) {
    SectionEntry s = SectionEntry::decode(f.data() + entryField(f, i, 0));
    if (s.kind == static_cast<uint32_t>(kind) && s.index == index)
      return i;
  }
  ADD_FAILURE() << "no such section";
  return 0;
}

SectionEntry entry(const std::vector<uint8_t> &f, uint32_t i) {
  return SectionEntry::decode(f.data() + entryField(f, i, 0));
}

/// Validates a guarded copy and expects `status` at `offset`.
void expectError(const std::vector<uint8_t> &f, Status status, uint64_t offset,
                 const ValidateOptions &options = {}) {
  Error err;
  EXPECT_EQ(validateGuarded(f, err, options), status)
      << "got " << statusName(err.status) << ": " << err.message << " at "
      << err.offset;
  EXPECT_EQ(err.status, status);
  EXPECT_EQ(err.offset, offset) << err.message;
  EXPECT_NE(err.message, nullptr);
}

TEST(BinaryValidator, AcceptsTheWritersOutput) {
  std::vector<uint8_t> f = smallBinary();
  Error err;
  EXPECT_EQ(validateGuarded(f, err), Status::Ok) << err.message;
  EXPECT_EQ(err.status, Status::Ok);
}

TEST(BinaryValidator, EveryTruncationFails) {
  const std::vector<uint8_t> f = smallBinary();
  for (size_t n = 0; n < f.size(); ++n) {
    std::vector<uint8_t> cut(f.begin(), f.begin() + n);
    Error err;
    EXPECT_EQ(validateGuarded(cut, err), Status::Truncated) << "length " << n;
    EXPECT_EQ(err.offset, n);
  }
  expectError({}, Status::Truncated, 0);
}

TEST(BinaryValidator, EveryByteFlipFails) {
  const std::vector<uint8_t> f = smallBinary();
  for (size_t at = 0; at < f.size(); ++at) {
    for (uint8_t mask : {0x01, 0x80, 0xFF}) {
      std::vector<uint8_t> bad = f;
      bad[at] ^= mask;
      Error err;
      EXPECT_NE(validateGuarded(bad, err), Status::Ok)
          << "byte " << at << " ^ " << int(mask);
    }
  }
}

TEST(BinaryValidator, ChecksumErrorsPointAtTheDamage) {
  const std::vector<uint8_t> f = smallBinary();
  std::vector<uint8_t> bad = f;
  bad[ho::TargetFingerprint] ^= 1;
  expectError(bad, Status::HeaderChecksum, ho::HeaderChecksum);

  bad = f;
  bad[kHeaderSize + 3] ^= 1; // inside the section table
  expectError(bad, Status::SectionTableChecksum, kHeaderSize);

  // A byte of stream 1, and a byte of padding between sections.
  SectionEntry stream1 =
      entry(f, entryOf(f, SectionKind::InstructionStream, 1));
  bad = f;
  bad[stream1.offset + 2] ^= 0x10;
  expectError(bad, Status::SectionChecksum, stream1.offset);
  ValidateOptions noSections;
  noSections.checkSectionChecksums = false;
  expectError(bad, Status::FileChecksum, ho::FileChecksum, noSections);
  ValidateOptions structural = noSections;
  structural.checkFileChecksum = false;
  Error err;
  EXPECT_EQ(validateGuarded(bad, err, structural), Status::Ok);

  bad = f;
  bad[stream1.offset + stream1.size] ^= 0x10;
  expectError(bad, Status::FileChecksum, ho::FileChecksum);
  EXPECT_EQ(validateGuarded(bad, err, structural), Status::Ok);
}

TEST(BinaryValidator, HeaderRules) {
  const std::vector<uint8_t> f = smallBinary();
  std::vector<uint8_t> bad = f;
  bad[3] = 'X';
  expectError(bad, Status::BadMagic, 3);

  bad = f;
  writeU16(bad.data(), ho::VersionMajor, 2);
  reseal(bad);
  expectError(bad, Status::UnsupportedVersion, ho::VersionMajor);

  // A newer minor version and unknown optional flags are fine.
  bad = f;
  writeU16(bad.data(), ho::VersionMinor, 9);
  writeU32(bad.data(), ho::Flags, 0x0000FFFFu);
  reseal(bad);
  Error err;
  EXPECT_EQ(validateGuarded(bad, err), Status::Ok) << err.message;
  // Bit 16 is the multi-core flag, bits 17 and 18 are 1.2's pipeline flags,
  // bit 19 1.3's batched flag, bit 20 1.4's 4-bit KV cache, bit 21 1.5's
  // DDR weights; an unknown
  // required bit is refused.
  writeU32(bad.data(), ho::Flags, kFlagPipelineStage | kFlagSystem);
  reseal(bad);
  EXPECT_EQ(validateGuarded(bad, err), Status::Ok) << err.message;
  EXPECT_EQ(kFlagBatched, 0x00080000u);
  writeU32(bad.data(), ho::Flags, kFlagKV4Cache);
  reseal(bad);
  EXPECT_EQ(validateGuarded(bad, err), Status::Ok) << err.message;
  // Bit 21: 1.5's weights in DDR.
  EXPECT_EQ(kFlagDDRWeights, 0x00200000u);
  writeU32(bad.data(), ho::Flags, kFlagDDRWeights);
  reseal(bad);
  EXPECT_EQ(validateGuarded(bad, err), Status::Ok) << err.message;
  writeU32(bad.data(), ho::Flags, 0x00400000u);
  reseal(bad);
  expectError(bad, Status::UnsupportedFlags, ho::Flags);

  for (uint32_t size : {0u, 60u, 68u}) {
    bad = f;
    writeU32(bad.data(), ho::HeaderSize, size);
    reseal(bad);
    expectError(bad, Status::BadHeader, ho::HeaderSize);
  }
  bad = f;
  writeU32(bad.data(), ho::HeaderSize, 0xFFFFFFF8u);
  reseal(bad);
  expectError(bad, Status::Truncated, bad.size());

  // The header may grow (a later minor version): then it covers the table.
  bad = f;
  writeU32(bad.data(), ho::HeaderSize, 72);
  reseal(bad);
  expectError(bad, Status::BadSectionTable, ho::SectionTableOffset);

  bad = f;
  bad.push_back(0);
  reseal(bad);
  expectError(bad, Status::BadHeader, f.size());
  bad = f;
  writeU64(bad.data(), ho::FileSize, f.size() + 1);
  reseal(bad);
  expectError(bad, Status::Truncated, f.size());
}

TEST(BinaryValidator, TargetFingerprint) {
  const std::vector<uint8_t> f = smallBinary();
  Error err;
  EXPECT_EQ(validate(f.data(), f.size(), err, kFingerprint), Status::Ok);
  EXPECT_EQ(validate(f.data(), f.size(), err, kFingerprint + 1),
            Status::TargetMismatch);
  EXPECT_EQ(err.offset, ho::TargetFingerprint);
}

TEST(BinaryValidator, SectionTableRules) {
  const std::vector<uint8_t> f = smallBinary();
  struct Case {
    size_t field;
    uint64_t value;
    bool wide;
    Status status;
    uint64_t offset;
  };
  const Case cases[] = {
      {ho::SectionCount, 0xFFFFFFFFu, false, Status::BadSectionTable,
       ho::SectionTableOffset},
      {ho::SectionTableOffset, 0xFFFFFFFFFFFFFFF8ull, true,
       Status::BadSectionTable, ho::SectionTableOffset},
      {ho::SectionTableOffset, 68, true, Status::BadSectionTable,
       ho::SectionTableOffset},
      {ho::SectionTableOffset, 0, true, Status::BadSectionTable,
       ho::SectionTableOffset},
      {ho::SectionEntrySize, 24, false, Status::BadSectionTable,
       ho::SectionEntrySize},
      {ho::SectionEntrySize, 36, false, Status::BadSectionTable,
       ho::SectionEntrySize},
      {ho::SectionEntrySize, 0x80000000u, false, Status::BadSectionTable,
       ho::SectionTableOffset},
  };
  for (const Case &c : cases) {
    std::vector<uint8_t> bad = f;
    if (c.wide)
      writeU64(bad.data(), c.field, c.value);
    else
      writeU32(bad.data(), c.field, static_cast<uint32_t>(c.value));
    reseal(bad);
    SCOPED_TRACE("field " + std::to_string(c.field));
    expectError(bad, c.status, c.offset);
  }
}

TEST(BinaryValidator, SectionPlacementRules) {
  const std::vector<uint8_t> f = smallBinary();
  const uint32_t last = FileHeader::decode(f.data()).sectionCount - 1;
  const uint32_t stream0 = entryOf(f, SectionKind::InstructionStream, 0);
  auto mutate = [&](uint32_t i, size_t field, uint64_t value, bool wide) {
    std::vector<uint8_t> bad = f;
    if (wide)
      writeU64(bad.data(), entryField(f, i, field), value);
    else
      writeU32(bad.data(), entryField(f, i, field),
               static_cast<uint32_t>(value));
    reseal(bad);
    return bad;
  };

  // offset + size overflows 64 bits.
  expectError(mutate(last, so::Offset, 0xFFFFFFFFFFFFFFC0ull, true),
              Status::SectionOutOfBounds, entryField(f, last, so::Size));
  expectError(mutate(last, so::Size, 0xFFFFFFFFFFFFFFFFull, true),
              Status::SectionOutOfBounds, entryField(f, last, so::Size));
  expectError(mutate(last, so::Size, f.size(), true),
              Status::SectionOutOfBounds, entryField(f, last, so::Size));
  // Over the header, over the table, over the previous section.
  expectError(mutate(0, so::Offset, 0, true), Status::SectionOutOfBounds,
              entryField(f, 0, so::Offset));
  expectError(mutate(0, so::Offset, kHeaderSize, true), Status::SectionOverlap,
              entryField(f, 0, so::Offset));
  expectError(mutate(stream0, so::Offset, entry(f, stream0 - 1).offset, true),
              Status::SectionOverlap, entryField(f, stream0, so::Offset));
  expectError(mutate(stream0 - 1, so::Size, 100, true), Status::SectionOverlap,
              entryField(f, stream0, so::Offset));
  // Alignment.
  expectError(mutate(stream0, so::Alignment, 3, false),
              Status::SectionMisaligned, entryField(f, stream0, so::Alignment));
  expectError(mutate(stream0, so::Alignment, 0, false),
              Status::SectionMisaligned, entryField(f, stream0, so::Alignment));
  expectError(mutate(stream0, so::Alignment, 4096, false),
              Status::SectionMisaligned, entryField(f, stream0, so::Offset));
  expectError(mutate(stream0, so::Offset, entry(f, stream0).offset + 4, true),
              Status::SectionMisaligned, entryField(f, stream0, so::Offset));
  // Order: a repeated key, a decreasing key.
  expectError(mutate(stream0 + 1, so::Index, 0, false), Status::SectionOrder,
              entryField(f, stream0 + 1, so::Kind));
  expectError(mutate(1, so::Kind, 9, false), Status::SectionOrder,
              entryField(f, 2, so::Kind));
}

TEST(BinaryValidator, SectionContentRules) {
  const std::vector<uint8_t> f = smallBinary();
  auto sectionOf = [&](SectionKind kind) { return entry(f, entryOf(f, kind)); };
  auto patch32 = [&](uint64_t at, uint32_t value) {
    std::vector<uint8_t> bad = f;
    writeU32(bad.data(), at, value);
    reseal(bad);
    return bad;
  };

  SectionEntry meta = sectionOf(SectionKind::ModelMetadata);
  expectError(patch32(meta.offset + metadata_offset::Name, 1000),
              Status::BadMetadata, meta.offset + metadata_offset::Name);
  std::vector<uint8_t> bad = f;
  writeU64(bad.data(),
           entryField(f, entryOf(f, SectionKind::ModelMetadata), so::Size), 8);
  reseal(bad);
  expectError(bad, Status::BadMetadata, meta.offset);

  SectionEntry buckets = sectionOf(SectionKind::BucketTable);
  const uint64_t firstBucket = buckets.offset + kTableHeaderSize;
  const uint64_t secondBucket = firstBucket + kBucketEntrySize;
  expectError(patch32(buckets.offset + table_offset::Count, 0xFFFFFFFFu),
              Status::BadBucketTable, buckets.offset + table_offset::Count);
  expectError(patch32(buckets.offset + table_offset::EntrySize, 8),
              Status::BadBucketTable, buckets.offset + table_offset::EntrySize);
  expectError(patch32(firstBucket + bucket_offset::StreamId, 7),
              Status::BadBucketTable, firstBucket + bucket_offset::StreamId);
  expectError(patch32(firstBucket + bucket_offset::MinLength, 17),
              Status::BadBucketTable, firstBucket + bucket_offset::MinLength);
  expectError(patch32(firstBucket + bucket_offset::MinLength, 0),
              Status::BadBucketTable, firstBucket + bucket_offset::MinLength);
  expectError(patch32(firstBucket + bucket_offset::RepeatCount, 0),
              Status::BadBucketTable, firstBucket + bucket_offset::RepeatCount);
  expectError(patch32(firstBucket + bucket_offset::Stage, 5),
              Status::BadBucketTable, firstBucket + bucket_offset::Stage);
  // Decode 1-16 made 1-17 overlaps decode 17-32.
  expectError(patch32(secondBucket + bucket_offset::MaxLength, 17),
              Status::BadBucketTable,
              secondBucket + kBucketEntrySize + bucket_offset::MinLength);
  // Prefill after decode.
  expectError(patch32(firstBucket + bucket_offset::Stage, 1),
              Status::BadBucketTable, secondBucket + bucket_offset::MinLength);

  SectionEntry strings = sectionOf(SectionKind::StringTable);
  bad = f;
  bad[strings.offset + strings.size - 1] = 'x';
  reseal(bad);
  expectError(bad, Status::BadStringTable, strings.offset + strings.size - 1);
  bad = f;
  bad[strings.offset] = 'x';
  reseal(bad);
  expectError(bad, Status::BadStringTable, strings.offset);

  SectionEntry quant = sectionOf(SectionKind::QuantParams);
  expectError(patch32(quant.offset + kTableHeaderSize + quant_offset::Name,
                      strings.size),
              Status::BadQuantParams,
              quant.offset + kTableHeaderSize + quant_offset::Name);
  expectError(patch32(quant.offset + table_offset::Count, 2),
              Status::BadQuantParams, quant.offset + table_offset::Count);

  const uint32_t stream0 = entryOf(f, SectionKind::InstructionStream, 0);
  bad = f;
  writeU64(bad.data(), entryField(f, stream0, so::Size), 11);
  reseal(bad);
  expectError(bad, Status::BadStream, entry(f, stream0).offset);
}

TEST(BinaryValidator, DeviceMapRules) {
  // A device map section of `bytes` at index `index` next to the small
  // binary's sections.
  auto withMap = [](std::vector<uint8_t> bytes, uint32_t index = 0) {
    BinaryWriter w(kFingerprint);
    fillSmallBinary(w);
    w.addRawSection(static_cast<uint32_t>(SectionKind::DeviceMap), index,
                    bytes);
    auto f = w.writeToBuffer();
    EXPECT_TRUE(static_cast<bool>(f));
    return f ? *f : std::vector<uint8_t>();
  };
  std::vector<uint8_t> good(kDeviceMapSize);
  sampleDeviceMap().encode(good.data());
  std::vector<uint8_t> f = withMap(good);
  Error err;
  ASSERT_EQ(validateGuarded(f, err), Status::Ok) << err.message;
  const SectionEntry map = entry(f, entryOf(f, SectionKind::DeviceMap));

  // Exactly 64 bytes: shorter and longer are rejected at the section.
  for (size_t size : {size_t(0), size_t(48), size_t(60), size_t(68),
                      size_t(128)}) {
    std::vector<uint8_t> bytes = good;
    bytes.resize(size);
    std::vector<uint8_t> bad = withMap(bytes);
    expectError(bad, Status::BadDeviceMap,
                entry(bad, entryOf(bad, SectionKind::DeviceMap)).offset);
    EXPECT_STREQ(statusName(Status::BadDeviceMap), "bad-device-map");
  }

  // Every channel field must be below 64.
  namespace dmo = device_map_offset;
  for (size_t field : {dmo::EmbedChannel, dmo::InputChannel,
                       dmo::LogitsChannel, dmo::StreamDDRChannel}) {
    for (uint32_t channel : {64u, 0xFFFFFFFFu}) {
      std::vector<uint8_t> bad = f;
      writeU32(bad.data(), map.offset + field, channel);
      reseal(bad);
      expectError(bad, Status::BadDeviceMap, map.offset + field);
    }
    std::vector<uint8_t> ok = f;
    writeU32(ok.data(), map.offset + field, 63);
    reseal(ok);
    EXPECT_EQ(validateGuarded(ok, err), Status::Ok) << err.message;
  }
  // Offsets and sizes are not checked.
  std::vector<uint8_t> odd = f;
  writeU32(odd.data(), map.offset + dmo::LogitsOffsetUnits, 0xFFFFFFFFu);
  reseal(odd);
  EXPECT_EQ(validateGuarded(odd, err), Status::Ok) << err.message;
  // decode_batch (1.3): 2-16 with the batched header flag, 0 without.
  for (uint32_t batch : {1u, 2u, 17u}) {
    std::vector<uint8_t> bad = f;
    writeU32(bad.data(), map.offset + dmo::DecodeBatch, batch);
    reseal(bad);
    expectError(bad, Status::BadDeviceMap, map.offset + dmo::DecodeBatch);
  }

  // Other indices are reserved for later versions and skipped.
  std::vector<uint8_t> other = withMap({1, 2, 3}, 1);
  EXPECT_EQ(validateGuarded(other, err), Status::Ok) << err.message;
  BinaryView view;
  ASSERT_EQ(view.open(other.data(), other.size(), err), Status::Ok);
  DeviceMap read;
  EXPECT_FALSE(view.deviceMap(read));
}

TEST(BinaryValidator, DDRWeightsRules) {
  // The writer's DDR image: header with the load offset, the flag, 1.5.
  BinaryWriter w(kFingerprint);
  fillSmallBinary(w);
  const std::vector<uint8_t> image = {9, 8, 7, 6, 5};
  w.addDDRWeightImage(1, 4096, image);
  auto written = w.writeToBuffer();
  ASSERT_TRUE(static_cast<bool>(written));
  std::vector<uint8_t> f = *written;
  Error err;
  ASSERT_EQ(validateGuarded(f, err), Status::Ok) << err.message;
  FileHeader h = FileHeader::decode(f.data());
  EXPECT_EQ(h.versionMinor, kVersionMinorDDRWeights);
  EXPECT_NE(h.flags & kFlagDDRWeights, 0u);
  const SectionEntry ddr = entry(f, entryOf(f, SectionKind::DDRWeights, 1));
  ASSERT_EQ(ddr.size, kDDRWeightsHeaderSize + image.size());
  EXPECT_EQ(readU64(f.data(), ddr.offset + ddr_weights_offset::LoadOffset),
            4096u);
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + ddr.offset + kDDRWeightsHeaderSize,
                                 f.begin() + ddr.offset + ddr.size),
            image);
  EXPECT_STREQ(sectionKindName(uint32_t(SectionKind::DDRWeights)),
               "ddr_weights");
  EXPECT_STREQ(statusName(Status::BadDDRWeights), "bad-ddr-weights");

  // A misaligned load offset, a section without the flag, one shorter than
  // its header, a channel beyond 63: bad-ddr-weights at the section.
  std::vector<uint8_t> misaligned = f;
  writeU64(misaligned.data(), ddr.offset + ddr_weights_offset::LoadOffset,
           4097);
  reseal(misaligned);
  expectError(misaligned, Status::BadDDRWeights, ddr.offset);
  auto raw = [](std::vector<uint8_t> bytes, uint32_t index, bool flag) {
    BinaryWriter w(kFingerprint);
    fillSmallBinary(w);
    w.addRawSection(static_cast<uint32_t>(SectionKind::DDRWeights), index,
                    bytes);
    if (flag)
      w.addFlags(kFlagDDRWeights);
    auto f = w.writeToBuffer();
    EXPECT_TRUE(static_cast<bool>(f));
    return f ? *f : std::vector<uint8_t>();
  };
  std::vector<uint8_t> header(kDDRWeightsHeaderSize, 0);
  for (auto [bytes, index, flag] :
       {std::make_tuple(header, 0u, false),
        std::make_tuple(std::vector<uint8_t>(32, 0), 0u, true),
        std::make_tuple(header, 64u, true)}) {
    std::vector<uint8_t> bad = raw(bytes, index, flag);
    expectError(bad, Status::BadDDRWeights,
                entry(bad, entryOf(bad, SectionKind::DDRWeights, index)).offset);
  }
  EXPECT_EQ(validateGuarded(raw(header, 0, true), err), Status::Ok)
      << err.message;
}

/// Forward compatibility: a hand-built file of a later minor version with a
/// longer header, longer section entries and a longer bucket record.
TEST(BinaryValidator, ModelSectionsByVersion) {
  ValidateOptions model;
  model.requireModelSections = true;
  // The container rules alone accept a binary without a device map or an
  // embedding table; a 1.1 model binary needs both.
  std::vector<uint8_t> f = smallBinary();
  Error err;
  EXPECT_EQ(validateGuarded(f, err), Status::Ok) << err.message;
  expectError(f, Status::MissingSection, header_offset::SectionCount, model);
  EXPECT_STREQ(statusName(Status::MissingSection), "missing-section");
  validateGuarded(f, err, model);
  EXPECT_STREQ(err.message,
               "model binary of version 1.1 or later has no device map");

  BinaryWriter w(kFingerprint);
  fillSmallBinary(w);
  w.setDeviceMap(sampleDeviceMap());
  auto mapped = w.writeToBuffer();
  ASSERT_TRUE(static_cast<bool>(mapped));
  expectError(*mapped, Status::MissingSection, header_offset::SectionCount,
              model);
  validateGuarded(*mapped, err, model);
  EXPECT_STREQ(err.message,
               "model binary of version 1.1 or later has no embedding table");
  const std::vector<uint8_t> table(50 * 128, 0); // vocab x row
  w.addRawSection(static_cast<uint32_t>(SectionKind::EmbeddingTable), 0, table);
  auto complete = w.writeToBuffer();
  ASSERT_TRUE(static_cast<bool>(complete));
  EXPECT_EQ(validateGuarded(*complete, err, model), Status::Ok) << err.message;

  // Version 1.0 had neither section: its model binaries need the others.
  std::vector<uint8_t> old = smallBinary();
  writeU16(old.data(), header_offset::VersionMinor, 0);
  reseal(old);
  EXPECT_EQ(validateGuarded(old, err, model), Status::Ok) << err.message;
  // Without its weight images (the last kind of the small binary, renamed
  // to unknown kinds 100 and 101 and resealed: only the required-section
  // rule can tell).
  std::vector<uint8_t> noWeights = old;
  uint32_t renamed = 100;
  for (uint32_t i = 0; i < FileHeader::decode(old.data()).sectionCount; ++i)
    if (entry(old, i).kind == static_cast<uint32_t>(SectionKind::WeightImage))
      writeU32(noWeights.data(), entryField(old, i, section_offset::Kind),
               renamed++);
  reseal(noWeights);
  ASSERT_EQ(renamed, 102u);
  ASSERT_EQ(validateGuarded(noWeights, err), Status::Ok) << err.message;
  expectError(noWeights, Status::MissingSection, header_offset::SectionCount,
              model);
  validateGuarded(noWeights, err, model);
  EXPECT_STREQ(err.message, "model binary has no weight image");
}

TEST(BinaryValidator, AcceptsLongerRecordsOfALaterMinorVersion) {
  const uint32_t headerSize = 80, entrySize = 40, bucketSize = 56;
  std::vector<uint8_t> f(512, 0);
  FileHeader h;
  h.versionMinor = 3;
  h.headerSize = headerSize;
  h.sectionEntrySize = entrySize;
  h.sectionCount = 2;
  h.sectionTableOffset = headerSize;
  h.fileSize = f.size();
  h.encode(f.data());
  f[64] = 0xAB; // an extension field of the header

  const uint64_t bucketsAt = 192, streamAt = 320;
  SectionEntry b;
  b.kind = static_cast<uint32_t>(SectionKind::BucketTable);
  b.offset = bucketsAt;
  b.size = kTableHeaderSize + bucketSize;
  b.encode(f.data() + headerSize);
  SectionEntry s;
  s.kind = static_cast<uint32_t>(SectionKind::InstructionStream);
  s.index = 4;
  s.offset = streamAt;
  s.size = 8;
  s.encode(f.data() + headerSize + entrySize);
  encodeTableHeader(f.data() + bucketsAt, 1, bucketSize);
  BucketEntry bucket;
  bucket.minLength = 1;
  bucket.maxLength = 128;
  bucket.streamId = 4;
  bucket.encode(f.data() + bucketsAt + kTableHeaderSize);
  writeU32(f.data(), streamAt, 0x12345678u);
  reseal(f);

  BinaryView view;
  Error err;
  ASSERT_EQ(view.open(f.data(), f.size(), err), Status::Ok) << err.message;
  BucketEntry found;
  ASSERT_TRUE(view.findBucket(Stage::Prefill, 100, found));
  EXPECT_EQ(found.streamId, 4u);
  StreamRef stream;
  ASSERT_TRUE(view.stream(4, stream));
  EXPECT_EQ(stream.word(0), 0x12345678u);

  // The header checksum covers the extension.
  f[64] ^= 1;
  expectError(f, Status::HeaderChecksum, ho::HeaderChecksum);
}

/// Random damage to the header, the section table and the record tables,
/// resealed so that it reaches the structural checks: never a crash, and a
/// file the validator accepts is one its accessors can walk.
TEST(BinaryValidator, SurvivesResealedRandomDamage) {
  const std::vector<uint8_t> f = smallBinary();
  const FileHeader h = FileHeader::decode(f.data());
  const uint64_t tableEnd =
      h.sectionTableOffset + uint64_t(h.sectionCount) * h.sectionEntrySize;
  const SectionEntry quant = entry(f, entryOf(f, SectionKind::QuantParams));
  std::mt19937_64 rng(12345);
  const uint64_t interesting[] = {0,
                                  1,
                                  3,
                                  4,
                                  63,
                                  64,
                                  0xFF,
                                  0xFFFF,
                                  0x7FFFFFFF,
                                  0xFFFFFFFF,
                                  0xFFFFFFFFFFFFFFFFull,
                                  0x8000000000000000ull,
                                  f.size(),
                                  f.size() - 1};
  int accepted = 0;
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::vector<uint8_t> bad = f;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      // Mostly the header and table, sometimes the record tables.
      uint64_t limit = rng() % 4 == 0 ? quant.offset + quant.size : tableEnd;
      uint64_t at = rng() % limit;
      if (rng() % 2) {
        uint64_t value = interesting[rng() % std::size(interesting)];
        at &= ~uint64_t(3);
        if (at + 8 <= bad.size() && rng() % 2)
          writeU64(bad.data(), at, value);
        else
          writeU32(bad.data(), at, static_cast<uint32_t>(value));
      } else {
        bad[at] = static_cast<uint8_t>(rng());
      }
    }
    // Keep the magic most of the time so the damage gets further.
    if (rng() % 8 != 0)
      std::memcpy(bad.data(), kMagic, sizeof(kMagic));
    reseal(bad);
    GuardedBuffer guarded(bad.data(), bad.size());
    BinaryView view;
    Error err;
    if (view.open(guarded.data(), bad.size(), err) != Status::Ok) {
      ASSERT_NE(err.message, nullptr);
      ASSERT_LE(err.offset, bad.size());
      continue;
    }
    ++accepted;
    // Walk everything the accessors offer.
    for (uint32_t i = 0; i < view.sectionCount(); ++i) {
      SectionEntry s = view.section(i);
      if (s.size > 0) {
        volatile uint8_t last = view.sectionData(s)[s.size - 1];
        (void)last;
      }
    }
    ModelMetadata meta;
    if (view.metadata(meta)) {
      ASSERT_NE(view.string(meta.name), nullptr);
    }
    BucketEntry b;
    for (uint32_t i = 0; i < view.bucketCount(); ++i) {
      ASSERT_TRUE(view.bucket(i, b));
      StreamRef s;
      ASSERT_TRUE(view.stream(b.streamId, s));
      if (s.wordCount > 0) {
        volatile uint32_t word = s.word(s.wordCount - 1);
        (void)word;
      }
      BucketEntry again;
      ASSERT_TRUE(
          view.findBucket(static_cast<Stage>(b.stage), b.maxLength, again));
    }
    QuantRecord q;
    for (uint32_t i = 0; i < view.quantCount(); ++i) {
      ASSERT_TRUE(view.quantRecord(i, q));
      ASSERT_NE(view.string(q.name), nullptr);
    }
  }
  // Some damage is harmless (reserved bytes, the fingerprint, lengths).
  EXPECT_GT(accepted, 0);
}

} // namespace
