//===- Writer.cpp - Writing .flb binaries ---------------------------------===//
//
// Layout: header, section table, then the sections sorted by (kind, index),
// each at the next multiple of its alignment, the gaps and the tail (up to a
// multiple of 64 bytes) filled with zeros. Writing is one pass over the
// section contents for their checksums and one to stream them out while
// accumulating the file checksum; the header goes last, with pwrite.
//===----------------------------------------------------------------------===//

#include "flightllm/Binary/Writer.h"

#include "flightllm/Support/OutputFiles.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <tuple>
#include <utility>

using namespace flightllm::binary;

namespace {

std::string sectionLabel(uint32_t kind, uint32_t index) {
  const char *name = sectionKindName(kind);
  std::string label = name ? name : "kind-" + std::to_string(kind);
  return label + ":" + std::to_string(index);
}

/// Calls `consume(ptr, size)` on the little-endian bytes of `words`, a chunk
/// at a time.
template <typename Fn>
void forEachWordChunk(llvm::ArrayRef<uint32_t> words, Fn &&consume) {
  constexpr size_t kChunkWords = 4096;
  uint8_t buffer[kChunkWords * 4];
  while (!words.empty()) {
    size_t n = std::min(words.size(), kChunkWords);
    for (size_t i = 0; i < n; ++i)
      llvm::support::endian::write32le(buffer + 4 * i, words[i]);
    consume(buffer, 4 * n);
    words = words.drop_front(n);
  }
}

} // namespace

struct BinaryWriter::Layout {
  struct Placed {
    PendingSection source;
    SectionEntry entry;
  };
  /// Contents of the sections built here (metadata, tables, strings).
  std::vector<std::unique_ptr<std::vector<uint8_t>>> encoded;
  std::vector<Placed> placed;
  FileHeader header;
  std::vector<uint8_t> table;
};

uint32_t BinaryWriter::addString(llvm::StringRef s) {
  // A string ends at its first NUL byte in the file.
  s = s.take_until([](char c) { return c == '\0'; });
  if (s.empty())
    return 0;
  auto it = stringOffsets.find(s);
  if (it != stringOffsets.end())
    return it->second;
  if (strings.empty())
    strings.push_back('\0');
  uint32_t offset = static_cast<uint32_t>(strings.size());
  strings.append(s.begin(), s.end());
  strings.push_back('\0');
  stringOffsets[s] = offset;
  return offset;
}

void BinaryWriter::addStream(uint32_t id, llvm::ArrayRef<uint32_t> words) {
  sections.push_back(
      {static_cast<uint32_t>(SectionKind::InstructionStream), id, {}, words});
}

void BinaryWriter::takeStream(uint32_t id, std::vector<uint32_t> words) {
  ownedWords.push_back(
      std::make_unique<std::vector<uint32_t>>(std::move(words)));
  addStream(id, *ownedWords.back());
}

void BinaryWriter::addWeightImage(uint32_t channel,
                                  llvm::ArrayRef<uint8_t> bytes) {
  addRawSection(static_cast<uint32_t>(SectionKind::WeightImage), channel,
                bytes);
}

void BinaryWriter::takeWeightImage(uint32_t channel,
                                   std::vector<uint8_t> bytes) {
  ownedBytes.push_back(
      std::make_unique<std::vector<uint8_t>>(std::move(bytes)));
  addWeightImage(channel, *ownedBytes.back());
}

void BinaryWriter::addDDRWeightImage(uint32_t channel, uint64_t loadOffset,
                                     llvm::ArrayRef<uint8_t> bytes) {
  auto section = std::make_unique<std::vector<uint8_t>>(
      kDDRWeightsHeaderSize + bytes.size(), 0);
  writeU64(section->data(), ddr_weights_offset::LoadOffset, loadOffset);
  std::copy(bytes.begin(), bytes.end(),
            section->begin() + kDDRWeightsHeaderSize);
  ownedBytes.push_back(std::move(section));
  addRawSection(static_cast<uint32_t>(SectionKind::DDRWeights), channel,
                *ownedBytes.back());
  addFlags(kFlagDDRWeights);
}

void BinaryWriter::addRawSection(uint32_t kind, uint32_t index,
                                 llvm::ArrayRef<uint8_t> bytes) {
  sections.push_back({kind, index, bytes, {}});
}

