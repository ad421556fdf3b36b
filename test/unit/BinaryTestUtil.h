//===- BinaryTestUtil.h - Helpers of the .flb unit tests --------*- C++ -*-===//

#ifndef FLIGHTLLM_TEST_UNIT_BINARYTESTUTIL_H
#define FLIGHTLLM_TEST_UNIT_BINARYTESTUTIL_H

#include "flightllm/Binary/Reader.h"
#include "flightllm/Binary/Writer.h"

#include "gtest/gtest.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace flightllm::binary::test {

inline constexpr uint64_t kFingerprint = 0xF11647A4C0DE0001ull;

/// The metadata of the small binary, named by string-table offset `name`.
inline ModelMetadata smallMetadata(uint32_t name) {
  ModelMetadata meta;
  meta.name = name;
  meta.family = static_cast<uint32_t>(ModelFamily::GPT2);
  meta.numLayers = 2;
  meta.hiddenSize = 32;
  meta.numHeads = 2;
  meta.numKVHeads = 2;
  meta.headDim = 16;
  meta.vocabSize = 50;
  meta.maxContext = 32;
  meta.prefillBucketWidth = 16;
  meta.decodeBucketWidth = 16;
  return meta;
}

/// A small binary with every section kind: metadata, 3 buckets over 2
/// streams, strings, one quant record, 2 weight channels (odd sizes).
inline void fillSmallBinary(BinaryWriter &w) {
  w.setMetadata(smallMetadata(w.addString("small")));
  w.takeStream(0, {0x11111111u, 0x22222222u, 0x33333333u});
  w.takeStream(1, {0xAABBCCDDu});
  BucketEntry b;
  b.stage = static_cast<uint16_t>(Stage::Prefill);
  b.minLength = 1;
  b.maxLength = 16;
  b.streamId = 0;
  w.addBucket(b);
  b.stage = static_cast<uint16_t>(Stage::Decode);
  b.streamId = 1;
  w.addBucket(b);
  b.minLength = 17;
  b.maxLength = 32;
  w.addBucket(b);
  QuantRecord q;
  q.name = w.addString("w0");
  q.count = 3;
  w.addQuantParam(q);
  w.takeWeightImage(0, {1, 2, 3, 4, 5});
  w.takeWeightImage(3, {9, 8, 7});
}

/// A device map whose fields all differ (channels below 64).
inline DeviceMap sampleDeviceMap() {
  DeviceMap d;
  d.embedChannel = 3;
  d.embedOffsetUnits = 0x100;
  d.embedRowBytes = 128;
  d.vocab = 50;
  d.hiddenSize = 32;
  d.inputChannel = 4;
  d.inputOffsetUnits = 0x200;
  d.inputRows = 16;
  d.logitsChannel = 63;
  d.logitsOffsetUnits = 0x300;
  d.logitsCount = 50;
  d.streamDDRChannel = 0;
  return d;
}

inline std::vector<uint8_t> smallBinary() {
  BinaryWriter w(kFingerprint);
  fillSmallBinary(w);
  auto bytes = w.writeToBuffer();
  EXPECT_TRUE(static_cast<bool>(bytes));
  return bytes ? *bytes : std::vector<uint8_t>();
}

/// Recomputes every checksum whose bytes are inside the file (section table,
/// sections, file, header), so that a deliberately broken field reaches the
/// structural checks instead of failing a checksum.
inline void reseal(std::vector<uint8_t> &f) {
  if (f.size() < kHeaderSize)
    return;
  namespace ho = header_offset;
  FileHeader h = FileHeader::decode(f.data());
  const uint64_t size = f.size();
  const uint64_t tableSize = uint64_t(h.sectionCount) * h.sectionEntrySize;
  if (h.sectionEntrySize >= kSectionEntrySize && h.sectionTableOffset <= size &&
      tableSize <= size - h.sectionTableOffset) {
    for (uint32_t i = 0; i < h.sectionCount; ++i) {
      uint8_t *e =
          f.data() + h.sectionTableOffset + uint64_t(i) * h.sectionEntrySize;
      SectionEntry s = SectionEntry::decode(e);
      if (s.offset <= size && s.size <= size - s.offset)
        writeU32(e, section_offset::Checksum,
                 crc32c(f.data() + s.offset, s.size));
    }
    writeU32(f.data(), ho::SectionTableChecksum,
             crc32c(f.data() + h.sectionTableOffset, tableSize));
  }
  writeU32(f.data(), ho::FileChecksum, fileChecksum(f.data(), size));
  uint32_t headerSize = h.headerSize;
  if (headerSize < kHeaderSize || headerSize > size)
    headerSize = kHeaderSize;
  writeU32(f.data(), ho::HeaderChecksum, headerChecksum(f.data(), headerSize));
}

/// Holds a copy of some bytes so that the byte after the last one (or the one
/// before the first) is on an inaccessible page: an out-of-bounds read
/// crashes the test instead of going unnoticed.
class GuardedBuffer {
public:
  enum class Guard { After, Before };
  GuardedBuffer(const uint8_t *data, size_t size, Guard guard = Guard::After) {
    page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    dataPages = (size + page - 1) / page;
    length = (dataPages + 1) * page;
    void *m = mmap(nullptr, length, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(m, MAP_FAILED);
    base = static_cast<uint8_t *>(m);
    if (guard == Guard::After) {
      mprotect(base + dataPages * page, page, PROT_NONE);
      start = base + dataPages * page - size;
    } else {
      mprotect(base, page, PROT_NONE);
      start = base + page;
    }
    if (size > 0)
      std::memcpy(start, data, size);
  }
  ~GuardedBuffer() { munmap(base, length); }
  GuardedBuffer(const GuardedBuffer &) = delete;
  GuardedBuffer &operator=(const GuardedBuffer &) = delete;
  const uint8_t *data() const { return start; }

private:
  size_t page = 0, dataPages = 0, length = 0;
  uint8_t *base = nullptr;
  uint8_t *start = nullptr;
};

/// validate() on a guarded copy of `bytes`.
inline Status validateGuarded(const std::vector<uint8_t> &bytes, Error &err,
                              const ValidateOptions &options = {}) {
  GuardedBuffer after(bytes.data(), bytes.size());
  Status status = validate(after.data(), bytes.size(), err, options);
  GuardedBuffer before(bytes.data(), bytes.size(),
                       GuardedBuffer::Guard::Before);
  Error again;
  EXPECT_EQ(validate(before.data(), bytes.size(), again, options), status);
  return status;
}

} // namespace flightllm::binary::test

#endif // FLIGHTLLM_TEST_UNIT_BINARYTESTUTIL_H
