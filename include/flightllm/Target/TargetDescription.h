//===- TargetDescription.h - Hardware descriptions (targets/*.json) -------===//
//
// One JSON description of an accelerator build, read by the compiler and the
// simulator alike. The schema is TargetFields.def; docs/targets.md explains
// every field and the presets. The presets in targets/*.json are embedded at
// build time, so loadTarget("u280") works from an installed tool anywhere.
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_TARGET_TARGETDESCRIPTION_H
#define FLIGHTLLM_TARGET_TARGETDESCRIPTION_H

#include "flightllm/ISA/ISA.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <optional>
#include <string>

namespace flightllm::target {

/// The FPGA RAM primitives the on-chip buffers are built from.
enum class OnChipMemory { uram, bram };

/// Both primitives have two 72-bit ports (UltraRAM: 4K x 72; block RAM in
/// simple dual-port mode: 512 x 72), of which a byte-addressed buffer uses
/// 64 data bits.
inline constexpr uint64_t kRamPortsPerBlock = 2;
inline constexpr uint64_t kRamPortDataBytes = 8;
inline constexpr uint64_t kRamPortBits = 72;

#define FLIGHT_TARGET_TYPE_Text std::string
#define FLIGHT_TARGET_TYPE_Count uint64_t
#define FLIGHT_TARGET_TYPE_Real double
#define FLIGHT_TARGET_TYPE_Fraction double

/// A validated hardware description. Members are named in
/// TargetFields.def; sizes are bytes, bandwidths GB/s (1e9 bytes/s).
struct TargetDescription {
#define FLIGHT_TARGET_FIELD(Member, Path, Kind, Min, Max, Doc)                           \
  FLIGHT_TARGET_TYPE_##Kind Member{};
#include "flightllm/Target/TargetFields.def"

  /// A stable 64-bit hash of every field but name and description: FNV-1a
  /// over each field's JSON path and value (integers as 8 little-endian
  /// bytes, numbers as the bits of their double), in TargetFields.def order.
  /// JSON key order and number spelling do not matter.
  uint64_t fingerprint() const;

  uint64_t hbmBytes() const { return hbmChannels * hbmBytesPerChannel; }
  double hbmPeakGBPerS() const { return hbmChannels * hbmGBPerSPerChannel; }
  uint64_t ddrBytes() const { return ddrChannels * ddrBytesPerChannel; }
  uint64_t uramBytes() const { return uramBlocks * uramBitsPerBlock / 8; }
  uint64_t bramBytes() const { return bramBlocks * bramBitsPerBlock / 8; }
  /// URAM + BRAM of the whole device.
  uint64_t onChipBytes() const { return uramBytes() + bramBytes(); }
  /// The buffer of one core that an ISA Buffer value names.
  uint64_t bufferBytes(isa::Buffer buffer) const;
  /// act + weight + meta + acc of one core.
  uint64_t bufferBytesPerCore() const;
  uint64_t mmMacsPerCycle() const { return mmChannels * mmK * mmTokens; }
  uint64_t mvMacsPerCycle() const { return mvChannels * mvK * mvTokens; }
  /// DSP slices the cores' matrix engines need (the larger mode decides).
  uint64_t dspsNeeded() const;

  /// The RAM blocks a core's on-chip buffer is built from: act and weight
  /// in UltraRAM, meta and acc in block RAM (docs/targets.md, "On-chip
  /// buffers").
  OnChipMemory bufferMemory(isa::Buffer buffer) const;
  /// Data bytes one RAM block holds at the 64-bit data width of its 72-bit
  /// ports (the other 8 bits of a word are ECC/parity, not byte data).
  uint64_t dataBytesPerBlock(OnChipMemory memory) const;
  /// Blocks of its memory that one core's buffer takes.
  uint64_t bufferBlocks(isa::Buffer buffer) const;
  /// UltraRAM (or block RAM) blocks the four buffers of one core take.
  uint64_t blocksPerCore(OnChipMemory memory) const;
  /// Bytes per cycle the buffer's blocks move through both of their ports
  /// (2 ports x 8 data bytes per block), shared by every reader and writer.
  uint64_t bufferPortBytesPerCycle(isa::Buffer buffer) const;
};

#undef FLIGHT_TARGET_TYPE_Text
#undef FLIGHT_TARGET_TYPE_Count
#undef FLIGHT_TARGET_TYPE_Real
#undef FLIGHT_TARGET_TYPE_Fraction

bool operator==(const TargetDescription &a, const TargetDescription &b);
inline bool operator!=(const TargetDescription &a,
                       const TargetDescription &b) {
  return !(a == b);
}

/// Reads and validates a description. Every problem is reported, one per
/// line, as `<source>: <json path>: <what is wrong>`.
llvm::Expected<TargetDescription> parseTarget(llvm::StringRef json,
                                              llvm::StringRef source);

/// A preset name ("u280", "vhk158") or the path of a JSON file. A string that
/// contains '/' or ends in ".json" is always a path.
llvm::Expected<TargetDescription> loadTarget(llvm::StringRef nameOrPath);

/// The embedded presets, sorted by name.
llvm::ArrayRef<llvm::StringRef> presetNames();
/// The JSON text of an embedded preset.
std::optional<llvm::StringRef> presetJSON(llvm::StringRef name);

/// The description as JSON in the preset layout; parseTarget reads it back
/// to an equal description.
llvm::json::Value toJSON(const TargetDescription &target);

/// The schema, for documentation and generic code.
enum class FieldKind { Text, Count, Real, Fraction };
struct FieldSchema {
  const char *path;
  FieldKind kind;
  /// The accepted range, inclusive (not used for Text).
  double min, max;
  const char *doc;
};
llvm::ArrayRef<FieldSchema> fieldSchema();
/// A field's accepted range as docs/targets.md and the errors write it:
/// "[1, 64]", "[0.01, 1]".
std::string rangeText(const FieldSchema &field);

} // namespace flightllm::target

#endif // FLIGHTLLM_TARGET_TARGETDESCRIPTION_H
