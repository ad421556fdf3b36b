//===- Writer.h - Writing .flb binaries -------------------------*- C++ -*-===//
//
// Collects the sections of one model binary and writes them in the layout of
// docs/binary-format.md. The output depends only on what was added (sections
// are laid out sorted by kind and index, padding is zero, there are no
// timestamps), so identical inputs give byte-identical files.
//
//   BinaryWriter writer(fingerprint);
//   ModelMetadata meta; meta.name = writer.addString("llama2-7b"); ...
//   writer.setMetadata(meta);
//   writer.addStream(0, prefillWords);
//   writer.addBucket({/*stage=*/0, 0, 1, 128, /*streamId=*/0});
//   writer.addWeightImage(0, channel0Bytes);
//   if (llvm::Error e = writer.writeFile("model.flb")) ...
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_BINARY_WRITER_H
#define FLIGHTLLM_BINARY_WRITER_H

#include "flightllm/Binary/Format.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace flightllm::binary {

class BinaryWriter {
public:
  explicit BinaryWriter(uint64_t targetFingerprint = 0)
      : targetFingerprint(targetFingerprint) {}

  void setTargetFingerprint(uint64_t fingerprint) {
    targetFingerprint = fingerprint;
  }
  /// Header flags (see Format.h): kFlagPipelineStage, kFlagSystem (1.2);
  /// layout() adds kFlagMultiCore when a bucket runs on several cores.
  void setFlags(uint32_t value) { flags = value; }
  void addFlags(uint32_t value) { flags |= value; }

  /// Adds `s` to the string table (once) and returns its offset, for the
  /// `name` fields of the metadata and quant records. "" is offset 0.
  uint32_t addString(llvm::StringRef s);

  void setMetadata(const ModelMetadata &metadata) { this->metadata = metadata; }
  /// The DeviceMap section (kind 7). Its channels must be below
  /// kMaxDeviceChannels (checked at write time).
  void setDeviceMap(const DeviceMap &map) { deviceMap = map; }
  /// Buckets may be added in any order; the table is sorted by (stage,
  /// minLength). Each must name a stream added with addStream/takeStream.
  void addBucket(const BucketEntry &bucket) { buckets.push_back(bucket); }
  void addQuantParam(const QuantRecord &record) { quant.push_back(record); }

  /// Instruction stream `id`. The words are not copied: they must stay alive
  /// until the last writeTo/writeFile call. takeStream takes ownership.
  void addStream(uint32_t id, llvm::ArrayRef<uint32_t> words);
  void takeStream(uint32_t id, std::vector<uint32_t> words);

  /// The weight image of HBM channel `channel` (not copied, as addStream).
  void addWeightImage(uint32_t channel, llvm::ArrayRef<uint8_t> bytes);
  void takeWeightImage(uint32_t channel, std::vector<uint8_t> bytes);
  /// The DDRWeights section of DDR channel `channel`: `bytes` go to the
  /// channel from byte `loadOffset` (copied behind the section's header);
  /// sets kFlagDDRWeights.
  void addDDRWeightImage(uint32_t channel, uint64_t loadOffset,
                         llvm::ArrayRef<uint8_t> bytes);

  /// Any section given as bytes (not copied): a kind this writer has no
  /// builder for, or a deliberately odd one in tests. A raw section replaces
  /// nothing: adding a (kind, index) twice is an error at write time.
  void addRawSection(uint32_t kind, uint32_t index,
                     llvm::ArrayRef<uint8_t> bytes);

  /// Writes the binary at the stream's current position (the header is
  /// patched in with pwrite at the end). Fails, before writing anything, on
  /// a repeated section, a bucket naming a missing stream, overlapping
  /// buckets, an empty bucket range or a device-map channel out of range.
  llvm::Error writeTo(llvm::raw_pwrite_stream &os) const;
  /// Writes to a temporary file next to `path` and renames it over `path`
  /// once complete, so a failure never leaves a partial file.
  llvm::Error writeFile(llvm::StringRef path) const;
  /// The whole binary in memory.
  llvm::Expected<std::vector<uint8_t>> writeToBuffer() const;

private:
  struct PendingSection {
    uint32_t kind;
    uint32_t index;
    /// Exactly one of these holds the contents.
    llvm::ArrayRef<uint8_t> bytes;
    llvm::ArrayRef<uint32_t> words;
    uint64_t size() const { return bytes.size() + 4 * words.size(); }
  };
  struct Layout;

  llvm::Expected<Layout> layout() const;

  uint64_t targetFingerprint;
  uint32_t flags = 0;
  std::optional<ModelMetadata> metadata;
  std::optional<DeviceMap> deviceMap;
  std::vector<BucketEntry> buckets;
  std::vector<QuantRecord> quant;
  std::string strings;
  llvm::StringMap<uint32_t> stringOffsets;
  std::vector<PendingSection> sections;
  /// Contents handed over with take*.
  std::vector<std::unique_ptr<std::vector<uint32_t>>> ownedWords;
  std::vector<std::unique_ptr<std::vector<uint8_t>>> ownedBytes;
};

/// Writes the one file `path` through an OutputFiles set (Support/OutputFiles.h):
/// `write` fills a temporary file next to `path`, renamed over it only when
/// `write` succeeded and every byte was written; otherwise `path` is untouched.
/// Tools that also read files use OutputFiles themselves, to refuse outputs
/// that name their inputs.
llvm::Error writeFileAtomically(
    llvm::StringRef path,
    llvm::function_ref<llvm::Error(llvm::raw_pwrite_stream &)> write);

} // namespace flightllm::binary

#endif // FLIGHTLLM_BINARY_WRITER_H
