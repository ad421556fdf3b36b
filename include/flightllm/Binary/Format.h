//===- Format.h - The .flb binary container: layout and codecs --*- C++ -*-===//
//
// The byte layout of a FlightLLM binary (`.flb`), shared by the compiler (which
// writes it) and the embedded runtime (which validates and reads it). The
// authoritative description, with byte tables, is docs/binary-format.md.
//
// Freestanding on purpose: only <cstdint> and <cstddef>, no exceptions, no
// RTTI, no heap, no library calls. Every multi-byte field is little-endian and
// every record is read and written through explicit byte offsets (never through
// a struct's memory layout), so the code is independent of host endianness,
// padding and alignment.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_BINARY_FORMAT_H
#define FLIGHTLLM_BINARY_FORMAT_H

#include <cstddef>
#include <cstdint>

namespace flightllm::binary {

//===----------------------------------------------------------------------===//
// Little-endian field access
//===----------------------------------------------------------------------===//

inline uint16_t readU16(const uint8_t *p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
inline uint32_t readU32(const uint8_t *p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
inline uint64_t readU64(const uint8_t *p) {
  return static_cast<uint64_t>(readU32(p)) |
         (static_cast<uint64_t>(readU32(p + 4)) << 32);
}
inline void writeU16(uint8_t *p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline void writeU32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void writeU64(uint8_t *p, uint64_t v) {
  writeU32(p, static_cast<uint32_t>(v));
  writeU32(p + 4, static_cast<uint32_t>(v >> 32));
}

// The same at a byte offset from a base pointer (the record's first byte).
inline uint16_t readU16(const uint8_t *base, size_t offset) {
  return readU16(base + offset);
}
inline uint32_t readU32(const uint8_t *base, size_t offset) {
  return readU32(base + offset);
}
inline uint64_t readU64(const uint8_t *base, size_t offset) {
  return readU64(base + offset);
}
inline void writeU16(uint8_t *base, size_t offset, uint16_t v) {
  writeU16(base + offset, v);
}
inline void writeU32(uint8_t *base, size_t offset, uint32_t v) {
  writeU32(base + offset, v);
}
inline void writeU64(uint8_t *base, size_t offset, uint64_t v) {
  writeU64(base + offset, v);
}

//===----------------------------------------------------------------------===//
// CRC-32C (Castagnoli)
//===----------------------------------------------------------------------===//
//
// Reflected polynomial 0x82F63B78, initial value 0xFFFFFFFF, final XOR
// 0xFFFFFFFF (the iSCSI / ext4 / SSE4.2 `crc32` instruction variant);
// crc32c("123456789") == 0xE3069283. Calls chain: crc32c(b, nb, crc32c(a, na))
// is the CRC of the concatenation a || b.
//
// Slicing-by-8 with 8 KiB of tables built at compile time (2.2 GB/s against
// 0.45 GB/s for the byte-at-a-time loop on the x86 build machine, -O2).
// Define FLIGHTLLM_BINARY_SMALL_CRC32C for the byte-at-a-time loop and one
// 1 KiB table where read-only memory is scarce; both give the same values.

namespace detail {
struct Crc32cTables {
  uint32_t entries[8][256];
};
constexpr Crc32cTables makeCrc32cTables() {
  Crc32cTables tables{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    tables.entries[0][i] = crc;
  }
  // entries[k][i]: the CRC of byte i followed by k zero bytes.
  for (int k = 1; k < 8; ++k)
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t prev = tables.entries[k - 1][i];
      tables.entries[k][i] = (prev >> 8) ^ tables.entries[0][prev & 0xFFu];
    }
  return tables;
}
#ifdef FLIGHTLLM_BINARY_SMALL_CRC32C
inline constexpr int kCrc32cSlices = 1;
#else
inline constexpr int kCrc32cSlices = 8;
#endif
struct Crc32cTable {
  uint32_t entries[kCrc32cSlices][256];
};
constexpr Crc32cTable makeCrc32cTable() {
  Crc32cTables all = makeCrc32cTables();
  Crc32cTable table{};
  for (int k = 0; k < kCrc32cSlices; ++k)
    for (int i = 0; i < 256; ++i)
      table.entries[k][i] = all.entries[k][i];
  return table;
}
inline constexpr Crc32cTable kCrc32cTable = makeCrc32cTable();
} // namespace detail

/// The CRC-32C of `size` bytes at `data`, continuing from `previous` (the CRC
/// of the bytes before them; 0 to start).
inline uint32_t crc32c(const uint8_t *data, size_t size,
                       uint32_t previous = 0) {
  const auto &t = detail::kCrc32cTable.entries;
  uint32_t crc = ~previous;
#ifndef FLIGHTLLM_BINARY_SMALL_CRC32C
  for (; size >= 8; data += 8, size -= 8) {
    const uint32_t lo = crc ^ readU32(data);
    const uint32_t hi = readU32(data + 4);
    crc = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^
          t[5][(lo >> 16) & 0xFFu] ^ t[4][lo >> 24] ^ t[3][hi & 0xFFu] ^
          t[2][(hi >> 8) & 0xFFu] ^ t[1][(hi >> 16) & 0xFFu] ^ t[0][hi >> 24];
  }
#endif
  for (size_t i = 0; i < size; ++i)
    crc = t[0][(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

/// The CRC-32C of `count` zero bytes, continuing from `previous`.
inline uint32_t crc32cZeros(size_t count, uint32_t previous = 0) {
  static constexpr uint8_t zeros[16] = {};
  while (count > 0) {
    size_t n = count < sizeof(zeros) ? count : sizeof(zeros);
    previous = crc32c(zeros, n, previous);
    count -= n;
  }
  return previous;
}

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

/// "\x89FLB\r\n\x1A\n": a non-ASCII first byte, then the tag, then the bytes
/// that text-mode transfers mangle (as in PNG).
inline constexpr uint8_t kMagic[8] = {0x89, 'F',  'L',  'B',
                                      0x0D, 0x0A, 0x1A, 0x0A};

/// Readers reject any other major version; a newer minor version only adds
/// (fields at the end of records, section kinds, optional flags).
inline constexpr uint16_t kVersionMajor = 1;
/// 1.1 adds the DeviceMap section (kind 7); 1.2 the multi-card pipeline
/// (flags kFlagPipelineStage and kFlagSystem, the device map's stage fields,
/// kinds 10 and 11); 1.3 batched decode (flag kFlagBatched, the device map's
/// decode_batch); 1.4 the 4-bit KV cache (flag kFlagKV4Cache); 1.5 weights
/// in the board's DDR (flag kFlagDDRWeights, kind 12). The writer
/// stamps the lowest minor version that holds a file's contents: 1.2 only
/// with the pipeline flags, 1.3 only with kFlagBatched, 1.4 only with
/// kFlagKV4Cache, 1.5 only with kFlagDDRWeights, so single-card INT8-cache
/// files stay 1.1.
inline constexpr uint16_t kVersionMinor = 5;
inline constexpr uint16_t kVersionMinorDDRWeights = 5;
inline constexpr uint16_t kVersionMinorKV4 = 4;
inline constexpr uint16_t kVersionMinorBatched = 3;
inline constexpr uint16_t kVersionMinorPipeline = 2;
inline constexpr uint16_t kVersionMinorSingleCard = 1;

inline constexpr uint32_t kHeaderSize = 64;
inline constexpr uint32_t kSectionEntrySize = 32;
/// The alignment the writer gives every section and the file size.
inline constexpr uint32_t kDefaultAlignment = 64;

/// Header flags: bits 0-15 are optional (unknown ones are ignored), bits 16-31
/// are required (a reader rejects a file with a required bit it does not
/// know). Versions 1.0 and 1.1 define one (multi-core), set only when it is
/// used, so a single-core file is the same bytes it always was; 1.2 two more.
inline constexpr uint32_t kRequiredFlagsMask = 0xFFFF0000u;
/// Some bucket runs on more than one core (BucketEntry::cores > 1): a reader
/// that would start only its first stream must refuse the file.
inline constexpr uint32_t kFlagMultiCore = 1u << 16;
/// One card's program of a pipeline: the device map's stage fields say
/// whether its input rows are hidden states and where its output rows go.
inline constexpr uint32_t kFlagPipelineStage = 1u << 17;
/// A system binary: the pipeline plan (kind 10) and one complete stage
/// binary per card (kind 11); no model sections of its own.
inline constexpr uint32_t kFlagSystem = 1u << 18;
/// The decode buckets run a batch of sequences (the device map's
/// decode_batch > 1): a reader that would start them for one sequence
/// (with no per-sequence registers) must refuse the file.
inline constexpr uint32_t kFlagBatched = 1u << 19;
/// The streams keep a 4-bit KV cache (docs/execution-model.md): they use the
/// LD row_align bit and the MISC kinds quantize4, quantize_value4 and place,
/// which an older reader's simulator would reject mid-run.
inline constexpr uint32_t kFlagKV4Cache = 1u << 20;
/// Part of the weights lives in the board's DDR (DDRWeights sections, read by
/// LD mem = ddr through base register B3): a reader that would not load them
/// must refuse the file rather than run on zeros.
inline constexpr uint32_t kFlagDDRWeights = 1u << 21;
inline constexpr uint32_t kKnownRequiredFlags = kFlagMultiCore |
    kFlagPipelineStage | kFlagSystem | kFlagBatched | kFlagKV4Cache |
    kFlagDDRWeights;
/// The most sequences a batched decode run may serve (the ISA's MaxBatch:
/// one SEQ_P and one SEQ_B2_ORIGIN register each).
inline constexpr uint32_t kMaxDecodeBatch = 16;
/// The most cores a bucket may name (the target schema's limit).
inline constexpr uint32_t kMaxCores = 64;

//===----------------------------------------------------------------------===//
// File header (64 bytes at offset 0)
//===----------------------------------------------------------------------===//

namespace header_offset {
inline constexpr size_t Magic = 0;                 // u8[8]
inline constexpr size_t VersionMajor = 8;          // u16
inline constexpr size_t VersionMinor = 10;         // u16
inline constexpr size_t HeaderSize = 12;           // u32
inline constexpr size_t Flags = 16;                // u32
inline constexpr size_t SectionCount = 20;         // u32
inline constexpr size_t TargetFingerprint = 24;    // u64
inline constexpr size_t SectionTableOffset = 32;   // u64
inline constexpr size_t FileSize = 40;             // u64
inline constexpr size_t SectionEntrySize = 48;     // u32
inline constexpr size_t SectionTableChecksum = 52; // u32
inline constexpr size_t FileChecksum = 56;         // u32
inline constexpr size_t HeaderChecksum = 60;       // u32
} // namespace header_offset

struct FileHeader {
  uint16_t versionMajor = kVersionMajor;
  uint16_t versionMinor = kVersionMinor;
  uint32_t headerSize = kHeaderSize;
  uint32_t flags = 0;
  uint32_t sectionCount = 0;
  uint64_t targetFingerprint = 0;
  uint64_t sectionTableOffset = 0;
  uint64_t fileSize = 0;
  uint32_t sectionEntrySize = kSectionEntrySize;
  uint32_t sectionTableChecksum = 0;
  uint32_t fileChecksum = 0;
  uint32_t headerChecksum = 0;

  /// Reads the 64 bytes at `p` (the magic is not part of the struct).
  static FileHeader decode(const uint8_t *p) {
    namespace o = header_offset;
    FileHeader h;
    h.versionMajor = readU16(p, o::VersionMajor);
    h.versionMinor = readU16(p, o::VersionMinor);
    h.headerSize = readU32(p, o::HeaderSize);
    h.flags = readU32(p, o::Flags);
    h.sectionCount = readU32(p, o::SectionCount);
    h.targetFingerprint = readU64(p, o::TargetFingerprint);
    h.sectionTableOffset = readU64(p, o::SectionTableOffset);
    h.fileSize = readU64(p, o::FileSize);
    h.sectionEntrySize = readU32(p, o::SectionEntrySize);
    h.sectionTableChecksum = readU32(p, o::SectionTableChecksum);
    h.fileChecksum = readU32(p, o::FileChecksum);
    h.headerChecksum = readU32(p, o::HeaderChecksum);
    return h;
  }
  /// Writes the 64 bytes at `p`, magic included.
  void encode(uint8_t *p) const {
    namespace o = header_offset;
    for (size_t i = 0; i < sizeof(kMagic); ++i)
      p[o::Magic + i] = kMagic[i];
    writeU16(p, o::VersionMajor, versionMajor);
    writeU16(p, o::VersionMinor, versionMinor);
    writeU32(p, o::HeaderSize, headerSize);
    writeU32(p, o::Flags, flags);
    writeU32(p, o::SectionCount, sectionCount);
    writeU64(p, o::TargetFingerprint, targetFingerprint);
    writeU64(p, o::SectionTableOffset, sectionTableOffset);
    writeU64(p, o::FileSize, fileSize);
    writeU32(p, o::SectionEntrySize, sectionEntrySize);
    writeU32(p, o::SectionTableChecksum, sectionTableChecksum);
    writeU32(p, o::FileChecksum, fileChecksum);
    writeU32(p, o::HeaderChecksum, headerChecksum);
  }
};

/// The header checksum: CRC-32C of the header's `headerSize` bytes with the
/// header-checksum field (bytes 60-63) read as zero.
inline uint32_t headerChecksum(const uint8_t *header, size_t headerSize) {
  uint32_t crc = crc32c(header, header_offset::HeaderChecksum);
  crc = crc32cZeros(4, crc);
  return crc32c(header + kHeaderSize, headerSize - kHeaderSize, crc);
}

/// The file checksum: CRC-32C of the whole file (`size` bytes) with the file-
/// and header-checksum fields (bytes 56-63) read as zero. `size` >= 64.
inline uint32_t fileChecksum(const uint8_t *file, uint64_t size) {
  uint32_t crc = crc32c(file, header_offset::FileChecksum);
  crc = crc32cZeros(8, crc);
  return crc32c(file + kHeaderSize, static_cast<size_t>(size - kHeaderSize),
                crc);
}

//===----------------------------------------------------------------------===//
// Section table (sectionCount entries of sectionEntrySize bytes)
//===----------------------------------------------------------------------===//

/// Section kinds. The file stores sections sorted by (kind, index), so the
/// numbering is also the layout order. Readers skip kinds they do not know.
enum class SectionKind : uint32_t {
  ModelMetadata = 1, // index 0; ModelMetadata record
  BucketTable = 2,   // index 0; count/entry-size header + BucketEntry records
  StringTable = 3,   // index 0; NUL-terminated strings, offset 0 is ""
  QuantParams = 4,   // index 0; count/entry-size header + QuantRecord records
  InstructionStream = 5, // index = stream id; 32-bit little-endian words
  WeightImage = 6,       // index = HBM channel; the channel's bytes
  DeviceMap = 7,         // index 0; DeviceMap record (since 1.1)
  EmbeddingTable = 8, // index 0; fp16 token embedding rows (DeviceMap row size)
  Tokenizer = 9,      // index 0; host-only: tokenizer.json and EOS ids
  Pipeline = 10,      // index 0; the pipeline plan (system binaries, 1.2)
  Card = 11,          // index = card; that card's stage binary (1.2)
  DDRWeights = 12,    // index = DDR channel; header + the bytes (1.5)
};

/// A DDRWeights section: this header, then the bytes the runtime writes into
/// DDR channel `index` from byte `load_offset` (a multiple of 32).
inline constexpr uint32_t kDDRWeightsHeaderSize = 64;
namespace ddr_weights_offset {
inline constexpr size_t LoadOffset = 0; // u64 bytes in the channel
// 8..63 reserved, 0.
} // namespace ddr_weights_offset

/// The short name of a section kind ("metadata", "buckets", "strings",
/// "quant", "stream", "weights", "devicemap", "embeddings", "tokenizer"), or
/// nullptr for an unknown kind.
inline const char *sectionKindName(uint32_t kind) {
  switch (static_cast<SectionKind>(kind)) {
  case SectionKind::ModelMetadata:
    return "metadata";
  case SectionKind::BucketTable:
    return "buckets";
  case SectionKind::StringTable:
    return "strings";
  case SectionKind::QuantParams:
    return "quant";
  case SectionKind::InstructionStream:
    return "stream";
  case SectionKind::WeightImage:
    return "weights";
  case SectionKind::DeviceMap:
    return "devicemap";
  case SectionKind::EmbeddingTable:
    return "embeddings";
  case SectionKind::Tokenizer:
    return "tokenizer";
  case SectionKind::Pipeline:
    return "pipeline";
  case SectionKind::Card:
    return "card";
  case SectionKind::DDRWeights:
    return "ddr_weights";
  }
  return nullptr;
}

namespace section_offset {
inline constexpr size_t Kind = 0;       // u32
inline constexpr size_t Index = 4;      // u32
inline constexpr size_t Offset = 8;     // u64
inline constexpr size_t Size = 16;      // u64
inline constexpr size_t Alignment = 24; // u32
inline constexpr size_t Checksum = 28;  // u32
} // namespace section_offset

struct SectionEntry {
  uint32_t kind = 0;
  uint32_t index = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t alignment = kDefaultAlignment;
  uint32_t checksum = 0; // CRC-32C of the section's bytes

  static SectionEntry decode(const uint8_t *p) {
    namespace o = section_offset;
    SectionEntry e;
    e.kind = readU32(p, o::Kind);
    e.index = readU32(p, o::Index);
    e.offset = readU64(p, o::Offset);
    e.size = readU64(p, o::Size);
    e.alignment = readU32(p, o::Alignment);
    e.checksum = readU32(p, o::Checksum);
    return e;
  }
  void encode(uint8_t *p) const {
    namespace o = section_offset;
    writeU32(p, o::Kind, kind);
    writeU32(p, o::Index, index);
    writeU64(p, o::Offset, offset);
    writeU64(p, o::Size, size);
    writeU32(p, o::Alignment, alignment);
    writeU32(p, o::Checksum, checksum);
  }
};

//===----------------------------------------------------------------------===//
// Model metadata section (64 bytes)
//===----------------------------------------------------------------------===//

enum class ModelFamily : uint32_t { Unknown = 0, GPT2 = 1, OPT = 2, Llama = 3 };

/// Numeric formats of weights, activations, the KV cache and scales.
enum class Precision : uint16_t {
  None = 0,
  F32 = 1,
  F16 = 2,
  BF16 = 3,
  I8 = 4,
  I4 = 5,
};

inline const char *modelFamilyName(uint32_t family) {
  switch (static_cast<ModelFamily>(family)) {
  case ModelFamily::Unknown:
    return "unknown";
  case ModelFamily::GPT2:
    return "gpt2";
  case ModelFamily::OPT:
    return "opt";
  case ModelFamily::Llama:
    return "llama";
  }
  return nullptr;
}

inline const char *precisionName(uint16_t precision) {
  switch (static_cast<Precision>(precision)) {
  case Precision::None:
    return "none";
  case Precision::F32:
    return "f32";
  case Precision::F16:
    return "f16";
  case Precision::BF16:
    return "bf16";
  case Precision::I8:
    return "int8";
  case Precision::I4:
    return "int4";
  }
  return nullptr;
}

inline constexpr uint32_t kModelMetadataSize = 64;

namespace metadata_offset {
inline constexpr size_t Family = 0;               // u32 ModelFamily
inline constexpr size_t NumLayers = 4;            // u32
inline constexpr size_t HiddenSize = 8;           // u32
inline constexpr size_t NumHeads = 12;            // u32
inline constexpr size_t NumKVHeads = 16;          // u32
inline constexpr size_t HeadDim = 20;             // u32
inline constexpr size_t IntermediateSize = 24;    // u32
inline constexpr size_t VocabSize = 28;           // u32
inline constexpr size_t MaxContext = 32;          // u32
inline constexpr size_t PrefillBucketWidth = 36;  // u32
inline constexpr size_t DecodeBucketWidth = 40;   // u32
inline constexpr size_t WeightPrecision = 44;     // u16 Precision
inline constexpr size_t ActivationPrecision = 46; // u16 Precision
inline constexpr size_t KVPrecision = 48;         // u16 Precision
inline constexpr size_t Reserved0 = 50;           // u16, 0
inline constexpr size_t Name = 52;                // u32 string-table offset
// Since 1.2: KV-cache slots (sequences with their own cache, e.g. users
// served in turn). 0 in both: one slot, as before.
inline constexpr size_t KVSlots = 56;             // u32, 0 or >= 2
inline constexpr size_t KVSlotStrideUnits = 60;   // u32, B2 offset per slot
} // namespace metadata_offset

/// Most KV-cache slots a binary may have (the runtime keeps a context
/// length per slot in its arena).
inline constexpr uint32_t kMaxKVSlots = 64;

struct ModelMetadata {
  uint32_t family = 0;
  uint32_t numLayers = 0;
  uint32_t hiddenSize = 0;
  uint32_t numHeads = 0;
  uint32_t numKVHeads = 0;
  uint32_t headDim = 0;
  uint32_t intermediateSize = 0;
  uint32_t vocabSize = 0;
  uint32_t maxContext = 0;
  uint32_t prefillBucketWidth = 0;
  uint32_t decodeBucketWidth = 0;
  uint16_t weightPrecision = 0;
  uint16_t activationPrecision = 0;
  uint16_t kvPrecision = 0;
  uint32_t name = 0; // offset in the string table, 0 = no name
  /// 0: one KV-cache slot; else slot s's KV cache is B2 + s * stride.
  uint32_t kvSlots = 0;
  uint32_t kvSlotStrideUnits = 0; // 32-byte units

  static ModelMetadata decode(const uint8_t *p) {
    namespace o = metadata_offset;
    ModelMetadata m;
    m.family = readU32(p, o::Family);
    m.numLayers = readU32(p, o::NumLayers);
    m.hiddenSize = readU32(p, o::HiddenSize);
    m.numHeads = readU32(p, o::NumHeads);
    m.numKVHeads = readU32(p, o::NumKVHeads);
    m.headDim = readU32(p, o::HeadDim);
    m.intermediateSize = readU32(p, o::IntermediateSize);
    m.vocabSize = readU32(p, o::VocabSize);
    m.maxContext = readU32(p, o::MaxContext);
    m.prefillBucketWidth = readU32(p, o::PrefillBucketWidth);
    m.decodeBucketWidth = readU32(p, o::DecodeBucketWidth);
    m.weightPrecision = readU16(p, o::WeightPrecision);
    m.activationPrecision = readU16(p, o::ActivationPrecision);
    m.kvPrecision = readU16(p, o::KVPrecision);
    m.name = readU32(p, o::Name);
    m.kvSlots = readU32(p, o::KVSlots);
    m.kvSlotStrideUnits = readU32(p, o::KVSlotStrideUnits);
    return m;
  }
  /// Writes all kModelMetadataSize bytes (reserved ones as zero).
  void encode(uint8_t *p) const {
    namespace o = metadata_offset;
    for (size_t i = 0; i < kModelMetadataSize; ++i)
      p[i] = 0;
    writeU32(p, o::Family, family);
    writeU32(p, o::NumLayers, numLayers);
    writeU32(p, o::HiddenSize, hiddenSize);
    writeU32(p, o::NumHeads, numHeads);
    writeU32(p, o::NumKVHeads, numKVHeads);
    writeU32(p, o::HeadDim, headDim);
    writeU32(p, o::IntermediateSize, intermediateSize);
    writeU32(p, o::VocabSize, vocabSize);
    writeU32(p, o::MaxContext, maxContext);
    writeU32(p, o::PrefillBucketWidth, prefillBucketWidth);
    writeU32(p, o::DecodeBucketWidth, decodeBucketWidth);
    writeU16(p, o::WeightPrecision, weightPrecision);
    writeU16(p, o::ActivationPrecision, activationPrecision);
    writeU16(p, o::KVPrecision, kvPrecision);
    writeU32(p, o::Name, name);
    writeU32(p, o::KVSlots, kvSlots);
    writeU32(p, o::KVSlotStrideUnits, kvSlotStrideUnits);
  }
};

//===----------------------------------------------------------------------===//
// Record tables: the bucket table and the quantization parameters
//===----------------------------------------------------------------------===//
//
// Both sections start with a 16-byte table header {u32 count, u32 entry size,
// u32 reserved, u32 reserved} followed by `count` records of `entry size`
// bytes (at least the v1 record size; a newer minor version may append fields).

inline constexpr uint32_t kTableHeaderSize = 16;

namespace table_offset {
inline constexpr size_t Count = 0;     // u32
inline constexpr size_t EntrySize = 4; // u32
} // namespace table_offset

inline void encodeTableHeader(uint8_t *p, uint32_t count, uint32_t entrySize) {
  for (size_t i = 0; i < kTableHeaderSize; ++i)
    p[i] = 0;
  writeU32(p, table_offset::Count, count);
  writeU32(p, table_offset::EntrySize, entrySize);
}

enum class Stage : uint16_t { Prefill = 0, Decode = 1 };

inline const char *stageName(uint16_t stage) {
  switch (static_cast<Stage>(stage)) {
  case Stage::Prefill:
    return "prefill";
  case Stage::Decode:
    return "decode";
  }
  return nullptr;
}

inline constexpr uint32_t kBucketEntrySize = 48;
/// Base registers B1..B3 of the ISA (BaseReg; BaseReg::zero reads 0).
inline constexpr unsigned kNumBaseRegisters = 3;

namespace bucket_offset {
inline constexpr size_t Stage = 0;        // u16 Stage
inline constexpr size_t Flags = 2;        // u16, 0
inline constexpr size_t MinLength = 4;    // u32
inline constexpr size_t MaxLength = 8;    // u32
inline constexpr size_t StreamId = 12;    // u32
inline constexpr size_t RepeatCount = 16; // u32
inline constexpr size_t Cores = 20;       // u32, 0 (one core) or 2..64
inline constexpr size_t BaseOrigin = 24;  // u32[3], origin of B1, B2, B3
inline constexpr size_t BaseStride = 36;  // u32[3], stride of B1, B2, B3
} // namespace bucket_offset

/// One length bucket: requests of `minLength..maxLength` tokens (prefill: the
/// prompt length; decode: the context length including the new token) run
/// instruction stream `streamId`. Before starting it the runtime loads the
/// ISA's base registers: origin[b] and stride[b] of B1..B3 (32-byte units;
/// register Bb reads origin[b] + L * stride[b], L the layer register). It
/// starts the stream `repeatCount` times, with L = 0, 1, ...: a stream that
/// holds one decoder layer has repeatCount = layers, one that loops over the
/// layers itself (SYS loop) or covers the model has repeatCount = 1.
/// `cores` > 1 (with the header's kFlagMultiCore): the bucket runs on that
/// many cores at once, core k running stream `streamId + k`; 0 is one core
/// (single-core files write 0, as before the field existed).
struct BucketEntry {
  uint16_t stage = 0;
  uint16_t flags = 0;
  uint32_t minLength = 0;
  uint32_t maxLength = 0;
  uint32_t streamId = 0;
  uint32_t repeatCount = 1;
  uint32_t cores = 0;
  uint32_t baseOrigin[kNumBaseRegisters] = {};

  uint32_t coreCount() const { return cores > 1 ? cores : 1; }
  uint32_t baseStride[kNumBaseRegisters] = {};

  static BucketEntry decode(const uint8_t *p) {
    namespace o = bucket_offset;
    BucketEntry b;
    b.stage = readU16(p, o::Stage);
    b.flags = readU16(p, o::Flags);
    b.minLength = readU32(p, o::MinLength);
    b.maxLength = readU32(p, o::MaxLength);
    b.streamId = readU32(p, o::StreamId);
    b.repeatCount = readU32(p, o::RepeatCount);
    b.cores = readU32(p, o::Cores);
    for (unsigned r = 0; r < kNumBaseRegisters; ++r) {
      b.baseOrigin[r] = readU32(p, o::BaseOrigin + 4 * r);
      b.baseStride[r] = readU32(p, o::BaseStride + 4 * r);
    }
    return b;
  }
  void encode(uint8_t *p) const {
    namespace o = bucket_offset;
    writeU16(p, o::Stage, stage);
    writeU16(p, o::Flags, flags);
    writeU32(p, o::MinLength, minLength);
    writeU32(p, o::MaxLength, maxLength);
    writeU32(p, o::StreamId, streamId);
    writeU32(p, o::RepeatCount, repeatCount);
    writeU32(p, o::Cores, cores > 1 ? cores : 0);
    for (unsigned r = 0; r < kNumBaseRegisters; ++r) {
      writeU32(p, o::BaseOrigin + 4 * r, baseOrigin[r]);
      writeU32(p, o::BaseStride + 4 * r, baseStride[r]);
    }
  }
};

/// How many elements share one scale.
enum class QuantGranularity : uint16_t {
  PerTensor = 0,
  PerChannel = 1, // one scale per output channel (row)
  PerGroup = 2,   // one scale per `groupSize` consecutive elements of a row
};

inline const char *granularityName(uint16_t granularity) {
  switch (static_cast<QuantGranularity>(granularity)) {
  case QuantGranularity::PerTensor:
    return "per-tensor";
  case QuantGranularity::PerChannel:
    return "per-channel";
  case QuantGranularity::PerGroup:
    return "per-group";
  }
  return nullptr;
}

/// QuantRecord::flags bits.
inline constexpr uint16_t kQuantHasZeroPoints = 1u << 0;

inline constexpr uint32_t kQuantRecordSize = 32;

namespace quant_offset {
inline constexpr size_t Name = 0;            // u32 string-table offset
inline constexpr size_t Precision = 4;       // u16 Precision of the tensor
inline constexpr size_t Granularity = 6;     // u16 QuantGranularity
inline constexpr size_t GroupSize = 8;       // u32
inline constexpr size_t ScalePrecision = 12; // u16 Precision of the scales
inline constexpr size_t Flags = 14;          // u16 kQuant* bits
inline constexpr size_t HBMChannel = 16;     // u32
inline constexpr size_t Count = 20;          // u32 number of scales
inline constexpr size_t Offset = 24;         // u64 byte offset in the image
} // namespace quant_offset

/// The quantization of one tensor: its `count` scales (then as many zero
/// points, when kQuantHasZeroPoints is set) are stored in the weight image of
/// `hbmChannel` at byte `offset`, as `scalePrecision` values.
struct QuantRecord {
  uint32_t name = 0;
  uint16_t precision = 0;
  uint16_t granularity = 0;
  uint32_t groupSize = 0;
  uint16_t scalePrecision = 0;
  uint16_t flags = 0;
  uint32_t hbmChannel = 0;
  uint32_t count = 0;
  uint64_t offset = 0;

  static QuantRecord decode(const uint8_t *p) {
    namespace o = quant_offset;
    QuantRecord q;
    q.name = readU32(p, o::Name);
    q.precision = readU16(p, o::Precision);
    q.granularity = readU16(p, o::Granularity);
    q.groupSize = readU32(p, o::GroupSize);
    q.scalePrecision = readU16(p, o::ScalePrecision);
    q.flags = readU16(p, o::Flags);
    q.hbmChannel = readU32(p, o::HBMChannel);
    q.count = readU32(p, o::Count);
    q.offset = readU64(p, o::Offset);
    return q;
  }
  void encode(uint8_t *p) const {
    namespace o = quant_offset;
    writeU32(p, o::Name, name);
    writeU16(p, o::Precision, precision);
    writeU16(p, o::Granularity, granularity);
    writeU32(p, o::GroupSize, groupSize);
    writeU16(p, o::ScalePrecision, scalePrecision);
    writeU16(p, o::Flags, flags);
    writeU32(p, o::HBMChannel, hbmChannel);
    writeU32(p, o::Count, count);
    writeU64(p, o::Offset, offset);
  }
};

//===----------------------------------------------------------------------===//
// Device map section (64 bytes, since 1.1)
//===----------------------------------------------------------------------===//

inline constexpr uint32_t kDeviceMapSize = 64;
/// Channel fields of the device map must be below this (the ISA's 6-bit
/// channel field).
inline constexpr uint32_t kMaxDeviceChannels = 64;

namespace device_map_offset {
inline constexpr size_t EmbedChannel = 0;       // u32 HBM channel
inline constexpr size_t EmbedOffsetUnits = 4;   // u32, 32-byte units
inline constexpr size_t EmbedRowBytes = 8;      // u32
inline constexpr size_t Vocab = 12;             // u32 rows of the table
inline constexpr size_t HiddenSize = 16;        // u32
inline constexpr size_t InputChannel = 20;      // u32 HBM channel
inline constexpr size_t InputOffsetUnits = 24;  // u32, 32-byte units
inline constexpr size_t InputRows = 28;         // u32
inline constexpr size_t LogitsChannel = 32;     // u32 HBM channel
inline constexpr size_t LogitsOffsetUnits = 36; // u32, 32-byte units
inline constexpr size_t LogitsCount = 40;       // u32 fp32 values
inline constexpr size_t StreamDDRChannel = 44;  // u32 DDR channel, 0
// Since 1.2, pipeline stage binaries only (kFlagPipelineStage); 0 otherwise.
inline constexpr size_t StageFlags = 48;        // u32 kStage* bits
inline constexpr size_t OutputChannel = 52;     // u32 HBM channel
inline constexpr size_t OutputOffsetUnits = 56; // u32, 32-byte units
// Since 1.3, batched binaries only (kFlagBatched); 0 otherwise.
inline constexpr size_t DecodeBatch = 60;       // u32, 0 or 2..MaxBatch
} // namespace device_map_offset

/// DeviceMap::stageFlags bits.
/// The input rows are the previous card's hidden states (no embedding).
inline constexpr uint32_t kStageHiddenInput = 1u << 0;
/// The stream stores its layer output rows (one per new token, embedRowBytes
/// each) at the output area instead of computing logits.
inline constexpr uint32_t kStageHiddenOutput = 1u << 1;

/// Where a compiled model keeps what the runtime touches in device memory
/// (docs/execution-model.md, section 3): the fp16 token embedding table,
/// the input rows it copies this run's embeddings to, the fp32 logits the
/// stream writes, and the DDR channel of the instruction streams. Offsets
/// are in 32-byte units (OffChipUnitBytes of the ISA).
struct DeviceMap {
  uint32_t embedChannel = 0;
  uint32_t embedOffsetUnits = 0;
  uint32_t embedRowBytes = 0; // bytes per embedding row
  uint32_t vocab = 0;         // rows of the embedding table
  uint32_t hiddenSize = 0;
  uint32_t inputChannel = 0;
  uint32_t inputOffsetUnits = 0;
  uint32_t inputRows = 0; // rows of embedRowBytes
  uint32_t logitsChannel = 0;
  uint32_t logitsOffsetUnits = 0;
  uint32_t logitsCount = 0;      // fp32 values
  uint32_t streamDDRChannel = 0; // always 0 in this version
  uint32_t stageFlags = 0;       // kStage* (pipeline stages only)
  uint32_t outputChannel = 0;
  uint32_t outputOffsetUnits = 0;
  /// Sequences every decode run serves (0: one). Sequence b's logits start
  /// logitsRowUnits() * b units after logitsOffsetUnits.
  uint32_t decodeBatch = 0;

  uint32_t batch() const { return decodeBatch > 1 ? decodeBatch : 1; }
  /// 32-byte units between two sequences' logits.
  uint32_t logitsRowUnits() const { return (logitsCount * 4 + 31) / 32; }

  static DeviceMap decode(const uint8_t *p) {
    namespace o = device_map_offset;
    DeviceMap d;
    d.embedChannel = readU32(p, o::EmbedChannel);
    d.embedOffsetUnits = readU32(p, o::EmbedOffsetUnits);
    d.embedRowBytes = readU32(p, o::EmbedRowBytes);
    d.vocab = readU32(p, o::Vocab);
    d.hiddenSize = readU32(p, o::HiddenSize);
    d.inputChannel = readU32(p, o::InputChannel);
    d.inputOffsetUnits = readU32(p, o::InputOffsetUnits);
    d.inputRows = readU32(p, o::InputRows);
    d.logitsChannel = readU32(p, o::LogitsChannel);
    d.logitsOffsetUnits = readU32(p, o::LogitsOffsetUnits);
    d.logitsCount = readU32(p, o::LogitsCount);
    d.streamDDRChannel = readU32(p, o::StreamDDRChannel);
    d.stageFlags = readU32(p, o::StageFlags);
    d.outputChannel = readU32(p, o::OutputChannel);
    d.outputOffsetUnits = readU32(p, o::OutputOffsetUnits);
    d.decodeBatch = readU32(p, o::DecodeBatch);
    return d;
  }
  /// Writes all kDeviceMapSize bytes (reserved ones as zero).
  void encode(uint8_t *p) const {
    namespace o = device_map_offset;
    for (size_t i = 0; i < kDeviceMapSize; ++i)
      p[i] = 0;
    writeU32(p, o::EmbedChannel, embedChannel);
    writeU32(p, o::EmbedOffsetUnits, embedOffsetUnits);
    writeU32(p, o::EmbedRowBytes, embedRowBytes);
    writeU32(p, o::Vocab, vocab);
    writeU32(p, o::HiddenSize, hiddenSize);
    writeU32(p, o::InputChannel, inputChannel);
    writeU32(p, o::InputOffsetUnits, inputOffsetUnits);
    writeU32(p, o::InputRows, inputRows);
    writeU32(p, o::LogitsChannel, logitsChannel);
    writeU32(p, o::LogitsOffsetUnits, logitsOffsetUnits);
    writeU32(p, o::LogitsCount, logitsCount);
    writeU32(p, o::StreamDDRChannel, streamDDRChannel);
    writeU32(p, o::StageFlags, stageFlags);
    writeU32(p, o::OutputChannel, outputChannel);
    writeU32(p, o::OutputOffsetUnits, outputOffsetUnits);
    writeU32(p, o::DecodeBatch, decodeBatch);
  }
};

//===----------------------------------------------------------------------===//
// Pipeline plan section (kind 10, system binaries, since 1.2)
//===----------------------------------------------------------------------===//

// A 32-byte header, then `cardCount` stage records of `entrySize` bytes.
// Card c's program is the Card section of index c: a complete stage binary
// (kFlagPipelineStage) whose device map says where its rows come and go.
inline constexpr uint32_t kPipelineHeaderSize = 32;
inline constexpr uint32_t kPipelineStageSize = 16;
/// Most cards a system binary may name (the runtime's fixed limit).
inline constexpr uint32_t kMaxPipelineCards = 16;

namespace pipeline_offset {
inline constexpr size_t CardCount = 0;       // u32, 1..kMaxPipelineCards
inline constexpr size_t EntrySize = 4;       // u32, >= kPipelineStageSize
inline constexpr size_t NumLayers = 8;       // u32, the whole model's layers
inline constexpr size_t RowBytes = 12;       // u32, bytes per hidden row
inline constexpr size_t LinkBandwidth = 16;  // u32, card-to-card MB/s
inline constexpr size_t LinkLatencyNs = 20;  // u32
inline constexpr size_t HostBandwidth = 24;  // u32, host-to-card MB/s
inline constexpr size_t HostLatencyNs = 28;  // u32
} // namespace pipeline_offset

namespace pipeline_stage_offset {
inline constexpr size_t FirstLayer = 0; // u32
inline constexpr size_t LayerCount = 4; // u32, >= 1
inline constexpr size_t Flags = 8;      // u32: bit 0 prologue, bit 1 epilogue
inline constexpr size_t Reserved = 12;  // u32, 0
} // namespace pipeline_stage_offset

inline constexpr uint32_t kStageOwnsPrologue = 1u << 0;
inline constexpr uint32_t kStageOwnsEpilogue = 1u << 1;

struct PipelineHeader {
  uint32_t cardCount = 0;
  uint32_t entrySize = kPipelineStageSize;
  uint32_t numLayers = 0;
  uint32_t rowBytes = 0;
  uint32_t linkBandwidthMBps = 0, linkLatencyNs = 0;
  uint32_t hostBandwidthMBps = 0, hostLatencyNs = 0;

  static PipelineHeader decode(const uint8_t *p) {
    namespace o = pipeline_offset;
    PipelineHeader h;
    h.cardCount = readU32(p, o::CardCount);
    h.entrySize = readU32(p, o::EntrySize);
    h.numLayers = readU32(p, o::NumLayers);
    h.rowBytes = readU32(p, o::RowBytes);
    h.linkBandwidthMBps = readU32(p, o::LinkBandwidth);
    h.linkLatencyNs = readU32(p, o::LinkLatencyNs);
    h.hostBandwidthMBps = readU32(p, o::HostBandwidth);
    h.hostLatencyNs = readU32(p, o::HostLatencyNs);
    return h;
  }
  void encode(uint8_t *p) const {
    namespace o = pipeline_offset;
    writeU32(p, o::CardCount, cardCount);
    writeU32(p, o::EntrySize, entrySize);
    writeU32(p, o::NumLayers, numLayers);
    writeU32(p, o::RowBytes, rowBytes);
    writeU32(p, o::LinkBandwidth, linkBandwidthMBps);
    writeU32(p, o::LinkLatencyNs, linkLatencyNs);
    writeU32(p, o::HostBandwidth, hostBandwidthMBps);
    writeU32(p, o::HostLatencyNs, hostLatencyNs);
  }
};

struct PipelineStage {
  uint32_t firstLayer = 0, layerCount = 0, flags = 0;

  static PipelineStage decode(const uint8_t *p) {
    namespace o = pipeline_stage_offset;
    PipelineStage s;
    s.firstLayer = readU32(p, o::FirstLayer);
    s.layerCount = readU32(p, o::LayerCount);
    s.flags = readU32(p, o::Flags);
    return s;
  }
  void encode(uint8_t *p) const {
    namespace o = pipeline_stage_offset;
    writeU32(p, o::FirstLayer, firstLayer);
    writeU32(p, o::LayerCount, layerCount);
    writeU32(p, o::Flags, flags);
    writeU32(p, o::Reserved, 0);
  }
};

//===----------------------------------------------------------------------===//
// Tokenizer section (host-only, optional)
//===----------------------------------------------------------------------===//

// What the host tools need to turn text into tokens and back, and when to
// stop generating: a 16-byte header, the end-of-sequence token ids (u32
// each), then the model's tokenizer.json (UTF-8, may be empty: the
// byte-level model has none). The section's size is exactly
// 16 + 4 * eosCount + tokenizerSize. The embedded runtime never reads it.

inline constexpr uint32_t kTokenizerHeaderSize = 16;
inline constexpr uint32_t kNoToken = 0xFFFFFFFFu;

namespace tokenizer_offset {
inline constexpr size_t EOSCount = 0;      // u32
inline constexpr size_t BOSId = 4;         // u32, kNoToken: none
inline constexpr size_t TokenizerSize = 8; // u64 bytes of tokenizer.json
} // namespace tokenizer_offset

struct TokenizerHeader {
  uint32_t eosCount = 0;
  uint32_t bosId = kNoToken;
  uint64_t tokenizerSize = 0;

  static TokenizerHeader decode(const uint8_t *p) {
    namespace o = tokenizer_offset;
    TokenizerHeader h;
    h.eosCount = readU32(p, o::EOSCount);
    h.bosId = readU32(p, o::BOSId);
    h.tokenizerSize = readU64(p, o::TokenizerSize);
    return h;
  }
  void encode(uint8_t *p) const {
    namespace o = tokenizer_offset;
    writeU32(p, o::EOSCount, eosCount);
    writeU32(p, o::BOSId, bosId);
    writeU64(p, o::TokenizerSize, tokenizerSize);
  }
  /// The section size this header implies.
  uint64_t sectionSize() const {
    return kTokenizerHeaderSize + 4 * static_cast<uint64_t>(eosCount) +
           tokenizerSize;
  }
};

} // namespace flightllm::binary

#endif // FLIGHTLLM_BINARY_FORMAT_H