llvm::Expected<BinaryWriter::Layout> BinaryWriter::layout() const {
  auto error = [](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
  };
  Layout result;
  std::vector<PendingSection> all = sections;
  auto addEncoded = [&](SectionKind kind, std::vector<uint8_t> bytes) {
    result.encoded.push_back(
        std::make_unique<std::vector<uint8_t>>(std::move(bytes)));
    all.push_back({static_cast<uint32_t>(kind), 0, *result.encoded.back(), {}});
  };
  auto checkName = [&](uint32_t name, const char *what) -> llvm::Error {
    if (name != 0 && name >= strings.size())
      return error(llvm::Twine(what) +
                   " name is not an offset returned by addString");
    return llvm::Error::success();
  };

  if (metadata) {
    if (llvm::Error e = checkName(metadata->name, "model"))
      return e;
    std::vector<uint8_t> bytes(kModelMetadataSize);
    metadata->encode(bytes.data());
    addEncoded(SectionKind::ModelMetadata, std::move(bytes));
  }

  if (!buckets.empty()) {
    std::vector<BucketEntry> sorted = buckets;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const BucketEntry &a, const BucketEntry &b) {
                       return std::tie(a.stage, a.minLength) <
                              std::tie(b.stage, b.minLength);
                     });
    auto hasStream = [&](uint32_t id) {
      return llvm::any_of(sections, [&](const PendingSection &s) {
        return s.kind ==
                   static_cast<uint32_t>(SectionKind::InstructionStream) &&
               s.index == id;
      });
    };
    for (size_t i = 0; i < sorted.size(); ++i) {
      const BucketEntry &b = sorted[i];
      const char *stage = stageName(b.stage);
      std::string label = "bucket " + std::string(stage ? stage : "?") + " " +
                          std::to_string(b.minLength) + "-" +
                          std::to_string(b.maxLength);
      if (!stage)
        return error("bucket with unknown stage " + llvm::Twine(b.stage));
      if (b.minLength == 0 || b.minLength > b.maxLength)
        return error(label + ": the length range is empty or starts at 0");
      if (b.repeatCount == 0)
        return error(label + ": repeat count 0");
      if (b.cores == 1 || b.cores > kMaxCores)
        return error(label + ": " + llvm::Twine(b.cores) +
                     " cores (0 for one, or 2 to 64)");
      for (uint32_t k = 0; k < b.coreCount(); ++k)
        if (!hasStream(b.streamId + k))
          return error(label + ": no instruction stream " +
                       llvm::Twine(b.streamId + k));
      if (i > 0 && sorted[i - 1].stage == b.stage &&
          sorted[i - 1].maxLength >= b.minLength)
        return error(label + " overlaps the bucket starting at " +
                     llvm::Twine(sorted[i - 1].minLength));
    }
    std::vector<uint8_t> bytes(kTableHeaderSize +
                               sorted.size() * kBucketEntrySize);
    encodeTableHeader(bytes.data(), static_cast<uint32_t>(sorted.size()),
                      kBucketEntrySize);
    for (size_t i = 0; i < sorted.size(); ++i)
      sorted[i].encode(bytes.data() + kTableHeaderSize + i * kBucketEntrySize);
    addEncoded(SectionKind::BucketTable, std::move(bytes));
  }

  if (!strings.empty())
    addEncoded(SectionKind::StringTable,
               std::vector<uint8_t>(strings.begin(), strings.end()));

  if (!quant.empty()) {
    std::vector<uint8_t> bytes(kTableHeaderSize +
                               quant.size() * kQuantRecordSize);
    encodeTableHeader(bytes.data(), static_cast<uint32_t>(quant.size()),
                      kQuantRecordSize);
    for (size_t i = 0; i < quant.size(); ++i) {
      if (llvm::Error e = checkName(quant[i].name, "quantized tensor"))
        return e;
      quant[i].encode(bytes.data() + kTableHeaderSize + i * kQuantRecordSize);
    }
    addEncoded(SectionKind::QuantParams, std::move(bytes));
  }

  if (deviceMap) {
    const std::pair<const char *, uint32_t> channels[] = {
        {"embedding", deviceMap->embedChannel},
        {"input", deviceMap->inputChannel},
        {"logits", deviceMap->logitsChannel},
        {"stream DDR", deviceMap->streamDDRChannel}};
    for (auto [what, channel] : channels)
      if (channel >= kMaxDeviceChannels)
        return error(llvm::Twine("device map: ") + what + " channel " +
                     llvm::Twine(channel) + " is not below " +
                     llvm::Twine(kMaxDeviceChannels));
    std::vector<uint8_t> bytes(kDeviceMapSize);
    deviceMap->encode(bytes.data());
    addEncoded(SectionKind::DeviceMap, std::move(bytes));
  }

  std::stable_sort(all.begin(), all.end(),
                   [](const PendingSection &a, const PendingSection &b) {
                     return std::tie(a.kind, a.index) <
                            std::tie(b.kind, b.index);
                   });
  for (size_t i = 1; i < all.size(); ++i)
    if (all[i].kind == all[i - 1].kind && all[i].index == all[i - 1].index)
      return error("section " + sectionLabel(all[i].kind, all[i].index) +
                   " was added twice");
  if (all.size() > UINT32_MAX)
    return error("too many sections");

  FileHeader &h = result.header;
  h.flags = flags;
  if (llvm::any_of(buckets, [](const BucketEntry &b) { return b.cores > 1; }))
    h.flags |= kFlagMultiCore;
  // The lowest minor version that holds the contents (Format.h).
  h.versionMinor = (flags & kFlagDDRWeights) != 0 ? kVersionMinorDDRWeights
                   : (flags & kFlagKV4Cache) != 0 ? kVersionMinorKV4
                   : (flags & kFlagBatched) != 0 ? kVersionMinorBatched
                   : (flags & (kFlagPipelineStage | kFlagSystem)) != 0
                       ? kVersionMinorPipeline
                       : kVersionMinorSingleCard;
  h.targetFingerprint = targetFingerprint;
  h.sectionCount = static_cast<uint32_t>(all.size());
  h.sectionTableOffset = kHeaderSize;
  uint64_t cursor = kHeaderSize + uint64_t(kSectionEntrySize) * all.size();
  result.table.resize(kSectionEntrySize * all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    SectionEntry e;
    e.kind = all[i].kind;
    e.index = all[i].index;
    e.alignment = kDefaultAlignment;
    e.offset = llvm::alignTo(cursor, e.alignment);
    e.size = all[i].size();
    uint32_t crc = crc32c(all[i].bytes.data(), all[i].bytes.size());
    forEachWordChunk(all[i].words, [&](const uint8_t *p, size_t n) {
      crc = crc32c(p, n, crc);
    });
    e.checksum = crc;
    e.encode(result.table.data() + i * kSectionEntrySize);
    cursor = e.offset + e.size;
    result.placed.push_back({all[i], e});
  }
  h.fileSize = llvm::alignTo(cursor, kDefaultAlignment);
  h.sectionTableChecksum = crc32c(result.table.data(), result.table.size());
  return result;
}

