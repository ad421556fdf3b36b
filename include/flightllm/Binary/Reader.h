//===- Reader.h - Validating and reading .flb binaries ----------*- C++ -*-===//
//
// The runtime's entry point into a FlightLLM binary: `validate` checks every
// structural rule of docs/binary-format.md and the checksums without reading a
// byte outside [data, data + size); `BinaryView` is a validated file with
// accessors for sections, the model metadata, buckets, streams and strings.
//
// Freestanding like Format.h (no exceptions, RTTI, heap or library calls), and
// header-only so that the embedded runtime can take it as is.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_BINARY_READER_H
#define FLIGHTLLM_BINARY_READER_H

#include "flightllm/Binary/Format.h"

namespace flightllm::binary {

enum class Status : uint32_t {
  Ok = 0,
  Truncated, // shorter than the header or than its file size
  BadMagic,
  UnsupportedVersion, // a major version this reader does not know
  BadHeader,          // header or entry size, trailing bytes
  HeaderChecksum,
  UnsupportedFlags, // a required flag this reader does not know
  TargetMismatch,   // fingerprint differs from the expected one
  BadSectionTable,  // table misplaced or outside the file
  SectionTableChecksum,
  SectionOutOfBounds, // a section outside the file or over the header
  SectionMisaligned,  // bad alignment value or offset not a multiple of it
  SectionOverlap,     // overlaps the section table or the previous section
  SectionOrder,       // entries not strictly sorted by (kind, index)
  SectionChecksum,
  FileChecksum,
  BadMetadata,
  BadBucketTable,
  BadStringTable,
  BadQuantParams,
  BadStream,
  BadDeviceMap, // since 1.1
  MissingSection, // a model binary lacks a section its version requires
  BadDDRWeights,  // since 1.5
};

/// A short stable name of a status ("ok", "truncated", ...).
inline const char *statusName(Status status) {
  switch (status) {
  case Status::Ok:
    return "ok";
  case Status::Truncated:
    return "truncated";
  case Status::BadMagic:
    return "bad-magic";
  case Status::UnsupportedVersion:
    return "unsupported-version";
  case Status::BadHeader:
    return "bad-header";
  case Status::HeaderChecksum:
    return "header-checksum";
  case Status::UnsupportedFlags:
    return "unsupported-flags";
  case Status::TargetMismatch:
    return "target-mismatch";
  case Status::BadSectionTable:
    return "bad-section-table";
  case Status::SectionTableChecksum:
    return "section-table-checksum";
  case Status::SectionOutOfBounds:
    return "section-out-of-bounds";
  case Status::SectionMisaligned:
    return "section-misaligned";
  case Status::SectionOverlap:
    return "section-overlap";
  case Status::SectionOrder:
    return "section-order";
  case Status::SectionChecksum:
    return "section-checksum";
  case Status::FileChecksum:
    return "file-checksum";
  case Status::BadMetadata:
    return "bad-metadata";
  case Status::BadBucketTable:
    return "bad-bucket-table";
  case Status::BadStringTable:
    return "bad-string-table";
  case Status::BadQuantParams:
    return "bad-quant-params";
  case Status::BadStream:
    return "bad-stream";
  case Status::BadDeviceMap:
    return "bad-device-map";
  case Status::MissingSection:
    return "missing-section";
  case Status::BadDDRWeights:
    return "bad-ddr-weights";
  }
  return "unknown";
}

/// What went wrong: a status, a static message and the file offset of the
/// offending bytes (the field, record or section at fault).
struct Error {
  Status status = Status::Ok;
  const char *message = "ok";
  uint64_t offset = 0;
};

struct ValidateOptions {
  /// Compare each section's CRC-32C with its section-table entry.
  bool checkSectionChecksums = true;
  /// Compare the whole-file CRC-32C with the header. The header and section
  /// table checksums are always checked (they are small).
  bool checkFileChecksum = true;
  /// Reject a file whose target fingerprint is not `expectedFingerprint`.
  bool checkTarget = false;
  uint64_t expectedFingerprint = 0;
  /// Require the sections a model binary of the file's version has
  /// (kRequiredSections): what the runtime needs to run it. Off, the
  /// validator checks the container only (every section optional).
  bool requireModelSections = false;
};

/// A section kind a model binary must have from format version
/// 1.`sinceMinor` on (docs/binary-format.md, "Required sections").
struct RequiredSection {
  SectionKind kind;
  uint16_t sinceMinor;
  const char *message; // the error when it is missing
};
inline constexpr RequiredSection kRequiredSections[] = {
    {SectionKind::ModelMetadata, 0, "model binary has no metadata section"},
    {SectionKind::BucketTable, 0, "model binary has no bucket table"},
    {SectionKind::InstructionStream, 0,
     "model binary has no instruction stream"},
    {SectionKind::WeightImage, 0, "model binary has no weight image"},
    {SectionKind::DeviceMap, 1,
     "model binary of version 1.1 or later has no device map"},
    {SectionKind::EmbeddingTable, 1,
     "model binary of version 1.1 or later has no embedding table"},
};

/// A stream's words, read in place (the bytes need not be 4-byte aligned).
struct StreamRef {
  const uint8_t *bytes = nullptr;
  uint64_t wordCount = 0;
  uint32_t word(uint64_t i) const { return readU32(bytes + 4 * i); }
};

/// A validated binary. `open` runs every check of `validate`; the accessors
/// may only be used after it returned Status::Ok, and never read outside the
/// file. The view does not own the bytes.
class BinaryView {
public:
  Status open(const uint8_t *data, size_t size, Error &err,
              const ValidateOptions &options = ValidateOptions());

