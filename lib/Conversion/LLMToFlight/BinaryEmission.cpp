//===- BinaryEmission.cpp - The .flb and the ROM images of a lowered model ===//

#include "flightllm/Conversion/LLMToFlight/LLMToFlight.h"

#include "flightllm/Binary/Rom.h"
#include "flightllm/Binary/Writer.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace flightllm;
using namespace flightllm::lowering;

namespace {

/// The DeviceMap section record (docs/binary-format.md): u32 fields,
/// offsets in 32-byte units.
std::vector<uint8_t> encodeDeviceMap(const LoweredModel::DeviceMapInfo &dm) {
  std::vector<uint8_t> bytes(64, 0);
  uint32_t fields[] = {dm.embedChannel,
                       uint32_t(dm.embedOffset / 32),
                       dm.embedRowBytes,
                       dm.vocab,
                       dm.hiddenSize,
                       dm.inputChannel,
                       uint32_t(dm.inputOffset / 32),
                       dm.inputRows,
                       dm.logitsChannel,
                       uint32_t(dm.logitsOffset / 32),
                       dm.logitsCount,
                       /*stream_ddr_channel=*/0};
  for (size_t i = 0; i < std::size(fields); ++i)
    binary::writeU32(bytes.data(), 4 * i, fields[i]);
  return bytes;
}

} // namespace

llvm::Error flightllm::lowering::writeBinary(const LoweredModel &model,
                                             const target::TargetDescription &target,
                                             llvm::StringRef path) {
  binary::BinaryWriter writer(target.fingerprint());
  binary::ModelMetadata meta = model.metadata;
  meta.name = writer.addString(model.name);
  writer.setMetadata(meta);
  for (size_t i = 0; i < model.streams.size(); ++i) {
    const StreamInfo &s = model.streams[i];
    writer.addStream(static_cast<uint32_t>(i), s.words);
    binary::BucketEntry b;
    b.stage = static_cast<uint16_t>(s.stage);
    b.minLength = s.minLength;
    b.maxLength = s.maxLength;
    b.streamId = static_cast<uint32_t>(i);
    b.repeatCount = 1; // the streams loop over the layers themselves
    for (unsigned r = 0; r < 3; ++r) {
      b.baseOrigin[r] = model.baseOrigin[r];
      b.baseStride[r] = model.baseStride[r];
    }
    writer.addBucket(b);
  }
  for (size_t c = 0; c < model.hbm.size(); ++c)
    writer.addWeightImage(static_cast<uint32_t>(c), model.hbm[c]);
  std::vector<uint8_t> map = encodeDeviceMap(model.deviceMap);
  writer.addRawSection(7, 0, map);
  writer.addRawSection(8, 0, model.embeddingTable);
  return writer.writeFile(path);
}

llvm::Error flightllm::lowering::writeStreamRoms(
    const LoweredModel &model, llvm::StringRef binaryPath,
    llvm::ArrayRef<std::string> formats) {
  for (const std::string &f : formats) {
    auto format = binary::parseRomFormat(f);
    if (!format)
      return llvm::createStringError("unknown ROM format '" + f +
                                     "' (bin, coe, mem, h)");
    for (const StreamInfo &s : model.streams) {
      llvm::SmallString<256> path(binaryPath);
      llvm::sys::path::replace_extension(path, "");
      path += "." + s.name + "." + binary::romFormatName(*format).str();
      binary::RomOptions options;
      options.wordBits = 32;
      options.name = binary::cIdentifier(s.name);
      llvm::ArrayRef<uint8_t> bytes(
          reinterpret_cast<const uint8_t *>(s.words.data()), 4 * s.words.size());
      if (llvm::Error e = binary::writeFileAtomically(
              path, [&](llvm::raw_pwrite_stream &os) {
                return binary::writeRom(bytes, *format, options, os);
              }))
        return e;
    }
  }
  return llvm::Error::success();
}