llvm::Error BinaryWriter::writeTo(llvm::raw_pwrite_stream &os) const {
  llvm::Expected<Layout> layoutOr = layout();
  if (!layoutOr)
    return layoutOr.takeError();
  Layout &l = *layoutOr;

  const uint64_t base = os.tell();
  uint8_t header[kHeaderSize];
  l.header.encode(header); // both checksums still 0
  uint32_t crc = 0;
  uint64_t position = 0;
  auto emit = [&](const uint8_t *p, size_t n) {
    os.write(reinterpret_cast<const char *>(p), n);
    crc = crc32c(p, n, crc);
    position += n;
  };
  auto padTo = [&](uint64_t offset) {
    os.write_zeros(offset - position);
    crc = crc32cZeros(offset - position, crc);
    position = offset;
  };

  emit(header, kHeaderSize);
  emit(l.table.data(), l.table.size());
  for (const Layout::Placed &p : l.placed) {
    padTo(p.entry.offset);
    emit(p.source.bytes.data(), p.source.bytes.size());
    forEachWordChunk(p.source.words, emit);
  }
  padTo(l.header.fileSize);

  l.header.fileChecksum = crc;
  l.header.encode(header);
  l.header.headerChecksum = headerChecksum(header, kHeaderSize);
  l.header.encode(header);
  os.pwrite(reinterpret_cast<const char *>(header), kHeaderSize, base);
  return llvm::Error::success();
}

llvm::Error flightllm::binary::writeFileAtomically(
    llvm::StringRef path,
    llvm::function_ref<llvm::Error(llvm::raw_pwrite_stream &)> write) {
  OutputFiles files;
  llvm::Expected<llvm::raw_pwrite_stream &> os = files.addOutput(path, "file");
  if (!os)
    return os.takeError();
  if (llvm::Error e = write(*os))
    return e;
  return files.commit();
}

llvm::Error BinaryWriter::writeFile(llvm::StringRef path) const {
  return writeFileAtomically(
      path, [&](llvm::raw_pwrite_stream &os) { return writeTo(os); });
}

llvm::Expected<std::vector<uint8_t>> BinaryWriter::writeToBuffer() const {
  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream os(buffer);
  if (llvm::Error e = writeTo(os))
    return e;
  return std::vector<uint8_t>(buffer.begin(), buffer.end());
}