  bool isOpen() const { return data_ != nullptr; }
  const uint8_t *data() const { return data_; }
  uint64_t size() const { return size_; }
  const FileHeader &header() const { return header_; }

  uint32_t sectionCount() const { return header_.sectionCount; }
  /// The i-th section-table entry, i < sectionCount().
  SectionEntry section(uint32_t i) const {
    return SectionEntry::decode(data_ + entryOffset(i));
  }
  /// Finds a section by kind and index (binary search on the sorted table).
  bool findSection(uint32_t kind, uint32_t index, SectionEntry &out) const;
  bool findSection(SectionKind kind, uint32_t index, SectionEntry &out) const {
    return findSection(static_cast<uint32_t>(kind), index, out);
  }
  /// Whether every stream of bucket `b` (one per core) is present; `out` is
  /// the first core's.
  bool findStreams(const BucketEntry &b, SectionEntry &out) const {
    SectionEntry other;
    for (uint32_t k = b.coreCount(); k-- > 1;)
      if (b.streamId + k < b.streamId ||
          !findSection(SectionKind::InstructionStream, b.streamId + k, other))
        return false;
    return findSection(SectionKind::InstructionStream, b.streamId, out);
  }
  const uint8_t *sectionData(const SectionEntry &section) const {
    return data_ + section.offset;
  }

  /// The model metadata; false if the file has none.
  bool metadata(ModelMetadata &out) const;

  /// The device map (validated: kDeviceMapSize bytes, channels below
  /// kMaxDeviceChannels); false if the file has none.
  bool deviceMap(DeviceMap &out) const;

  /// Buckets, sorted by (stage, minLength); 0 when there is no bucket table.
  uint32_t bucketCount() const;
  bool bucket(uint32_t i, BucketEntry &out) const;
  /// The bucket of `stage` whose length range holds `length`.
  bool findBucket(Stage stage, uint32_t length, BucketEntry &out) const;

  uint32_t quantCount() const;
  bool quantRecord(uint32_t i, QuantRecord &out) const;

  bool stream(uint32_t id, StreamRef &out) const;
  bool weightImage(uint32_t channel, SectionEntry &out) const {
    return findSection(SectionKind::WeightImage, channel, out);
  }

  /// The NUL-terminated string at `offset` in the string table; "" for
  /// offset 0, nullptr if the offset is outside the table.
  const char *string(uint32_t offset) const;

private:
  uint64_t entryOffset(uint32_t i) const {
    return header_.sectionTableOffset +
           static_cast<uint64_t>(i) * header_.sectionEntrySize;
  }
  /// The records of a bucket or quant table section (validated).
  bool table(SectionKind kind, const uint8_t *&records, uint32_t &count,
             uint32_t &entrySize) const;
  uint32_t recordCount(SectionKind kind) const;
  /// Decodes record i of a record table as `Record`.
  template <typename Record>
  bool record(SectionKind kind, uint32_t i, Record &out) const;

  const uint8_t *data_ = nullptr;
  uint64_t size_ = 0;
  FileHeader header_;
};

/// Checks `size` bytes at `data` against every rule of the format: magic,
/// version, header, section table, sections (bounds, alignment, order,
/// overlap), the contents of the known sections, the checksums and (when
/// asked) the target fingerprint. Returns err.status.
inline Status validate(const uint8_t *data, size_t size, Error &err,
                       const ValidateOptions &options = ValidateOptions()) {
  BinaryView view;
  return view.open(data, size, err, options);
}

/// validate() that also requires the target fingerprint `expectedFingerprint`.
inline Status validate(const uint8_t *data, size_t size, Error &err,
                       uint64_t expectedFingerprint) {
  ValidateOptions options;
  options.checkTarget = true;
  options.expectedFingerprint = expectedFingerprint;
  return validate(data, size, err, options);
}

//===----------------------------------------------------------------------===//
// Implementation
//===----------------------------------------------------------------------===//

namespace detail {

inline Status fail(Error &err, Status status, const char *message,
                   uint64_t offset) {
  err.status = status;
  err.message = message;
  err.offset = offset;
  return status;
}

inline bool isPowerOfTwo(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

/// `offset + size <= limit` without overflow.
inline bool fits(uint64_t offset, uint64_t size, uint64_t limit) {
  return size <= limit && offset <= limit - size;
}

/// Checks a record-table section (bucket table, quant params): the 16-byte
/// table header and that `count` records of `entrySize >= minEntrySize`
/// bytes fit. Reports `status` at the offending field.
inline Status checkTable(const uint8_t *file, const SectionEntry &s,
                         uint32_t minEntrySize, Status status, Error &err) {
  if (s.size < kTableHeaderSize)
    return fail(err, status, "table section is shorter than its 16-byte header",
                s.offset);
  const uint8_t *p = file + s.offset;
  uint32_t count = readU32(p, table_offset::Count);
  uint32_t entrySize = readU32(p, table_offset::EntrySize);
  if (entrySize < minEntrySize || entrySize % 4 != 0)
    return fail(err, status,
                "table entry size is smaller than the record or not a "
                "multiple of 4",
                s.offset + table_offset::EntrySize);
  if (static_cast<uint64_t>(count) * entrySize > s.size - kTableHeaderSize)
    return fail(err, status, "table records extend past the end of the section",
                s.offset + table_offset::Count);
  return Status::Ok;
}

} // namespace detail

inline Status BinaryView::open(const uint8_t *data, size_t size, Error &err,
                               const ValidateOptions &options) {
  using detail::fail;
  namespace ho = header_offset;
  data_ = nullptr;
  size_ = 0;
  err = Error();
  const uint64_t fileSize = size;

  // Header.
  if (data == nullptr || fileSize < kHeaderSize)
    return fail(err, Status::Truncated,
                "file is shorter than the 64-byte header", fileSize);
  for (size_t i = 0; i < sizeof(kMagic); ++i)
    if (data[ho::Magic + i] != kMagic[i])
      return fail(err, Status::BadMagic, "not a FlightLLM binary (bad magic)",
                  ho::Magic + i);
  FileHeader h = FileHeader::decode(data);
  if (h.versionMajor != kVersionMajor)
    return fail(err, Status::UnsupportedVersion,
                "unsupported format major version", ho::VersionMajor);
  if (h.headerSize < kHeaderSize || h.headerSize % 8 != 0)
    return fail(err, Status::BadHeader,
                "header size is below 64 or not a multiple of 8",
                ho::HeaderSize);
  if (h.headerSize > fileSize)
    return fail(err, Status::Truncated, "file is shorter than its header size",
                fileSize);
  if (headerChecksum(data, h.headerSize) != h.headerChecksum)
    return fail(err, Status::HeaderChecksum, "header checksum mismatch",
                ho::HeaderChecksum);
  if (h.fileSize > fileSize)
    return fail(err, Status::Truncated,
                "file is shorter than the file size in its header", fileSize);
  if (h.fileSize < fileSize)
    return fail(err, Status::BadHeader,
                "file is longer than the file size in its header", h.fileSize);
  if ((h.flags & kRequiredFlagsMask & ~kKnownRequiredFlags) != 0)
    return fail(err, Status::UnsupportedFlags, "unsupported required flag",
                ho::Flags);
  if (options.checkTarget && h.targetFingerprint != options.expectedFingerprint)
    return fail(err, Status::TargetMismatch,
                "compiled for another target (fingerprint mismatch)",
                ho::TargetFingerprint);

  // Section table.
  if (h.sectionEntrySize < kSectionEntrySize || h.sectionEntrySize % 8 != 0)
    return fail(err, Status::BadSectionTable,
                "section entry size is below 32 or not a multiple of 8",
                ho::SectionEntrySize);
  const uint64_t tableOffset = h.sectionTableOffset;
  const uint64_t tableSize =
      static_cast<uint64_t>(h.sectionCount) * h.sectionEntrySize;
  if (tableOffset % 8 != 0 || tableOffset < h.headerSize)
    return fail(err, Status::BadSectionTable,
                "section table overlaps the header or is not 8-byte aligned",
                ho::SectionTableOffset);
  if (!detail::fits(tableOffset, tableSize, fileSize))
    return fail(err, Status::BadSectionTable,
                "section table extends past the end of the file",
                ho::SectionTableOffset);
  const uint8_t *table = data + tableOffset;
  if (crc32c(table, static_cast<size_t>(tableSize)) != h.sectionTableChecksum)
    return fail(err, Status::SectionTableChecksum,
                "section table checksum mismatch", tableOffset);

  // Sections: placement.
  namespace so = section_offset;
  const uint64_t tableEnd = tableOffset + tableSize;
  uint64_t previousEnd = 0;
  for (uint32_t i = 0; i < h.sectionCount; ++i) {
    const uint64_t at =
        tableOffset + static_cast<uint64_t>(i) * h.sectionEntrySize;
    SectionEntry s = SectionEntry::decode(data + at);
    if (i > 0) {
      SectionEntry prev = SectionEntry::decode(data + at - h.sectionEntrySize);
      if (s.kind < prev.kind || (s.kind == prev.kind && s.index <= prev.index))
        return fail(err, Status::SectionOrder,
                    "section entries are not sorted by (kind, index) or "
                    "repeat one",
                    at + so::Kind);
    }
    if (!detail::isPowerOfTwo(s.alignment))
      return fail(err, Status::SectionMisaligned,
                  "section alignment is not a power of two",
                  at + so::Alignment);
    if (s.offset % s.alignment != 0)
      return fail(err, Status::SectionMisaligned,
                  "section offset is not a multiple of its alignment",
                  at + so::Offset);
    if (!detail::fits(s.offset, s.size, fileSize))
      return fail(err, Status::SectionOutOfBounds,
                  "section extends past the end of the file", at + so::Size);
    if (s.offset < h.headerSize)
      return fail(err, Status::SectionOutOfBounds,
                  "section overlaps the file header", at + so::Offset);
    if (s.offset < tableEnd && tableOffset < s.offset + s.size)
      return fail(err, Status::SectionOverlap,
                  "section overlaps the section table", at + so::Offset);
    if (s.offset < previousEnd)
      return fail(err, Status::SectionOverlap,
                  "section overlaps the previous section (or is out of "
                  "order)",
                  at + so::Offset);
    previousEnd = s.offset + s.size;
  }

  // From here on the accessors are safe to use for lookups.
  data_ = data;
  size_ = fileSize;
  header_ = h;

  // Sections: checksums, then the contents of the kinds this reader knows.
  SectionEntry strings;
  const bool hasStrings = findSection(SectionKind::StringTable, 0, strings);
  auto validString = [&](uint32_t offset) {
    return offset == 0 || (hasStrings && offset < strings.size);
  };
  Status status = Status::Ok;
  for (uint32_t i = 0; i < h.sectionCount && status == Status::Ok; ++i) {
    SectionEntry s = section(i);
    const uint8_t *p = data + s.offset;
    if (options.checkSectionChecksums &&
        crc32c(p, static_cast<size_t>(s.size)) != s.checksum) {
      status = fail(err, Status::SectionChecksum, "section checksum mismatch",
                    s.offset);
      break;
    }
    const bool singleton = s.index == 0;
    switch (static_cast<SectionKind>(s.kind)) {
    case SectionKind::ModelMetadata:
      if (!singleton)
        break;
      if (s.size < kModelMetadataSize)
        status = fail(err, Status::BadMetadata,
                      "model metadata is shorter than 64 bytes", s.offset);
      else if (!validString(readU32(p, metadata_offset::Name)))
        status = fail(err, Status::BadMetadata,
                      "model name is outside the string table",
                      s.offset + metadata_offset::Name);
      break;
    case SectionKind::EmbeddingTable: // sized against the device map by users
      break;
    case SectionKind::Tokenizer: // host-only: the host tools check it
      break;
    case SectionKind::Pipeline: // the pipeline runtime checks the plan
    case SectionKind::Card:     // and opens each card's binary itself
      break;
    case SectionKind::StringTable:
      if (singleton && s.size > 0 && (p[0] != 0 || p[s.size - 1] != 0))
        status = fail(err, Status::BadStringTable,
                      "string table does not start and end with a NUL byte",
                      p[0] != 0 ? s.offset : s.offset + s.size - 1);
      break;
    case SectionKind::InstructionStream:
      if (s.size % 4 != 0)
        status =
            fail(err, Status::BadStream,
                 "instruction stream size is not a multiple of 4", s.offset);
      break;
    case SectionKind::BucketTable: {
      if (!singleton)
        break;
      status = detail::checkTable(data, s, kBucketEntrySize,
                                  Status::BadBucketTable, err);
      if (status != Status::Ok)
        break;
      const uint32_t count = readU32(p, table_offset::Count);
      const uint32_t entrySize = readU32(p, table_offset::EntrySize);
      BucketEntry prev;
      for (uint32_t b = 0; b < count && status == Status::Ok; ++b) {
        const uint64_t at =
            s.offset + kTableHeaderSize + static_cast<uint64_t>(b) * entrySize;
        BucketEntry e = BucketEntry::decode(data + at);
        namespace bo = bucket_offset;
        SectionEntry target;
        if (stageName(e.stage) == nullptr)
          status = fail(err, Status::BadBucketTable, "unknown bucket stage",
                        at + bo::Stage);
        else if (e.minLength == 0 || e.minLength > e.maxLength)
          status = fail(err, Status::BadBucketTable,
                        "bucket length range is empty or starts at 0",
                        at + bo::MinLength);
        else if (e.repeatCount == 0)
          status = fail(err, Status::BadBucketTable, "bucket repeat count is 0",
                        at + bo::RepeatCount);
        else if (e.cores == 1 || e.cores > kMaxCores ||
                 (e.cores > 1 && !(h.flags & kFlagMultiCore)))
          status = fail(err, Status::BadBucketTable,
                        "bucket core count is 1, above 64, or above 1 without "
                        "the multi-core header flag",
                        at + bo::Cores);
        else if (!findStreams(e, target))
          status = fail(err, Status::BadBucketTable,
                        "bucket names a missing instruction stream",
                        at + bo::StreamId);
        else if (b > 0 &&
                 (e.stage < prev.stage ||
                  (e.stage == prev.stage && e.minLength <= prev.maxLength)))
          status = fail(err, Status::BadBucketTable,
                        "buckets are not sorted by (stage, length) or overlap",
                        at + bo::MinLength);
        prev = e;
      }
      break;
    }
    case SectionKind::QuantParams: {
      if (!singleton)
        break;
      status = detail::checkTable(data, s, kQuantRecordSize,
                                  Status::BadQuantParams, err);
      if (status != Status::Ok)
        break;
      const uint32_t count = readU32(p, table_offset::Count);
      const uint32_t entrySize = readU32(p, table_offset::EntrySize);
      for (uint32_t q = 0; q < count && status == Status::Ok; ++q) {
        const uint64_t at =
            s.offset + kTableHeaderSize + static_cast<uint64_t>(q) * entrySize;
        if (!validString(readU32(data + at, quant_offset::Name)))
          status = fail(err, Status::BadQuantParams,
                        "quantized tensor name is outside the string table",
                        at + quant_offset::Name);
      }
      break;
    }
    case SectionKind::WeightImage:
      break;
    case SectionKind::DDRWeights:
      // The header says where the bytes go; the flag makes older readers
      // refuse the file instead of running without them.
      if (s.size < kDDRWeightsHeaderSize || s.index >= kMaxDeviceChannels ||
          readU64(p, ddr_weights_offset::LoadOffset) % 32 != 0 ||
          (h.flags & kFlagDDRWeights) == 0)
        status = fail(err, Status::BadDDRWeights,
                      "DDR weights section is shorter than its 64-byte "
                      "header, names a channel above 63, has a load offset "
                      "that is not a multiple of 32 or lacks the ddr_weights "
                      "flag",
                      s.offset);
      break;
    case SectionKind::DeviceMap: {
      if (!singleton)
        break;
      if (s.size != kDeviceMapSize) {
        status = fail(err, Status::BadDeviceMap,
                      "device map is not exactly 64 bytes", s.offset);
        break;
      }
      namespace dmo = device_map_offset;
      const size_t channels[] = {dmo::EmbedChannel, dmo::InputChannel,
                                 dmo::LogitsChannel, dmo::StreamDDRChannel};
      for (size_t field : channels)
        if (readU32(p, field) >= kMaxDeviceChannels) {
          status = fail(err, Status::BadDeviceMap,
                        "device map channel is not below 64",
                        s.offset + field);
          break;
        }
      if (status != Status::Ok)
        break;
      // Batched decode needs the flag that makes older readers refuse it.
      const uint32_t batch = readU32(p, dmo::DecodeBatch);
      const bool batched = (h.flags & kFlagBatched) != 0;
      if (batch == 1 || batch > kMaxDecodeBatch || (batch > 1) != batched)
        status = fail(err, Status::BadDeviceMap,
                      "device map decode_batch is not 0 without the batched "
                      "flag or 2 to 16 with it",
                      s.offset + dmo::DecodeBatch);
      break;
    }
    }
  }
  // Required sections: each kind at least once (any index).
  if (status == Status::Ok && options.requireModelSections) {
    for (const RequiredSection &r : kRequiredSections) {
      if (h.versionMinor < r.sinceMinor)
        continue;
      bool found = false;
      for (uint32_t i = 0; i < h.sectionCount && !found; ++i)
        found = section(i).kind == static_cast<uint32_t>(r.kind);
      if (!found) {
        status = fail(err, Status::MissingSection, r.message,
                      ho::SectionCount);
        break;
      }
    }
  }
  if (status == Status::Ok && options.checkFileChecksum &&
      fileChecksum(data, fileSize) != h.fileChecksum)
    status = fail(err, Status::FileChecksum, "file checksum mismatch",
                  ho::FileChecksum);
  if (status != Status::Ok) {
    data_ = nullptr;
    size_ = 0;
  }
  return status;
}

inline bool BinaryView::findSection(uint32_t kind, uint32_t index,
                                    SectionEntry &out) const {
  if (!isOpen())
    return false;
  uint32_t lo = 0, hi = header_.sectionCount;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    const uint8_t *e = data_ + entryOffset(mid);
    uint32_t k = readU32(e, section_offset::Kind);
    uint32_t i = readU32(e, section_offset::Index);
    if (k == kind && i == index) {
      out = SectionEntry::decode(e);
      return true;
    }
    if (k < kind || (k == kind && i < index))
      lo = mid + 1;
    else
      hi = mid;
  }
  return false;
}

inline bool BinaryView::metadata(ModelMetadata &out) const {
  SectionEntry s;
  if (!findSection(SectionKind::ModelMetadata, 0, s))
    return false;
  out = ModelMetadata::decode(sectionData(s));
  return true;
}

inline bool BinaryView::deviceMap(DeviceMap &out) const {
  SectionEntry s;
  if (!findSection(SectionKind::DeviceMap, 0, s))
    return false;
  out = DeviceMap::decode(sectionData(s));
  return true;
}

inline bool BinaryView::table(SectionKind kind, const uint8_t *&records,
                              uint32_t &count, uint32_t &entrySize) const {
  SectionEntry s;
  if (!findSection(kind, 0, s))
    return false;
  const uint8_t *p = sectionData(s);
  count = readU32(p, table_offset::Count);
  entrySize = readU32(p, table_offset::EntrySize);
  records = p + kTableHeaderSize;
  return true;
}

inline uint32_t BinaryView::recordCount(SectionKind kind) const {
  const uint8_t *records;
  uint32_t count, entrySize;
  return table(kind, records, count, entrySize) ? count : 0;
}

template <typename Record>
inline bool BinaryView::record(SectionKind kind, uint32_t i,
                               Record &out) const {
  const uint8_t *records;
  uint32_t count, entrySize;
  if (!table(kind, records, count, entrySize) || i >= count)
    return false;
  out = Record::decode(records + static_cast<uint64_t>(i) * entrySize);
  return true;
}

inline uint32_t BinaryView::bucketCount() const {
  return recordCount(SectionKind::BucketTable);
}

inline bool BinaryView::bucket(uint32_t i, BucketEntry &out) const {
  return record(SectionKind::BucketTable, i, out);
}

inline bool BinaryView::findBucket(Stage stage, uint32_t length,
                                   BucketEntry &out) const {
  const uint8_t *records;
  uint32_t count, entrySize;
  if (!table(SectionKind::BucketTable, records, count, entrySize))
    return false;
  const uint16_t wanted = static_cast<uint16_t>(stage);
  // Buckets are sorted by (stage, minLength): find the last one that starts
  // at or before (stage, length), then check that it holds `length`.
  uint32_t lo = 0, hi = count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    const uint8_t *e = records + static_cast<uint64_t>(mid) * entrySize;
    uint16_t st = readU16(e, bucket_offset::Stage);
    uint32_t minLength = readU32(e, bucket_offset::MinLength);
    if (st < wanted || (st == wanted && minLength <= length))
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0)
    return false;
  BucketEntry b =
      BucketEntry::decode(records + static_cast<uint64_t>(lo - 1) * entrySize);
  if (b.stage != wanted || length < b.minLength || length > b.maxLength)
    return false;
  out = b;
  return true;
}

inline uint32_t BinaryView::quantCount() const {
  return recordCount(SectionKind::QuantParams);
}

inline bool BinaryView::quantRecord(uint32_t i, QuantRecord &out) const {
  return record(SectionKind::QuantParams, i, out);
}

inline bool BinaryView::stream(uint32_t id, StreamRef &out) const {
  SectionEntry s;
  if (!findSection(SectionKind::InstructionStream, id, s))
    return false;
  out.bytes = sectionData(s);
  out.wordCount = s.size / 4;
  return true;
}

inline const char *BinaryView::string(uint32_t offset) const {
  if (offset == 0)
    return "";
  SectionEntry s;
  if (!findSection(SectionKind::StringTable, 0, s) || offset >= s.size)
    return nullptr;
  return reinterpret_cast<const char *>(sectionData(s) + offset);
}

} // namespace flightllm::binary

#endif // FLIGHTLLM_BINARY_READER_H
